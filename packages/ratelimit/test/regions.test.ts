import { type ManualClock, createManualClock } from '@edgekit/core/testing';
import { type Bus, createMemoryBus, createMemoryBusHub } from '@edgekit/bus';
import { describeRedis, useRedisServer } from '@edgekit/test-utils';
import { describe, expect, it } from 'vitest';
import { type EdgeLimiterOptions, type EdgeRateLimiter, type RateLimitError, createEdgeLimiter } from '../src/index.js';
import { onCleanup, ready, redisClient } from './helpers.js';

const T0 = 1_700_000_000_000;

function limiter(options: Partial<EdgeLimiterOptions> & { clock: ManualClock }): EdgeRateLimiter {
  // These tests call sync() themselves: the interval is out of the manual clock's reach.
  const created = createEdgeLimiter({ limit: 10, window: 10_000, algorithm: 'fixed-window', syncInterval: 1e9, predict: false, ...options });
  onCleanup(() => created.close());
  return created;
}

function bus(hub: ReturnType<typeof createMemoryBusHub>, nodeId: string): Bus {
  const created = createMemoryBus({ hub, nodeId });
  onCleanup(() => created.close());
  return created;
}

function allowedOf(l: EdgeRateLimiter, key: string, times: number): number {
  let allowed = 0;
  for (let i = 0; i < times; i++) if (l.limit(key).allowed) allowed++;
  return allowed;
}

describe('edge limiter across regions over a bus', () => {
  it('adds up the counts the other regions publish at each round', async () => {
    const hub = createMemoryBusHub();
    const clock = createManualClock(T0);
    const [a, b, c] = ['us-east', 'eu-west', 'ap-south'].map((r) => limiter({ bus: bus(hub, r), clock })) as [EdgeRateLimiter, EdgeRateLimiter, EdgeRateLimiter];
    expect(allowedOf(a, 'k', 4)).toBe(4);
    expect(allowedOf(b, 'k', 3)).toBe(3);
    // Nothing published yet: c decides on its own view.
    expect(c.limit('k', 0).remaining).toBe(10);
    await Promise.all([a.sync(), b.sync()]);
    expect(c.limit('k', 0).remaining).toBe(3);
    expect(allowedOf(c, 'k', 5)).toBe(3);
    await c.sync();
    expect(a.limit('k').allowed).toBe(false);
    expect(b.limit('k').allowed).toBe(false);
  });

  it('counts a duplicated, late or reordered message once: counts are cumulative per node', async () => {
    const hub = createMemoryBusHub();
    const clock = createManualClock(T0);
    const a = limiter({ bus: bus(hub, 'a'), clock });
    const other = bus(hub, 'b');
    const window = T0 / 10_000;
    const heard: unknown[] = [];
    a.on('counts', (event) => heard.push(event));
    await other.publish('edgekit:rl:default', { r: 'b', w: window, c: [['k', 3]] });
    await other.publish('edgekit:rl:default', { r: 'b', w: window, c: [['k', 5]] });
    await other.publish('edgekit:rl:default', { r: 'b', w: window, c: [['k', 5]] });
    await other.publish('edgekit:rl:default', { r: 'b', w: window, c: [['k', 3]] });
    expect(a.limit('k', 0).remaining).toBe(5);
    // Counts of a window far from this node's are not kept.
    await other.publish('edgekit:rl:default', { r: 'b', w: window + 5, c: [['k', 9]] });
    expect(a.limit('k', 0).remaining).toBe(5);
    // Each applied message is reported once it weighs in decisions; the far window's is not.
    expect(heard).toEqual(Array.from({ length: 4 }, () => ({ origin: 'b', region: 'b', window, keys: 1 })));
  });

  it('republishes counts a failed publish did not deliver, and reports EBUS', async () => {
    const hub = createMemoryBusHub();
    const clock = createManualClock(T0);
    const flaky = bus(hub, 'us-east');
    let failures = 1;
    const publish = flaky.publish.bind(flaky);
    const failing: Bus = Object.assign(Object.create(flaky) as Bus, {
      nodeId: flaky.nodeId,
      publish: (channel: string, payload: unknown) => (failures-- > 0 ? Promise.reject(new Error('link down')) : publish(channel, payload)),
    });
    const a = limiter({ bus: failing, clock });
    const b = limiter({ bus: bus(hub, 'eu-west'), clock });
    const errors: RateLimitError[] = [];
    a.on('error', (error) => errors.push(error));
    expect(allowedOf(a, 'k', 6)).toBe(6);
    await a.sync();
    expect(errors.map((e) => e.code)).toEqual(['EBUS']);
    expect(b.limit('k', 0).remaining).toBe(10);
    // No new admission in a: the next round still sends the count that was lost.
    await a.sync();
    expect(b.limit('k', 0).remaining).toBe(4);
  });

  it('publishes the count of a window that ended before its round to that window', async () => {
    const hub = createMemoryBusHub();
    const clock = createManualClock(T0);
    const a = limiter({ bus: bus(hub, 'a'), clock, algorithm: 'sliding-window' });
    const b = limiter({ bus: bus(hub, 'b'), clock, algorithm: 'sliding-window' });
    expect(allowedOf(a, 'k', 8)).toBe(8);
    clock.advance(10_000);
    b.limit('k', 0);
    await a.sync();
    // Right after the boundary b weighs a's 8 of the previous window almost fully: 10 − 8 = 2 left.
    expect(allowedOf(b, 'k', 5)).toBe(2);
  });

  it('ignores a malformed message and reports EBADMESSAGE', async () => {
    const hub = createMemoryBusHub();
    const clock = createManualClock(T0);
    const a = limiter({ bus: bus(hub, 'a'), clock });
    const errors: string[] = [];
    a.on('error', (error) => errors.push(error.code));
    const other = bus(hub, 'b');
    for (const payload of [42, { r: 'b', w: 'x', c: [] }, { r: 'b', w: T0 / 10_000, c: [['k', -1]] }, { r: 'b', w: T0 / 10_000, c: [['k', Number.NaN]] }]) {
      await other.publish('edgekit:rl:default', payload).catch(() => {});
    }
    expect(errors).toEqual(['EBADMESSAGE', 'EBADMESSAGE', 'EBADMESSAGE', 'EBADMESSAGE']);
    expect(a.limit('k', 0).remaining).toBe(10);
  });

  it('refuses options that cannot work, naming them', () => {
    const clock = createManualClock(T0);
    expect(() => createEdgeLimiter({ limit: 1, window: 1000, clock })).toThrow(/"redis".*"bus"/);
    expect(() => createEdgeLimiter({ limit: 1, window: 1000, clock, bus: { nodeId: 'x' } as unknown as Bus })).toThrow(/option "bus"/);
  });
});

describeRedis('edge limiter across regions with a Redis per region', () => {
  const us = useRedisServer();
  const eu = useRedisServer();

  it('counts each region once: its own nodes through Redis, the other regions through the bus', async () => {
    const hub = createMemoryBusHub();
    const clock = createManualClock(T0);
    const usRedis = redisClient(us.current.url);
    const euRedis = redisClient(eu.current.url);
    await Promise.all([ready(usRedis), ready(euRedis)]);
    const prefix = `regions${Date.now()}:`;
    expect(() => createEdgeLimiter({ limit: 1, window: 1000, clock, redis: usRedis, bus: bus(hub, 'x') })).toThrow(/option "region" is required/);
    const us1 = limiter({ redis: usRedis, bus: bus(hub, 'us-1'), region: 'us-east', clock, prefix, limit: 20 });
    const us2 = limiter({ redis: usRedis, bus: bus(hub, 'us-2'), region: 'us-east', clock, prefix, limit: 20 });
    const eu1 = limiter({ redis: euRedis, bus: bus(hub, 'eu-1'), region: 'eu-west', clock, prefix, limit: 20 });
    expect(allowedOf(us1, 'k', 5)).toBe(5);
    expect(allowedOf(us2, 'k', 4)).toBe(4);
    expect(allowedOf(eu1, 'k', 3)).toBe(3);
    await Promise.all([us1.sync(), us2.sync(), eu1.sync()]);
    // A peek asks for the key to be pulled again at the next round.
    for (const node of [us1, us2, eu1]) node.limit('k', 0);
    await Promise.all([us1.sync(), us2.sync(), eu1.sync()]);
    // 12 admitted in all: each node sees 12, not 12 plus a copy of its own region's.
    expect([us1, us2, eu1].map((node) => node.limit("k", 0).remaining)).toEqual([8, 8, 8]);
    expect(allowedOf(eu1, 'k', 10)).toBe(8);
  });
});
