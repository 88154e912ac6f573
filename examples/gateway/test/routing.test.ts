import { afterEach, describe, expect, it } from 'vitest';
import { ConfigError, type GatewayConfigInput, parseConfig } from '../src/index.js';
import { waitFor } from './helpers.js';
import { type Cleanup, type Pod, loadCount, loadUntil, startGateway, startPod } from './pods.js';

const cleanup: Cleanup = [];
afterEach(async () => {
  while (cleanup.length > 0) await cleanup.pop()!();
});

const here = { lat: 50.11, lon: 8.68 };

function configOf(pods: Pod[], extra: Partial<GatewayConfigInput> = {}, region: Record<string, unknown> = {}): GatewayConfigInput {
  return {
    edge: { location: 'test-edge', nodeId: 'node-1' },
    server: { host: '127.0.0.1', port: 0, shutdownDelay: 0, reloadDrainTimeout: 10_000 },
    regions: [{ name: 'eu', url: 'http://eu.internal', location: here, endpoints: pods.map((p) => p.url), outlierDetection: { maxEjectionPercent: 50 }, ...region }],
    geo: { resolver: 'none' },
    telemetry: { defaultMetrics: false },
    cache: { enabled: false },
    ...extra,
  };
}

async function podOf(url: string, path: string): Promise<string> {
  const reply = await fetch(`${url}${path}`);
  expect(reply.status).toBe(200);
  return ((await reply.json()) as { pod: string }).pod;
}

describe('routes naming their service', () => {
  it('sends a route rule\'s requests to the service it names, before any service match', async () => {
    const [main, users, legacy] = await Promise.all([startPod('main', cleanup), startPod('users', cleanup), startPod('legacy', cleanup)]);
    const { url } = await startGateway(configOf([main], {
      services: [
        { name: 'users', match: { pathPrefix: '/users' }, regions: [{ name: 'eu', url: users.url, location: here }] },
        // No match of its own: reached only through the route rule.
        { name: 'legacy', regions: [{ name: 'eu', url: legacy.url, location: here }] },
      ],
      routes: [
        { path: '/old', service: 'legacy' },
        { path: '/users/archive', service: 'legacy' },
      ],
    }), cleanup);
    expect(await podOf(url, '/old/1')).toBe('legacy');
    expect(await podOf(url, '/users/archive/7')).toBe('legacy');
    expect(await podOf(url, '/users/7')).toBe('users');
    expect(await podOf(url, '/other')).toBe('main');
  });

  it('rejects a route naming an unknown service, with its path', () => {
    let error: ConfigError | undefined;
    try {
      parseConfig(configOf([], { routes: [{ path: '/a' }, { path: '/b', service: 'nope' }] }, { endpoints: ['http://10.0.0.1:80'] }), { env: {} });
    } catch (caught) {
      error = caught as ConfigError;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect(error!.issues).toContainEqual({ path: 'routes[1].service', message: 'unknown service "nope"' });
  });
});

describe('endpoint state across reloads', () => {
  it('keeps unchanged endpoints\' ejections and connections, adds new ones and drains removed ones under load without a failed request', async () => {
    const [a, b, c, d] = (await Promise.all(['a', 'b', 'c', 'd'].map((name) => startPod(name, cleanup)))) as [Pod, Pod, Pod, Pod];
    a.failing = true;
    const { gateway, url } = await startGateway(configOf([a, b, c]), cleanup);
    const endpoint = (pod: Pod) => gateway.status().regions[0]!.endpoints!.find((e) => e.url === pod.url);
    await loadCount(url, 60);
    await waitFor(() => endpoint(a)?.ejected === true, 10_000, 'the failing endpoint to be ejected');
    const ejections = endpoint(a)!.ejections;

    // Under load: c answers slowly, so requests are in flight on it when the reload removes it.
    c.delay = 300;
    let stop = false;
    const running = loadUntil(url, () => stop, 12);
    const warm = b.received + 300;
    await waitFor(() => b.received > warm && c.inflight > 0, 20_000, 'requests in flight on the endpoint to remove');
    const connectionsToB = b.connections;
    const result = await gateway.reload(configOf([a, b, d]));
    expect(result).toMatchObject({ version: 2 });
    const receivedByD = d.received;
    await waitFor(() => d.received > receivedByD + 20, 10_000, 'the added endpoint to take traffic');
    const cBefore = c.received;
    stop = true;
    const statuses = await running;
    expect(statuses.length).toBeGreaterThan(50);
    expect(statuses.filter((s) => s !== 200)).toEqual([]);
    // The removed endpoint finished what it had and got nothing new.
    await waitFor(() => c.inflight === 0, 10_000, 'the removed endpoint to drain');
    expect(c.received).toBe(cBefore);
    // The kept endpoints kept their state: a is still ejected (same count), b's connections were reused.
    expect(endpoint(a)).toMatchObject({ ejected: true, ejections });
    expect(endpoint(c)).toBeUndefined();
    // A rebuilt pool would have opened about as many connections again as the load keeps busy.
    expect(b.connections - connectionsToB).toBeLessThan(2);
  }, 60_000);
});

describe('routing visibility', () => {
  it('shows services → regions → endpoints with ejection, latency and in-flight state, and counts endpoint attempts with bounded labels', async () => {
    const [main, a, b, c] = (await Promise.all(['main', 'a', 'b', 'c'].map((name) => startPod(name, cleanup)))) as [Pod, Pod, Pod, Pod];
    b.failing = true;
    const services = [{ name: 'orders', match: { pathPrefix: '/orders' }, regions: [{ name: 'eu', url: 'http://orders.internal', location: here, endpoints: [a.url, b.url, c.url], outlierDetection: { maxEjectionPercent: 50 } }] }];
    const admin = { admin: { token: 'operator-token-0123456789' } };
    const auth = { headers: { authorization: 'Bearer operator-token-0123456789' } };
    const { gateway, url } = await startGateway(configOf([main], { services, telemetry: { defaultMetrics: false }, ...admin }), cleanup);
    const statuses = await loadCount(url, 150, 6, '/orders');
    expect(statuses.filter((s) => s !== 200).length / statuses.length).toBeLessThan(0.01);
    const json = (await (await fetch(`${url}/status.json`, auth)).json()) as { services: Array<{ name: string; regions: Array<{ name: string; health: string; balancing: { balancer: string }; endpoints: Array<{ url: string; ejected: boolean; ewmaMs: number | null; inflight: number }> }> }> };
    const region = json.services.find((s) => s.name === 'orders')!.regions[0]!;
    expect(region).toMatchObject({ name: 'eu', health: 'healthy', balancing: { balancer: 'least-request' } });
    expect(region.endpoints.find((e) => e.url === b.url)).toMatchObject({ ejected: true });
    expect(region.endpoints.find((e) => e.url === a.url)!.ewmaMs).toBeGreaterThanOrEqual(0);
    expect(region.endpoints.every((e) => e.inflight === 0)).toBe(true);
    const page = await (await fetch(`${url}/status`, auth)).text();
    expect(page).toContain('id="services"');

    const metrics = await (await fetch(`${url}/metrics`, auth)).text();
    const lines = metrics.split('\n').filter((line) => line.startsWith('edge_endpoint_attempts_total{'));
    expect(lines.some((line) => line.includes('service="orders"') && line.includes('region="eu"') && line.includes('outcome="complete"'))).toBe(true);
    expect(lines.some((line) => line.includes('endpoint='))).toBe(false);
    expect(metrics).toMatch(/edge_region_endpoints_ejected\{service="orders",region="eu"\} 1/);

    await gateway.reload(configOf([main], { services, telemetry: { defaultMetrics: false, endpointLabels: true }, ...admin }));
    await loadCount(url, 20, 4, '/orders');
    const labelled = (await (await fetch(`${url}/metrics`, auth)).text()).split('\n').filter((line) => line.startsWith('edge_endpoint_attempts_total{'));
    expect(labelled.some((line) => line.includes(`endpoint="${a.url}"`))).toBe(true);
  });
});
