import { describeNats, useNatsSupercluster } from '@edgekit/test-utils';
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
    for (let i = 1; i <= 3; i++) expect((await get(0, `/api/products/${i}`)).status).toBe(200);
    // The counts travel at the next round (100 ms) plus one delivery between the clusters; no event
    // reaches the client, so give it a margin that a loaded machine cannot exhaust.
    await new Promise((resolve) => setTimeout(resolve, 3_000));
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
