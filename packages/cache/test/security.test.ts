import type { IncomingMessage } from 'node:http';
import { createManualClock } from '@edgekit/core/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { type CacheOptions, type EdgeCache, createCache } from '../src/index.js';
import { EPOCH, type Reply, type SeenRequest, get, startGateway, testOrigin } from './helpers.js';

const open: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const close of open.splice(0)) await close();
});

const tenantOf = (req: IncomingMessage): string | undefined => {
  const key = req.headers['x-api-key'];
  return typeof key === 'string' ? `tenant-${key}` : undefined;
};

async function setup(answer: (req: SeenRequest, call: number) => Reply, options: CacheOptions = {}): Promise<{ cache: EdgeCache; base: string; calls: SeenRequest[] }> {
  const { origin, calls } = testOrigin(answer);
  const cache = createCache({ clock: createManualClock(EPOCH), routes: { 'GET /api/*': { ttl: 60_000 } }, ...options });
  const gateway = await startGateway(cache, origin);
  open.push(async () => {
    await gateway.close();
    await cache.close();
  });
  return { cache, base: gateway.base, calls };
}

const whoAmI = (req: SeenRequest): Reply => ({
  headers: { 'content-type': 'application/json', 'cache-control': 'public, max-age=60' },
  body: JSON.stringify({ tenant: req.headers['x-api-key'] ?? 'anonymous', method: req.method }),
});

describe('requests with a principal are private', () => {
  it('never serves one API-key tenant the entry stored for another tenant or for anonymous requests', async () => {
    const f = await setup(whoAmI, { principal: tenantOf });
    const a = await get(f.base, '/api/report', { 'x-api-key': 'A' });
    expect(JSON.parse(a.body).tenant).toBe('A');
    expect(a.headers['cache-status']).toBe('edgekit; fwd=bypass; fwd-status=200; detail=authenticated');
    const b = await get(f.base, '/api/report', { 'x-api-key': 'B' });
    expect(JSON.parse(b.body).tenant).toBe('B');
    const anonymous = await get(f.base, '/api/report');
    expect(JSON.parse(anonymous.body).tenant).toBe('anonymous');
    expect(anonymous.headers['cache-status']).toMatch(/fwd=uri-miss.*stored/);
    // A shared entry now exists; an authenticated request must still not be answered from it.
    const again = await get(f.base, '/api/report', { 'x-api-key': 'B' });
    expect(JSON.parse(again.body).tenant).toBe('B');
    expect(f.calls).toHaveLength(4);
  });

  it('treats a configured credential header as private without a principal function', async () => {
    const f = await setup(whoAmI, { credentialHeaders: ['x-api-key', 'authorization'] });
    await get(f.base, '/api/report');
    const b = await get(f.base, '/api/report', { 'x-api-key': 'B' });
    expect(JSON.parse(b.body).tenant).toBe('B');
    expect(b.headers['cache-status']).toMatch(/detail=authenticated/);
  });

  it('keys entries by principal on routes declared per-principal', async () => {
    const f = await setup(whoAmI, { principal: tenantOf, routes: { 'GET /api/*': { ttl: 60_000, authenticated: 'per-principal' } } });
    expect(JSON.parse((await get(f.base, '/api/report', { 'x-api-key': 'A' })).body).tenant).toBe('A');
    const hitA = await get(f.base, '/api/report', { 'x-api-key': 'A' });
    expect(hitA.headers['cache-status']).toMatch(/; hit;/);
    expect(JSON.parse(hitA.body).tenant).toBe('A');
    const b = await get(f.base, '/api/report', { 'x-api-key': 'B' });
    expect(JSON.parse(b.body).tenant).toBe('B');
    expect(b.headers['cache-status']).not.toMatch(/; hit;/);
    const anonymous = await get(f.base, '/api/report');
    expect(JSON.parse(anonymous.body).tenant).toBe('anonymous');
    expect(f.calls).toHaveLength(3);
  });

  it('bypasses the cache when the principal function throws', async () => {
    const f = await setup(whoAmI, {
      principal: () => {
        throw new Error('token store down');
      },
      routes: { 'GET /api/*': { ttl: 60_000, authenticated: 'per-principal' } },
    });
    const errors: Error[] = [];
    f.cache.on('error', (e) => errors.push(e));
    await get(f.base, '/api/report');
    const second = await get(f.base, '/api/report');
    expect(second.headers['cache-status']).toMatch(/fwd=bypass.*detail=authenticated/);
    expect(f.calls).toHaveLength(2);
    expect(errors[0]?.message).toBe('token store down');
  });
});

describe('invalidation by unsafe methods (RFC 9111 §4.4)', () => {
  const answer = (req: SeenRequest, n: number): Reply => (req.method === 'GET' ? { headers: { 'cache-control': 'max-age=60' }, body: String(n) } : { status: 200, body: 'done' });

  async function invalidated(f: { cache: EdgeCache }, url: string): Promise<void> {
    const key = `{${f.cache.keyOf(url, '127.0.0.1')}`;
    await new Promise<void>((resolve) => {
      const sub = f.cache.on('invalidate', (notice) => {
        if (notice.keys.some((k) => k.startsWith(key))) {
          sub.dispose();
          resolve();
        }
      });
    });
  }

  it("with 'authenticated' ignores anonymous writes and applies authenticated ones", async () => {
    const f = await setup(answer, { principal: tenantOf, unsafeInvalidation: 'authenticated', host: '127.0.0.1' });
    await get(f.base, '/api/a');
    await get(f.base, '/api/b');
    expect((await get(f.base, '/api/a', {}, 'POST')).status).toBe(200);
    const done = invalidated(f, '/api/b');
    expect((await get(f.base, '/api/b', { 'x-api-key': 'A' }, 'POST')).status).toBe(200);
    await done;
    expect((await get(f.base, '/api/a')).headers['cache-status']).toMatch(/; hit;/);
    expect((await get(f.base, '/api/b')).headers['cache-status']).toMatch(/fwd=uri-miss/);
  });

  it("invalidates after anonymous writes with 'always' (the default, RFC 9111 §4.4) and never with 'never'", async () => {
    const always = await setup(answer, { host: '127.0.0.1' });
    await get(always.base, '/api/a');
    const done = invalidated(always, '/api/a');
    await get(always.base, '/api/a', {}, 'DELETE');
    await done;
    expect((await get(always.base, '/api/a')).headers['cache-status']).toMatch(/fwd=uri-miss/);

    const never = await setup(answer, { unsafeInvalidation: 'never', principal: tenantOf, host: '127.0.0.1' });
    await get(never.base, '/api/a');
    await get(never.base, '/api/a', { 'x-api-key': 'A' }, 'DELETE');
    await get(never.base, '/api/a', { 'x-api-key': 'A' }, 'DELETE');
    expect((await get(never.base, '/api/a')).headers['cache-status']).toMatch(/; hit;/);
    expect(never.cache.stats().invalidations).toBe(0);
  });

  it('invalidates after methods it does not know (M-SEARCH), not only POST, PUT, PATCH and DELETE', async () => {
    const f = await setup(answer, { unsafeInvalidation: 'always', host: '127.0.0.1' });
    await get(f.base, '/api/a');
    const done = invalidated(f, '/api/a');
    expect((await get(f.base, '/api/a', {}, 'M-SEARCH')).status).toBe(200);
    await done;
    expect((await get(f.base, '/api/a')).headers['cache-status']).toMatch(/fwd=uri-miss/);
  });

  it('does not invalidate after safe methods or error answers', async () => {
    const f = await setup((req, n) => (req.method === 'GET' ? { headers: { 'cache-control': 'max-age=60' }, body: String(n) } : { status: req.method === 'POST' ? 500 : 200 }), {
      unsafeInvalidation: 'always',
    });
    await get(f.base, '/api/a');
    await get(f.base, '/api/a', {}, 'OPTIONS');
    await get(f.base, '/api/a', {}, 'POST');
    expect((await get(f.base, '/api/a')).headers['cache-status']).toMatch(/; hit;/);
    expect(f.cache.stats().invalidations).toBe(0);
  });
});
