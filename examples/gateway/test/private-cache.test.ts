import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type World, startWorld } from './helpers.js';

const KEY_A = 'tenant-a-key-0123456789';
const KEY_B = 'tenant-b-key-0123456789';

describe('the cache never crosses principals, and anonymous writes evict nothing', () => {
  let world: World;
  beforeAll(async () => {
    world = await startWorld({
      auth: { apiKeys: { keys: [{ key: KEY_A, subject: 'tenant-a' }, { key: KEY_B, subject: 'tenant-b' }] } },
      routes: [
        { path: '/api/products/1', auth: 'apiKey' },
        { path: '/api/products/3', methods: ['POST'], auth: 'apiKey' },
      ],
    });
  });
  afterAll(() => world?.close());

  const originCalls = (path: string): number => Object.values(world.origins).reduce((sum, origin) => sum + (origin.hits.get(path) ?? 0), 0);
  const request = async (path: string, init: { method?: string; key?: string; authorization?: string } = {}) => {
    const headers: Record<string, string> = {};
    if (init.key) headers['x-api-key'] = init.key;
    if (init.authorization) headers.authorization = init.authorization;
    const response = await fetch(`${world.url}${path}`, { method: init.method ?? 'GET', headers, ...(init.method === 'POST' ? { body: '{}' } : {}) });
    await response.arrayBuffer();
    return { status: response.status, cacheStatus: response.headers.get('cache-status') ?? '' };
  };

  it('does not serve tenant A\'s stored answer to tenant B on a cached route behind API-key auth', async () => {
    expect((await request('/api/products/1', { key: KEY_A })).status).toBe(200);
    expect((await request('/api/products/1', { key: KEY_A })).status).toBe(200);
    const before = originCalls('/api/products/1');
    const b = await request('/api/products/1', { key: KEY_B });
    expect(b.status).toBe(200);
    expect(b.cacheStatus).not.toMatch(/hit/);
    expect(originCalls('/api/products/1')).toBe(before + 1);
  });

  it('does not answer a request carrying credentials from the shared entry anonymous requests filled', async () => {
    await request('/api/products/4');
    expect((await request('/api/products/4')).cacheStatus).toMatch(/edgekit; hit/);
    const before = originCalls('/api/products/4');
    const keyed = await request('/api/products/4', { key: 'unlisted-key-0123456789' });
    expect(keyed.cacheStatus).not.toMatch(/hit/);
    expect(originCalls('/api/products/4')).toBe(before + 1);
  });

  it('lets an anonymous POST through to the origin without evicting the cached URL', async () => {
    await request('/api/products/2');
    expect((await request('/api/products/2')).cacheStatus).toMatch(/edgekit; hit/);
    expect((await request('/api/products/2', { method: 'POST' })).status).toBe(201);
    expect((await request('/api/products/2')).cacheStatus).toMatch(/edgekit; hit/);
  });

  it('evicts the cached URL after a POST that passed the route\'s authentication', async () => {
    await request('/api/products/3');
    expect((await request('/api/products/3')).cacheStatus).toMatch(/edgekit; hit/);
    expect((await request('/api/products/3', { method: 'POST' })).status).toBe(401);
    expect((await request('/api/products/3')).cacheStatus).toMatch(/edgekit; hit/);
    expect((await request('/api/products/3', { method: 'POST', key: KEY_A })).status).toBe(201);
    expect((await request('/api/products/3')).cacheStatus).not.toMatch(/hit/);
  });
});

describe('a cache route shared per principal', () => {
  let world: World;
  beforeAll(async () => {
    world = await startWorld({
      auth: { apiKeys: { keys: [{ key: KEY_A, subject: 'tenant-a' }, { key: KEY_B, subject: 'tenant-b' }] } },
      cache: { routes: { 'GET /api/products/:id': { ttl: 60_000, authenticated: 'per-principal' } } },
      routes: [{ path: '/api/products', auth: 'apiKey' }],
    });
  });
  afterAll(() => world?.close());

  const originCalls = (path: string): number => Object.values(world.origins).reduce((sum, origin) => sum + (origin.hits.get(path) ?? 0), 0);
  const request = async (path: string, init: { key?: string } = {}) => {
    const response = await fetch(`${world.url}${path}`, { headers: init.key ? { 'x-api-key': init.key } : {} });
    await response.arrayBuffer();
    return { status: response.status, cacheStatus: response.headers.get('cache-status') ?? '' };
  };

  it('keys a per-principal route by the authenticated principal: each tenant hits only its own entry', async () => {
    const a1 = await request('/api/products/7', { key: KEY_A });
    expect(a1.cacheStatus).toContain('stored');
    expect((await request('/api/products/7', { key: KEY_A })).cacheStatus).toMatch(/edgekit; hit/);
    const b1 = await request('/api/products/7', { key: KEY_B });
    expect(b1.cacheStatus).not.toMatch(/hit/);
    expect((await request('/api/products/7', { key: KEY_B })).cacheStatus).toMatch(/edgekit; hit/);
    expect(originCalls('/api/products/7')).toBe(2);
  });
});

describe('unsafe requests invalidate their URL (RFC 9111 §4.4) as cache.unsafeInvalidation says', () => {
  const worlds: World[] = [];
  afterAll(async () => {
    for (const world of worlds) await world.close();
  });

  async function exchange(world: World, path: string, method = 'GET'): Promise<{ status: number; cacheStatus: string }> {
    const response = await fetch(`${world.url}${path}`, { method, ...(method === 'GET' ? {} : { body: '{}' }) });
    await response.arrayBuffer();
    return { status: response.status, cacheStatus: response.headers.get('cache-status') ?? '' };
  }

  it('evicts the cached URL after an anonymous POST, PUT, DELETE or M-SEARCH on a gateway without auth', async () => {
    const world = await startWorld();
    worlds.push(world);
    for (const [i, method] of ['POST', 'PUT', 'DELETE', 'M-SEARCH'].entries()) {
      const path = `/api/products/${20 + i}`;
      await exchange(world, path);
      expect((await exchange(world, path)).cacheStatus, method).toMatch(/edgekit; hit/);
      expect((await exchange(world, path, method)).status, method).toBeLessThan(400);
      expect((await exchange(world, path)).cacheStatus, method).not.toMatch(/hit/);
    }
  });

  it('keeps the cached URL after an anonymous POST when set to authenticated', async () => {
    const world = await startWorld({ cache: { unsafeInvalidation: 'authenticated', routes: { 'GET /api/products/:id': { ttl: 60_000 } } } });
    worlds.push(world);
    await exchange(world, '/api/products/30');
    expect((await exchange(world, '/api/products/30', 'POST')).status).toBeLessThan(400);
    expect((await exchange(world, '/api/products/30')).cacheStatus).toMatch(/edgekit; hit/);
  });
});
