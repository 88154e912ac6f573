import { type ManualClock, createManualClock } from '@edgekit/core/testing';
import { describeRedis, startRedis, useRedisCluster, useRedisServer } from '@edgekit/test-utils';
import type { Cluster, Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { type EdgeLimiterOptions, type EdgeRateLimiter, createEdgeLimiter } from '../src/index.js';
import { HOSTILE_KEYS, clusterClient, onCleanup, ready, redisClient } from './helpers.js';

// Windows start on multiples of the window length; this instant starts a 10 s and a 1 s window.
const T0 = 1_700_000_000_000;
let run = 0;

function edge(options: Partial<EdgeLimiterOptions> & { redis: Redis | Cluster; clock: ManualClock }): EdgeRateLimiter {
  // A sync interval the manual clock never reaches: these tests call sync() themselves.
  const limiter = createEdgeLimiter({ limit: 10, window: 10_000, algorithm: 'fixed-window', syncInterval: 1e9, predict: false, ...options });
  onCleanup(() => limiter.close());
  return limiter;
}

function allowedOf(limiter: EdgeRateLimiter, key: string, times: number): number {
  let allowed = 0;
  for (let i = 0; i < times; i++) if (limiter.limit(key).allowed) allowed++;
  return allowed;
}

describeRedis('edge limiter on standalone Redis', () => {
  const server = useRedisServer();

  it('decides without Redis and learns the other nodes\u2019 admissions at each sync', async () => {
    const redis = redisClient(server.current.url);
    await ready(redis);
    const clock = createManualClock(T0);
    const prefix = `e${run++}:`;
    const a = edge({ redis, clock, prefix });
    const b = edge({ redis, clock, prefix });
    expect(allowedOf(a, 'k', 6)).toBe(6);
    await a.sync();
    // b has not synced yet: its first decision is local and optimistic.
    const first = b.limit('k');
    expect(first).toMatchObject({ allowed: true, remaining: 9 });
    expect(first).not.toBeInstanceOf(Promise);
    await b.sync();
    expect(allowedOf(b, 'k', 5)).toBe(3);
    expect(b.limit('k')).toEqual({ allowed: false, limit: 10, remaining: 0, reset: 10_000, retryAfter: 10_000 });
    await b.sync();
    // A node pulls the keys it was asked about since its last sync.
    a.limit('k', 0);
    await a.sync();
    expect(await redis.get(`${prefix}default:fw:{k}:${T0 / 10_000}`)).toBe('10');
    expect(a.limit('k').allowed).toBe(false);
  });

  it('pushes increments of a window that ended before its sync to that window, not the next', async () => {
    const redis = redisClient(server.current.url);
    await ready(redis);
    const clock = createManualClock(T0);
    const prefix = `e${run++}:`;
    const a = edge({ redis, clock, prefix });
    expect(allowedOf(a, 'k', 4)).toBe(4);
    clock.advance(10_000);
    expect(allowedOf(a, 'k', 2)).toBe(2);
    await a.sync();
    const index = T0 / 10_000;
    expect(await redis.get(`${prefix}default:fw:{k}:${index}`)).toBe('4');
    expect(await redis.get(`${prefix}default:fw:{k}:${index + 1}`)).toBe('2');
  });

  it('weights the previous window pulled from Redis in sliding-window mode', async () => {
    const redis = redisClient(server.current.url);
    await ready(redis);
    const clock = createManualClock(T0);
    const prefix = `e${run++}:`;
    const a = edge({ redis, clock, prefix, algorithm: 'sliding-window' });
    const b = edge({ redis, clock, prefix, algorithm: 'sliding-window' });
    expect(allowedOf(a, 'k', 8)).toBe(8);
    await a.sync();
    clock.advance(12_500); // next window, a quarter in: the previous 8 weigh 6
    b.limit('k', 0);
    await b.sync();
    expect(allowedOf(b, 'k', 10)).toBe(4);
  });

  it('flushes pending increments on close', async () => {
    const redis = redisClient(server.current.url);
    await ready(redis);
    const clock = createManualClock(T0);
    const prefix = `e${run++}:`;
    const a = createEdgeLimiter({ redis, clock, prefix, limit: 10, window: 10_000, algorithm: 'fixed-window', syncInterval: 1e9 });
    allowedOf(a, 'k', 3);
    await a.close();
    expect(await redis.get(`${prefix}default:fw:{k}:${T0 / 10_000}`)).toBe('3');
    expect(clock.pendingTimers()).toBe(0);
    expect(() => a.limit('k')).toThrow(expect.objectContaining({ code: 'ECLOSED' }));
  });

  it('keeps hostile keys apart and in one slot each', async () => {
    const redis = redisClient(server.current.url);
    await ready(redis);
    const clock = createManualClock(T0);
    const a = edge({ redis, clock, prefix: `e${run++}:`, limit: 1 });
    const b = edge({ redis, clock, prefix: `e${run - 1}:`, limit: 1 });
    const errors: unknown[] = [];
    a.on('error', (e) => errors.push(e));
    for (const key of HOSTILE_KEYS) expect(a.limit(key).allowed).toBe(true);
    await a.sync();
    for (const key of HOSTILE_KEYS) b.limit(key, 0);
    await b.sync();
    for (const key of HOSTILE_KEYS) expect(b.limit(key).allowed).toBe(false);
    expect(errors).toEqual([]);
    expect(a.size).toBe(HOSTILE_KEYS.length);
  });

  it('holds at most max keys and still syncs the admissions of dropped keys', async () => {
    const redis = redisClient(server.current.url);
    await ready(redis);
    const clock = createManualClock(T0);
    const prefix = `e${run++}:`;
    const a = edge({ redis, clock, prefix, max: 2 });
    for (let i = 0; i < 20; i++) a.limit(`k${i}`);
    expect(a.size).toBe(2);
    await a.sync();
    const values = await redis.mget(Array.from({ length: 20 }, (_, i) => `${prefix}default:fw:{k${i}}:${T0 / 10_000}`));
    expect(values).toEqual(Array.from({ length: 20 }, () => '1'));
  });

  it('refuses algorithms that cannot be summed across nodes', () => {
    const redis = { get() {}, evalsha() {}, publish() {} } as unknown as Redis;
    expect(() => createEdgeLimiter({ redis, limit: 1, window: 1, algorithm: 'gcra' as 'fixed-window' })).toThrow(/"algorithm"/);
    expect(() => createEdgeLimiter({ redis, limit: 1, window: 1, syncInterval: 0 })).toThrow(/"syncInterval"/);
  });

  it('refuses the former "maxKeys" option, naming "max" instead of ignoring it', () => {
    const redis = { get() {}, evalsha() {}, publish() {} } as unknown as Redis;
    const renamed = { redis, limit: 1, window: 1, maxKeys: 2 } as EdgeLimiterOptions;
    expect(() => createEdgeLimiter(renamed)).toThrow(expect.objectContaining({ name: 'TypeError', code: 'ERR_RENAMED_OPTION' }));
    expect(() => createEdgeLimiter(renamed)).toThrow('option "maxKeys" was renamed; use "max" instead');
  });
});

/**
 * Three nodes, one shared key, a steady load above the limit; syncs run on the nodes' own timers at
 * staggered phases. Returns how many requests were allowed in one window.
 */
async function simulate(redis: Redis | Cluster, predict: boolean, syncInterval: number): Promise<number> {
  const clock = createManualClock(T0 - 3 * syncInterval);
  const prefix = `sim${run++}:`;
  const nodes: Array<{ limiter: EdgeRateLimiter; created: number; phase: number }> = [];
  for (let i = 0; i < 3; i++) {
    const limiter = createEdgeLimiter({ redis, clock, prefix, limit: 1000, window: 10_000, algorithm: 'fixed-window', syncInterval, predict });
    onCleanup(() => limiter.close());
    nodes.push({ limiter, created: clock.now(), phase: i * 3 });
    clock.advance(Math.floor(syncInterval / 3));
  }
  clock.set(T0);
  let allowed = 0;
  // 100 requests/s per node, 3x the policy's average rate of 100/s across the three.
  for (let t = 0; t < 10_000; t++) {
    clock.advance(1);
    for (const node of nodes) {
      if ((clock.now() - node.created) % syncInterval === 0) await node.limiter.sync();
      if (t % 10 === node.phase && node.limiter.limit('k').allowed) allowed++;
    }
  }
  return allowed;
}

describeRedis('edge limiter overage', () => {
  const server = useRedisServer();

  it('stays within the documented bound without prediction and within 1% with it', async () => {
    const redis = redisClient(server.current.url);
    await ready(redis);
    const plain = await simulate(redis, false, 100);
    const predicted = await simulate(redis, true, 100);
    // Bound: (N - 1) * r * (2 * S + d) = 2 * 0.1/ms * 200 ms = 40 over the limit of 1000.
    expect(plain).toBeGreaterThanOrEqual(1000);
    expect(plain).toBeLessThanOrEqual(1040);
    expect(predicted).toBeGreaterThanOrEqual(980);
    expect(predicted).toBeLessThanOrEqual(1010);
    expect(predicted - 1000).toBeLessThan(plain - 1000);
  });
});

describeRedis(
  'edge limiter on a 3-master Redis Cluster',
  () => {
    const cluster = useRedisCluster();

    it('syncs keys of many slots in one round', async () => {
      const redis = clusterClient(cluster.current.nodes);
      await ready(redis);
      const clock = createManualClock(T0);
      const prefix = `c${run++}:`;
      const a = edge({ redis, clock, prefix, limit: 2 });
      const b = edge({ redis, clock, prefix, limit: 2 });
      const keys = [...HOSTILE_KEYS, ...Array.from({ length: 30 }, (_, i) => `user:${i}`)];
      const errors: unknown[] = [];
      a.on('error', (e) => errors.push(e));
      for (const key of keys) a.limit(key, 2);
      await a.sync();
      expect(errors).toEqual([]);
      expect(a.healthy).toBe(true);
      for (const key of keys) b.limit(key, 0);
      await b.sync();
      expect(keys.filter((key) => b.limit(key).allowed)).toEqual([]);
    });
  },
  { cluster: true },
);

describeRedis('edge limiter when Redis fails', () => {
  it('keeps deciding locally while Redis is down, refuses when failOpen is false, and catches up after', async () => {
    const server = await startRedis({ useEnv: false });
    onCleanup(() => server.stop());
    const redis = redisClient(server.url, { retryStrategy: () => 50 });
    await ready(redis);
    const clock = createManualClock(T0);
    const prefix = `f${run++}:`;
    const open = edge({ redis, clock, prefix, name: 'open' });
    const closed = edge({ redis, clock, prefix, name: 'closed', failOpen: false });
    const health: boolean[] = [];
    closed.on('health', (h) => health.push(h));
    const codes: string[] = [];
    closed.on('error', (e) => codes.push(e.code));
    expect(allowedOf(open, 'k', 3)).toBe(3);
    expect(allowedOf(closed, 'k', 3)).toBe(3);
    await Promise.all([open.sync(), closed.sync()]);

    await server.kill(true);
    await new Promise((resolve) => setTimeout(resolve, 50));
    const started = Date.now();
    expect(allowedOf(open, 'k', 4)).toBe(4);
    expect(allowedOf(closed, 'k', 1)).toBe(1);
    await Promise.all([open.sync(), closed.sync()]);
    expect(Date.now() - started).toBeLessThan(1_500);
    expect(closed.healthy).toBe(false);
    expect(codes[0]).toBe('EREDISDOWN');
    // Open: the local view still enforces the limit on what this node knows.
    expect(allowedOf(open, 'k', 10)).toBe(3);
    // Closed: nothing until Redis answers again.
    expect(closed.limit('k')).toMatchObject({ allowed: false, retryAfter: 1e9 });

    await server.start();
    await ready(redis);
    await Promise.all([open.sync(), closed.sync()]);
    expect(closed.healthy).toBe(true);
    expect(health).toEqual([false, true]);
    // Admissions made while Redis was down reached it afterwards (the restart lost the earlier 3).
    expect(await redis.get(`${prefix}open:fw:{k}:${T0 / 10_000}`)).toBe('7');
    expect(await redis.get(`${prefix}closed:fw:{k}:${T0 / 10_000}`)).toBe('1');
  });
});

describe('edge limiter options', () => {
  it('requires a Redis client', () => {
    expect(() => createEdgeLimiter({ limit: 1, window: 1 } as EdgeLimiterOptions)).toThrow(/"redis"/);
  });
});
