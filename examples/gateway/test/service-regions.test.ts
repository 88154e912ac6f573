import { afterEach, describe, expect, it } from 'vitest';
import type { GatewayConfigInput } from '../src/index.js';
import { waitFor } from './helpers.js';
import { type Cleanup, type Pod, loadCount, startGateway, startPod } from './pods.js';

const cleanup: Cleanup = [];
afterEach(async () => {
  while (cleanup.length > 0) await cleanup.pop()!();
});

const frankfurt = { lat: 50.11, lon: 8.68 };
const virginia = { lat: 39.04, lon: -77.49 };
// Regions fail their checks here by answering 503, never by a probe timing out: a probe timeout far
// beyond any stall of a loaded machine keeps a slow answer from turning a healthy region unhealthy.
const fastChecks = { interval: 50, timeout: 10_000, jitter: 0, initialJitter: 0, healthyThreshold: 1, unhealthyThreshold: 2 };

function configOf(main: Pod, extra: Partial<GatewayConfigInput> = {}): GatewayConfigInput {
  return {
    edge: { location: 'test-edge', nodeId: 'node-1', coordinates: frankfurt },
    server: { host: '127.0.0.1', port: 0, shutdownDelay: 0 },
    regions: [{ name: 'eu', url: main.url, location: frankfurt }],
    geo: { resolver: 'none' },
    telemetry: { defaultMetrics: false },
    cache: { enabled: false },
    health: fastChecks,
    ...extra,
  };
}

async function podOf(url: string, path: string, headers?: Record<string, string>): Promise<string> {
  const reply = await fetch(`${url}${path}`, headers === undefined ? undefined : { headers });
  expect(reply.status).toBe(200);
  return ((await reply.json()) as { pod: string }).pod;
}

describe('services\' regions get health checks, breakers and the cache', () => {
  it('skips a service region whose health check fails before any request pays for it, and its breaker opens', async () => {
    const [main, ordersEu, ordersUs] = await Promise.all(['main', 'orders-eu', 'orders-us'].map((name) => startPod(name, cleanup))) as [Pod, Pod, Pod];
    ordersEu.probeFailing = true; // answers requests, fails its checks
    const { gateway, url } = await startGateway(configOf(main, {
      services: [{ name: 'orders', match: { pathPrefix: '/orders' }, regions: [{ name: 'eu', url: ordersEu.url, location: frankfurt }, { name: 'us', url: ordersUs.url, location: virginia }] }],
    }), cleanup);
    await waitFor(() => gateway.status().services?.[0]?.regions.find((r) => r.name === 'eu')?.health === 'unhealthy', 10_000, 'the service region to be unhealthy');
    for (let i = 0; i < 20; i++) expect(await podOf(url, `/orders/${i}`)).toBe('orders-us');
    expect(ordersEu.received).toBe(0);
    expect(gateway.status().services![0]!.regions.find((r) => r.name === 'eu')!.breaker).toBe('open');
    // The top-level region of the same name is not affected.
    expect(await podOf(url, '/items/1')).toBe('main');
  });

  it('serves a service\'s cacheable responses from the route cache', async () => {
    const [main, users] = await Promise.all([startPod('main', cleanup), startPod('users', cleanup)]);
    const { url } = await startGateway(configOf(main, {
      cache: { enabled: true, routes: { 'GET /users/:id': { ttl: 60_000, override: true } } },
      services: [{ name: 'users', match: { pathPrefix: '/users' }, regions: [{ name: 'eu', url: users.url, location: frankfurt }] }],
    }), cleanup);
    for (let i = 0; i < 5; i++) expect(await podOf(url, '/users/7')).toBe('users');
    expect(users.received).toBe(1);
    const reply = await fetch(`${url}/users/7`);
    expect(reply.headers.get('cache-status')).toMatch(/hit/);
  });
});

describe('residency, hints and splits over the top-level regions', () => {
  it('keeps a tenant inside its allowed top-level regions, even when they are down, and answers 503 when none is allowed', async () => {
    const [eu, us] = await Promise.all([startPod('eu', cleanup), startPod('us', cleanup)]);
    const { gateway, url } = await startGateway(configOf(eu, {
      regions: [{ name: 'eu', url: eu.url, location: frankfurt }, { name: 'us', url: us.url, location: virginia }],
      routing: { residency: { tenantHeader: 'x-tenant', homes: { acme: 'us' }, allowed: { acme: ['us'], nowhere: [] } } },
    }), cleanup);
    expect(await podOf(url, '/a', { 'x-tenant': 'acme' })).toBe('us');
    expect(await podOf(url, '/a')).toBe('eu');
    const none = await fetch(`${url}/a`, { headers: { 'x-tenant': 'nowhere' } });
    await none.arrayBuffer();
    expect(none.status).toBe(503);
    us.probeFailing = true;
    us.failing = true;
    await waitFor(() => gateway.status().regions[1]!.health === 'unhealthy', 10_000, 'us to fail its checks');
    const euBefore = eu.received;
    for (let i = 0; i < 10; i++) {
      const reply = await fetch(`${url}/a`, { headers: { 'x-tenant': 'acme' } });
      await reply.arrayBuffer();
      expect(reply.status).toBeGreaterThanOrEqual(500);
    }
    expect(eu.received).toBe(euBefore);
  });

  it('splits unmatched requests between the top-level regions and a service, with a header override', async () => {
    const [main, v2] = await Promise.all([startPod('main', cleanup), startPod('v2', cleanup)]);
    const { url } = await startGateway(configOf(main, {
      services: [{ name: 'v2', regions: [{ name: 'eu', url: v2.url, location: frankfurt }] }],
      routing: { split: { variants: [{ service: 'default', weight: 80 }, { service: 'v2', weight: 20 }], header: 'x-canary' } },
    }), cleanup);
    const total = 2_000;
    const statuses = await loadCount(url, total, 16);
    expect(statuses.every((s) => s === 200)).toBe(true);
    expect(main.received + v2.received).toBe(total);
    expect(Math.abs(v2.received / total - 0.2)).toBeLessThan(0.04);
    for (let i = 0; i < 10; i++) expect(await podOf(url, '/x', { 'x-canary': 'v2' })).toBe('v2');
    for (let i = 0; i < 10; i++) expect(await podOf(url, '/x', { 'x-canary': 'default' })).toBe('main');
  }, 60_000);
});

describe('active health checks per endpoint', () => {
  function endpointsConfig(pods: Pod[], extra: Partial<GatewayConfigInput> = {}): GatewayConfigInput {
    return {
      ...configOf(pods[0]!, extra),
      regions: [{ name: 'eu', url: 'http://eu.internal', location: frankfurt, endpoints: pods.map((p) => p.url) }],
    };
  }

  it('takes an endpoint failing its checks out of the balancer, and back once it passes', async () => {
    const pods = await Promise.all(['a', 'b', 'c'].map((name) => startPod(name, cleanup))) as [Pod, Pod, Pod];
    pods[1].probeFailing = true;
    const { gateway, url } = await startGateway(endpointsConfig(pods), cleanup);
    const checked = () => gateway.status().regions[0]!.endpoints!.find((e) => e.url === pods[1].url)!.checked;
    await waitFor(() => !checked(), 10_000, 'the endpoint to fail its checks');
    const before = pods[1].received;
    const statuses = await loadCount(url, 200);
    expect(statuses.every((s) => s === 200)).toBe(true);
    expect(pods[1].received).toBe(before);
    pods[1].probeFailing = false;
    await waitFor(checked, 10_000, 'the endpoint to pass its checks');
    await loadCount(url, 200);
    expect(pods[1].received).toBeGreaterThan(before + 20);
  });

  it('spreads traffic over every endpoint again when all fail their checks (panic threshold)', async () => {
    const pods = await Promise.all(['a', 'b', 'c'].map((name) => startPod(name, cleanup))) as [Pod, Pod, Pod];
    for (const pod of pods) pod.probeFailing = true;
    const { gateway, url } = await startGateway(endpointsConfig(pods), cleanup);
    await waitFor(() => gateway.status().regions[0]!.endpoints!.every((e) => !e.checked), 10_000, 'every endpoint to fail its checks');
    const statuses = await loadCount(url, 300);
    expect(statuses.every((s) => s === 200)).toBe(true);
    for (const pod of pods) expect(pod.received).toBeGreaterThan(30);
  });
});

describe('turning endpoint checks off', () => {
  it('gives endpoints kept out by failed checks their traffic back when health.endpoints is turned off by a reload', async () => {
    const pods = await Promise.all(['a', 'b'].map((name) => startPod(name, cleanup))) as [Pod, Pod];
    pods[1].probeFailing = true;
    const config = (endpoints: boolean): GatewayConfigInput => ({
      ...configOf(pods[0], { health: { ...fastChecks, endpoints } }),
      regions: [{ name: 'eu', url: 'http://eu.internal', location: frankfurt, endpoints: pods.map((p) => p.url), panicThreshold: 0 }],
    });
    const { gateway, url } = await startGateway(config(true), cleanup);
    const checked = () => gateway.status().regions[0]!.endpoints!.find((e) => e.url === pods[1].url)!.checked;
    await waitFor(() => !checked(), 10_000, 'the endpoint to fail its checks');
    await gateway.reload(config(false));
    expect(checked()).toBe(true);
    const before = pods[1].received;
    await loadCount(url, 100);
    expect(pods[1].received).toBeGreaterThan(before + 10);
  });
});
