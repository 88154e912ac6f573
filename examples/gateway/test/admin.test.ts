import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearerMatches } from '../src/index.js';
import { CLIENTS, type World, from, startWorld } from './helpers.js';

const TOKEN = 'admin-token-0123456789abcdef';

describe('admin purge API', () => {
  let world: World;
  beforeAll(async () => {
    world = await startWorld({}, { env: { EDGE_ADMIN_TOKEN: TOKEN } });
  });
  afterAll(() => world?.close());

  const purge = (body: unknown, authorization?: string) =>
    fetch(`${world.url}/admin/purge`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(authorization ? { authorization } : {}) },
      body: JSON.stringify(body),
    });
  const product = async (id: number) => {
    const response = await fetch(`${world.url}/api/products/${id}`, { headers: from(CLIENTS.virginia) });
    await response.arrayBuffer();
    return response.headers.get('cache-status') ?? '';
  };

  it('compares bearer tokens exactly', () => {
    expect(bearerMatches(`Bearer ${TOKEN}`, TOKEN)).toBe(true);
    expect(bearerMatches(`bearer ${TOKEN}`, TOKEN)).toBe(true);
    expect(bearerMatches(`Bearer ${TOKEN}x`, TOKEN)).toBe(false);
    expect(bearerMatches(`Bearer ${TOKEN.slice(0, -1)}`, TOKEN)).toBe(false);
    expect(bearerMatches(`Basic ${TOKEN}`, TOKEN)).toBe(false);
    expect(bearerMatches(TOKEN, TOKEN)).toBe(false);
    expect(bearerMatches(undefined, TOKEN)).toBe(false);
    expect(bearerMatches('Bearer ', TOKEN)).toBe(false);
  });

  it('refuses a purge without the admin token, or with a wrong one, and purges nothing', async () => {
    expect(await product(5)).toContain('stored');
    const missing = await purge({ tags: ['product:5'] });
    expect(missing.status).toBe(401);
    expect(missing.headers.get('www-authenticate')).toBe('Bearer realm="edge-admin"');
    expect(missing.headers.get('content-type')).toContain('application/problem+json');
    expect((await purge({ tags: ['product:5'] }, `Bearer ${TOKEN.replace('a', 'b')}`)).status).toBe(401);
    expect((await purge({ tags: ['product:5'] }, `Basic ${Buffer.from(`admin:${TOKEN}`).toString('base64')}`)).status).toBe(401);
    expect(await product(5)).toMatch(/edgekit; hit/);
  });

  it('purges by tag with the token: the tagged entry is fetched again, others stay cached', async () => {
    expect(await product(11)).toContain('stored');
    expect(await product(12)).toContain('stored');
    const originCalls = world.origins.us.hits.get('/api/products/11') ?? 0;
    const response = await purge({ tags: ['product:11'] }, `Bearer ${TOKEN}`);
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ purged: { tags: 1 } });
    expect(await product(11)).toContain('fwd=');
    expect(world.origins.us.hits.get('/api/products/11')).toBe(originCalls + 1);
    expect(await product(12)).toMatch(/edgekit; hit/);
  });

  it('purges by key pattern', async () => {
    expect(await product(21)).toContain('stored');
    expect(await product(21)).toMatch(/edgekit; hit/);
    const response = await purge({ pattern: 'GET */api/products/21' }, `Bearer ${TOKEN}`);
    expect(response.status).toBe(200);
    expect(await product(21)).toContain('fwd=');
  });

  it('answers 405 to other methods and 400 to a malformed body once authorised', async () => {
    const get = await fetch(`${world.url}/admin/purge`, { headers: { authorization: `Bearer ${TOKEN}` } });
    expect(get.status).toBe(405);
    const bad = await fetch(`${world.url}/admin/purge`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' }, body: '{"tags":' });
    expect(bad.status).toBe(400);
  });

  it('keeps the EDGE_ADMIN_TOKEN override across reloads, and is disabled (403) without any token', async () => {
    await world.gateway.reload({ ...world.gateway.config, admin: {} });
    // The environment override still applies on reload, so the token stays.
    expect((await purge({ tags: ['x'] }, `Bearer ${TOKEN}`)).status).toBe(200);
    const plain = await startWorld();
    try {
      const response = await fetch(`${plain.url}/admin/purge`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}` }, body: '{}' });
      expect(response.status).toBe(403);
      expect(((await response.json()) as { detail: string }).detail).toContain('EDGE_ADMIN_TOKEN');
    } finally {
      await plain.close();
    }
  });

  it('serves /metrics, /status and /admin/purge only on server.adminPort when one is set', async () => {
    const split = await startWorld({ server: { host: '127.0.0.1', port: 0, adminPort: 0, shutdownDelay: 0 } }, { env: { EDGE_ADMIN_TOKEN: TOKEN } });
    try {
      const admin = split.gateway.adminUrl;
      expect(admin).not.toBe(split.url);
      expect(await (await fetch(`${admin}/metrics`)).text()).toContain('edge_gateway_info');
      expect(((await (await fetch(`${admin}/status.json`)).json()) as { edge: { location: string } }).edge.location).toBe('test-edge');
      const purged = await fetch(`${admin}/admin/purge`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' }, body: '{"tags":["x"]}' });
      expect(purged.status).toBe(200);
      expect((await fetch(`${admin}/api/where`)).status).toBe(404);
      expect((await fetch(`${admin}/ready`)).status).toBe(200);
      // On the public port those paths are ordinary traffic for the origins.
      const publicMetrics = await fetch(`${split.url}/metrics`, { headers: from(CLIENTS.virginia) });
      expect(publicMetrics.headers.get('x-served-by')).toBe('us');
      expect((await fetch(`${split.url}/health`)).status).toBe(200);
    } finally {
      await split.close();
    }
  });
});
