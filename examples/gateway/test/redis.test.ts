import { describeRedis, useRedisServer } from '@edgekit/test-utils';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { type Gateway, createGateway } from '../src/index.js';
import type { DemoOrigin } from '../src/origin.js';
import { CLIENTS, baseConfig, from, startOrigins, waitFor } from './helpers.js';

const TOKEN = 'redis-admin-token-0123456789';

describeRedis('Redis mode (one setting: REDIS_URL)', () => {
  const redis = useRedisServer();
  let origins: Record<'us' | 'eu' | 'ap', DemoOrigin>;
  const gateways: Array<{ gateway: Gateway; url: string }> = [];

  beforeAll(async () => {
    origins = await startOrigins();
    const config = baseConfig(origins, {
      cache: { host: 'api.example', routes: { 'GET /api/products/:id': { ttl: 60_000, tags: ['product:{id}'] } } },
      rateLimits: { shared: { limit: 3, window: 60_000, mode: 'strict' } },
      routes: [{ path: '/api/limited', rateLimit: 'shared' }],
    });
    for (const nodeId of ['node-a', 'node-b']) {
      const gateway = await createGateway(config, { env: { REDIS_URL: redis.current.url, EDGE_NODE_ID: nodeId, EDGE_ADMIN_TOKEN: TOKEN }, logger: () => {} });
      const url = await gateway.listen();
      gateways.push({ gateway, url });
    }
    for (const { url } of gateways) await waitFor(async () => (await fetch(`${url}/ready`)).status === 200, 10_000, 'ready');
  }, 30_000);
  afterAll(async () => {
    for (const { gateway } of gateways) await gateway.close();
    await Promise.all(Object.values(origins ?? {}).map((origin) => origin.close()));
  });

  const product = async (node: number, id: number) => {
    const response = await fetch(`${gateways[node]!.url}/api/products/${id}`, { headers: from(CLIENTS.virginia) });
    await response.arrayBuffer();
    return response.headers.get('cache-status') ?? '';
  };

  it('uses Redis as soon as REDIS_URL is set, and reports it in readiness', async () => {
    expect(gateways[0]!.gateway.config.redis.url).toBe(redis.current.url);
    const ready = (await (await fetch(`${gateways[0]!.url}/ready`)).json()) as { dependencies: Record<string, { ok: boolean }> };
    expect(ready.dependencies.redis?.ok).toBe(true);
  });

  it('answers node B from the shared L2 entry node A stored, without an origin call', async () => {
    expect(await product(0, 31)).toContain('stored');
    const calls = origins.us.hits.get('/api/products/31');
    await waitFor(async () => /edgekit; hit/.test(await product(1, 31)), 3_000, 'L2 hit on node B');
    expect(origins.us.hits.get('/api/products/31')).toBe(calls);
  });

  it('carries a purge made on node A to node B over the Redis bus', async () => {
    expect(await product(0, 32)).toContain('stored');
    expect(await product(1, 32)).toMatch(/edgekit; hit/); // now in B's L1 too
    const purge = await fetch(`${gateways[0]!.url}/admin/purge`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ tags: ['product:32'] }),
    });
    expect(purge.status).toBe(200);
    await waitFor(async () => !/edgekit; hit/.test(await product(1, 32)), 3_000, 'purge seen on node B');
  });

  it('shares a strict rate limit across both nodes', async () => {
    const hit = async (node: number) => (await fetch(`${gateways[node]!.url}/api/limited`, { headers: from(CLIENTS.london) })).status;
    expect([await hit(0), await hit(1), await hit(0)]).toEqual([200, 200, 200]);
    expect(await hit(1)).toBe(429);
    expect(await hit(0)).toBe(429);
  });
});
