import { type Socket, createServer } from 'node:net';
import { systemClock } from '@edgekit/core';
import { type ManualClock, createManualClock } from '@edgekit/core/testing';
import { closeServer, describeRedis, listen, startRedis, useRedisCluster, useRedisServer } from '@edgekit/test-utils';
import fc from 'fast-check';
import type { Cluster, Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { ALGORITHMS, type Algorithm, type RateLimitError, createLocalLimiter, createRedisLimiter } from '../src/index.js';
import { HOSTILE_KEYS, clusterClient, onCleanup, ready, redisClient } from './helpers.js';

let run = 0;

/**
 * Conformance: the strict Redis limiter gives exactly the answers of the local limiter for the same
 * sequence of (time, key, cost), for every algorithm: the Lua scripts and the local state machines
 * implement one specification.
 */
function conformance(connect: () => Redis | Cluster): void {
  describe.each(ALGORITHMS)('%s', (algorithm: Algorithm) => {
    it('answers exactly like the local limiter for random sequences of time, key and cost', async () => {
      const redis = connect();
      await ready(redis);
      await fc.assert(
        fc.asyncProperty(
          fc.integer({ min: 1, max: 8 }),
          fc.array(
            fc.record({ dt: fc.integer({ min: 0, max: 700 }), key: fc.constantFrom('a', 'b', '}', ''), cost: fc.integer({ min: 0, max: 3 }) }),
            { minLength: 1, maxLength: 40 },
          ),
          async (limit, steps) => {
            const policy = { algorithm, limit, window: 1000, burst: limit + 1 };
            const localClock: ManualClock = createManualClock(1_700_000_000_000);
            const redisClock: ManualClock = createManualClock(1_700_000_000_000);
            const local = createLocalLimiter({ ...policy, clock: localClock });
            const strict = createRedisLimiter({ ...policy, redis, clock: redisClock, prefix: `conf${run++}:`, commandTimeout: 5000 });
            try {
              for (const { dt, key, cost } of steps) {
                localClock.advance(dt);
                redisClock.advance(dt);
                const c = Math.min(cost, strict.policy.burst);
                expect(await strict.limit(key, c)).toEqual(local.limit(key, c));
              }
            } finally {
              await local.close();
              await strict.close();
            }
          },
        ),
        { numRuns: 25 },
      );
    });
  });

  it('keeps the two windows of every hostile key in one slot and separates them from each other', async () => {
    const redis = connect();
    await ready(redis);
    const limiter = createRedisLimiter({ algorithm: 'sliding-window', limit: 1, window: 60_000, redis, prefix: `hostile${run++}:`, commandTimeout: 5000 });
    const errors: RateLimitError[] = [];
    limiter.on('error', (e) => errors.push(e));
    const first = await Promise.all(HOSTILE_KEYS.map((k) => limiter.limit(k)));
    const second = await Promise.all(HOSTILE_KEYS.map((k) => limiter.limit(k)));
    expect(errors).toEqual([]);
    expect(first.every((r) => r.allowed)).toBe(true);
    expect(second.every((r) => !r.allowed)).toBe(true);
  });
}

describeRedis('strict limiter on standalone Redis', () => {
  const server = useRedisServer();
  conformance(() => redisClient(server.current.url));

  it('never lets concurrent callers exceed the limit', async () => {
    const redis = redisClient(server.current.url);
    await ready(redis);
    const limiter = createRedisLimiter({ algorithm: 'fixed-window', limit: 50, window: 60_000, redis, prefix: 'race:', commandTimeout: 5000 });
    const results = await Promise.all(Array.from({ length: 400 }, () => limiter.limit('shared')));
    expect(results.filter((r) => r.allowed)).toHaveLength(50);
  });

  it('answers a client that is still connecting by failOpen instead of queueing behind the connection', async () => {
    const redis = redisClient(server.current.url);
    const limiter = createRedisLimiter({ limit: 1, window: 60_000, redis, prefix: 'connecting:', failOpen: false });
    expect(redis.status).not.toBe('ready');
    expect(await limiter.limit('k')).toMatchObject({ allowed: false, retryAfter: 1000 });
    await ready(redis);
    expect((await limiter.limit('k')).allowed).toBe(true);
  });

  it('restores a key with reset()', async () => {
    const redis = redisClient(server.current.url);
    await ready(redis);
    const limiter = createRedisLimiter({ algorithm: 'gcra', limit: 1, window: 60_000, redis, prefix: 'reset:' });
    expect((await limiter.limit('k')).allowed).toBe(true);
    expect((await limiter.limit('k')).allowed).toBe(false);
    await limiter.reset('k');
    expect((await limiter.limit('k')).allowed).toBe(true);
  });

  it('keeps different policy names apart on the same keys', async () => {
    const redis = redisClient(server.current.url);
    await ready(redis);
    const login = createRedisLimiter({ name: 'login', algorithm: 'fixed-window', limit: 1, window: 60_000, redis });
    const api = createRedisLimiter({ name: 'api', algorithm: 'fixed-window', limit: 1, window: 60_000, redis });
    expect((await login.limit('1.2.3.4')).allowed).toBe(true);
    expect((await api.limit('1.2.3.4')).allowed).toBe(true);
    expect((await login.limit('1.2.3.4')).allowed).toBe(false);
  });
});

describeRedis(
  'strict limiter on a 3-master Redis Cluster',
  () => {
    const cluster = useRedisCluster();
    conformance(() => clusterClient(cluster.current.nodes));
  },
  { cluster: true },
);

describeRedis('strict limiter when Redis fails', () => {
  it('decides by failOpen at once while Redis is down, and uses Redis again once it is back', async () => {
    const server = await startRedis({ useEnv: false });
    onCleanup(() => server.stop());
    const redis = redisClient(server.url, { maxRetriesPerRequest: 1, retryStrategy: () => 50 });
    await ready(redis);
    const open = createRedisLimiter({ algorithm: 'fixed-window', limit: 1, window: 60_000, redis, prefix: 'open:' });
    const closed = createRedisLimiter({ algorithm: 'fixed-window', limit: 1, window: 60_000, redis, prefix: 'closed:', failOpen: false, unavailableRetryAfter: 2000 });
    const errors: string[] = [];
    open.on('error', (e) => errors.push(e.code));
    expect((await open.limit('k')).allowed).toBe(true);
    expect((await open.limit('k')).allowed).toBe(false);

    await server.kill(true);
    await new Promise((resolve) => setTimeout(resolve, 50));
    const started = Date.now();
    const [a, b] = await Promise.all([open.limit('k'), closed.limit('k')]);
    expect(Date.now() - started).toBeLessThan(1_500);
    expect(a).toEqual({ allowed: true, limit: 1, remaining: 1, reset: 0, retryAfter: 0 });
    expect(b).toEqual({ allowed: false, limit: 1, remaining: 0, reset: 2000, retryAfter: 2000 });
    expect(errors.length).toBeGreaterThan(0);
    expect(errors.every((code) => code === 'EREDISDOWN' || code === 'EREDIS')).toBe(true);

    await server.start();
    await ready(redis);
    // The counter did not survive the restart (no persistence), so Redis decides afresh.
    expect((await closed.limit('k')).allowed).toBe(true);
    expect((await closed.limit('k')).allowed).toBe(false);
  });

  it('answers within commandTimeout when Redis accepts the connection but never replies', async () => {
    // A server that accepts and stays silent: a hung Redis, a black-holed network path.
    const sockets: Socket[] = [];
    const silent = createServer((socket) => sockets.push(socket));
    const port = await listen(silent);
    onCleanup(() => {
      for (const socket of sockets) socket.destroy();
      return closeServer(silent);
    });
    const redis = redisClient(`redis://127.0.0.1:${port}`, { enableReadyCheck: false, disableClientInfo: true, maxRetriesPerRequest: null });
    await ready(redis);
    for (const failOpen of [true, false]) {
      const limiter = createRedisLimiter({ limit: 5, window: 1000, redis, failOpen, commandTimeout: 100, clock: systemClock });
      const codes: string[] = [];
      limiter.on('error', (e) => codes.push(e.code));
      const started = Date.now();
      const result = await limiter.limit('k');
      const took = Date.now() - started;
      expect(took).toBeGreaterThanOrEqual(95);
      expect(took).toBeLessThan(1000);
      expect(result.allowed).toBe(failOpen);
      expect(codes).toEqual(['ETIMEDOUT']);
    }
  });

  it('validates its options', () => {
    expect(() => createRedisLimiter({ limit: 1, window: 1, redis: {} as Redis })).toThrow(/"redis"/);
    const redis = { get() {}, evalsha() {}, publish() {} } as unknown as Redis;
    expect(() => createRedisLimiter({ limit: 1, window: 1, redis, prefix: 'a{b' })).toThrow(/"prefix"/);
    expect(() => createRedisLimiter({ limit: 1, window: 1, redis, commandTimeout: 0 })).toThrow(/"commandTimeout"/);
    expect(() => createRedisLimiter({ limit: 1, window: 1, redis, failOpen: 'yes' as unknown as boolean })).toThrow(/"failOpen"/);
  });
});
