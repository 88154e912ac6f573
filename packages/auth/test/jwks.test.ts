import { type ServerResponse, createServer } from 'node:http';
import { type ManualClock, createManualClock } from '@edgekit/core/testing';
import { closeServer, listen } from '@edgekit/test-utils';
import { exportJWK, generateKeyPair } from 'jose';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type JwksCache, type JwksEvents, type JwtAuthenticator, createJwksCache, createJwtAuth } from '../src/index.js';
import { AUDIENCE, ISSUER, T0, type TestKey, type TestServer, call, makeKey, serve, sign, waitFor } from './helpers.js';

type Mode = 'ok' | '503' | 'garbage' | 'not-a-set' | 'hang';

interface JwksHost {
  url: string;
  hits: number;
  mode: Mode;
  keys: TestKey[];
  extra: unknown[];
  close(): Promise<void>;
}

/** A real JWK Set host on loopback whose answers the test controls, counting every request. */
async function jwksHost(keys: TestKey[]): Promise<JwksHost> {
  const held: ServerResponse[] = [];
  const host: JwksHost = { url: '', hits: 0, mode: 'ok', keys, extra: [], close: async () => {} };
  const server = createServer((req, res) => {
    host.hits++;
    switch (host.mode) {
      case 'ok':
        res.writeHead(200, { 'content-type': 'application/jwk-set+json' }).end(JSON.stringify({ keys: [...host.keys.map((k) => k.jwk), ...host.extra] }));
        return;
      case '503':
        res.writeHead(503).end('maintenance');
        return;
      case 'garbage':
        res.writeHead(200, { 'content-type': 'application/json' }).end('<html>{"keys": oops');
        return;
      case 'not-a-set':
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: [{ kty: 'nope' }, 42, 'x'] }));
        return;
      case 'hang':
        held.push(res);
        return;
    }
  });
  const port = await listen(server);
  host.url = `http://127.0.0.1:${port}/.well-known/jwks.json`;
  host.close = () => closeServer(server);
  return host;
}

function nextEvent<K extends keyof JwksEvents>(jwks: JwksCache, event: K): Promise<JwksEvents[K][0]> {
  return new Promise((resolve) => {
    const handle = jwks.on(event, ((payload: JwksEvents[K][0]) => {
      handle.dispose();
      resolve(payload);
    }) as never);
  });
}

const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

let a: TestKey;
let b: TestKey;
let stranger: TestKey;
beforeAll(async () => {
  [a, b, stranger] = await Promise.all([makeKey('RS256', 'key-a'), makeKey('ES256', 'key-b'), makeKey('RS256', 'stranger')]);
});

async function setup(host: JwksHost, clock: ManualClock, jwks: { cooldown?: number; cacheMaxAge?: number; timeout?: number; maxBytes?: number } = {}): Promise<{ jwt: JwtAuthenticator; s: TestServer; cache: JwksCache }> {
  const jwt = createJwtAuth({ algorithms: ['RS256', 'ES256'], issuer: ISSUER, audience: AUDIENCE, jwks: { url: host.url, cooldown: 30_000, cacheMaxAge: 600_000, ...jwks }, clock });
  const s = await serve(jwt.middleware());
  cleanups.push(() => host.close(), () => jwt.close(), () => s.close());
  return { jwt, s, cache: jwt.jwks as JwksCache };
}

const bearer = (token: string): Record<string, string> => ({ authorization: `Bearer ${token}` });

describe('JWK Set fetched from a URL', () => {
  it('fetches the set once and verifies every token against it without further requests', async () => {
    const host = await jwksHost([a, b]);
    const clock = createManualClock(T0);
    const { s, cache } = await setup(host, clock);
    await cache.ready();
    for (let i = 0; i < 5; i++) {
      expect((await call(s.url, bearer(await sign(a, clock.now())))).status).toBe(200);
      expect((await call(s.url, bearer(await sign(b, clock.now())))).status).toBe(200);
    }
    expect(host.hits).toBe(1);
    expect(cache.snapshot().kids).toEqual(['key-a', 'key-b']);
  });

  it('rotates keys while requests flow: both kids work during the overlap, the new one after one refetch, the old one stops after the refresh', async () => {
    const host = await jwksHost([a]);
    const clock = createManualClock(T0);
    const { s, cache } = await setup(host, clock);
    await cache.ready();
    expect(host.hits).toBe(1);

    // The issuer publishes key B next to A and starts signing with it.
    host.keys = [a, b];
    clock.advance(30_000);
    const overlap = await Promise.all(
      Array.from({ length: 30 }, async (_, i) => (await call(s.url, bearer(await sign(i % 2 === 0 ? a : b, clock.now())))).status),
    );
    expect(overlap).toEqual(Array(30).fill(200));
    expect(host.hits).toBe(2);

    // The issuer retires A; the background refresh picks that up after cacheMaxAge.
    host.keys = [b];
    const refreshed = nextEvent(cache, 'refresh');
    clock.advance(600_000);
    expect(await refreshed).toMatchObject({ reason: 'scheduled', kids: ['key-b'] });
    expect(host.hits).toBe(3);
    expect((await call(s.url, bearer(await sign(b, clock.now())))).status).toBe(200);
    expect((await call(s.url, bearer(await sign(a, clock.now())))).status).toBe(401);
    // The old kid is now unknown, but the refresh just happened: no extra fetch within the cooldown.
    expect(host.hits).toBe(3);
  });

  it('limits refetches for unknown kids to one per cooldown, however many tokens arrive', async () => {
    const host = await jwksHost([a]);
    const clock = createManualClock(T0);
    const { s, cache, jwt } = await setup(host, clock, { cooldown: 30_000 });
    await cache.ready();
    const codes: string[] = [];
    jwt.on('denied', (event) => codes.push(event.code));
    const flood = async (): Promise<number[]> =>
      Promise.all(Array.from({ length: 40 }, async (_, i) => (await call(s.url, bearer(await sign(stranger, clock.now(), {}, { kid: `random-${i}-${Math.random()}` })))).status));

    // Within the cooldown of the initial fetch: no refetch at all.
    expect(await flood()).toEqual(Array(40).fill(401));
    expect(host.hits).toBe(1);
    clock.advance(30_000);
    expect(await flood()).toEqual(Array(40).fill(401));
    expect(host.hits).toBe(2);
    clock.advance(29_000);
    expect(await flood()).toEqual(Array(40).fill(401));
    expect(host.hits).toBe(2);
    clock.advance(1_000);
    expect(await flood()).toEqual(Array(40).fill(401));
    expect(host.hits).toBe(3);
    expect(new Set(codes)).toEqual(new Set(['EUNKNOWNKEY']));
  });

  it('keeps the last good keys when the host fails, answers garbage, or hangs past the timeout, then recovers', async () => {
    const host = await jwksHost([a]);
    const clock = createManualClock(T0);
    const { s, cache } = await setup(host, clock, { cooldown: 30_000, cacheMaxAge: 600_000, timeout: 5_000 });
    await cache.ready();
    const errors: Array<{ reason: string; servingLastGood: boolean; message: string }> = [];
    cache.on('error', (e) => errors.push({ reason: e.reason, servingLastGood: e.servingLastGood, message: e.error.message }));

    for (const mode of ['503', 'garbage', 'not-a-set'] as const) {
      host.mode = mode;
      const failed = nextEvent(cache, 'error');
      // The first failure comes from the scheduled refresh; later ones from its retry after the cooldown.
      clock.advance(mode === '503' ? 600_000 : 30_000);
      await failed;
      expect((await call(s.url, bearer(await sign(a, clock.now())))).status, mode).toBe(200);
    }

    host.mode = 'hang';
    const hits = host.hits;
    const timedOut = nextEvent(cache, 'error');
    clock.advance(30_000);
    await waitFor(() => host.hits === hits + 1, 10_000, 'the hanging fetch reached the host');
    expect((await call(s.url, bearer(await sign(a, clock.now())))).status).toBe(200);
    clock.advance(5_000);
    expect((await timedOut).error.message).toMatch(/timed out after 5000 ms/);
    expect((await call(s.url, bearer(await sign(a, clock.now())))).status).toBe(200);

    expect(errors.map((e) => e.servingLastGood)).toEqual([true, true, true, true]);
    expect(errors[0]?.message).toMatch(/HTTP 503/);

    host.mode = 'ok';
    host.keys = [a, b];
    const recovered = nextEvent(cache, 'refresh');
    clock.advance(30_000);
    expect(await recovered).toMatchObject({ kids: ['key-a', 'key-b'] });
    expect((await call(s.url, bearer(await sign(b, clock.now())))).status).toBe(200);
  });

  it('keeps serving when the host is gone altogether (connection refused)', async () => {
    const host = await jwksHost([a]);
    const clock = createManualClock(T0);
    const { s, cache } = await setup(host, clock);
    await cache.ready();
    await host.close();
    const failed = nextEvent(cache, 'error');
    clock.advance(600_000);
    expect((await failed).servingLastGood).toBe(true);
    expect((await call(s.url, bearer(await sign(a, clock.now())))).status).toBe(200);
  });

  it('answers 503 while no key set was ever fetched, without hammering the host, and recovers on the retry', async () => {
    const host = await jwksHost([a]);
    host.mode = '503';
    const clock = createManualClock(T0);
    const { s, cache } = await setup(host, clock, { cooldown: 30_000 });
    await waitFor(() => cache.snapshot().failures === 1, 10_000, 'the initial fetch failed');
    for (let i = 0; i < 5; i++) {
      const answer = await call(s.url, bearer(await sign(a, clock.now())));
      expect(answer.status).toBe(503);
      expect(answer.challenge).toBeNull();
      expect(JSON.parse(answer.body)).toMatchObject({ status: 503, detail: 'Authentication is temporarily unavailable.' });
    }
    expect(host.hits).toBe(1);
    host.mode = 'ok';
    const recovered = nextEvent(cache, 'refresh');
    clock.advance(30_000);
    await recovered;
    expect(host.hits).toBe(2);
    expect((await call(s.url, bearer(await sign(a, clock.now())))).status).toBe(200);
  });

  it('refuses a response larger than maxBytes and keeps the previous set', async () => {
    const host = await jwksHost([a]);
    const clock = createManualClock(T0);
    const { cache } = await setup(host, clock, { maxBytes: 4_096 });
    await cache.ready();
    host.extra = Array.from({ length: 40 }, (_, i) => ({ ...b.jwk, kid: `pad-${i}` }));
    const failed = nextEvent(cache, 'error');
    clock.advance(600_000);
    expect((await failed).error.message).toMatch(/maxBytes/);
    expect(cache.snapshot().kids).toEqual(['key-a']);
  });

  it('drops private, encryption and unusable members of a fetched set', async () => {
    const host = await jwksHost([a]);
    const { privateKey } = await generateKeyPair('RS256', { extractable: true });
    host.extra = [
      { ...(await exportJWK(privateKey)), kid: 'leaked-private' },
      { ...b.jwk, kid: 'for-encryption', use: 'enc' },
      { kty: 'oct', k: 'c2VjcmV0', kid: 'secret' },
      { kty: 'EC', crv: 'P-256', x: 'bad', y: 'bad', kid: 'broken' },
    ];
    const cache = createJwksCache({ url: host.url, clock: createManualClock(T0) });
    cleanups.push(() => host.close(), () => cache.close());
    await cache.ready();
    expect(cache.snapshot().kids).toEqual(['key-a']);
  });

  it('can be shared by several verifiers without being closed by them', async () => {
    const host = await jwksHost([a]);
    const clock = createManualClock(T0);
    const cache = createJwksCache({ url: host.url, clock });
    cleanups.push(() => host.close(), () => cache.close());
    const one = createJwtAuth({ algorithms: ['RS256'], issuer: ISSUER, audience: AUDIENCE, jwks: cache, clock });
    const two = createJwtAuth({ algorithms: ['RS256'], issuer: ISSUER, audience: [AUDIENCE, 'other'], jwks: cache, clock });
    await expect(one.verify(await sign(a, T0))).resolves.toBeDefined();
    await one.close();
    await expect(two.verify(await sign(a, T0))).resolves.toBeDefined();
    await two.close();
    expect(host.hits).toBe(1);
  });

  it('leaves no timer or fetch behind once closed, and refuses tokens afterwards', async () => {
    const host = await jwksHost([a]);
    host.mode = 'hang';
    const clock = createManualClock(T0);
    const jwt = createJwtAuth({ algorithms: ['RS256'], issuer: ISSUER, audience: AUDIENCE, jwks: { url: host.url }, clock });
    cleanups.push(() => host.close());
    await waitFor(() => host.hits === 1, 10_000, 'the prefetch reached the host');
    expect(clock.pendingTimers()).toBeGreaterThan(0);
    await jwt.close();
    expect(clock.pendingTimers()).toBe(0);
    await expect(jwt.verify(await sign(a, T0))).rejects.toMatchObject({ code: 'EAUTHUNAVAILABLE', status: 503 });
    clock.advance(3_600_000);
    expect(host.hits).toBe(1);
  });

  it('refuses a plain-http URL to a remote host, naming the option', () => {
    expect(() => createJwksCache({ url: 'http://id.example.com/jwks.json' })).toThrow(/option "jwks.url" must use https:/);
    expect(() => createJwksCache({ url: 'not a url' })).toThrow(/option "jwks.url" must be an absolute URL/);
    expect(() => createJwksCache({ url: 'https://id.example.com/jwks.json', cooldown: -1, prefetch: false })).toThrow(/option "jwks.cooldown"/);
    const insecure = createJwksCache({ url: 'http://id.example.com/jwks.json', allowHttp: true, prefetch: false });
    expect(insecure.url).toBe('http://id.example.com/jwks.json');
    void insecure.close();
  });
});
