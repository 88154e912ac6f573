import { type Bus, createRedisBus } from '@edgekit/bus';
import { createManualClock } from '@edgekit/core/testing';
import { describeRedis, useRedisServer } from '@edgekit/test-utils';
import { Redis } from 'ioredis';
import { afterEach, expect, it } from 'vitest';
import { type Swr, type SwrOptions, type SwrStore, createRedisStore, createSwr } from '../src/index.js';
import { redisHashTag as hashTag } from '@edgekit/core';

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

async function until(check: () => boolean | Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`condition not met in time: ${check.toString()}`);
    await sleep(5);
  }
}

let counter = 0;
const uniquePrefix = (): string => `l1${process.pid}x${++counter}:`;

describeRedis('the process-local tier (l1) in front of Redis', () => {
  const server = useRedisServer();
  const cleanup: Array<() => Promise<unknown>> = [];
  afterEach(async () => {
    for (const fn of cleanup.splice(0).reverse()) await fn();
  });

  /** A node whose store counts reads, so a test can tell a local hit from a Redis round trip. */
  async function node(prefix: string, options: Partial<SwrOptions> = {}): Promise<{ swr: Swr; redis: Redis; bus: Bus; reads: () => number }> {
    const redis = new Redis(server.current.url, { maxRetriesPerRequest: 1 });
    const bus = createRedisBus({ redis });
    const inner = createRedisStore({ redis, prefix });
    let reads = 0;
    const store: SwrStore = {
      name: 'counting',
      get: (key) => {
        reads++;
        return inner.get(key);
      },
      set: (key, entry, ttl) => inner.set(key, entry, ttl),
      delete: (keys) => inner.delete(keys),
      deletePattern: (pattern) => inner.deletePattern(pattern),
      clear: () => inner.clear(),
      close: () => inner.close(),
    };
    const swr = createSwr({ redis, bus, store, prefix, ...options });
    cleanup.push(
      () => swr.close(),
      () => bus.close(),
      () => redis.quit().catch(() => undefined),
    );
    await until(() => bus.connected);
    return { swr, redis, bus, reads: () => reads };
  }

  it('answers fresh and stale hits from the local copy without a Redis round trip', async () => {
    // A manual clock: the entry is fresh until the test moves time past its ttl, however slow the machine.
    const clock = createManualClock(Date.now());
    const a = await node(uniquePrefix(), { clock });
    await a.swr('k', () => 'v1', { ttl: 50, staleWhileRevalidate: 60_000 });
    const before = a.reads();
    expect(await a.swr.resolve('k', () => 'x', { ttl: 50, staleWhileRevalidate: 60_000 })).toMatchObject({ status: 'fresh', value: 'v1' });
    clock.advance(60);
    const stale = await a.swr.resolve('k', () => new Promise<string>(() => {}), { ttl: 50, staleWhileRevalidate: 60_000 });
    expect(stale).toMatchObject({ status: 'stale', value: 'v1' });
    // Only the background refresh's check read Redis, not the answers.
    expect(a.reads() - before).toBeLessThanOrEqual(1);
  });

  it('drops every node’s copy when one node stores a newer value or deletes the key', async () => {
    const prefix = uniquePrefix();
    // One manual clock for both nodes: the entry stays fresh for b's read, however slow the machine.
    const clock = createManualClock(Date.now());
    const a = await node(prefix, { clock });
    const b = await node(prefix, { clock });
    await a.swr('k', () => 'v1', { ttl: 30, staleWhileRevalidate: 60_000 });
    expect(await b.swr('k', () => 'unused', { ttl: 30, staleWhileRevalidate: 60_000 })).toBe('v1');
    clock.advance(40);
    // a refreshes in the background; b's copy must give way to the new value.
    expect(await a.swr('k', () => 'v2', { ttl: 60_000 })).toBe('v1');
    await until(async () => (await b.swr.resolve('k', () => 'unused', { ttl: 60_000 })).value === 'v2');
    expect((await b.swr.resolve('k', () => 'unused', { ttl: 60_000 })).status).toBe('fresh');
    await a.swr.delete('k');
    await until(async () => (await b.swr.resolve('k', () => 'v3', { ttl: 60_000 })).status === 'miss');
    expect(await a.swr('k', () => 'unused', { ttl: 60_000 })).toBe('v3');
  });

  it('flushes its copies after a bus gap, so a change whose notice was lost is not served', async () => {
    const prefix = uniquePrefix();
    const b = await node(prefix);
    await b.swr('k', () => 'v1', { ttl: 60_000 });
    // A change with no notice (as if the notice was lost): the local copy still answers.
    await createRedisStore({ redis: b.redis, prefix }).set(hashTag('k'), { value: 'v2', createdAt: Date.now(), freshUntil: Date.now() + 60_000, staleUntil: Date.now() + 60_000, errorUntil: Date.now() + 60_000 }, 60_000);
    expect(await b.swr('k', () => 'unused', { ttl: 60_000 })).toBe('v1');
    const gaps: string[] = [];
    b.bus.on('gap', (gap) => gaps.push(gap.kind));
    await b.redis.client('KILL', 'TYPE', 'pubsub');
    await until(() => gaps.includes('reconnected') && b.bus.connected);
    expect(await b.swr('k', () => 'unused', { ttl: 60_000 })).toBe('v2');
  });

  it('can be turned off, and is off without Redis', async () => {
    const a = await node(uniquePrefix(), { l1: false });
    await a.swr('k', () => 'v1', { ttl: 60_000 });
    const before = a.reads();
    await a.swr('k', () => 'v1', { ttl: 60_000 });
    expect(a.reads() - before).toBe(1);
    expect(() => createSwr({ l1: 5 as never })).toThrow(/"l1"/);
  });
});
