import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Front, rawExchange, requestHead, startHaproxyFront, startNginxFront, statusOf } from './fronts.js';
import { type World, startWorld } from './helpers.js';

const API_KEY = 'tenant-a-key-0123456789';

/** Targets the demo origin (WHATWG URL parsing: dots resolved, `\` as `/`) reads under /api/admin, and case variants. */
const PROTECTED_SPELLINGS = [
  'http://anything/api/admin/secret',
  'HTTP://evil.example:1/api/admin/secret?x=1',
  '/api/x/../admin/secret',
  '/api/x/%2e%2e/admin/secret',
  '/api/x/.%2e/admin/secret',
  '/api/x/%2E%2E/admin/secret',
  '/api/x/%2e./admin/secret',
  '/api/./admin/secret',
  '/api/%2e/admin/secret',
  '/api/%2E/admin/secret',
  '//api/admin/secret',
  '/api//admin/secret',
  '/api/%61dmin/secret',
  '/API/Admin/secret',
  '/api/admin;x/secret',
  '/api/public/..;/admin/secret',
  '/api\\admin/secret',
  '/api/x/..%2fadmin/secret',
  '/api/x/..%5cadmin/secret',
  'http://anything/api/x/%2e%2e/admin/secret',
  '/api/x/%2e%2e%2fadmin/secret',
  // Segment ends that Windows-path origins (IIS, ASP.NET) trim: `admin.` is their `admin`.
  '/api/admin./secret',
  '/api/admin%2e/secret',
  '/api/admin.../secret',
  '/api/admin%20/secret',
  '/api/admin%C2%A0/secret',
  '/api/admin.%20./secret',
  '/api/.../admin/secret',
  // Overlong UTF-8 and compatibility forms of "." and "/" that loose decoders turn into path syntax.
  '/api/x/%E0%80%AE%E0%80%AE/admin/secret',
  '/api/x/%EF%BC%8E%EF%BC%8E/admin/secret',
  '/api/x/%EF%BC%8E%EF%BC%8E%EF%BC%8Fadmin/secret',
];

describe('request targets at the gateway', () => {
  let world: World;
  let port: number;
  beforeAll(async () => {
    world = await startWorld({
      auth: { apiKeys: { keys: [{ key: API_KEY, subject: 'tenant-a', scopes: ['admin'] }] } },
      rateLimits: { tight: { limit: 2, window: 60_000, by: 'ip' }, keyed: { limit: 2, window: 60_000, by: 'apiKey' } },
      routes: [
        { path: '/api/admin', auth: 'apiKey' },
        { path: '/api/reports', methods: ['GET'], auth: 'apiKey' },
        { path: '/api/open', rateLimit: 'keyed' },
        { path: '/api/billing/', auth: 'apiKey' },
        { path: '/api/orders', methods: ['POST'], auth: 'apiKey' },
        { path: '/api/limited', rateLimit: 'tight' },
        { path: '/live', auth: 'apiKey' },
      ],
    });
    port = Number(new URL(world.url).port);
  });
  afterAll(() => world?.close());

  const adminHits = (): number => [...Object.values(world.origins)].reduce((sum, origin) => sum + (origin.hits.get('/api/admin/secret') ?? 0), 0);

  it.each(PROTECTED_SPELLINGS)('never lets %s reach a protected path without credentials', async (target) => {
    const before = adminHits();
    const raw = await rawExchange(port, requestHead('GET', target));
    expect([400, 401]).toContain(statusOf(raw));
    expect(adminHits()).toBe(before);
  });

  it('forwards the canonical path once the route rule is satisfied', async () => {
    const before = adminHits();
    const raw = await rawExchange(port, requestHead('GET', 'http://anything/api/x/%2e%2e/admin/./secret', { 'x-api-key': API_KEY }));
    expect(statusOf(raw)).toBe(200);
    expect(raw).toContain('"path":"/api/admin/secret"');
    expect(adminHits()).toBe(before + 1);
  });

  it('answers 400 with problem+json for targets no origin reads one way', async () => {
    for (const target of ['/api%2Fadmin/secret', '/api/%00/x', '/a/..;/api/admin', '/%c0%ae%c0%ae/api/admin']) {
      const raw = await rawExchange(port, requestHead('GET', target));
      expect(statusOf(raw), target).toBe(400);
      expect(raw).toContain('application/problem+json');
    }
  });

  it('applies API-key rules to writes in absolute-form and with dot segments', async () => {
    for (const target of ['http://anything/api/orders', '/api/x/../orders', '/api/%6Frders']) {
      const raw = await rawExchange(port, requestHead('POST', target, { 'content-length': '2' }) + '{}');
      expect(statusOf(raw), target).toBe(401);
    }
  });

  it('counts every spelling of a limited path against the same limit', async () => {
    const client = { 'x-forwarded-for': '3.3.3.77' };
    expect(statusOf(await rawExchange(port, requestHead('GET', '/api/limited', client)))).toBe(200);
    expect(statusOf(await rawExchange(port, requestHead('GET', 'http://x/api/limited', client)))).toBe(200);
    for (const target of ['/api/x/../limited', '/api/%6Cimited', 'http://x/api/./limited', '//api/limited']) {
      expect(statusOf(await rawExchange(port, requestHead('GET', target, client))), target).toBe(429);
    }
  });

  it('applies route rules to upgrades in absolute-form and with dot segments', async () => {
    const upgrade = { connection: 'Upgrade', upgrade: 'echo' };
    for (const target of ['http://anything/live', '/x/../live', '/%6Cive', '/LIVE']) {
      const raw = await rawExchange(port, requestHead('GET', target, upgrade), 5_000);
      expect(statusOf(raw), target).toBe(401);
    }
    expect(statusOf(await rawExchange(port, requestHead('GET', '/x/%2e%2e/live', { ...upgrade, 'x-api-key': API_KEY }), 1_000))).toBe(101);
  });

  it('applies a rule written with a trailing slash to the path without it', async () => {
    for (const target of ['/api/billing', '/api/billing/', '/API/Billing/x', '/api/billing/x/..']) {
      expect(statusOf(await rawExchange(port, requestHead('GET', target))), target).toBe(401);
    }
    expect(statusOf(await rawExchange(port, requestHead('GET', '/api/billingx')))).toBe(200);
  });

  it('applies a GET rule to HEAD, which origins answer with the GET handler', async () => {
    expect(statusOf(await rawExchange(port, requestHead('HEAD', '/api/reports/q3')))).toBe(401);
    expect(statusOf(await rawExchange(port, requestHead('HEAD', '/api/reports/q3', { 'x-api-key': API_KEY })))).toBe(200);
  });

  it('refuses method and URL override headers that origins would act on instead of what the rules saw', async () => {
    const before = adminHits();
    for (const [name, value] of [
      ['X-Original-URL', '/api/admin/secret'],
      ['X-Rewrite-URL', '/api/admin/secret'],
      ['X-HTTP-Method-Override', 'DELETE'],
      ['X-HTTP-Method', 'DELETE'],
      ['X-Method-Override', 'DELETE'],
      // The same names with "_", which CGI-style origins (WSGI, Rack, PHP) read as the "-" ones.
      ['X_Original_URL', '/api/admin/secret'],
      ['x_http_method_override', 'DELETE'],
    ] as const) {
      const raw = await rawExchange(port, requestHead('GET', '/api/public', { [name]: value }));
      expect(statusOf(raw), name).toBe(400);
    }
    expect(adminHits()).toBe(before);
  });

  it('does not give a fresh per-key limit to every made-up API key', async () => {
    const client = { 'x-forwarded-for': '3.3.3.78' };
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++) statuses.push(statusOf(await rawExchange(port, requestHead('GET', '/api/open', { ...client, 'x-api-key': `made-up-key-${i}-000000000` }))));
    expect(statuses).toEqual([200, 200, 429, 429]);
  });

  it('refuses TRACE at the edge without asking an origin', async () => {
    const before = world.origins.us.requests + world.origins.eu.requests + world.origins.ap.requests;
    const raw = await rawExchange(port, requestHead('TRACE', '/api/anything', { authorization: 'Bearer secret' }));
    expect(statusOf(raw)).toBe(501);
    expect(raw).not.toContain('Bearer secret');
    expect(world.origins.us.requests + world.origins.eu.requests + world.origins.ap.requests).toBe(before);
  });
});

describe.each([
  ['nginx', startNginxFront],
  ['haproxy', startHaproxyFront],
] as const)('request targets through %s in front of the gateway', (_name, startFront) => {
  let world: World;
  let front: Front;
  beforeAll(async () => {
    world = await startWorld({
      auth: { apiKeys: { keys: [{ key: API_KEY, subject: 'tenant-a', scopes: ['admin'] }] } },
      routes: [{ path: '/api/admin', auth: 'apiKey' }],
    });
    front = await startFront(Number(new URL(world.url).port));
  }, 30_000);
  afterAll(async () => {
    await front?.stop();
    await world?.close();
  });

  it.each(PROTECTED_SPELLINGS)('never lets %s reach a protected path without credentials', async (target) => {
    const hits = (): number => [...Object.values(world.origins)].reduce((sum, origin) => sum + (origin.hits.get('/api/admin/secret') ?? 0), 0);
    const before = hits();
    const raw = await rawExchange(front.port, requestHead('GET', target));
    expect(statusOf(raw)).not.toBe(0);
    expect(statusOf(raw)).not.toBe(200);
    expect(hits()).toBe(before);
  });

  it('lets the credentialed request through to the canonical path', async () => {
    const raw = await rawExchange(front.port, requestHead('GET', '/api/x/../admin/secret', { 'x-api-key': API_KEY }));
    expect(statusOf(raw)).toBe(200);
    expect(raw).toContain('"path":"/api/admin/secret"');
  });
});
