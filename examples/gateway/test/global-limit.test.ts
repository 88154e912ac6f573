import { createNatsBus } from '@edgekit/bus/nats';
import { describeNats, useNatsSupercluster } from '@edgekit/test-utils';
import { connect } from '@nats-io/transport-node';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { type Gateway, type GatewayConfigInput, createGateway } from '../src/index.js';
import type { DemoOrigin } from '../src/origin.js';
import { CLIENTS, baseConfig, from, startOrigins, waitFor } from './helpers.js';

describeNats('a rate limit with scope global, across two regions of a NATS supercluster', () => {
  const cluster = useNatsSupercluster({ 'us-east': 1, 'ap-south': 1 });
  let origins: Record<'us' | 'eu' | 'ap', DemoOrigin>;
  const nodes: Array<{ gateway: Gateway; url: string }> = [];

  beforeAll(async () => {
    origins = await startOrigins();
    const config: GatewayConfigInput = baseConfig(origins, {
      bus: { driver: 'nats', nats: { servers: ['nats://127.0.0.1:4222'], contactInterval: 100 } },
      rateLimits: { 'global-ip': { limit: 5, window: 60_000, algorithm: 'fixed-window', scope: 'global' } },
      routes: [{ path: '/api/products', rateLimit: 'global-ip' }],
    });
    // No Redis: each gateway is its own region, and counts reach the other through the supercluster.
    for (const region of ['us-east', 'ap-south']) {
      const env = { EDGE_NODE_ID: `${region}-1`, EDGE_LOCATION: region, NATS_URL: cluster.current.urls(region)[0]! };
      const gateway = await createGateway(config, { env, logger: () => {} });
      nodes.push({ gateway, url: await gateway.listen() });
    }
    for (const { url } of nodes) await waitFor(async () => (await fetch(`${url}/ready`)).status === 200, 15_000, 'ready');
  }, 90_000);
  afterAll(async () => {
    for (const { gateway } of nodes) await gateway.close();
    await Promise.all(Object.values(origins ?? {}).map((origin) => origin.close()));
  });

  const get = async (node: number, path: string): Promise<{ status: number; rateLimit: string | null }> => {
    const response = await fetch(`${nodes[node]!.url}${path}`, { headers: from(CLIENTS.virginia) });
    await response.arrayBuffer();
    return { status: response.status, rateLimit: response.headers.get('ratelimit') };
  };

  it('counts what one region admitted against the other\u2019s quota', async () => {
    // A listener beside ap-south's gateway, on its cluster: it sees us-east's counts arrive there.
    const nc = await connect({ servers: cluster.current.urls('ap-south')[0]!, ignoreClusterUpdates: true });
    const listener = createNatsBus({ connection: nc, nodeId: 'observer', prefix: 'edgekit.limits' });
    let arrived = 0;
    let messages = 0;
    const channel = `${nodes[1]!.gateway.config.redis.prefix}rl:global-ip`;
    // Only us-east's gateway admits anything before the check, so every count seen is its own.
    const subscription = listener.subscribe<{ c?: Array<[string, number]> }>(channel, (payload) => {
      messages++;
      for (const [, count] of payload.c ?? []) arrived = Math.max(arrived, count);
    });
    try {
      for (let i = 1; i <= 3; i++) expect((await get(0, `/api/products/${i}`)).status).toBe(200);
      await waitFor(async () => arrived >= 3, 20_000, 'us-east counts at ap-south');
    } finally {
      subscription.dispose();
      await listener.close();
      await nc.close();
    }
    // ap-south's gateway subscribed before the listener, on the same server: it gets every message
    // the listener got, and its status counts each one (by region; without Redis a node is its own
    // region) once its limiter has applied it.
    await waitFor(async () => (nodes[1]!.gateway.status().rateLimits.countsFrom['us-east-1'] ?? 0) >= messages, 20_000, 'ap-south applying us-east counts');
    const answers = [await get(1, '/api/products/4'), await get(1, '/api/products/5'), await get(1, '/api/products/6')];
    expect(answers.map((a) => a.status)).toEqual([200, 200, 429]);
    expect(answers[0]!.rateLimit).toContain('r=1');
  }, 30_000);

  it('refuses scope global without the NATS bus or on a non-window algorithm, naming the setting', async () => {
    const config = baseConfig(origins, { rateLimits: { 'global-ip': { limit: 5, window: 60_000, scope: 'global', algorithm: 'gcra' } } });
    const refused = await createGateway(config, { env: {}, logger: () => {} }).then(
      async (gateway) => {
        await gateway.close();
        return '';
      },
      (error: Error) => error.message,
    );
    expect(refused).toContain('rateLimits.global-ip.scope');
    expect(refused).toContain('needs bus.driver "nats"');
    expect(refused).toContain('use algorithm fixed-window or sliding-window');
  });
});
