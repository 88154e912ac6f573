import { describeRedis, useRedisCluster, useRedisServer } from '@edgekit/test-utils';
import { Cluster, Redis } from 'ioredis';
import { afterEach, expect, it } from 'vitest';
import { type EdgeCache, type InvalidationNotice, type LookupEvent, createCache } from '../src/index.js';
import { type Reply, type SeenRequest, get, startGateway, testOrigin, until } from './helpers.js';

interface Node {
  cache: EdgeCache;
  base: string;
  lookups: LookupEvent[];
  invalidations: InvalidationNotice[];
  client: Redis | Cluster;
}

const cleanup: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
});

let prefixCounter = 0;

/** Three gateway nodes in this process, each with its own Redis client, sharing one origin. */
async function threeNodes(connect: () => Redis | Cluster, answer: (req: SeenRequest, call: number) => Reply | Promise<Reply>) {
  const { origin, calls } = testOrigin(answer);
  const prefix = `mn${process.pid}x${++prefixCounter}:`;
  const nodes: Node[] = [];
  const arrivals = { count: 0 };
  for (let i = 0; i < 3; i++) {
    const client = connect();
    client.on('error', () => {});
    const cache = createCache({
      redis: client,
      prefix,
      channel: `${prefix}bus`,
      // The nodes listen on different ports; one site name keeps their keys equal.
      host: 'shop.example',
      routes: { 'GET /api/products/:id': { ttl: 60_000, tags: ['product:{id}'] }, 'GET /api/*': { ttl: 60_000 } },
      operationTimeout: 500,
      cooldown: 200,
    });
    const lookups: LookupEvent[] = [];
    const invalidations: InvalidationNotice[] = [];
    cache.on('lookup', (e) => lookups.push(e));
    cache.on('invalidate', (n) => invalidations.push(n));
    cache.on('error', () => {});
    const gateway = await startGateway(cache, origin);
    gateway.server.on('request', () => arrivals.count++);
    cleanup.push(async () => {
      await gateway.close();
      await cache.close();
      client.disconnect();
    });
    nodes.push({ cache, base: gateway.base, lookups, invalidations, client });
  }
  await until(() => nodes.every((n) => n.cache.stats().l1?.usable === true), 20_000, 'all buses connected');
  return { nodes, calls, arrivals };
}

function sharedBehaviour(connect: () => Redis | Cluster): void {
  it('shares entries through L2: one origin call serves every node, then each node answers from L1', async () => {
    const { nodes, calls } = await threeNodes(connect, () => ({ body: 'product' }));
    const [a, b, c] = nodes as [Node, Node, Node];
    expect((await get(a.base, '/api/products/1')).headers['cache-status']).toMatch(/stored/);
    expect((await get(b.base, '/api/products/1')).headers['cache-status']).toMatch(/; hit;/);
    expect((await get(b.base, '/api/products/1')).body).toBe('product');
    await get(c.base, '/api/products/1');
    expect(b.lookups.map((l) => l.tier)).toEqual(['l2', 'l1']);
    expect(calls).toHaveLength(1);
  });

  it('makes one origin call for concurrent misses of one key on three nodes (the swr lock)', async () => {
    // The origin answers once all fifteen requests are at the nodes (then 200 ms more for their
    // lookups), so none can arrive after the entry is stored, however slow the machine.
    const { nodes, calls, arrivals } = await threeNodes(connect, async () => {
      await until(() => arrivals.count === 15, 10_000, 'fifteen requests at the nodes');
      await new Promise((resolve) => setTimeout(resolve, 200));
      return { body: 'slow product' };
    });
    const responses = await Promise.all(nodes.flatMap((n) => Array.from({ length: 5 }, () => get(n.base, '/api/products/2'))));
    expect(responses.every((r) => r.status === 200 && r.body === 'slow product')).toBe(true);
    expect(calls).toHaveLength(1);
    expect(responses.filter((r) => /collapsed/.test(String(r.headers['cache-status']))).length).toBe(14);
  });

  it('revalidates a stale entry with one origin call across three nodes, each answering stale meanwhile', async () => {
    let version = 1;
    // The revalidation stays at the origin until every node has answered stale.
    let releaseRevalidation: () => void = () => {};
    const revalidationHeld = new Promise<void>((resolve) => (releaseRevalidation = resolve));
    const { nodes, calls } = await threeNodes(connect, async (_req, call) => {
      if (call > 1) await revalidationHeld;
      return { body: `v${version}`, headers: { 'cache-control': 'max-age=1, stale-while-revalidate=60' } };
    });
    cleanup.push(async () => releaseRevalidation());
    for (const node of nodes) expect((await get(node.base, '/api/products/3')).body).toBe('v1');
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    version = 2;
    const stale = await Promise.all(nodes.map((n) => get(n.base, '/api/products/3')));
    expect(stale.map((r) => r.body)).toEqual(['v1', 'v1', 'v1']);
    expect(stale.every((r) => /stale-while-revalidate/.test(String(r.headers['cache-status'])))).toBe(true);
    releaseRevalidation();
    await until(async () => (await Promise.all(nodes.map((n) => get(n.base, '/api/products/3')))).every((r) => r.body === 'v2'), 10_000, 'every node serves v2');
    expect(calls).toHaveLength(2);
  });

  it('invalidates a tag on all three nodes: none serves the old entry afterwards', async () => {
    let version = 1;
    const { nodes, calls } = await threeNodes(connect, () => ({ body: `v${version}` }));
    for (const node of nodes) await get(node.base, '/api/products/7');
    for (const node of nodes) expect((await get(node.base, '/api/products/7')).headers['cache-status']).toMatch(/; hit;/);
    version = 2;
    await nodes[1]!.cache.invalidateTag('product:7');
    await until(() => nodes.every((n) => n.invalidations.some((i) => i.tags.includes('product:7'))), 10_000, 'invalidation on every node');
    for (const node of nodes) expect((await get(node.base, '/api/products/7')).body).toBe('v2');
    expect(calls).toHaveLength(2);
  });

  it('deletes by pattern with SCAN on every master, on all nodes, leaving other keys', async () => {
    const { nodes, calls } = await threeNodes(connect, (req) => ({ body: req.url }));
    const [a, b] = nodes as [Node, Node, Node];
    for (let i = 0; i < 40; i++) await get(a.base, `/api/products/${i}`);
    await get(a.base, '/api/users/1');
    await get(b.base, '/api/products/3');
    const deleted = await b.cache.invalidatePattern('GET shop.example/api/products/*');
    expect(deleted).toBe(40);
    await until(() => nodes.every((n) => n.invalidations.some((i) => i.pattern !== undefined)));
    expect((await get(b.base, '/api/products/3')).headers['cache-status']).toMatch(/uri-miss/);
    expect((await get(a.base, '/api/products/39')).headers['cache-status']).toMatch(/uri-miss/);
    expect((await get(b.base, '/api/users/1')).headers['cache-status']).toMatch(/; hit;/);
    expect(calls).toHaveLength(43);
  });

  it('never serves an entry invalidated while a node was cut off from the bus', async () => {
    let version = 1;
    const { nodes } = await threeNodes(connect, () => ({ body: `v${version}` }));
    for (const node of nodes) await get(node.base, '/api/products/9');
    for (const node of nodes) await get(node.base, '/api/products/9');
    // Cut every bus subscriber; nodes reconnect on their own, possibly after the invalidation.
    const masters = nodes[0]!.client instanceof Cluster ? nodes[0]!.client.nodes('master') : [nodes[0]!.client as Redis];
    await Promise.all(masters.map((m) => m.client('KILL', 'TYPE', 'pubsub')));
    version = 2;
    await nodes[0]!.cache.invalidateTag('product:9');
    for (let round = 0; round < 20; round++) {
      for (const node of nodes) expect((await get(node.base, '/api/products/9')).body).toBe('v2');
    }
    await until(() => nodes.every((n) => n.cache.stats().l1?.usable === true), 20_000, 'buses back');
    for (const node of nodes) expect((await get(node.base, '/api/products/9')).body).toBe('v2');
  });
}

describeRedis('three nodes over a standalone Redis', () => {
  const server = useRedisServer();
  sharedBehaviour(() => new Redis(server.current.url, { maxRetriesPerRequest: 1 }));

  it('keeps answering through a Redis restart, with no client errors and no stale entry afterwards', async () => {
    let version = 1;
    const { nodes } = await threeNodes(() => new Redis(server.current.url, { maxRetriesPerRequest: 1, retryStrategy: () => 100 }), () => ({ body: `v${version}` }));
    for (const node of nodes) await get(node.base, '/api/products/5');
    await server.current.kill(true);
    await until(() => nodes.every((n) => n.cache.stats().l1?.usable === false), 10_000, 'every node noticed the outage');
    version = 2;
    for (let round = 0; round < 5; round++) {
      for (const node of nodes) {
        const res = await get(node.base, '/api/products/5');
        expect(res.status).toBe(200);
        expect(res.body).toBe('v2');
        expect(res.headers['cache-status']).toBeDefined();
      }
    }
    await server.current.start();
    await until(() => nodes.every((n) => n.cache.stats().l1?.usable === true), 20_000, 'buses reconnected');
    for (let round = 0; round < 3; round++) {
      for (const node of nodes) expect((await get(node.base, '/api/products/5')).body).toBe('v2');
    }
    // Caching resumes once the command connections are back too (they reconnect on their own schedule).
    await until(async () => /; hit;|stored/.test(String((await get(nodes[0]!.base, '/api/products/5')).headers['cache-status'])), 10_000, 'caching again');
  }, 60_000);
});

describeRedis(
  'three nodes over a 3-master Redis Cluster',
  () => {
    const cluster = useRedisCluster();
    sharedBehaviour(() => new Cluster(cluster.current.nodes, { redisOptions: { maxRetriesPerRequest: 1 } }));
  },
  { cluster: true },
);
