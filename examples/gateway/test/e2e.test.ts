import { SignJWT, exportJWK, generateKeyPair } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLIENTS, type World, from, startWorld, waitFor } from './helpers.js';

const API_KEY = 'test-key-0123456789';

describe('gateway end to end (real origins on loopback)', () => {
  let world: World;
  let signer: Awaited<ReturnType<typeof generateKeyPair>>['privateKey'];

  beforeAll(async () => {
    const pair = await generateKeyPair('ES256');
    signer = pair.privateKey;
    const jwk = { ...(await exportJWK(pair.publicKey)), kid: 'k1', alg: 'ES256' };
    world = await startWorld({
      auth: {
        jwt: { issuer: 'https://id.test', audience: 'edge', algorithms: ['ES256'], keys: [jwk] },
        apiKeys: { keys: [{ key: API_KEY, subject: 'ci', scopes: ['orders:write'] }] },
      },
      routes: [
        { path: '/api/orders', methods: ['POST'], auth: 'apiKey', scopes: ['orders:write'] },
        { path: '/api/me', auth: 'jwt', scopes: ['profile'] },
        { path: '/api/either', auth: 'any' },
        { path: '/api/limited', rateLimit: 'tight' },
        { path: '/api/keyed', auth: 'apiKey', rateLimit: 'per-key' },
      ],
      rateLimits: { tight: { limit: 3, window: 60_000 }, 'per-key': { limit: 2, window: 60_000, by: 'apiKey', algorithm: 'gcra' } },
    });
  });
  afterAll(() => world?.close());

  const token = (scope: string, expiresIn = '5m') =>
    new SignJWT({ scope }).setProtectedHeader({ alg: 'ES256', kid: 'k1' }).setIssuer('https://id.test').setAudience('edge').setSubject('user-1').setIssuedAt().setExpirationTime(expiresIn).sign(signer);

  it('routes each client to its region by the address in a trusted X-Forwarded-For', async () => {
    const served = async (ip: string) => (await fetch(`${world.url}/api/where`, { headers: from(ip) })).headers.get('x-served-by');
    expect(await served(CLIENTS.london)).toBe('eu');
    expect(await served(CLIENTS.singapore)).toBe('ap');
    expect(await served(CLIENTS.virginia)).toBe('us');
    const body = (await (await fetch(`${world.url}/api/where`, { headers: from(CLIENTS.london) })).json()) as { region: string };
    expect(body.region).toBe('eu');
  });

  it('fails over to the next region when the primary answers 503, and the status page counts it', async () => {
    const before = world.gateway.status().routing.failovers;
    world.origins.eu.setFailure(503);
    try {
      const response = await fetch(`${world.url}/api/orders-list`, { headers: from(CLIENTS.london) });
      expect(response.status).toBe(200);
      expect(response.headers.get('x-served-by')).not.toBe('eu');
      expect(world.gateway.status().routing.failovers).toBe(before + 1);
    } finally {
      world.origins.eu.setFailure(undefined);
    }
  });

  it('skips a region whose health checks fail without sending it user traffic', async () => {
    world.origins.ap.setHealthy(false);
    try {
      await waitFor(() => world.gateway.status().regions.find((r) => r.name === 'ap')?.health === 'unhealthy', 5_000, 'ap unhealthy');
      const before = world.origins.ap.requests;
      const response = await fetch(`${world.url}/api/where`, { headers: from(CLIENTS.singapore) });
      expect(response.status).toBe(200);
      expect(response.headers.get('x-served-by')).not.toBe('ap');
      expect(world.origins.ap.requests).toBe(before);
    } finally {
      world.origins.ap.setHealthy(true);
      await waitFor(() => world.gateway.status().regions.find((r) => r.name === 'ap')?.health === 'healthy', 5_000, 'ap healthy');
    }
  });

  it('answers a repeated cacheable GET from the cache without another origin call', async () => {
    const first = await fetch(`${world.url}/api/products/7`, { headers: from(CLIENTS.virginia) });
    expect(first.status).toBe(200);
    expect(first.headers.get('cache-status')).toContain('fwd=uri-miss');
    const originCalls = world.origins.us.hits.get('/api/products/7');
    const second = await fetch(`${world.url}/api/products/7`, { headers: from(CLIENTS.virginia) });
    expect(second.headers.get('cache-status')).toMatch(/edgekit; hit/);
    expect(await second.json()).toEqual(await first.json());
    expect(world.origins.us.hits.get('/api/products/7')).toBe(originCalls);
    expect(world.gateway.status().cache.hits).toBeGreaterThanOrEqual(1);
  });

  it('serves a stale entry at once while one background request revalidates it (stale-while-revalidate)', async () => {
    const tick = async () => {
      const response = await fetch(`${world.url}/api/ticker`, { headers: from(CLIENTS.virginia) });
      return { status: response.headers.get('cache-status') ?? '', tick: ((await response.json()) as { tick: number }).tick };
    };
    // The origin's own Cache-Control makes it cacheable, although no route policy names it.
    await world.gateway.reload({ ...world.gateway.config, cache: { ...world.gateway.config.cache, routes: { ...world.gateway.config.cache.routes, 'GET /api/ticker': {} } } });
    const first = await tick();
    expect(first.status).toContain('stored');
    await new Promise((resolve) => setTimeout(resolve, 1_100)); // max-age=1 on the origin's clock
    const stale = await tick();
    expect(stale.tick).toBe(first.tick);
    expect(stale.status).toContain('stale-while-revalidate');
    await waitFor(() => world.origins.us.hits.get('/api/ticker') === 2, 10_000, 'one background revalidation');
    const fresh = await tick();
    expect(fresh.tick).toBe(first.tick + 1);
    expect(fresh.status).toMatch(/edgekit; hit/);
    expect(world.origins.us.hits.get('/api/ticker')).toBe(2);
  });

  it('requires an API key with the route scope on POST /api/orders', async () => {
    const post = (headers: Record<string, string>) => fetch(`${world.url}/api/orders`, { method: 'POST', headers, body: '{"sku":1}' });
    const none = await post({});
    expect(none.status).toBe(401);
    expect(none.headers.get('www-authenticate')).toContain('ApiKey');
    expect((await post({ 'x-api-key': 'wrong-key-0000000000' })).status).toBe(401);
    const ok = await post({ 'x-api-key': API_KEY });
    expect(ok.status).toBe(201);
    expect(((await ok.json()) as { bodyBytes: number }).bodyBytes).toBe(9);
    // GET on the same path is not covered by the POST rule.
    expect((await fetch(`${world.url}/api/orders`)).status).toBe(200);
  });

  it('verifies JWTs with static keys and enforces scopes per route', async () => {
    const me = (auth?: string) => fetch(`${world.url}/api/me`, { headers: auth ? { authorization: `Bearer ${auth}` } : {} });
    expect((await me()).status).toBe(401);
    expect((await me(await token('profile'))).status).toBe(200);
    expect((await me(await token('other'))).status).toBe(403);
    expect((await me(await token('profile', '-1m'))).status).toBe(401);
    expect((await me('not.a.jwt')).status).toBe(401);
  });

  it('accepts either credential on an "any" route', async () => {
    expect((await fetch(`${world.url}/api/either`)).status).toBe(401);
    expect((await fetch(`${world.url}/api/either`, { headers: { 'x-api-key': API_KEY } })).status).toBe(200);
    expect((await fetch(`${world.url}/api/either`, { headers: { authorization: `Bearer ${await token('x')}` } })).status).toBe(200);
  });

  it('rate limits per client address on a limited route, with 429, Retry-After and RateLimit headers', async () => {
    const hit = (ip: string) => fetch(`${world.url}/api/limited`, { headers: from(ip) });
    for (let i = 0; i < 3; i++) {
      const allowed = await hit(CLIENTS.london);
      expect(allowed.status).toBe(200);
      expect(allowed.headers.get('ratelimit-policy')).toContain('"tight"');
    }
    const refused = await hit(CLIENTS.london);
    expect(refused.status).toBe(429);
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(refused.headers.get('content-type')).toContain('application/problem+json');
    // Another client (another trusted X-Forwarded-For address) has its own quota.
    expect((await hit(CLIENTS.singapore)).status).toBe(200);
    // Routes without a limit are not counted.
    expect((await fetch(`${world.url}/api/where`, { headers: from(CLIENTS.london) })).status).toBe(200);
  });

  it('rate limits per API key after authentication', async () => {
    const hit = () => fetch(`${world.url}/api/keyed`, { headers: { 'x-api-key': API_KEY } });
    expect((await hit()).status).toBe(200);
    expect((await hit()).status).toBe(200);
    expect((await hit()).status).toBe(429);
    // Unauthenticated requests are refused before they could spend the key's quota.
    expect((await fetch(`${world.url}/api/keyed`)).status).toBe(401);
  });

  it('continues the client\'s W3C trace upstream (traceparent with the same trace id)', async () => {
    const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
    const response = await fetch(`${world.url}/api/traced`, { headers: from(CLIENTS.virginia, { traceparent: `00-${traceId}-00f067aa0ba902b7-01` }) });
    const { traceparent } = (await response.json()) as { traceparent: string | null };
    expect(traceparent).toMatch(new RegExp(`^00-${traceId}-[0-9a-f]{16}-0[01]$`));
  });

  it('serves /health and /ready to anyone, and the operator endpoints to no one while no admin token is set', async () => {
    const health = await fetch(`${world.url}/health`);
    expect(health.status).toBe(200);
    const ready = (await (await fetch(`${world.url}/ready`)).json()) as { ready: boolean; regions: Record<string, unknown> };
    expect(ready.ready).toBe(true);
    expect(Object.keys(ready.regions).sort()).toEqual(['ap', 'eu', 'us']);
    for (const path of ['/metrics', '/status.json', '/status', '/status/events']) {
      const response = await fetch(`${world.url}${path}`);
      expect(response.status, path).toBe(403);
      expect(await response.text()).not.toContain('test-edge');
    }
    const status = world.gateway.status();
    expect(status.edge.location).toBe('test-edge');
    expect(status.regions.map((r) => r.name)).toEqual(['us', 'eu', 'ap']);
    expect(status.routing.forwarded).toBeGreaterThan(0);
  });
});
