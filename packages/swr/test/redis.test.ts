import { createRedisBus } from '@edgekit/bus';
import { createManualClock } from '@edgekit/core/testing';
import { describeRedis, freePort, useRedisCluster, useRedisServer } from '@edgekit/test-utils';
import { Cluster, Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { type Swr, type SwrOptions, createRedisStore, createSwr } from '../src/index.js';
import { RedisLock } from '../src/lock.js';
import { redisHashTag as hashTag } from '@edgekit/core';
import { storeConformance } from '@edgekit/swr/testing';
import { sample } from './samples.js';

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

async function until(check: () => boolean | Promise<boolean>, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`condition not met in time: ${check.toString()}`);
    await sleep(5);
  }
}

function deferred<T>(): { promise: Promise<T>; resolve: (v: T) => void; reject: (e: unknown) => void } {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

let counter = 0;
const uniquePrefix = (): string => `t${process.pid}x${++counter}:`;

type Client = Redis | Cluster;

/** The same behaviour on a standalone server and on a 3-master cluster. */
function sharedSuite(connect: () => Client): void {
  const cleanup: Array<() => Promise<unknown>> = [];
  afterEach(async () => {
    for (const fn of cleanup.splice(0).reverse()) await fn();
  });

  /** A "node": its own client, bus and swr, as a separate process would have. */
  async function node(prefix: string, options: Partial<SwrOptions> = {}): Promise<{ swr: Swr; redis: Client }> {
    const redis = connect();
    const bus = createRedisBus({ redis });
    const swr = createSwr({ redis, bus, prefix, ...options });
    cleanup.push(
      () => swr.close(),
      () => bus.close(),
      () => redis.quit().catch(() => undefined),
    );
    // The node hears notices once its bus subscriber is up.
    await until(() => bus.connected);
    return { swr, redis };
  }

  describe('store conformance', () => {
    storeConformance(async () => {
      const redis = connect();
      cleanup.push(() => redis.quit().catch(() => undefined));
      return { store: createRedisStore({ redis, prefix: uniquePrefix() }), elapse: sleep, sample };
    });
  });

  it('makes one fetch for concurrent misses on two nodes; the waiter is woken by the notice, not a timer', async () => {
    const prefix = uniquePrefix();
    // Manual clocks: no wait bound or recheck timer can fire, so only a notice can wake the waiter.
    const a = await node(prefix, { clock: createManualClock(Date.now()) });
    const b = await node(prefix, { clock: createManualClock(Date.now()) });
    const gate = deferred<string>();
    let calls = 0;
    const fetch = (): Promise<string> => {
      calls++;
      return gate.promise;
    };
    const first = a.swr.resolve('report', fetch, { ttl: 60_000 });
    await until(async () => (await a.redis.exists(`${prefix}lock:${hashTag('report')}`)) === 1);
    const second = Promise.all(Array.from({ length: 20 }, () => b.swr.resolve('report', fetch, { ttl: 60_000 })));
    await until(() => b.swr.stats().flight.waits === 1);
    gate.resolve('expensive');
    const [r1, r2] = await Promise.all([first, second]);
    expect(r1).toMatchObject({ value: 'expensive', status: 'miss' });
    expect(r2.every((r) => r.value === 'expensive')).toBe(true);
    expect(calls).toBe(1);
    expect(b.swr.stats().flight).toMatchObject({ fetches: 0, waits: 1, notified: 1, rechecks: 0, fallbacks: 0 });
    // The lock was released by its holder.
    expect(await a.redis.exists(`${prefix}lock:${hashTag('report')}`)).toBe(0);
  });

  it('refreshes a stale key once across nodes while both serve the stale value', async () => {
    const prefix = uniquePrefix();
    const a = await node(prefix);
    const b = await node(prefix);
    await a.swr('k', () => 'old', { ttl: 50, staleWhileRevalidate: 60_000 });
    await sleep(80);
    const gate = deferred<string>();
    let calls = 0;
    const fetch = (): Promise<string> => {
      calls++;
      return gate.promise;
    };
    const answers = await Promise.all([a.swr.resolve('k', fetch, { ttl: 60_000 }), b.swr.resolve('k', fetch, { ttl: 60_000 })]);
    expect(answers.map((r) => `${r.status}:${r.value}`)).toEqual(['stale:old', 'stale:old']);
    await until(() => calls === 1);
    await sleep(20);
    gate.resolve('new');
    await until(async () => (await b.swr.resolve('k', fetch, { ttl: 60_000 })).value === 'new');
    expect(calls).toBe(1);
    expect(a.swr.stats().flight.skipped + b.swr.stats().flight.skipped).toBeGreaterThanOrEqual(1);
  });

  it('takes over when the holder died: the lock lapses and a waiter fetches', async () => {
    const prefix = uniquePrefix();
    const clock = createManualClock(Date.now());
    const b = await node(prefix, { clock });
    // A holder that will never finish or notify.
    await b.redis.set(`${prefix}lock:${hashTag('k')}`, 'dead-holder', 'PX', 100);
    const result = b.swr.resolve('k', () => 'rescued', { ttl: 1_000 });
    await until(() => b.swr.stats().flight.waits === 1);
    await sleep(120);
    await clock.advanceAsync(110);
    expect(await result).toMatchObject({ value: 'rescued', status: 'miss' });
    expect(b.swr.stats().flight).toMatchObject({ rechecks: 1, fetches: 1 });
  });

  it('lets each node fetch for itself when the holder fails, and serves stale-if-error', async () => {
    const prefix = uniquePrefix();
    const a = await node(prefix);
    const b = await node(prefix);
    await a.swr('k', () => 'old', { ttl: 50, staleIfError: 60_000 });
    await sleep(80);
    const gate = deferred<string>();
    const first = a.swr.resolve('k', () => gate.promise, { ttl: 1_000, staleIfError: 60_000 });
    await until(async () => (await a.redis.exists(`${prefix}lock:${hashTag('k')}`)) === 1);
    const second = b.swr.resolve('k', () => Promise.reject(new Error('b fails too')), { ttl: 1_000, staleIfError: 60_000 });
    await until(() => b.swr.stats().flight.waits === 1);
    gate.reject(new Error('origin down'));
    expect(await first).toMatchObject({ status: 'stale-error', value: 'old' });
    expect(await second).toMatchObject({ status: 'stale-error', value: 'old' });
    expect(b.swr.stats().flight).toMatchObject({ notified: 1, fallbacks: 1 });
  });

  it('keeps a slow holder from deleting the lock of the next holder (compare-and-delete)', async () => {
    const redis = connect();
    cleanup.push(() => redis.quit());
    const lock = new RedisLock(redis);
    const key = `${uniquePrefix()}lock:{k}`;
    // A TTL no loaded machine outlives between two commands: the second acquire must find the lock held.
    const slow = await lock.acquire(key, 60_000);
    expect(slow.token).toBeDefined();
    const blocked = await lock.acquire(key, 50);
    expect(blocked.token).toBeUndefined();
    expect(blocked.token === undefined && blocked.pttl).toBeGreaterThan(0);
    // The slow holder overruns its TTL: Redis expires the lock while it still believes it holds it.
    await redis.pexpire(key, 1);
    await until(async () => (await redis.exists(key)) === 0);
    const next = await lock.acquire(key, 10_000);
    expect(next.token).toBeDefined();
    expect(await lock.release(key, slow.token!)).toBe(false);
    expect(await lock.extend(key, slow.token!, 10_000)).toBe(false);
    expect(await redis.get(key)).toBe(next.token);
    expect(await lock.release(key, next.token!)).toBe(true);
    expect(await redis.exists(key)).toBe(0);
  });

  it('extends the lock while a slow fetch runs', async () => {
    const prefix = uniquePrefix();
    const clock = createManualClock(Date.now());
    const a = await node(prefix, { clock, lockTtl: 30_000 });
    const gate = deferred<number>();
    const result = a.swr('k', () => gate.promise, { ttl: 1_000 });
    const lockKey = `${prefix}lock:${hashTag('k')}`;
    await until(async () => (await a.redis.exists(lockKey)) === 1);
    // The lock has aged in Redis (without a real wait a loaded machine could overrun)...
    await a.redis.pexpire(lockKey, 5_000);
    expect(await a.redis.pttl(lockKey)).toBeLessThanOrEqual(5_000);
    // ...and the holder's heartbeat, every lockTtl / 3, gives it its whole lifetime again.
    await clock.advanceAsync(10_000);
    await until(async () => (await a.redis.pttl(lockKey)) > 5_000);
    gate.resolve(1);
    expect(await result).toBe(1);
  });

  it('stores the value with the stale window as its expiry', async () => {
    const prefix = uniquePrefix();
    const a = await node(prefix);
    await a.swr('k', () => 'v', { ttl: 1_000, staleWhileRevalidate: 20_000 });
    const pttl = await a.redis.pttl(`${prefix}${hashTag('k')}`);
    expect(pttl).toBeGreaterThan(20_000);
    expect(pttl).toBeLessThanOrEqual(21_000);
  });
}

describeRedis('swr over a standalone Redis', () => {
  const server = useRedisServer();
  sharedSuite(() => new Redis(server.current.url, { maxRetriesPerRequest: 1 }));

  it('answers from the origin when Redis is unreachable, reporting the failures', async () => {
    const redis = new Redis({ port: await freePort(), lazyConnect: true, enableOfflineQueue: false, maxRetriesPerRequest: 0, retryStrategy: () => null });
    redis.on('error', () => {});
    const swr = createSwr({ redis });
    const operations = new Set<string>();
    swr.on('error', (e) => operations.add(e.operation));
    try {
      expect(await swr.resolve('k', () => 'origin', { ttl: 1_000 })).toMatchObject({ value: 'origin', status: 'miss' });
      // The client is not connected, so the lock is not even tried.
      expect([...operations].sort()).toEqual(['get', 'set']);
      expect(swr.stats().flight.fallbacks).toBe(1);
    } finally {
      await swr.close();
      redis.disconnect();
    }
  });
});

describeRedis('swr through a Redis restart', () => {
  const server = useRedisServer();

  it('answers every call from the origin while Redis is down, quickly, and shares values again once it is back', async () => {
    const redis = new Redis(server.current.url, { maxRetriesPerRequest: 1, retryStrategy: () => 50 });
    redis.on('error', () => {});
    const bus = createRedisBus({ redis });
    const swr = createSwr({ redis, bus, prefix: uniquePrefix(), operationTimeout: 200 });
    const errors: string[] = [];
    swr.on('error', (e) => errors.push(e.operation));
    try {
      await until(() => bus.connected);
      let calls = 0;
      const fetch = (): string => `v${++calls}`;
      expect(await swr('k', fetch, { ttl: 60_000 })).toBe('v1');
      await server.current.kill(true);
      await until(() => redis.status !== 'ready');
      const started = Date.now();
      for (let i = 0; i < 10; i++) expect((await swr.resolve(`down${i}`, fetch, { ttl: 60_000 })).status).toBe('miss');
      // Store reads time out (200 ms each at most); the lock is skipped instead of timing out too,
      // which would take at least 10 * 2 * 200 ms. Below that, the rest is room for a loaded machine.
      expect(Date.now() - started).toBeLessThan(10 * 2 * 200);
      expect(errors.length).toBeGreaterThan(0);
      await server.current.start();
      await until(() => redis.status === 'ready' && bus.connected, 20_000);
      // The data is gone (no persistence): one fetch, then shared again.
      expect(await swr('k', fetch, { ttl: 60_000 })).toBe(`v${calls}`);
      expect(await swr.resolve('k', fetch, { ttl: 60_000 })).toMatchObject({ status: 'fresh' });
    } finally {
      await swr.close();
      await bus.close();
      redis.disconnect();
    }
  }, 40_000);
});

describeRedis(
  'swr over a 3-master Redis Cluster',
  () => {
    const cluster = useRedisCluster();
    sharedSuite(() => new Cluster(cluster.current.nodes, { redisOptions: { maxRetriesPerRequest: 1 } }));

    it('puts a value and its lock in one slot, for hostile keys too', async () => {
      const redis = new Cluster(cluster.current.nodes);
      try {
        for (const key of ['plain', '}x', '{a}b', 'a{}b', '%7B', 'crlf\r\nkey', '\u0000bin\u00ff']) {
          const value = await redis.cluster('KEYSLOT', `edgekit:swr:${hashTag(key)}`);
          const lock = await redis.cluster('KEYSLOT', `edgekit:swr:lock:${hashTag(key)}`);
          expect(lock).toBe(value);
        }
        // Different keys spread over the masters.
        const slots = new Set(await Promise.all(['a', 'b', 'c', 'd', 'e', 'f'].map((k) => redis.cluster('KEYSLOT', `edgekit:swr:${hashTag(k)}`))));
        expect(slots.size).toBeGreaterThan(1);
      } finally {
        await redis.quit();
      }
    });
  },
  { cluster: true },
);
