import { Readable } from 'node:stream';
import { createManualClock } from '@edgekit/core/testing';
import { request } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { type CacheOptions, type LookupEvent, createCache } from '../src/index.js';
import { EPOCH, type Reply, type SeenRequest, get, rawRequest, startGateway, testOrigin, until } from './helpers.js';

const open: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const close of open.splice(0)) await close();
});

async function setup(answer: (req: SeenRequest, call: number) => Reply | Promise<Reply>, options: CacheOptions = {}) {
  const clock = createManualClock(EPOCH);
  const { origin, calls } = testOrigin(answer);
  const cache = createCache({ clock, routes: { 'GET /api/*': { ttl: 60_000 } }, ...options });
  const gateway = await startGateway(cache, origin);
  open.push(async () => {
    await gateway.close();
    await cache.close();
  });
  let arrived = 0;
  gateway.server.on('request', () => arrived++);
  return { cache, clock, base: gateway.base, calls, arrived: () => arrived };
}

function deferred(): { promise: Promise<void>; resolve(): void } {
  let resolve: () => void = () => {};
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

describe('request coalescing and slow origins', () => {
  it('makes one origin call for many concurrent misses of one key, and marks the others collapsed', async () => {
    const gate = deferred();
    const f = await setup(async () => {
      await gate.promise;
      return { body: 'shared' };
    });
    const pending = Array.from({ length: 20 }, () => get(f.base, '/api/slow'));
    await until(() => f.arrived() === 20);
    gate.resolve();
    const responses = await Promise.all(pending);
    expect(f.calls).toHaveLength(1);
    expect(responses.every((r) => r.status === 200 && r.body === 'shared')).toBe(true);
    expect(responses.filter((r) => String(r.headers['cache-status']).includes('collapsed'))).toHaveLength(19);
    expect(f.cache.stats().collapsed).toBe(19);
  });

  it('keeps answering other keys from the cache while one origin call is slow', async () => {
    const gate = deferred();
    const f = await setup(async (req) => {
      if (req.url === '/api/slow') await gate.promise;
      return { body: req.url };
    });
    await get(f.base, '/api/fast');
    const slow = get(f.base, '/api/slow');
    await until(() => f.calls.length === 2);
    const fast = await get(f.base, '/api/fast');
    expect(fast.headers['cache-status']).toMatch(/; hit;/);
    gate.resolve();
    expect((await slow).body).toBe('/api/slow');
  });

  it('gives every coalesced request its own origin call when the answer is not storable', async () => {
    const gate = deferred();
    const f = await setup(async (_req, n) => {
      await gate.promise;
      return { headers: { 'cache-control': 'private' }, body: `user-${n}` };
    });
    const pending = Array.from({ length: 3 }, () => get(f.base, '/api/private'));
    await until(() => f.arrived() === 3);
    gate.resolve();
    const bodies = (await Promise.all(pending)).map((r) => r.body).sort();
    expect(bodies).toEqual(['user-1', 'user-2', 'user-3']);
  });

  it('streams an uncacheable response to the client before the origin has finished it', async () => {
    const body = new Readable({ read() {} });
    const f = await setup(() => ({ headers: { 'cache-control': 'no-store' }, body }));
    const pending = request(`${f.base}/api/stream`);
    body.push('first chunk;');
    const response = await pending;
    const reader = response.body[Symbol.asyncIterator]();
    const first = await reader.next();
    expect(Buffer.from(first.value as Buffer).toString()).toBe('first chunk;');
    expect(response.headers['cache-status']).toBe('edgekit; fwd=uri-miss; fwd-status=200; detail=no-store');
    body.push('second');
    body.push(null);
    let rest = '';
    for (let item = await reader.next(); !item.done; item = await reader.next()) rest += Buffer.from(item.value as Buffer).toString();
    expect(rest).toBe('second');
  });

  it('streams a body larger than maxBodySize through without storing it', async () => {
    const big = Buffer.alloc(300_000, 'a');
    const f = await setup(() => ({ body: Readable.from([big.subarray(0, 100_000), big.subarray(100_000)]) }), { maxBodySize: 64 * 1024 });
    const first = await get(f.base, '/api/big');
    expect(first.body.length).toBe(300_000);
    expect(first.headers['cache-status']).toMatch(/detail=too-large/);
    const lengthDeclared = await setup(() => ({ headers: { 'content-length': String(big.length) }, body: big }), { maxBodySize: 64 * 1024 });
    expect((await get(lengthDeclared.base, '/api/big')).headers['cache-status']).toMatch(/detail=too-large/);
    await get(f.base, '/api/big');
    expect(f.calls).toHaveLength(2);
  });

  it('answers 502 with a problem when the origin rejects with a plain error, and reports it', async () => {
    const errors: unknown[] = [];
    const f = await setup(() => {
      throw new Error('socket hang up');
    });
    f.cache.on('error', (e) => errors.push(e));
    const res = await get(f.base, '/api/x');
    expect(res.status).toBe(502);
    expect(res.headers['content-type']).toBe('application/problem+json');
    expect(res.headers['cache-status']).toBe('edgekit; fwd=uri-miss; detail=origin-error');
    expect(errors).toHaveLength(1);
  });
});

describe('cache poisoning through unkeyed headers', () => {
  // A vulnerable origin: it builds links from X-Forwarded-Host and routes on X-Original-URL.
  const reflecting = (req: SeenRequest): Reply => ({
    body: JSON.stringify({
      link: `https://${req.headers['x-forwarded-host'] ?? req.headers.host}/img.png`,
      page: req.headers['x-original-url'] ?? req.url,
      cookie: req.headers.cookie ?? null,
    }),
  });

  it('does not let X-Forwarded-Host or X-Original-URL change the response served to the next client', async () => {
    const f = await setup(reflecting);
    const attack = await get(f.base, '/api/page', { 'x-forwarded-host': 'evil.example', 'x-original-url': '/admin' });
    expect(JSON.parse(attack.body)).toMatchObject({ link: expect.not.stringContaining('evil') as unknown, page: '/api/page' });
    const victim = await get(f.base, '/api/page');
    expect(victim.headers['cache-status']).toMatch(/; hit;/);
    const body = JSON.parse(victim.body) as { link: string; page: string };
    expect(body.link).not.toContain('evil');
    expect(body.page).toBe('/api/page');
    expect(f.calls[0]?.headers['x-forwarded-host']).toBeUndefined();
    expect(f.calls[0]?.headers['x-original-url']).toBeUndefined();
  });

  it('strips the "_" spellings of unkeyed headers and the scheme claims from fetches for storage', async () => {
    const f = await setup(reflecting);
    await get(f.base, '/api/page', { x_forwarded_host: 'evil.example', 'X_Original_URL': '/admin', 'x-forwarded-ssl': 'on', 'front-end-https': 'on', 'x-url-scheme': 'https', 'x-forwarded-protocol': 'https', 'x-kept': '1' });
    const sent = f.calls[0]!.headers;
    for (const name of ['x_forwarded_host', 'x_original_url', 'x-forwarded-ssl', 'front-end-https', 'x-url-scheme', 'x-forwarded-protocol']) expect(sent, name).not.toHaveProperty(name);
    expect(sent['x-kept']).toBe('1');
  });

  it('does not send the client cookie to the origin for a shared entry', async () => {
    const f = await setup(reflecting);
    await get(f.base, '/api/page', { cookie: 'session=alice' });
    const other = await get(f.base, '/api/page');
    expect(JSON.parse(other.body).cookie).toBeNull();
  });

  it('keeps a header that the policy keys on (vary) and caches per value', async () => {
    const f = await setup(reflecting, { routes: { 'GET /api/*': { ttl: 60_000, vary: ['x-forwarded-host'] } } });
    const evil = await get(f.base, '/api/page', { 'x-forwarded-host': 'evil.example' });
    expect(JSON.parse(evil.body).link).toContain('evil');
    const clean = await get(f.base, '/api/page');
    expect(JSON.parse(clean.body).link).not.toContain('evil');
  });

  it('does not let a hostile Host header share or spoil another host’s entry', async () => {
    const f = await setup((req) => ({ body: String(req.headers.host) }));
    await get(f.base, '/api/page', { host: 'evil.example/../api' });
    const clean = await get(f.base, '/api/page', { host: 'shop.example' });
    expect(clean.body).toBe('shop.example');
    expect(f.cache.keyOf('/api/page', 'evil.example/../api')).toBe('GET evil.example%2F..%2Fapi/api/page');
  });
});

describe('hostile input', () => {
  it('bounds the key of a huge URL and still caches it', async () => {
    const f = await setup(() => ({ body: 'ok' }));
    const path = `/api/${'x'.repeat(6_000)}?${'q=1&'.repeat(400)}`;
    await get(f.base, path);
    expect((await get(f.base, path)).headers['cache-status']).toMatch(/; hit;/);
    expect(f.cache.keyOf(path, 'h').length).toBeLessThanOrEqual(512);
  });

  it('keys binary (obs-text) values of a Vary-selected header safely, with Cache-Status on every answer', async () => {
    const f = await setup((req) => ({ headers: { vary: 'x-lang' }, body: `${req.url}|${String(req.headers['x-lang'])}` }));
    const bytes = Buffer.from('GET /api/caf%c3%a9 HTTP/1.1\r\nHost: h\r\nX-Lang: \xff\xfe\tbin\r\nConnection: close\r\n\r\n', 'latin1');
    const first = await rawRequest(f.base, bytes);
    expect(first).toMatch(/^HTTP\/1\.1 200/);
    expect(first).toMatch(/cache-status: edgekit; fwd=uri-miss; fwd-status=200; ttl=60; stored/i);
    expect(f.calls[0]?.url).toBe('/api/caf%C3%A9');
    const second = await rawRequest(f.base, bytes);
    expect(second).toMatch(/cache-status: edgekit; hit/i);
    const other = await get(f.base, '/api/caf%C3%A9', { host: 'h', 'x-lang': 'other' });
    expect(other.headers['cache-status']).toMatch(/vary-miss/);
    expect(f.calls).toHaveLength(2);
  });

  it('leaves raw non-ASCII bytes in the request line to the HTTP layer (400), never reaching the origin', async () => {
    const f = await setup(() => ({ body: 'ok' }));
    const reply = await rawRequest(f.base, Buffer.concat([Buffer.from('GET /api/caf'), Buffer.from([0xc3, 0xa9]), Buffer.from(' HTTP/1.1\r\nHost: h\r\n\r\n')]));
    expect(reply).toMatch(/^HTTP\/1\.1 400/);
    expect(f.calls).toHaveLength(0);
  });

  it('rejects CRLF in request headers at the HTTP layer without reaching the cache or origin', async () => {
    const f = await setup(() => ({ body: 'ok' }));
    const reply = await rawRequest(f.base, Buffer.from('GET /api/x HTTP/1.1\r\nHost: h\r\nX-A: a\rb\r\n\r\n', 'latin1'));
    expect(reply).toMatch(/^HTTP\/1\.1 400/);
    expect(f.calls).toHaveLength(0);
  });

  it('drops origin headers that cannot be sent (CRLF, bad names) and caps hostile tag lists', async () => {
    const f = await setup(() => ({
      headers: {
        'x-ok': 'fine',
        'x-bad': 'a\r\nset-cookie: injected=1',
        'bad header': 'x',
        'surrogate-key': Array.from({ length: 500 }, (_, i) => `t${i}`).join(' ') + ` ${'x'.repeat(10_000)}`,
      },
      body: 'ok',
    }));
    const res = await get(f.base, '/api/x');
    expect(res.status).toBe(200);
    expect(res.headers['x-ok']).toBe('fine');
    expect(res.headers['x-bad']).toBeUndefined();
    expect(res.headers['set-cookie']).toBeUndefined();
    const stored: string[][] = [];
    f.cache.on('store', (e) => stored.push([...e.tags]));
    await f.cache.invalidatePattern('*');
    await get(f.base, '/api/x');
    expect(stored[0]).toHaveLength(64);
  });

  it('copes with duplicated Cache-Control and Vary lines from the origin', async () => {
    const f = await setup(() => ({ headers: { 'cache-control': ['max-age=30', 'max-age=5000'], vary: ['accept', 'Accept-Encoding'] }, body: 'ok' }));
    expect((await get(f.base, '/api/x')).headers['cache-status']).toMatch(/ttl=30; stored/);
  });
});

describe('events and stats', () => {
  it('emits lookup with the route pattern (never the raw path) and counts each outcome', async () => {
    const f = await setup(() => ({ body: 'ok' }), { routes: { 'GET /api/products/:id': { ttl: 60_000 } } });
    const lookups: LookupEvent[] = [];
    f.cache.on('lookup', (e) => lookups.push(e));
    await get(f.base, '/api/products/123');
    await get(f.base, '/api/products/123');
    await get(f.base, '/users/42/orders/0b7f8c3a-1c2d-4e5f-8a9b-0c1d2e3f4a5b');
    expect(lookups.map((l) => [l.status, l.route])).toEqual([
      ['miss', 'GET /api/products/:id'],
      ['hit', 'GET /api/products/:id'],
      ['bypass', 'GET /users/:id/orders/:uuid'],
    ]);
    expect(f.cache.stats()).toMatchObject({ hits: 1, misses: 1, bypasses: 1, stores: 1, originRequests: 2 });
    expect(f.cache.stats().l1?.entries).toBe(1);
  });

  it('stays within the L1 byte bound under many large entries', async () => {
    const f = await setup(() => ({ body: Buffer.alloc(20_000, 'x') }), { l1: { maxSize: 200_000 } });
    for (let i = 0; i < 30; i++) await get(f.base, `/api/item/${i}`);
    expect(f.cache.stats().l1!.bytes).toBeLessThanOrEqual(200_000);
    expect(f.cache.stats().l1!.entries).toBeLessThan(10);
    expect((await get(f.base, '/api/item/29')).headers['cache-status']).toMatch(/; hit;/);
  });

  it('counts the most missed keys and warms them', async () => {
    const f = await setup((req) => ({ headers: { 'cache-control': 'max-age=1' }, body: req.url }));
    for (let i = 0; i < 5; i++) {
      await get(f.base, '/api/hot');
      f.clock.advance(2_000);
    }
    await get(f.base, '/api/cold');
    const top = f.cache.topMisses(2);
    expect(top[0]).toMatchObject({ url: '/api/hot', count: 5, route: 'GET /api/*' });
    expect(top[1]?.url).toBe('/api/cold');
    const report = await f.cache.warmTopMisses(1);
    expect(report.warmed).toHaveLength(1);
    expect((await get(f.base, '/api/hot')).headers['cache-status']).toMatch(/; hit;/);
    expect(f.cache.topMisses(5).map((m) => m.url)).toEqual(['/api/cold']);
  });
});

describe('a store that stops answering', () => {
  it('bounds each store command, answers from the origin, reports ETIMEDOUT and then rests the store', async () => {
    let storeCalls = 0;
    const hanging = {
      name: 'hanging',
      get: () => {
        storeCalls++;
        return new Promise<never>(() => {});
      },
      set: () => new Promise<never>(() => {}),
      delete: async () => 0,
      deletePattern: async () => 0,
      clear: async () => {},
      close: async () => {},
    };
    const tags = { name: 'hanging', generation: () => new Promise<never>(() => {}), invalidate: async () => 1, generations: async () => [], close: async () => {} };
    const { origin } = testOrigin(() => ({ body: 'from origin' }));
    const cache = createCache({ store: hanging, tagStore: tags, operationTimeout: 50, cooldown: 60_000, routes: { 'GET /api/*': { ttl: 60_000 } } });
    const errors: Array<{ code?: string }> = [];
    cache.on('error', (e) => errors.push(e as { code?: string }));
    const gateway = await startGateway(cache, origin);
    open.push(async () => {
      await gateway.close();
      await cache.close();
    });
    const first = await get(gateway.base, '/api/x');
    expect(first.status).toBe(200);
    expect(first.body).toBe('from origin');
    expect(errors[0]?.code).toBe('ETIMEDOUT');
    for (let i = 0; i < 5; i++) expect((await get(gateway.base, `/api/y${i}`)).status).toBe(200);
    expect(storeCalls).toBe(1);
  });
});
