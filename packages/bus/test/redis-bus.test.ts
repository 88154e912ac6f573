import { createManualClock } from '@edgekit/core/testing';
import { describeRedis, useCleanups, useRedisCluster, useRedisServer, waitFor } from '@edgekit/test-utils';
import { Cluster, Redis } from 'ioredis';
import { expect, it } from 'vitest';
import { type Bus, type BusError, type BusGap, createRedisBus } from '../src/index.js';
import { describeBusConformance } from '../src/testing.js';

const onCleanup = useCleanups();

function client(url: string): Redis {
  const redis = new Redis(url, { maxRetriesPerRequest: 1 });
  redis.on('error', () => {});
  onCleanup(() => redis.disconnect());
  return redis;
}

function bus(redis: Redis | Cluster, nodeId: string): Bus {
  const b = createRedisBus({ redis, nodeId });
  onCleanup(() => b.close());
  return b;
}

describeRedis('Redis bus (standalone)', () => {
  const server = useRedisServer();

  describeBusConformance('Redis bus', {
    createBus: ({ nodeId, maxMessageBytes }) => createRedisBus({ redis: client(server.current.url), nodeId, maxMessageBytes }),
    // Pub/sub has no replay: the bus must report the gap. Stopping the server cuts every node.
    async interrupt() {
      await server.current.kill();
      return () => server.current.start();
    },
  });

  it('delivers a message published on one node to the others exactly once', async () => {
    const a = bus(client(server.current.url), 'a');
    const b = bus(client(server.current.url), 'b');
    const c = bus(client(server.current.url), 'c');
    const seen: string[] = [];
    for (const node of [a, b, c]) node.subscribe<{ tag: string }>('inv', (p, meta) => seen.push(`${node.nodeId}<-${meta.origin}:${p.tag}`));
    await waitFor(() => a.connected && b.connected && c.connected);
    await a.publish('inv', { tag: 't1' });
    await waitFor(() => seen.length === 3);
    await new Promise((r) => setTimeout(r, 50));
    expect(seen.sort()).toEqual(['a<-a:t1', 'b<-a:t1', 'c<-a:t1']);
  });

  it('ignores malformed and foreign messages on its channels', async () => {
    const redis = client(server.current.url);
    const b = bus(client(server.current.url), 'b');
    const seen: unknown[] = [];
    const errors: BusError[] = [];
    b.on('error', (e) => errors.push(e));
    b.subscribe('inv', (p) => seen.push(p));
    await waitFor(() => b.connected);
    await redis.publish('edgekit:bus:inv', 'not json {');
    await redis.publish('edgekit:bus:inv', JSON.stringify({ hello: 'world' }));
    await redis.publish('edgekit:bus:inv', JSON.stringify({ o: 'x', t: 1, p: 'ok' }));
    await waitFor(() => seen.length === 1);
    expect(seen).toEqual(['ok']);
    expect(errors.map((e) => e.code)).toEqual(['EBUSDECODE', 'EBUSDECODE']);
  });

  it('reports a gap when Redis goes away and again once resubscribed, then delivers again', async () => {
    const a = bus(client(server.current.url), 'a');
    const b = bus(client(server.current.url), 'b');
    const gaps: BusGap['kind'][] = [];
    const seen: unknown[] = [];
    b.on('gap', (g) => gaps.push(g.kind));
    b.subscribe('inv', (p) => seen.push(p));
    await waitFor(() => a.connected && b.connected);
    await server.current.kill();
    await waitFor(() => gaps.includes('disconnected'));
    expect(b.connected).toBe(false);
    await expect(a.publish('inv', 'lost')).rejects.toThrow();
    await server.current.start();
    await waitFor(() => gaps.includes('reconnected'), 10_000);
    expect(b.connected).toBe(true);
    await a.publish('inv', 'after');
    await waitFor(() => seen.includes('after'));
    expect(gaps).toEqual(['disconnected', 'reconnected']);
  }, 30_000);

  it('rejects a publish that Redis does not answer within publishTimeout, on the injected clock, and publishes again once Redis answers', async () => {
    const clock = createManualClock();
    const redis = client(server.current.url);
    const b = createRedisBus({ redis, nodeId: 'a', clock, publishTimeout: 250 });
    onCleanup(() => b.close());
    const admin = client(server.current.url);
    await admin.call('CLIENT', 'PAUSE', '10000', 'WRITE');
    onCleanup(() => admin.call('CLIENT', 'UNPAUSE'));
    const pending = b.publish('news', { n: 1 });
    let settled = false;
    const outcome = pending.then(
      () => 'resolved',
      (error: Error) => error.message,
    );
    void outcome.then(() => (settled = true));
    clock.advance(249);
    await new Promise((resolve) => setImmediate(resolve));
    expect(settled).toBe(false);
    clock.advance(1);
    expect(await outcome).toBe('@edgekit/bus: publish on "news" timed out after 250 ms');
    await admin.call('CLIENT', 'UNPAUSE');
    await expect(b.publish('news', { n: 2 })).resolves.toBeUndefined();
  });
});

describeRedis(
  'Redis bus (cluster)',
  () => {
    const cluster = useRedisCluster();

    it('delivers across a 3-master cluster', async () => {
      const mk = (): Cluster => {
        const c = new Cluster(cluster.current.nodes);
        c.on('error', () => {});
        onCleanup(() => c.disconnect());
        return c;
      };
      const a = bus(mk(), 'a');
      const b = bus(mk(), 'b');
      const seen: unknown[] = [];
      b.subscribe('inv', (p) => seen.push(p));
      await waitFor(() => b.connected, 10_000);
      await a.publish('inv', { tag: 'cluster' });
      await waitFor(() => seen.length === 1);
      expect(seen).toEqual([{ tag: 'cluster' }]);
    });
  },
  { cluster: true },
);
