import { type IncomingMessage, type Server, type ServerResponse, createServer, request } from 'node:http';
import { createHmac } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { ConfigError, type Gateway, type GatewayConfigInput, createGateway, parseConfig } from '../src/index.js';
import { waitFor } from './helpers.js';

const cleanup: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  while (cleanup.length > 0) await cleanup.pop()!();
});

interface Upstream {
  url: string;
  received: number;
  /** Delay before answering, ms. */
  delay: number;
}

async function startUpstream(name: string): Promise<Upstream> {
  const upstream: Upstream = { url: '', received: 0, delay: 0 };
  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    req.resume();
    if (req.url === '/health') {
      res.end('ok');
      return;
    }
    upstream.received++;
    const answer = (): void => void res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ upstream: name, path: req.url }));
    if (upstream.delay > 0) setTimeout(answer, upstream.delay);
    else answer();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanup.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
  server.on('connection', (socket) => cleanup.push(() => void socket.destroy()));
  upstream.url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  return upstream;
}

const here = { lat: 50.11, lon: 8.68 };

function configOf(main: Upstream, services: GatewayConfigInput['services'] = []): GatewayConfigInput {
  return {
    edge: { location: 'test-edge', nodeId: 'node-1' },
    server: { host: '127.0.0.1', port: 0, shutdownDelay: 0 },
    regions: [{ name: 'eu', url: main.url, location: here }],
    services,
    geo: { resolver: 'none' },
    telemetry: { defaultMetrics: false },
    cache: { enabled: false },
  };
}

async function start(config: GatewayConfigInput): Promise<{ gateway: Gateway; url: string }> {
  const gateway = await createGateway(config, { logger: () => undefined, env: {} });
  cleanup.push(() => gateway.close());
  const url = await gateway.listen();
  await waitFor(async () => (await fetch(`${url}/ready`)).status === 200, 10_000, 'the gateway to be ready');
  return { gateway, url };
}

async function upstreamOf(url: string, init?: RequestInit): Promise<string> {
  const response = await fetch(url, init);
  expect(response.status).toBe(200);
  return ((await response.json()) as { upstream: string }).upstream;
}

/** A request with a Host header of its own (fetch does not let one be set). */
function upstreamVia(url: string, method: string, headers: Record<string, string>): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve((JSON.parse(Buffer.concat(chunks).toString('utf8')) as { upstream: string }).upstream));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('services behind one gateway', () => {
  it('sends each path prefix to its own service, segment-aligned, and the rest to the top-level regions', async () => {
    const [main, users, orders] = await Promise.all([startUpstream('main'), startUpstream('users'), startUpstream('orders')]);
    const { url } = await start(configOf(main, [
      { name: 'users', match: { pathPrefix: '/users' }, regions: [{ name: 'eu', url: 'http://users.internal', location: here, endpoints: [users.url] }] },
      { name: 'orders', match: { pathPrefix: '/orders/' }, regions: [{ name: 'eu', url: orders.url, location: here }] },
    ]));
    expect(await upstreamOf(`${url}/users/7`)).toBe('users');
    expect(await upstreamOf(`${url}/users`)).toBe('users');
    expect(await upstreamOf(`${url}/orders/1`)).toBe('orders');
    expect(await upstreamOf(`${url}/usersx`)).toBe('main');
    expect(await upstreamOf(`${url}/other`)).toBe('main');
    // Matched on the canonical path: dot segments cannot reach another service.
    expect(await upstreamOf(`${url}/users/%2e%2e/orders/1`)).not.toBe('users');
  });

  it('matches a host and a header', async () => {
    const [main, search, canary] = await Promise.all([startUpstream('main'), startUpstream('search'), startUpstream('canary')]);
    const { url } = await start(configOf(main, [
      { name: 'canary', match: { headers: { 'x-canary': '1' } }, regions: [{ name: 'eu', url: canary.url, location: here }] },
      { name: 'search', match: { host: 'search.example.com', methods: ['GET'] }, regions: [{ name: 'eu', url: search.url, location: here }] },
    ]));
    expect(await upstreamVia(`${url}/q`, 'GET', { host: 'Search.Example.com:8443' })).toBe('search');
    expect(await upstreamVia(`${url}/q`, 'POST', { host: 'search.example.com' })).toBe('main');
    expect(await upstreamVia(`${url}/q`, 'GET', { 'x-canary': '1', host: 'search.example.com' })).toBe('canary');
    expect(await upstreamOf(`${url}/q`, { headers: { 'x-canary': '2' } })).toBe('main');
  });

  it('lists every configuration error of services with its path', () => {
    const error = (() => {
      try {
        parseConfig({
          ...configOf({ url: 'http://127.0.0.1:1', received: 0, delay: 0 }),
          services: [
            { name: 'a', match: {}, regions: [{ name: 'eu', url: 'http://a', location: here, balancer: 'maglev' }], residency: { tenantHeader: 'x-tenant', homes: { acme: 'mars' }, allowed: { acme: ['eu', 'venus'] } }, hint: { secrets: ['short'] } },
            { name: 'a', match: { pathPrefix: 'no-slash', headers: { 'X-Up': 'v' } }, regions: [], defaultRegion: 'nowhere', split: { variants: [{ service: 'ghost', weight: 0 }] } },
          ],
        } as GatewayConfigInput);
      } catch (caught) {
        return caught;
      }
      return undefined;
    })();
    expect(error).toBeInstanceOf(ConfigError);
    const paths = (error as ConfigError).issues.map((issue) => issue.path);
    expect(paths).toEqual(expect.arrayContaining([
      'services[0].match',
      'services[0].regions[0].balancer',
      'services[0].residency.homes.acme',
      'services[0].residency.allowed.acme[1]',
      'services[0].hint.secrets[0]',
      'services[1].name',
      'services[1].match.pathPrefix',
      'services[1].match.headers.X-Up',
      'services[1].regions',
      'services[1].defaultRegion',
      'services[1].split.variants[0].service',
      'services[1].split.variants',
    ]));
  });

  it('adds a service on reload without dropping requests in flight', async () => {
    const [main, users, orders] = await Promise.all([startUpstream('main'), startUpstream('users'), startUpstream('orders')]);
    const usersService = { name: 'users', match: { pathPrefix: '/users' }, regions: [{ name: 'eu', url: users.url, location: here }] };
    const { gateway, url } = await start(configOf(main, [usersService]));
    users.delay = 300;
    main.delay = 300;
    const inFlight = [...Array.from({ length: 10 }, () => fetch(`${url}/users/1`)), ...Array.from({ length: 10 }, () => fetch(`${url}/orders/1`))];
    await waitFor(() => users.received + main.received === 20, 10_000, 'requests to reach the upstreams');
    const result = await gateway.reload(configOf(main, [usersService, { name: 'orders', match: { pathPrefix: '/orders' }, regions: [{ name: 'eu', url: orders.url, location: here }] }]));
    expect(result).toMatchObject({ version: 2 });
    const statuses = await Promise.all(inFlight.map(async (pending) => (await pending).status));
    expect(statuses.every((status) => status === 200)).toBe(true);
    expect(await upstreamOf(`${url}/orders/1`)).toBe('orders');
  });

  it('splits a service 90/10 with its canary within 2 points over 10,000 requests, and a header picks the canary', async () => {
    const [main, stable, canary] = await Promise.all([startUpstream('main'), startUpstream('stable'), startUpstream('canary')]);
    const { url } = await start(configOf(main, [
      { name: 'orders', match: { pathPrefix: '/orders' }, regions: [{ name: 'eu', url: stable.url, location: here }], split: { variants: [{ service: 'orders', weight: 90 }, { service: 'orders-v2', weight: 10 }], header: 'x-canary' } },
      { name: 'orders-v2', regions: [{ name: 'eu', url: canary.url, location: here }] },
    ]));
    const total = 10_000;
    let next = 0;
    let failed = 0;
    const worker = async (): Promise<void> => {
      while (next < total) {
        next++;
        const response = await fetch(`${url}/orders/1`);
        await response.arrayBuffer();
        if (response.status !== 200) failed++;
      }
    };
    await Promise.all(Array.from({ length: 32 }, worker));
    expect(failed).toBe(0);
    expect(stable.received + canary.received).toBe(total);
    expect(Math.abs(canary.received / total - 0.1)).toBeLessThanOrEqual(0.02);
    // Not matched directly: a service without `match` is reached only through the split.
    expect(await upstreamOf(`${url}/orders-v2`)).toBe('main');
    for (let i = 0; i < 20; i++) expect(await upstreamOf(`${url}/orders/1`, { headers: { 'x-canary': 'orders-v2' } })).toBe('canary');
  }, 120_000);

  it('keeps an unchanged service\'s endpoint ejections across a reload that adds a service', async () => {
    const [main, good, orders] = await Promise.all([startUpstream('main'), startUpstream('good'), startUpstream('orders')]);
    let badHits = 0;
    const bad = createServer((req, res) => {
      req.resume();
      if (req.url !== '/health') badHits++;
      res.writeHead(503).end('bad');
    });
    await new Promise<void>((resolve) => bad.listen(0, '127.0.0.1', resolve));
    cleanup.push(() => new Promise<void>((resolve) => bad.close(() => resolve())));
    bad.on('connection', (socket) => cleanup.push(() => void socket.destroy()));
    const badUrl = `http://127.0.0.1:${(bad.address() as { port: number }).port}`;
    const users = { name: 'users', match: { pathPrefix: '/users' }, regions: [{ name: 'eu', url: 'http://users.internal', location: here, endpoints: [good.url, badUrl], outlierDetection: { maxEjectionPercent: 50 } }] };
    // Endpoint health checks off: only outlier detection takes the failing endpoint out.
    const { gateway, url } = await start({ ...configOf(main, [users]), health: { endpoints: false } });
    for (let i = 0; i < 40; i++) await (await fetch(`${url}/users/1`)).arrayBuffer();
    expect(badHits).toBeGreaterThan(0);
    const badEjected = (): boolean => gateway.status().services.some((service) => service.name === 'users' && service.regions.some((region) => region.endpoints?.some((endpoint) => endpoint.url.startsWith(badUrl) && endpoint.ejected)));
    await waitFor(async () => badEjected(), 10_000, 'the failing endpoint to be ejected');
    await gateway.reload({ ...configOf(main, [users, { name: 'orders', match: { pathPrefix: '/orders' }, regions: [{ name: 'eu', url: orders.url, location: here }] }]), health: { endpoints: false } });
    const before = badHits;
    for (let i = 0; i < 30; i++) expect((await fetch(`${url}/users/1`)).status).toBe(200);
    expect(badHits).toBe(before);
    expect(badEjected()).toBe(true);
    expect(await upstreamOf(`${url}/orders/1`)).toBe('orders');
  });

  it('keeps a tenant inside its allowed regions, failing over only within them, and answers 503 when none is left', async () => {
    const [main, eu, us, ap] = await Promise.all([startUpstream('main'), startUpstream('eu'), startUpstream('us'), startUpstream('ap')]);
    const config = (usUrl: string): GatewayConfigInput => configOf(main, [{
      name: 'users',
      match: { pathPrefix: '/users' },
      regions: [
        { name: 'eu', url: eu.url, location: here },
        { name: 'us', url: usUrl, location: { lat: 39.04, lon: -77.49 } },
        { name: 'ap', url: ap.url, location: { lat: 35.68, lon: 139.69 } },
      ],
      residency: { tenantHeader: 'x-tenant', homes: { acme: 'us' }, allowed: { acme: ['us', 'ap'], nowhere: [] } },
    }]);
    const { gateway, url } = await start(config(us.url));
    // The edge is in Frankfurt, so eu comes first for others; acme starts at home.
    expect(await upstreamOf(`${url}/users/1`)).toBe('eu');
    for (let i = 0; i < 20; i++) expect(await upstreamOf(`${url}/users/1`, { headers: { 'x-tenant': 'acme' } })).toBe('us');
    // Its home down: failover stays in the allowed set (ap), never eu.
    await gateway.reload(config('http://127.0.0.1:1'));
    const euBefore = eu.received;
    for (let i = 0; i < 20; i++) expect(await upstreamOf(`${url}/users/1`, { headers: { 'x-tenant': 'acme' } })).toBe('ap');
    expect(eu.received).toBe(euBefore);
    const none = await fetch(`${url}/users/1`, { headers: { 'x-tenant': 'nowhere' } });
    await none.arrayBuffer();
    expect(none.status).toBe(503);
    expect(eu.received + us.received + ap.received).toBe(euBefore + 20 + 20);
  });

  it('follows a signed region hint bound to the tenant and ignores a forged or foreign one', async () => {
    const [main, eu, us] = await Promise.all([startUpstream('main'), startUpstream('eu'), startUpstream('us')]);
    const secret = 'a-region-hint-secret-of-32-bytes-or-more';
    const { url } = await start(configOf(main, [{
      name: 'users',
      match: { pathPrefix: '/users' },
      regions: [{ name: 'eu', url: eu.url, location: here }, { name: 'us', url: us.url, location: { lat: 39.04, lon: -77.49 } }],
      residency: { tenantHeader: 'x-tenant' },
      hint: { secrets: [secret] },
    }]));
    const expires = Date.now() + 60_000;
    const sign = (key: string, subject: string): string => `us.${expires}.${createHmac('sha256', key).update(`us.${expires}.${subject}`).digest('base64url')}`;
    expect(await upstreamOf(`${url}/users/1`, { headers: { 'x-tenant': 'acme', 'x-edgekit-region': sign(secret, 'acme') } })).toBe('us');
    expect(await upstreamOf(`${url}/users/1`, { headers: { 'x-tenant': 'acme', cookie: `edgekit_region=${sign(secret, 'acme')}` } })).toBe('us');
    expect(await upstreamOf(`${url}/users/1`, { headers: { 'x-tenant': 'other', 'x-edgekit-region': sign(secret, 'acme') } })).toBe('eu');
    expect(await upstreamOf(`${url}/users/1`, { headers: { 'x-tenant': 'acme', 'x-edgekit-region': sign('not-the-secret-but-32-bytes-long-anyway', 'acme') } })).toBe('eu');
  });
});
