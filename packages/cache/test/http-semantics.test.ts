import { type ManualClock, createManualClock } from '@edgekit/core/testing';
import { request } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { type CacheOptions, type EdgeCache, type Origin, createCache } from '../src/index.js';
import { EPOCH, type Reply, type SeenRequest, get, httpDate, startGateway, testOrigin } from './helpers.js';

interface Fixture {
  cache: EdgeCache;
  clock: ManualClock;
  base: string;
  calls: SeenRequest[];
}

const open: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const close of open.splice(0)) await close();
});

async function setup(answer: (req: SeenRequest, call: number, clock: ManualClock) => Reply | Promise<Reply>, options: CacheOptions = {}): Promise<Fixture> {
  const clock = createManualClock(EPOCH);
  const { origin, calls } = testOrigin((req, n) => answer(req, n, clock));
  const cache = createCache({ clock, routes: { 'GET /api/products/:id': { ttl: 60_000, tags: ['product:{id}'] }, 'GET /api/*': { ttl: 60_000 } }, ...options });
  const gateway = await startGateway(cache, origin);
  open.push(async () => {
    await gateway.close();
    await cache.close();
  });
  return { cache, clock, base: gateway.base, calls };
}

const json = (body: unknown, headers: Record<string, string> = {}): Reply => ({ headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });

describe('misses, hits and Age', () => {
  it('stores a fresh response and answers the next request from the cache with Age and Cache-Status', async () => {
    const f = await setup((_req, n) => json({ n }));
    const first = await get(f.base, '/api/products/1');
    expect(first.headers['cache-status']).toBe('edgekit; fwd=uri-miss; fwd-status=200; ttl=60; stored');
    f.clock.advance(10_000);
    const second = await get(f.base, '/api/products/1');
    expect(second.status).toBe(200);
    expect(JSON.parse(second.body)).toEqual({ n: 1 });
    expect(second.headers.age).toBe('10');
    expect(second.headers['cache-status']).toBe('edgekit; hit; ttl=50');
    expect(second.headers['content-type']).toBe('application/json');
    expect(f.calls).toHaveLength(1);
  });

  it('answers hits with the exact bytes of every body size, across the one-write limit and with non-ASCII bytes', async () => {
    const all = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
    const bodies = [Buffer.alloc(0), all, Buffer.concat(Array.from({ length: 64 }, () => all)), Buffer.concat(Array.from({ length: 65 }, () => all)), Buffer.from('€ ünïcødé 😀', 'utf8')];
    const f = await setup((req) => ({ headers: { 'content-type': 'application/octet-stream' }, body: bodies[Number(req.url.split('/').pop())]! }));
    for (let i = 0; i < bodies.length; i++) {
      for (let round = 0; round < 2; round++) {
        const response = await request(`${f.base}/api/blob/${i}`);
        const bytes = Buffer.from(await response.body.arrayBuffer());
        expect(response.headers['cache-status'], `body ${i}, round ${round}`).toMatch(round === 0 ? /fwd=uri-miss/ : /; hit;/);
        expect(response.headers['content-length']).toBe(String(bodies[i]!.length));
        expect(bytes.equals(bodies[i]!), `body ${i}, round ${round}`).toBe(true);
      }
    }
    expect(f.calls).toHaveLength(bodies.length);
  });

  it('counts the Age the origin reported and the time since its Date (RFC 9111 §4.2.3)', async () => {
    const f = await setup((_req, _n, clock) => json({}, { 'cache-control': 'max-age=100', age: '30', date: httpDate(clock.now() - 5_000) }));
    await get(f.base, '/api/products/1');
    f.clock.advance(2_000);
    const hit = await get(f.base, '/api/products/1');
    expect(hit.headers.age).toBe('32');
    expect(hit.headers['cache-status']).toBe('edgekit; hit; ttl=68');
  });

  it('adds a Date to responses whose origin sent none', async () => {
    const f = await setup(() => json({}));
    const res = await get(f.base, '/api/products/1');
    expect(res.headers.date).toBe(httpDate(EPOCH));
  });

  it('replaces an invalid Date instead of adding a second one (RFC 9110 §6.6.1, §5.3)', async () => {
    const f = await setup((req) => (req.headers['if-none-match'] ? { status: 304, headers: { etag: '"v1"' } } : json({}, { 'cache-control': 'max-age=60', date: 'yesterday', etag: '"v1"' })));
    const miss = await get(f.base, '/api/products/1');
    expect(miss.headers.date).toBe(httpDate(EPOCH));
    f.clock.advance(10_000);
    const hit = await get(f.base, '/api/products/1');
    expect(hit.headers['cache-status']).toMatch(/; hit;/);
    expect(hit.headers.date).toBe(httpDate(EPOCH));
    expect(hit.headers.age).toBe('10');
  });

  it('gives the same entry for reordered query parameters and percent-encoding variants', async () => {
    const f = await setup(() => json({}));
    await get(f.base, '/api/search?q=laptop&sort=price');
    expect((await get(f.base, '/api/search?sort=price&q=laptop')).headers['cache-status']).toMatch(/; hit;/);
    expect((await get(f.base, '/api/%73earch?sort=price&q=%6captop')).headers['cache-status']).toMatch(/; hit;/);
    expect((await get(f.base, '/api/search?q=laptop&sort=price&sort=name')).headers['cache-status']).toMatch(/uri-miss/);
    expect(f.calls).toHaveLength(2);
    expect(f.calls[0]?.url).toBe('/api/search?q=laptop&sort=price');
  });

  it('keys by host', async () => {
    const f = await setup((req) => json({ host: req.headers.host }));
    await get(f.base, '/api/products/1', { host: 'a.example' });
    const other = await get(f.base, '/api/products/1', { host: 'b.example' });
    expect(JSON.parse(other.body)).toEqual({ host: 'b.example' });
    expect((await get(f.base, '/api/products/1', { host: 'A.EXAMPLE' })).headers['cache-status']).toMatch(/; hit;/);
  });
});

describe('freshness from the origin', () => {
  it('prefers s-maxage over max-age over the route ttl', async () => {
    const f = await setup((req) =>
      json({}, { 'cache-control': req.url.endsWith('/1') ? 's-maxage=5, max-age=100' : req.url.endsWith('/2') ? 'max-age=7' : 'public' }),
    );
    expect((await get(f.base, '/api/products/1')).headers['cache-status']).toMatch(/ttl=5; stored/);
    expect((await get(f.base, '/api/products/2')).headers['cache-status']).toMatch(/ttl=7; stored/);
    expect((await get(f.base, '/api/products/3')).headers['cache-status']).toMatch(/ttl=60; stored/);
  });

  it('falls back to Expires, and treats an invalid Expires as already expired', async () => {
    const f = await setup((req, _n, clock) => json({}, { expires: req.url.endsWith('/1') ? httpDate(clock.now() + 30_000) : '0' }));
    expect((await get(f.base, '/api/products/1')).headers['cache-status']).toMatch(/ttl=30; stored/);
    expect((await get(f.base, '/api/products/2')).headers['cache-status']).toBe('edgekit; fwd=uri-miss; fwd-status=200; detail=stale');
    expect((await get(f.base, '/api/products/2')).headers['cache-status']).toMatch(/uri-miss/);
  });

  it('lets the policy override the origin when override is set', async () => {
    const f = await setup(() => json({}, { 'cache-control': 'max-age=0' }), { routes: { 'GET /x': { ttl: 9_000, override: true } } });
    expect((await get(f.base, '/x')).headers['cache-status']).toMatch(/ttl=9; stored/);
  });

  it('reads CDN-Cache-Control before Cache-Control (RFC 9213)', async () => {
    const f = await setup(() => json({}, { 'cache-control': 'no-store', 'cdn-cache-control': 'max-age=20' }));
    expect((await get(f.base, '/api/products/1')).headers['cache-status']).toMatch(/ttl=20; stored/);
  });

  it('ignores a CDN-Cache-Control that is not a structured-field dictionary, or has a directive of the wrong type, as a whole', async () => {
    const values: Record<string, string> = { '1': 'max-age=10000, &&&&&', '2': 'max-age="10000"', '3': 'max-age= 100', '4': 'max-age=10000, foo;bar=?1' };
    const f = await setup((req) => json({}, { 'cache-control': 'no-store', 'cdn-cache-control': values[req.url.slice(-1)]! }));
    for (const id of ['1', '2', '3']) {
      expect((await get(f.base, `/api/products/${id}`)).headers['cache-status'], values[id]).toBe('edgekit; fwd=uri-miss; fwd-status=200; detail=no-store');
    }
    expect((await get(f.base, '/api/products/4')).headers['cache-status']).toMatch(/ttl=10000; stored/);
  });

  it.each([
    ['missing comma', 'Thu 01 Jan 2025 00:10:00 GMT'],
    ['double spaces', 'Wed,  01 Jan  2025 00:10:00 GMT'],
    ['dashes', 'Wed, 01-Jan-2025 00:10:00 GMT'],
    ['one-digit hour', 'Wed, 01 Jan 2025 0:10:00 GMT'],
  ])('treats an Expires with %s as already expired', async (_what, expires) => {
    const f = await setup(() => json({}, { expires }));
    expect((await get(f.base, '/api/products/1')).headers['cache-status']).toBe('edgekit; fwd=uri-miss; fwd-status=200; detail=stale');
    expect((await get(f.base, '/api/products/1')).headers['cache-status']).toMatch(/uri-miss/);
  });

  it('treats two Expires lines as an invalid Expires', async () => {
    const f = await setup((_r, _n, clock) => json({}, { expires: [httpDate(clock.now() + 30_000), httpDate(clock.now() + 30_000)] } as unknown as Record<string, string>));
    expect((await get(f.base, '/api/products/1')).headers['cache-status']).toBe('edgekit; fwd=uri-miss; fwd-status=200; detail=stale');
  });

  it('reads only the first member of an Age list and ignores an Age that is not a non-negative integer (RFC 9111 §5.1)', async () => {
    const ages: Record<string, string | string[]> = {
      '1': '7200, 0',
      '2': ['7200', '0'],
      '3': '0, 7200',
      '4': ['0', '7200'],
      '5': '7200.0',
      '6': '-7200',
      '7': 'abc',
      '8': '2147483648',
      '9': '0, 0',
    };
    const stale = new Set(['1', '2', '8']);
    const f = await setup((req) => json({}, { 'cache-control': 'max-age=3600', age: ages[req.url.slice(-1)]! } as Record<string, string>));
    for (const id of Object.keys(ages)) {
      const status = (await get(f.base, `/api/products/${id}`)).headers['cache-status'];
      if (stale.has(id)) expect(status, String(ages[id])).toBe('edgekit; fwd=uri-miss; fwd-status=200; detail=stale');
      else expect(status, String(ages[id])).toMatch(/; stored$/);
    }
  });

  it('never stores the proxy-specific Proxy-Authenticate, Proxy-Authentication-Info and Proxy-Authorization fields (RFC 9111 §3.1)', async () => {
    const f = await setup(() =>
      json({}, { 'cache-control': 'max-age=3600', 'proxy-authentication-info': 'nextnonce="abc"', 'x-kept': '1' }),
    );
    await get(f.base, '/api/products/1');
    const hit = await get(f.base, '/api/products/1');
    expect(hit.headers['cache-status']).toMatch(/; hit;/);
    expect(hit.headers['x-kept']).toBe('1');
    expect(hit.headers['proxy-authentication-info']).toBeUndefined();
  });

  it('reports the origin lifetime in Cache-Status ttl= when max-age is beyond the one-day storage cap', async () => {
    const f = await setup(() => json({}, { 'cache-control': 'max-age=100000' }));
    expect((await get(f.base, '/api/products/1')).headers['cache-status']).toBe('edgekit; fwd=uri-miss; fwd-status=200; ttl=100000; stored');
    f.clock.advance(1_000);
    expect((await get(f.base, '/api/products/1')).headers['cache-status']).toBe('edgekit; hit; ttl=99999');
  });
});

describe('what a shared cache must not store', () => {
  it.each([
    ['no-store', { 'cache-control': 'no-store' }, 'no-store'],
    ['private', { 'cache-control': 'private, max-age=60' }, 'private'],
    ['Set-Cookie', { 'set-cookie': 'session=abc' }, 'set-cookie'],
    ['Vary: *', { vary: '*' }, 'vary-star'],
  ])('passes a %s response through without storing it', async (_name, headers, detail) => {
    const f = await setup((_req, n) => json({ n }, headers as Record<string, string>));
    const first = await get(f.base, '/api/products/1');
    expect(first.headers['cache-status']).toBe(`edgekit; fwd=uri-miss; fwd-status=200; detail=${detail}`);
    const second = await get(f.base, '/api/products/1');
    expect(JSON.parse(second.body)).toEqual({ n: 2 });
    expect(f.calls).toHaveLength(2);
  });

  it('stores a Set-Cookie response without the cookie when the policy strips it, and only the fetching client gets the cookie', async () => {
    const f = await setup(() => json({ ok: true }, { 'set-cookie': 'session=abc' }), { routes: { 'GET /x': { ttl: 60_000, setCookie: 'strip' } } });
    const first = await get(f.base, '/x');
    expect(first.headers['set-cookie']).toBe('session=abc');
    const second = await get(f.base, '/x');
    expect(second.headers['cache-status']).toMatch(/; hit;/);
    expect(second.headers['set-cookie']).toBeUndefined();
  });

  it('stores a Set-Cookie response with its cookies when the policy says store, and sends them with every hit', async () => {
    const f = await setup(() => ({ headers: { 'cache-control': 'max-age=60', 'set-cookie': ['region=eu', 'consent=none'] }, body: 'ok' }), {
      routes: { 'GET /x': { setCookie: 'store' } },
    });
    expect((await get(f.base, '/x')).headers['cache-status']).toMatch(/; stored$/);
    const hit = await get(f.base, '/x');
    expect(hit.headers['cache-status']).toMatch(/; hit;/);
    expect(hit.headers['set-cookie']).toEqual(['region=eu', 'consent=none']);
    expect(f.calls).toHaveLength(1);
  });

  it('bypasses requests with Authorization on shared routes, and never answers others with their response', async () => {
    const f = await setup((req) => json({ user: req.headers.authorization ?? 'anonymous' }));
    const authed = await get(f.base, '/api/products/1', { authorization: 'Bearer alice' });
    expect(authed.headers['cache-status']).toBe('edgekit; fwd=bypass; fwd-status=200; detail=authenticated');
    const anonymous = await get(f.base, '/api/products/1');
    expect(JSON.parse(anonymous.body)).toEqual({ user: 'anonymous' });
    expect(anonymous.headers['cache-status']).toMatch(/uri-miss; fwd-status=200; ttl=60; stored/);
  });

  it('keeps one entry per user on shared: false routes, and stores private responses there', async () => {
    const f = await setup((req) => json({ user: req.headers.authorization }, { 'cache-control': 'private, max-age=60' }), {
      routes: { 'GET /api/me': { ttl: 60_000, shared: false } },
    });
    await get(f.base, '/api/me', { authorization: 'Bearer alice' });
    const bob = await get(f.base, '/api/me', { authorization: 'Bearer bob' });
    expect(JSON.parse(bob.body)).toEqual({ user: 'Bearer bob' });
    const alice = await get(f.base, '/api/me', { authorization: 'Bearer alice' });
    expect(JSON.parse(alice.body)).toEqual({ user: 'Bearer alice' });
    expect(alice.headers['cache-status']).toMatch(/; hit;/);
    expect(f.calls).toHaveLength(2);
  });

  it('stores any final status with the origin\'s explicit freshness (RFC 9111 §3), other 404s, 302s and 5xx not, and never 206', async () => {
    const f = await setup((req): Reply => {
      if (req.url === '/api/gone') return { status: 404, body: 'nope' };
      if (req.url === '/api/gone-fresh') return { status: 404, headers: { 'cache-control': 'max-age=30' }, body: 'nope' };
      if (req.url === '/api/moved') return { status: 302, headers: { location: '/elsewhere', 'cache-control': 'max-age=30' } };
      if (req.url === '/api/moved-plain') return { status: 302, headers: { location: '/elsewhere' } };
      if (req.url === '/api/teapot') return { status: 499, headers: { expires: new Date(EPOCH + 30_000).toUTCString() }, body: 'x' };
      if (req.url === '/api/partial') return { status: 206, headers: { 'cache-control': 'max-age=30' }, body: 'pa' };
      if (req.url === '/api/maintenance') return { status: 503, headers: { 'cache-control': 'max-age=30' }, body: 'later' };
      return { status: 500, body: 'boom' };
    });
    expect((await get(f.base, '/api/gone')).headers['cache-status']).toMatch(/detail=no-freshness/);
    expect((await get(f.base, '/api/gone-fresh')).headers['cache-status']).toMatch(/stored/);
    expect((await get(f.base, '/api/moved')).headers['cache-status']).toMatch(/ttl=30; stored/);
    expect((await get(f.base, '/api/moved')).headers['cache-status']).toMatch(/; hit;/);
    expect((await get(f.base, '/api/moved-plain')).headers['cache-status']).toMatch(/detail=status/);
    expect((await get(f.base, '/api/teapot')).headers['cache-status']).toMatch(/ttl=30; stored/);
    expect((await get(f.base, '/api/partial')).headers['cache-status']).toMatch(/detail=partial/);
    const maintenance = await get(f.base, '/api/maintenance');
    expect(maintenance.status).toBe(503);
    expect(maintenance.headers['cache-status']).toMatch(/fwd-status=503; ttl=30; stored/);
    const again = await get(f.base, '/api/maintenance');
    expect([again.status, again.body]).toEqual([503, 'later']);
    expect(again.headers['cache-status']).toMatch(/; hit;/);
    const error = await get(f.base, '/api/error');
    expect(error.status).toBe(500);
    expect(error.body).toBe('boom');
    expect(error.headers['cache-status']).toBe('edgekit; fwd=uri-miss; fwd-status=500');
    await get(f.base, '/api/error');
    expect(f.calls.filter((c) => c.url === '/api/error')).toHaveLength(2);
    expect(f.calls.filter((c) => c.url === '/api/maintenance')).toHaveLength(1);
  });

  it('still serves a stale entry within stale-if-error when its revalidation meets a 5xx that has explicit freshness', async () => {
    const f = await setup((_req, n): Reply => (n === 1 ? json({ n }, { 'cache-control': 'max-age=10, stale-if-error=600' }) : { status: 503, headers: { 'cache-control': 'max-age=30' }, body: 'later' }));
    await get(f.base, '/api/products/9');
    f.clock.advance(20_000);
    const stale = await get(f.base, '/api/products/9');
    expect(stale.status).toBe(200);
    expect(JSON.parse(stale.body)).toEqual({ n: 1 });
    expect(stale.headers['cache-status']).toMatch(/detail=stale-if-error/);
  });

  it('with must-understand stores an understood status despite no-store, and never a status it does not understand (RFC 9111 §5.2.2.3)', async () => {
    const f = await setup((req): Reply => {
      const cc = 'max-age=60, no-store, must-understand';
      if (req.url === '/api/known') return { status: 200, headers: { 'cache-control': cc }, body: 'ok' };
      return { status: 299, headers: { 'cache-control': req.url === '/api/unknown' ? cc : 'max-age=60, must-understand' }, body: 'odd' };
    });
    expect((await get(f.base, '/api/known')).headers['cache-status']).toMatch(/ttl=60; stored/);
    expect((await get(f.base, '/api/known')).headers['cache-status']).toMatch(/; hit;/);
    expect((await get(f.base, '/api/unknown')).headers['cache-status']).toMatch(/detail=must-understand/);
    expect((await get(f.base, '/api/unknown-store')).headers['cache-status']).toMatch(/detail=must-understand/);
  });

  it('stores negative answers for negativeTtl', async () => {
    const f = await setup(() => ({ status: 404, body: 'nope' }), { routes: { 'GET /x/:id': { ttl: 60_000, negativeTtl: 5_000 } } });
    expect((await get(f.base, '/x/1')).headers['cache-status']).toMatch(/ttl=5; stored/);
    const again = await get(f.base, '/x/1');
    expect(again.status).toBe(404);
    expect(again.headers['cache-status']).toMatch(/; hit;/);
  });

  it('does not store the answer to a request with Cache-Control: no-store', async () => {
    const f = await setup(() => json({}));
    expect((await get(f.base, '/api/products/1', { 'cache-control': 'no-store' })).headers['cache-status']).toMatch(/detail=request-no-store/);
    expect((await get(f.base, '/api/products/1')).headers['cache-status']).toMatch(/uri-miss/);
  });
});

describe('Vary', () => {
  it('keeps one variant per normalised Accept-Language and reports vary-miss for a new one', async () => {
    const f = await setup((req) => json({ lang: req.headers['accept-language'] }, { vary: 'Accept-Language' }));
    const en = await get(f.base, '/api/products/1', { 'accept-language': 'en' });
    expect(en.headers['cache-status']).toMatch(/uri-miss/);
    const fr = await get(f.base, '/api/products/1', { 'accept-language': 'fr' });
    expect(fr.headers['cache-status']).toMatch(/vary-miss/);
    expect(JSON.parse(fr.body)).toEqual({ lang: 'fr' });
    const enAgain = await get(f.base, '/api/products/1', { 'accept-language': ' EN ' });
    expect(enAgain.headers['cache-status']).toMatch(/; hit;/);
    expect(JSON.parse(enAgain.body)).toEqual({ lang: 'en' });
    expect(f.calls).toHaveLength(2);
  });

  it('keys by the policy vary headers before the origin names them', async () => {
    const f = await setup((req) => json({ v: req.headers['x-flavour'] }), { routes: { 'GET /x': { ttl: 60_000, vary: ['X-Flavour'] } } });
    await get(f.base, '/x', { 'x-flavour': 'a' });
    const b = await get(f.base, '/x', { 'x-flavour': 'b' });
    expect(JSON.parse(b.body)).toEqual({ v: 'b' });
    expect(JSON.parse((await get(f.base, '/x', { 'x-flavour': 'a' })).body)).toEqual({ v: 'a' });
  });
});

describe('conditional requests', () => {
  const tagged = (): Reply => json({ v: 1 }, { etag: '"v1"', 'last-modified': httpDate(EPOCH - 60_000) });

  it('drops the stored response when a 304 makes it unstorable (RFC 9111 §4.3.4), so it is not served stale-if-error afterwards', async () => {
    let down = false;
    const f = await setup((req) => {
      if (down) return { status: 503, body: 'down' };
      if (req.headers['if-none-match'] === '"v1"') return { status: 304, headers: { etag: '"v1"', 'cache-control': 'no-store' } };
      return json({ v: 1 }, { etag: '"v1"', 'cache-control': 'max-age=10, stale-if-error=600' });
    });
    await get(f.base, '/api/products/1');
    f.clock.advance(20_000);
    const revalidated = await get(f.base, '/api/products/1');
    expect(revalidated.status).toBe(200);
    expect(revalidated.headers['cache-status']).toMatch(/^edgekit; fwd=stale; fwd-status=304; .*detail=no-store$/);
    down = true;
    f.clock.advance(5_000);
    const afterwards = await get(f.base, '/api/products/1');
    expect(afterwards.status).toBe(503);
    expect(afterwards.headers['cache-status']).toMatch(/fwd=uri-miss/);
  });

  it('stops answering from a fresh entry once a 304 marks it private (honor mode, RFC 9111 §4.3.4, §3)', async () => {
    const f = await setup(
      (req, n) => (req.headers['if-none-match'] === '"v1"' ? { status: 304, headers: { etag: '"v1"', 'cache-control': 'private' } } : json({ n }, { etag: '"v1"', 'cache-control': 'max-age=3600' })),
      { requestCacheControl: 'honor' },
    );
    await get(f.base, '/api/products/1');
    const validated = await get(f.base, '/api/products/1', { 'cache-control': 'no-cache' });
    expect(validated.headers['cache-status']).toMatch(/fwd=request; fwd-status=304; .*detail=private/);
    const next = await get(f.base, '/api/products/1');
    expect(next.headers['cache-status']).toMatch(/fwd=uri-miss/);
    expect(f.calls).toHaveLength(3);
  });

  it('answers a matching If-None-Match with 304 from the cache, with weak comparison', async () => {
    const f = await setup(tagged);
    await get(f.base, '/api/products/1');
    for (const inm of ['"v1"', 'W/"v1"', '"x", "v1"', '*']) {
      const res = await get(f.base, '/api/products/1', { 'if-none-match': inm });
      expect(res.status).toBe(304);
      expect(res.body).toBe('');
      expect(res.headers.etag).toBe('"v1"');
      expect(res.headers['cache-status']).toMatch(/; hit;/);
    }
    expect((await get(f.base, '/api/products/1', { 'if-none-match': '"v0"' })).status).toBe(200);
    expect(f.calls).toHaveLength(1);
  });

  it('answers If-Modified-Since from Last-Modified when there is no If-None-Match', async () => {
    const f = await setup(tagged);
    await get(f.base, '/api/products/1');
    expect((await get(f.base, '/api/products/1', { 'if-modified-since': httpDate(EPOCH) })).status).toBe(304);
    expect((await get(f.base, '/api/products/1', { 'if-modified-since': httpDate(EPOCH - 120_000) })).status).toBe(200);
  });

  it('answers a conditional miss with 304 after fetching the full response without the client conditions', async () => {
    const f = await setup(tagged);
    const res = await get(f.base, '/api/products/1', { 'if-none-match': '"v1"' });
    expect(res.status).toBe(304);
    expect(f.calls[0]?.headers['if-none-match']).toBeUndefined();
    expect((await get(f.base, '/api/products/1')).body).toBe('{"v":1}');
  });

  it('revalidates a stale entry with its validators and refreshes it on 304', async () => {
    const f = await setup(
      (req): Reply =>
        req.headers['if-none-match'] === '"v1"'
          ? { status: 304, headers: { etag: '"v1"', 'cache-control': 'max-age=30' } }
          : { ...tagged(), headers: { ...tagged().headers, 'cache-control': 'max-age=10' } },
    );
    await get(f.base, '/api/products/1');
    f.clock.advance(15_000);
    const revalidated = await get(f.base, '/api/products/1');
    expect(f.calls[1]?.headers['if-none-match']).toBe('"v1"');
    expect(f.calls[1]?.headers['if-modified-since']).toBe(httpDate(EPOCH - 60_000));
    expect(revalidated.status).toBe(200);
    expect(revalidated.body).toBe('{"v":1}');
    expect(revalidated.headers['cache-status']).toBe('edgekit; fwd=stale; fwd-status=304; ttl=30; stored');
    expect(revalidated.headers['cache-control']).toBe('max-age=30');
    f.clock.advance(20_000);
    expect((await get(f.base, '/api/products/1')).headers['cache-status']).toBe('edgekit; hit; ttl=10');
    expect(f.calls).toHaveLength(2);
  });

  it('stores a no-cache response with validators and revalidates it on every use', async () => {
    const f = await setup((req) => (req.headers['if-none-match'] ? { status: 304, headers: { etag: '"v1"' } } : json({ v: 1 }, { etag: '"v1"', 'cache-control': 'no-cache' })));
    await get(f.base, '/api/products/1');
    const second = await get(f.base, '/api/products/1');
    expect(second.headers['cache-status']).toMatch(/fwd=stale; fwd-status=304/);
    expect(second.body).toBe('{"v":1}');
    expect(f.calls).toHaveLength(2);
  });
});

describe('stale content (RFC 5861)', () => {
  it('serves a stale entry within stale-while-revalidate and refreshes it with one background request', async () => {
    let version = 1;
    let release: () => void = () => {};
    const gate = new Promise<void>((resolve) => (release = resolve));
    const f = await setup(async (_req, n) => {
      if (n > 1) await gate;
      return json({ version }, { 'cache-control': 'max-age=10, stale-while-revalidate=60' });
    });
    await get(f.base, '/api/products/1');
    version = 2;
    f.clock.advance(15_000);
    const stale = await Promise.all([1, 2, 3].map(() => get(f.base, '/api/products/1')));
    for (const res of stale) {
      expect(JSON.parse(res.body)).toEqual({ version: 1 });
      expect(res.headers['cache-status']).toBe('edgekit; hit; ttl=-5; detail=stale-while-revalidate');
    }
    expect(f.calls).toHaveLength(2);
    release();
    const { until } = await import('./helpers.js');
    await until(async () => (await get(f.base, '/api/products/1')).body === '{"version":2}');
    expect(f.calls).toHaveLength(2);
  });

  it('never serves stale when the origin says must-revalidate, whatever the policy allows', async () => {
    const f = await setup((_r, n) => json({ n }, { 'cache-control': 'max-age=10, must-revalidate', etag: `"${n}"` }), {
      routes: { 'GET /x': { ttl: 10_000, staleWhileRevalidate: 60_000, staleIfError: 60_000 } },
    });
    await get(f.base, '/x');
    f.clock.advance(11_000);
    const res = await get(f.base, '/x');
    expect(JSON.parse(res.body)).toEqual({ n: 2 });
    expect(res.headers['cache-status']).toMatch(/fwd=stale/);
  });

  it('serves stale on an origin 5xx inside stale-if-error, and passes the error on after it', async () => {
    let failing = false;
    const f = await setup(() => (failing ? { status: 503, body: 'down' } : json({ ok: true }, { 'cache-control': 'max-age=10, stale-if-error=30' })));
    await get(f.base, '/api/products/1');
    failing = true;
    f.clock.advance(20_000);
    const stale = await get(f.base, '/api/products/1');
    expect(stale.status).toBe(200);
    expect(stale.body).toBe('{"ok":true}');
    expect(stale.headers['cache-status']).toBe('edgekit; fwd=stale; fwd-status=503; ttl=-10; detail=stale-if-error');
    f.clock.advance(30_000);
    const down = await get(f.base, '/api/products/1');
    expect(down.status).toBe(503);
    expect(down.body).toBe('down');
  });

  it('narrows stale-if-error to the request\'s own stale-if-error (RFC 5861 §4), whatever requestCacheControl says', async () => {
    let failing = false;
    const f = await setup(() => (failing ? { status: 500, body: 'down' } : json({ ok: true }, { 'cache-control': 'max-age=10' })), {
      routes: { 'GET /api/*': { ttl: 60_000, staleIfError: 600_000 } },
    });
    await get(f.base, '/api/items/1');
    failing = true;
    f.clock.advance(15_000);
    const narrowed = await get(f.base, '/api/items/1', { 'cache-control': 'stale-if-error=1' });
    expect([narrowed.status, narrowed.body]).toEqual([500, 'down']);
    const wide = await get(f.base, '/api/items/1', { 'cache-control': 'stale-if-error=3600' });
    expect(wide.status).toBe(200);
    expect(wide.headers['cache-status']).toMatch(/detail=stale-if-error/);
    const plain = await get(f.base, '/api/items/1');
    expect(plain.status).toBe(200);
  });

  it('serves stale when the origin rejects (a ForwardError), and answers its problem otherwise', async () => {
    let failing = false;
    const forwardError = Object.assign(new Error('all regions failed'), { status: 503, problem: { title: 'Service Unavailable', status: 503, regionsTried: ['eu'] } });
    const clock = createManualClock(EPOCH);
    const { origin } = testOrigin(() => json({ ok: true }, { 'cache-control': 'max-age=10, stale-if-error=30' }));
    const failingOrigin: Origin = async (req, o) => {
      if (failing) throw forwardError;
      return origin(req, o);
    };
    const cache = createCache({ clock, routes: { 'GET /x': { ttl: 1 }, 'GET /y': { ttl: 1 } } });
    const gateway = await startGateway(cache, failingOrigin);
    open.push(async () => {
      await gateway.close();
      await cache.close();
    });
    await get(gateway.base, '/x');
    failing = true;
    clock.advance(15_000);
    expect((await get(gateway.base, '/x')).headers['cache-status']).toBe('edgekit; fwd=stale; ttl=-5; detail=stale-if-error');
    const problem = await get(gateway.base, '/y');
    expect(problem.status).toBe(503);
    expect(problem.headers['content-type']).toBe('application/problem+json');
    expect(JSON.parse(problem.body)).toMatchObject({ title: 'Service Unavailable', regionsTried: ['eu'] });
    expect(problem.headers['cache-status']).toBe('edgekit; fwd=uri-miss; detail=origin-error');
  });
});

describe('requests the cache does not answer', () => {
  it('puts Cache-Status on bypassed and unsafe requests too', async () => {
    const f = await setup(() => json({}));
    expect((await get(f.base, '/other')).headers['cache-status']).toBe('edgekit; fwd=bypass; fwd-status=200; detail=no-route');
    expect((await get(f.base, '/api/products/1', {}, 'POST')).headers['cache-status']).toBe('edgekit; fwd=method; fwd-status=200');
  });

  it('invalidates the URL after a successful unsafe request (RFC 9111 §4.4)', async () => {
    const f = await setup((req, n) => (req.method === 'GET' ? json({ n }) : { status: 204, headers: { location: '/api/products/2' } }), { unsafeInvalidation: 'always' });
    await get(f.base, '/api/products/1');
    await get(f.base, '/api/products/2');
    await get(f.base, '/api/products/1', {}, 'PUT');
    const { until } = await import('./helpers.js');
    await until(async () => (await get(f.base, '/api/products/1')).headers['cache-status'] !== 'edgekit; hit; ttl=60');
    expect((await get(f.base, '/api/products/2')).headers['cache-status']).toMatch(/uri-miss/);
  });

  it('serves HEAD from the GET entry, and fills the entry on a HEAD miss', async () => {
    const f = await setup(() => json({ big: 'x'.repeat(100) }));
    const head = await get(f.base, '/api/products/1', {}, 'HEAD');
    expect(head.status).toBe(200);
    expect(head.body).toBe('');
    expect(f.calls[0]?.method).toBe('GET');
    const full = await get(f.base, '/api/products/1');
    expect(full.headers['cache-status']).toMatch(/; hit;/);
    expect(JSON.parse(full.body).big).toHaveLength(100);
    expect(full.headers['content-length']).toBe(String(full.body.length));
  });

  it('ignores client no-cache by default and honours it in honor mode', async () => {
    const ignoring = await setup(() => json({}));
    await get(ignoring.base, '/api/products/1');
    expect((await get(ignoring.base, '/api/products/1', { 'cache-control': 'no-cache' })).headers['cache-status']).toMatch(/; hit;/);
    expect((await get(ignoring.base, '/api/products/1', { pragma: 'no-cache' })).headers['cache-status']).toMatch(/; hit;/);
    const honoring = await setup(() => json({}), { requestCacheControl: 'honor' });
    await get(honoring.base, '/api/products/1');
    expect((await get(honoring.base, '/api/products/1', { 'cache-control': 'no-cache' })).headers['cache-status']).toMatch(/fwd=request/);
    expect((await get(honoring.base, '/api/products/1', { pragma: 'no-cache' })).headers['cache-status']).toMatch(/fwd=request/);
  });

  it('in honor mode, does not answer from a fresh entry older than the client\'s max-age or with less than its min-fresh left', async () => {
    const f = await setup((req, n) => (req.headers['if-none-match'] ? { status: 304, headers: { etag: '"v1"' } } : json({ n }, { 'cache-control': 'max-age=3600', etag: '"v1"' })), { requestCacheControl: 'honor' });
    await get(f.base, '/api/products/1');
    f.clock.advance(120_000);
    const tooOld = await get(f.base, '/api/products/1', { 'cache-control': 'max-age=60' });
    expect(tooOld.headers['cache-status']).toMatch(/fwd=request/);
    expect(tooOld.headers.age).toBe('0');
    expect(f.calls).toHaveLength(2);
    expect(f.calls[1]?.headers['if-none-match']).toBe('"v1"');
    f.clock.advance(3_590_000);
    const notFreshEnough = await get(f.base, '/api/products/1', { 'cache-control': 'min-fresh=30' });
    expect(notFreshEnough.headers['cache-status']).toMatch(/fwd=request/);
    expect(f.calls).toHaveLength(3);
  });

  it('in honor mode, max-stale does not override the client\'s max-age (RFC 9111 §5.2.1.1)', async () => {
    const f = await setup((_req, n) => json({ n }, { 'cache-control': 'max-age=10', etag: `"v${n}"` }), { requestCacheControl: 'honor' });
    await get(f.base, '/api/products/1');
    f.clock.advance(30_000);
    const res = await get(f.base, '/api/products/1', { 'cache-control': 'max-age=5, max-stale=100' });
    expect(res.headers['cache-status']).toMatch(/fwd=stale/);
    expect(JSON.parse(res.body)).toEqual({ n: 2 });
    f.clock.advance(30_000);
    const stale = await get(f.base, '/api/products/1', { 'cache-control': 'max-stale=100' });
    expect(stale.headers['cache-status']).toMatch(/; hit; ttl=-20; detail=max-stale/);
  });

  it('in honor mode, max-stale does not serve an s-maxage response stale: s-maxage implies proxy-revalidate (RFC 9111 §5.2.2.10)', async () => {
    const f = await setup((_req, n) => json({ n }, { 'cache-control': 's-maxage=10', etag: '"v1"' }), { requestCacheControl: 'honor' });
    await get(f.base, '/api/products/1');
    f.clock.advance(15_000);
    const res = await get(f.base, '/api/products/1', { 'cache-control': 'max-stale=100' });
    expect(res.headers['cache-status']).toMatch(/fwd=stale/);
    expect(JSON.parse(res.body)).toEqual({ n: 2 });
  });

  it('answers only-if-cached with 504 when nothing is stored', async () => {
    const f = await setup(() => json({}));
    const res = await get(f.base, '/api/products/1', { 'cache-control': 'only-if-cached' });
    expect(res.status).toBe(504);
    expect(f.calls).toHaveLength(0);
  });

  it('answers only-if-cached with 504 for authenticated requests too, without asking the origin', async () => {
    const f = await setup(() => json({}));
    const res = await get(f.base, '/api/products/1', { 'cache-control': 'only-if-cached', authorization: 'Bearer t' });
    expect(res.status).toBe(504);
    expect(res.headers['cache-status']).toBe('edgekit; fwd=bypass; detail=only-if-cached');
    expect(f.calls).toHaveLength(0);
  });

  it('strips tag headers from client responses and invalidates by them', async () => {
    const f = await setup((_r, n) => json({ n }, { 'surrogate-key': 'cat:shoes brand:acme', 'cache-tag': 'promo' }));
    const first = await get(f.base, '/api/list');
    expect(first.headers['surrogate-key']).toBeUndefined();
    expect(first.headers['cache-tag']).toBeUndefined();
    expect((await get(f.base, '/api/list')).headers['cache-status']).toMatch(/; hit;/);
    await f.cache.invalidateTag('brand:acme');
    const after = await get(f.base, '/api/list');
    expect(JSON.parse(after.body)).toEqual({ n: 2 });
  });

  it('invalidates by route tag templates and by pattern', async () => {
    const f = await setup((req, n) => json({ url: req.url, n }));
    await get(f.base, '/api/products/1');
    await get(f.base, '/api/products/2');
    await f.cache.invalidateTag('product:1');
    expect((await get(f.base, '/api/products/1')).headers['cache-status']).toMatch(/uri-miss/);
    expect((await get(f.base, '/api/products/2')).headers['cache-status']).toMatch(/; hit;/);
    const host = new URL(f.base).host;
    expect(await f.cache.invalidatePattern(`GET ${host}/api/products/*`)).toBeGreaterThanOrEqual(0);
    expect((await get(f.base, '/api/products/2')).headers['cache-status']).toMatch(/uri-miss/);
    await f.cache.invalidateKey(f.cache.keyOf('/api/products/2', host));
    expect((await get(f.base, '/api/products/2')).headers['cache-status']).toMatch(/uri-miss/);
  });
});
