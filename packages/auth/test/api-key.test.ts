import { type Bus, createMemoryBus, createMemoryBusHub } from '@edgekit/bus';
import { type ManualClock, createManualClock } from '@edgekit/core/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { type ApiKeyAuthOptions, type ApiKeyAuthenticator, type ApiKeyPrincipal, type DeniedEvent, createApiKeyAuth, hashApiKey, isAuthError } from '../src/index.js';
import { T0, call, rawRequest, serve } from './helpers.js';

const GOOD = 'ek_live_4f9a1c2b7d3e8f60';
const OTHER = 'ek_live_0a1b2c3d4e5f6071';
const READER = 'ek_live_reader_only_0001';

/** The identity service: knows a few keys, counts calls, can be made to fail or stall. */
function identityService() {
  const known = new Map<string, ApiKeyPrincipal>([
    [GOOD, { subject: 'acme', scopes: ['orders:read', 'orders:write'] }],
    [OTHER, { subject: 'globex', scopes: ['orders:read'] }],
    [READER, { subject: 'initech', scopes: 'orders:read' as unknown as string[] }],
  ]);
  const service = {
    known,
    calls: [] as string[],
    failing: false,
    stalled: [] as Array<() => void>,
    stall: false,
    validate: async (key: string, { signal }: { signal: AbortSignal }) => {
      service.calls.push(key);
      if (service.stall) await new Promise<void>((resolve) => service.stalled.push(resolve));
      signal.throwIfAborted();
      if (service.failing) throw new Error('identity service unreachable');
      return known.get(key) ?? null;
    },
  };
  return service;
}

const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function apiKeys(options: Partial<ApiKeyAuthOptions> & Pick<ApiKeyAuthOptions, 'validate'>, clock: ManualClock = createManualClock(T0)): ApiKeyAuthenticator {
  const auth = createApiKeyAuth({ clock, ...options });
  cleanups.push(() => auth.close());
  return auth;
}

function memoryBus(hub = createMemoryBusHub(), nodeId?: string): Bus {
  const bus = createMemoryBus({ hub, nodeId });
  cleanups.push(() => bus.close());
  return bus;
}

const req = (key: string | undefined, method = 'GET', url = '/orders') => ({ headers: key === undefined ? {} : { 'x-api-key': key }, method, url });

describe('API keys validated against an origin', () => {
  it('asks the origin once and serves the answer from cache within the TTL', async () => {
    const origin = identityService();
    const clock = createManualClock(T0);
    const auth = apiKeys({ validate: origin.validate, ttl: 10_000 }, clock);
    for (let i = 0; i < 5; i++) await expect(auth.authenticate(req(GOOD))).resolves.toMatchObject({ scheme: 'apiKey', subject: 'acme', scopes: ['orders:read', 'orders:write'] });
    expect(origin.calls).toHaveLength(1);
    clock.advance(9_999);
    await auth.authenticate(req(GOOD));
    expect(origin.calls).toHaveLength(1);
    clock.advance(1);
    await auth.authenticate(req(GOOD));
    expect(origin.calls).toHaveLength(2);
    expect(auth.stats()).toMatchObject({ hits: 5, misses: 2, originCalls: 2, entries: 1 });
  });

  it('uses a short TTL for write routes and a long one for read routes (ttlFor)', async () => {
    const origin = identityService();
    const clock = createManualClock(T0);
    const auth = apiKeys({ validate: origin.validate, ttlFor: (r) => (r.method === 'GET' ? 60_000 : 2_000) }, clock);
    await auth.authenticate(req(GOOD, 'GET'));
    clock.advance(1_999);
    await auth.authenticate(req(GOOD, 'POST'));
    await auth.authenticate(req(GOOD, 'GET'));
    expect(origin.calls).toHaveLength(1);
    clock.advance(1);
    // The same cached answer is now too old for a write, still fresh enough for a read.
    await auth.authenticate(req(GOOD, 'GET'));
    expect(origin.calls).toHaveLength(1);
    await auth.authenticate(req(GOOD, 'DELETE'));
    expect(origin.calls).toHaveLength(2);
    clock.advance(59_000);
    await auth.authenticate(req(GOOD, 'GET'));
    expect(origin.calls).toHaveLength(2);
    clock.advance(1_001);
    await auth.authenticate(req(GOOD, 'GET'));
    expect(origin.calls).toHaveLength(3);
  });

  it('asks the origin on every request for a route with TTL 0, and caps TTLs at maxTtl', async () => {
    const origin = identityService();
    const clock = createManualClock(T0);
    const auth = apiKeys({ validate: origin.validate, maxTtl: 30_000, ttl: 10_000, ttlFor: (r) => (r.url === '/admin' ? 0 : r.url === '/forever' ? 3_600_000 : undefined) }, clock);
    await auth.authenticate(req(GOOD, 'GET', '/admin'));
    await auth.authenticate(req(GOOD, 'GET', '/admin'));
    expect(origin.calls).toHaveLength(2);
    clock.advance(29_999);
    await auth.authenticate(req(GOOD, 'GET', '/forever'));
    expect(origin.calls).toHaveLength(2);
    clock.advance(1);
    await auth.authenticate(req(GOOD, 'GET', '/forever'));
    expect(origin.calls).toHaveLength(3);
  });

  it('caches invalid answers only for negativeTtl', async () => {
    const origin = identityService();
    const clock = createManualClock(T0);
    const auth = apiKeys({ validate: origin.validate, negativeTtl: 5_000 }, clock);
    const newKey = 'ek_live_created_just_now';
    await expect(auth.authenticate(req(newKey))).rejects.toMatchObject({ code: 'EKEYINVALID', status: 401 });
    origin.known.set(newKey, { subject: 'new' });
    await expect(auth.authenticate(req(newKey))).rejects.toMatchObject({ code: 'EKEYINVALID' });
    expect(origin.calls).toHaveLength(1);
    clock.advance(5_000);
    await expect(auth.authenticate(req(newKey))).resolves.toMatchObject({ subject: 'new' });
    expect(origin.calls).toHaveLength(2);
    expect(auth.stats().negativeHits).toBe(1);
  });

  it('joins concurrent checks of one key into a single origin call', async () => {
    const origin = identityService();
    origin.stall = true;
    const auth = apiKeys({ validate: origin.validate });
    const pending = Array.from({ length: 25 }, () => auth.authenticate(req(GOOD)));
    const other = auth.authenticate(req(OTHER));
    await new Promise((resolve) => setImmediate(resolve));
    expect(origin.calls).toEqual([GOOD, OTHER]);
    for (const release of origin.stalled) release();
    const results = await Promise.all(pending);
    expect(new Set(results.map((r) => r.subject))).toEqual(new Set(['acme']));
    await expect(other).resolves.toMatchObject({ subject: 'globex' });
    expect(origin.calls).toHaveLength(2);
  });

  it('refuses malformed keys without asking the origin', async () => {
    const origin = identityService();
    const auth = apiKeys({ validate: origin.validate });
    for (const key of ['short', 'x'.repeat(257), 'ek_live with space', 'ek_live_\u00e9\u00e9\u00e9\u00e9\u00e9', 'ek_live_\u0000\u0001abcdef']) {
      await expect(auth.authenticate(req(key)), key).rejects.toMatchObject({ code: 'EKEYINVALID', status: 401 });
    }
    expect(origin.calls).toHaveLength(0);
  });

  it('answers 503 when the origin fails, caches nothing, and serves a recent answer only within staleIfError', async () => {
    const origin = identityService();
    const clock = createManualClock(T0);
    const strict = apiKeys({ validate: origin.validate, ttl: 1_000 }, clock);
    const lenient = apiKeys({ validate: origin.validate, ttl: 1_000, staleIfError: 30_000 }, clock);
    await strict.authenticate(req(GOOD));
    await lenient.authenticate(req(GOOD));
    origin.failing = true;
    clock.advance(5_000);
    await expect(strict.authenticate(req(GOOD))).rejects.toMatchObject({ code: 'EAUTHUNAVAILABLE', status: 503 });
    await expect(lenient.authenticate(req(GOOD))).resolves.toMatchObject({ subject: 'acme' });
    clock.advance(26_000);
    await expect(lenient.authenticate(req(GOOD))).rejects.toMatchObject({ code: 'EAUTHUNAVAILABLE' });
    await expect(strict.authenticate(req(OTHER))).rejects.toMatchObject({ code: 'EAUTHUNAVAILABLE' });
    origin.failing = false;
    await expect(strict.authenticate(req(OTHER))).resolves.toMatchObject({ subject: 'globex' });
  });

  it('times out a stalled origin call after validateTimeout on the injected clock', async () => {
    const origin = identityService();
    origin.stall = true;
    const clock = createManualClock(T0);
    const auth = apiKeys({ validate: origin.validate, validateTimeout: 2_000 }, clock);
    const errors: string[] = [];
    auth.on('originError', (e) => errors.push(e.error.message));
    const pending = auth.authenticate(req(GOOD)).catch((e: unknown) => e);
    await new Promise((resolve) => setImmediate(resolve));
    clock.advance(2_000);
    const error = await pending;
    expect(isAuthError(error) && error.code).toBe('EAUTHUNAVAILABLE');
    expect(errors).toEqual(['validate timed out after 2000 ms']);
  });

  it('treats a validate that returns something other than an object or null as an origin failure', async () => {
    const auth = apiKeys({ validate: async () => 'yes' as never });
    await expect(auth.authenticate(req(GOOD))).rejects.toMatchObject({ code: 'EAUTHUNAVAILABLE' });
  });
});

describe('API-key revocation over the bus', () => {
  it('revokes a cached key on every node at once, and keeps it refused for revokedTtl', async () => {
    const origin = identityService();
    const clock = createManualClock(T0);
    const hub = createMemoryBusHub();
    const nodes = ['a', 'b', 'c'].map((id) => apiKeys({ validate: origin.validate, bus: memoryBus(hub, id), ttl: 60_000, revokedTtl: 120_000 }, clock));
    for (const node of nodes) await node.authenticate(req(GOOD));
    expect(origin.calls).toHaveLength(3);
    const revoked: Array<{ node: number; origin: string; keyId: string }> = [];
    nodes.forEach((node, i) => node.on('revoked', (e) => revoked.push({ node: i, origin: e.origin, keyId: e.keyId })));

    await nodes[1]?.revoke(GOOD);
    expect(revoked.sort((x, y) => x.node - y.node)).toEqual([0, 1, 2].map((node) => ({ node, origin: 'b', keyId: hashApiKey(GOOD).slice(0, 12) })));
    for (const node of nodes) await expect(node.authenticate(req(GOOD))).rejects.toMatchObject({ code: 'EKEYREVOKED', status: 401 });
    // Refused locally: the origin (which may lag behind) was not asked.
    expect(origin.calls).toHaveLength(3);
    clock.advance(120_000);
    // After revokedTtl the origin decides again (here it still knows the key).
    await expect(nodes[0]?.authenticate(req(GOOD))).resolves.toBeDefined();
    expect(origin.calls).toHaveLength(4);
    // Other keys were not touched.
    await nodes[2]?.authenticate(req(OTHER));
  });

  it('refuses a key revoked while its origin call was in flight, instead of caching the stale answer', async () => {
    const origin = identityService();
    origin.stall = true;
    const hub = createMemoryBusHub();
    const a = apiKeys({ validate: origin.validate, bus: memoryBus(hub, 'a') });
    const b = apiKeys({ validate: origin.validate, bus: memoryBus(hub, 'b'), revokedTtl: 0 });
    const pending = b.authenticate(req(GOOD)).catch((e: unknown) => e);
    await new Promise((resolve) => setImmediate(resolve));
    await a.revoke(GOOD);
    for (const release of origin.stalled.splice(0)) release();
    expect(await pending).toMatchObject({ code: 'EKEYREVOKED' });
    origin.stall = false;
    // revokedTtl 0: nothing remembered but nothing cached either, so the origin is asked again.
    await b.authenticate(req(GOOD));
    expect(origin.calls).toHaveLength(2);
  });

  it('revokes by hash, invalidates one key, or everything, on every node', async () => {
    const origin = identityService();
    const clock = createManualClock(T0);
    const hub = createMemoryBusHub();
    const a = apiKeys({ validate: origin.validate, bus: memoryBus(hub, 'a') }, clock);
    const b = apiKeys({ validate: origin.validate, bus: memoryBus(hub, 'b') }, clock);
    await b.authenticate(req(GOOD));
    await b.authenticate(req(OTHER));
    expect(origin.calls).toHaveLength(2);
    origin.known.set(GOOD, { subject: 'acme', scopes: ['orders:read'] });
    await a.invalidate(GOOD);
    await expect(b.authenticate(req(GOOD))).resolves.toMatchObject({ scopes: ['orders:read'] });
    expect(origin.calls).toHaveLength(3);
    await a.invalidateAll();
    await b.authenticate(req(OTHER));
    expect(origin.calls).toHaveLength(4);
    await a.revokeHash(hashApiKey(OTHER).toUpperCase());
    await expect(b.authenticate(req(OTHER))).rejects.toMatchObject({ code: 'EKEYREVOKED' });
    await expect(a.revokeHash('not-a-hash')).rejects.toThrow(/revokeHash\(keyHash\) needs a SHA-256/);
  });

  it('never puts a raw key on the bus or in telemetry', async () => {
    const origin = identityService();
    const hub = createMemoryBusHub();
    const bus = memoryBus(hub, 'a');
    const wire: unknown[] = [];
    memoryBus(hub, 'spy').subscribe('auth:revoke', (payload) => wire.push(payload));
    const auth = apiKeys({ validate: origin.validate, bus });
    const events: unknown[] = [];
    auth.on('denied', ({ error, ...rest }: DeniedEvent) => events.push(rest, error.message, String(error.cause ?? '')));
    auth.on('revoked', (e) => events.push(e));
    await auth.authenticate(req(GOOD));
    await auth.revoke(GOOD);
    await auth.authenticate(req(GOOD)).catch(() => {});
    await auth.authenticate(req('ek_live_unknown_key_123')).catch(() => {});
    expect(wire).toEqual([{ v: 1, op: 'revoke', h: hashApiKey(GOOD) }]);
    const text = JSON.stringify([wire, events, auth.stats()]);
    expect(text).not.toContain(GOOD);
    expect(text).not.toContain('ek_live_unknown_key_123');
    expect(events.length).toBeGreaterThan(3);
  });

  it('ignores malformed bus messages', async () => {
    const origin = identityService();
    const hub = createMemoryBusHub();
    const auth = apiKeys({ validate: origin.validate, bus: memoryBus(hub, 'a') });
    await auth.authenticate(req(GOOD));
    const intruder = memoryBus(hub, 'x');
    for (const payload of [null, 'revoke', { v: 2, op: 'revoke', h: hashApiKey(GOOD) }, { v: 1, op: 'revoke', h: 'zz' }, { v: 1, op: 'drop-table' }]) {
      await intruder.publish('auth:revoke', payload);
    }
    await auth.authenticate(req(GOOD));
    expect(origin.calls).toHaveLength(1);
  });
});

describe('API-key middleware', () => {
  it('answers 401 with an ApiKey challenge and the generic body, 400 for a duplicated header, 200 with req.auth', async () => {
    const origin = identityService();
    const auth = apiKeys({ validate: origin.validate });
    const s = await serve(auth.middleware(), auth.requireScopes(['orders:write']));
    cleanups.push(() => s.close());
    const missing = await call(s.url);
    expect(missing.status).toBe(401);
    expect(missing.challenge).toBe('ApiKey realm="api"');
    const unknown = await call(s.url, { 'x-api-key': 'ek_live_unknown_key_123' });
    const malformed = await call(s.url, { 'x-api-key': 'bad' });
    for (const answer of [unknown, malformed]) {
      expect(answer.status).toBe(401);
      expect(answer.challenge).toBe('ApiKey realm="api", error="invalid_token", error_description="The credentials are invalid"');
    }
    expect(unknown.body).toBe(malformed.body);
    const duplicated = await rawRequest(s.url, [`X-API-Key: ${GOOD}`, `X-Api-Key: ${OTHER}`]);
    expect(duplicated.status).toBe(400);
    expect(duplicated.headers['www-authenticate']).toContain('error="invalid_request"');
    const reader = await call(s.url, { 'x-api-key': OTHER });
    expect(reader.status).toBe(403);
    expect(reader.challenge).toBe('ApiKey realm="api", error="insufficient_scope", error_description="The credentials do not grant access to this resource"');
    const ok = await call(s.url, { 'x-api-key': GOOD });
    expect(ok.status).toBe(200);
    expect(JSON.parse(ok.body)).toEqual({ scheme: 'apiKey', subject: 'acme', scopes: ['orders:read', 'orders:write'] });
    expect(origin.calls).toEqual(['ek_live_unknown_key_123', OTHER, GOOD]);
  });

  it('reads a scope string from the origin answer as space-delimited scopes', async () => {
    const origin = identityService();
    const auth = apiKeys({ validate: origin.validate });
    await expect(auth.authenticate(req(READER))).resolves.toMatchObject({ scopes: ['orders:read'] });
  });
});
