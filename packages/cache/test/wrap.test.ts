import { createManualClock } from '@edgekit/core/testing';
import { describeRedis, useRedisServer } from '@edgekit/test-utils';
import { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { type EdgeCache, type LookupEvent, createCache } from '../src/index.js';
import { EPOCH, until } from './helpers.js';

function setup() {
  const clock = createManualClock(EPOCH);
  const cache = createCache({ clock });
  const lookups: LookupEvent[] = [];
  cache.on('lookup', (e) => lookups.push(e));
  return { clock, cache, lookups };
}

describe('wrap', () => {
  it('calls the function once per ttl and returns the cached value in between', async () => {
    const { clock, cache } = setup();
    let calls = 0;
    const fn = async () => ({ n: ++calls, at: [1, 2] });
    expect(await cache.wrap('user:1', fn, { ttl: 10_000 })).toEqual({ n: 1, at: [1, 2] });
    clock.advance(9_999);
    expect(await cache.wrap('user:1', fn, { ttl: 10_000 })).toEqual({ n: 1, at: [1, 2] });
    clock.advance(1);
    expect(await cache.wrap('user:1', fn, { ttl: 10_000 })).toEqual({ n: 2, at: [1, 2] });
  });

  it('coalesces concurrent calls for one key into one computation', async () => {
    const { cache } = setup();
    let calls = 0;
    let release: () => void = () => {};
    const gate = new Promise<void>((r) => (release = r));
    const fn = async () => {
      calls++;
      await gate;
      return 'v';
    };
    const pending = Array.from({ length: 10 }, () => cache.wrap('k', fn, { ttl: 1_000 }));
    release();
    expect(await Promise.all(pending)).toEqual(Array(10).fill('v'));
    expect(calls).toBe(1);
  });

  it('returns the stale value within staleWhileRevalidate and refreshes it in the background', async () => {
    const { clock, cache, lookups } = setup();
    let version = 1;
    const fn = async () => version;
    await cache.wrap('k', fn, { ttl: 1_000, staleWhileRevalidate: 5_000 });
    version = 2;
    clock.advance(2_000);
    expect(await cache.wrap('k', fn, { ttl: 1_000, staleWhileRevalidate: 5_000 })).toBe(1);
    expect(lookups.at(-1)).toMatchObject({ status: 'stale', detail: 'stale-while-revalidate', route: 'wrap' });
    await until(async () => (await cache.wrap('k', fn, { ttl: 1_000, staleWhileRevalidate: 5_000 })) === 2);
  });

  it('returns the stale value when the function throws within staleIfError, and the error after', async () => {
    const { clock, cache } = setup();
    let fail = false;
    const fn = async () => {
      if (fail) throw new Error('db down');
      return 'ok';
    };
    await cache.wrap('k', fn, { ttl: 1_000, staleIfError: 5_000 });
    fail = true;
    clock.advance(3_000);
    expect(await cache.wrap('k', fn, { ttl: 1_000, staleIfError: 5_000 })).toBe('ok');
    clock.advance(5_000);
    await expect(cache.wrap('k', fn, { ttl: 1_000, staleIfError: 5_000 })).rejects.toThrow('db down');
  });

  it('recomputes after its tags are invalidated, and keeps other keys', async () => {
    const { cache } = setup();
    let calls = 0;
    const fn = async () => ++calls;
    await cache.wrap('a', fn, { ttl: 60_000, tags: ['user:1'] });
    await cache.wrap('b', fn, { ttl: 60_000, tags: ['user:2'] });
    await cache.invalidateTag('user:1');
    expect(await cache.wrap('a', fn, { ttl: 60_000, tags: ['user:1'] })).toBe(3);
    expect(await cache.wrap('b', fn, { ttl: 60_000, tags: ['user:2'] })).toBe(2);
  });

  it('takes keys with any characters without collisions', async () => {
    const { cache } = setup();
    await cache.wrap('a\r\nb', async () => 1, { ttl: 60_000 });
    await cache.wrap('a  b', async () => 2, { ttl: 60_000 });
    await cache.wrap('{a}', async () => 3, { ttl: 60_000 });
    expect(await cache.wrap('a\r\nb', async () => 0, { ttl: 60_000 })).toBe(1);
    expect(await cache.wrap('a  b', async () => 0, { ttl: 60_000 })).toBe(2);
    expect(await cache.wrap('{a}', async () => 0, { ttl: 60_000 })).toBe(3);
  });

  it('rejects bad arguments with errors naming them', async () => {
    const { cache } = setup();
    await expect(cache.wrap('', async () => 1, { ttl: 1 })).rejects.toThrow(/non-empty string key/);
    await expect(cache.wrap('k', async () => 1, { ttl: -1 })).rejects.toThrow(/"ttl"/);
    await expect(cache.wrap('k', async () => 1, { ttl: 1, staleWhileRevalidate: Number.NaN })).rejects.toThrow(/"staleWhileRevalidate"/);
    await expect(cache.wrap('k', async () => 1, { ttl: 1, staleTtl: 5 } as never)).rejects.toThrow(
      expect.objectContaining({ code: 'ERR_RENAMED_OPTION', message: expect.stringContaining('option "staleTtl" was renamed; use "staleWhileRevalidate"') }),
    );
  });
});

describeRedis('wrap on two nodes over one Redis (the swr engine)', () => {
  const server = useRedisServer();
  const open: Array<() => Promise<unknown>> = [];
  afterEach(async () => {
    for (const close of open.splice(0).reverse()) await close();
  });
  const prefix = `wrap${process.pid}:`;
  async function node(): Promise<EdgeCache> {
    const redis = new Redis(server.current.url, { maxRetriesPerRequest: 1 });
    const cache = createCache({ redis, prefix, channel: `${prefix}bus` });
    open.push(
      () => redis.quit().catch(() => undefined),
      () => cache.close(),
    );
    return cache;
  }

  it('computes once for concurrent calls on both nodes, and recomputes everywhere after a tag invalidation', async () => {
    const a = await node();
    const b = await node();
    // Both nodes' buses are subscribed before the first call.
    await until(() => [a, b].every((cache) => cache.stats().l1?.usable === true), 20_000, 'both buses connected');
    let calls = 0;
    let release: () => void = () => {};
    const gate = new Promise<void>((r) => (release = r));
    const fn = async () => {
      calls++;
      await gate;
      return { n: calls };
    };
    const pending = [a.wrap('report', fn, { ttl: 60_000, tags: ['t'] }), b.wrap('report', fn, { ttl: 60_000, tags: ['t'] })];
    await until(() => calls === 1);
    release();
    expect(await Promise.all(pending)).toEqual([{ n: 1 }, { n: 1 }]);
    expect(calls).toBe(1);
    const heard = new Promise<void>((resolve) => b.on('invalidate', () => resolve()));
    await a.invalidateTag('t');
    await heard;
    expect(await b.wrap('report', async () => ({ n: 2 }), { ttl: 60_000, tags: ['t'] })).toEqual({ n: 2 });
  });
});
