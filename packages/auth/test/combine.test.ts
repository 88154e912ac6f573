import { createManualClock } from '@edgekit/core/testing';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_ALGORITHMS, type DeniedEvent, combineAuth, createApiKeyAuth, createJwtAuth, requireScopes } from '../src/index.js';
import { AUDIENCE, ISSUER, T0, type TestKey, call, makeKey, serve, sign } from './helpers.js';

const KEY = 'ek_live_combined_key_01';

let rsa: TestKey;
beforeAll(async () => {
  rsa = await makeKey('RS256', 'rsa-1');
});

const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function gateway(onMultiple?: 'reject' | 'first') {
  const clock = createManualClock(T0);
  const jwt = createJwtAuth({ algorithms: DEFAULT_ALGORITHMS, issuer: ISSUER, audience: AUDIENCE, keys: [rsa.jwk], clock });
  const apiKeys = createApiKeyAuth({ validate: async (key) => (key === KEY ? { subject: 'partner', scopes: ['orders:write'] } : null), clock });
  const auth = combineAuth([jwt, apiKeys], { onMultiple });
  cleanups.push(() => jwt.close(), () => apiKeys.close(), () => auth.close());
  return { jwt, apiKeys, auth };
}

describe('a gateway that accepts a bearer JWT or an API key', () => {
  it('authenticates with whichever credential the request carries', async () => {
    const { auth } = gateway();
    const s = await serve(auth.middleware());
    cleanups.push(() => s.close());
    const viaJwt = await call(s.url, { authorization: `Bearer ${await sign(rsa, T0)}` });
    expect(JSON.parse(viaJwt.body)).toEqual({ scheme: 'jwt', subject: 'user-1', scopes: ['orders:read'] });
    const viaKey = await call(s.url, { 'x-api-key': KEY });
    expect(JSON.parse(viaKey.body)).toEqual({ scheme: 'apiKey', subject: 'partner', scopes: ['orders:write'] });
    // The combination's result is the union of its members' results.
    const info = await auth.authenticate({ headers: { 'x-api-key': KEY } });
    expect(info.scheme === 'apiKey' ? info.keyId : info.claims.sub).toHaveLength(12);
  });

  it('answers 401 with both challenges when no credentials are sent', async () => {
    const { auth } = gateway();
    const denied: DeniedEvent[] = [];
    auth.on('denied', (event) => denied.push(event));
    const s = await serve(auth.middleware());
    cleanups.push(() => s.close());
    const answer = await call(s.url);
    expect(answer.status).toBe(401);
    expect(answer.challenge).toBe('Bearer realm="api", ApiKey realm="api"');
    expect(denied.map((d) => d.code)).toEqual(['ENOCREDENTIALS']);
  });

  it('puts the error on the challenge of the scheme that failed and reports member refusals on the combination', async () => {
    const { auth } = gateway();
    const denied: DeniedEvent[] = [];
    auth.on('denied', (event) => denied.push(event));
    const s = await serve(auth.middleware());
    cleanups.push(() => s.close());
    const badJwt = await call(s.url, { authorization: 'Bearer x.y.z' });
    expect(badJwt.challenge).toBe('Bearer realm="api", error="invalid_token", error_description="The credentials are invalid", ApiKey realm="api"');
    const badKey = await call(s.url, { 'x-api-key': 'ek_live_not_a_real_key' });
    expect(badKey.challenge).toBe('Bearer realm="api", ApiKey realm="api", error="invalid_token", error_description="The credentials are invalid"');
    expect(badJwt.body).toBe(badKey.body);
    expect(denied.map((d) => [d.scheme, d.code])).toEqual([
      ['jwt', 'ETOKENMALFORMED'],
      ['apiKey', 'EKEYINVALID'],
    ]);
  });

  it('refuses a request carrying both credentials with 400, or uses the first member when told to', async () => {
    const token = await sign(rsa, T0);
    const strict = gateway();
    const s1 = await serve(strict.auth.middleware());
    const lenient = gateway('first');
    const s2 = await serve(lenient.auth.middleware());
    cleanups.push(() => s1.close(), () => s2.close());
    const both = { authorization: `Bearer ${token}`, 'x-api-key': KEY };
    const refused = await call(s1.url, both);
    expect(refused.status).toBe(400);
    expect(refused.challenge).toContain('Bearer realm="api", error="invalid_request"');
    const accepted = await call(s2.url, both);
    expect(JSON.parse(accepted.body)).toMatchObject({ scheme: 'jwt' });
  });

  it('checks scopes the same way for both schemes', async () => {
    const { auth } = gateway();
    const s = await serve(auth.middleware(), auth.requireScopes(['orders:write']));
    cleanups.push(() => s.close());
    expect((await call(s.url, { authorization: `Bearer ${await sign(rsa, T0)}` })).status).toBe(403);
    expect((await call(s.url, { 'x-api-key': KEY })).status).toBe(200);
    expect((await call(s.url, { authorization: `Bearer ${await sign(rsa, T0, { scope: 'orders:write' })}` })).status).toBe(200);
  });

  it('answers 401 from a standalone scope check when nothing authenticated the request', async () => {
    const s = await serve(requireScopes(['orders:read'], { realm: 'orders' }));
    cleanups.push(() => s.close());
    const answer = await call(s.url);
    expect(answer.status).toBe(401);
    expect(answer.challenge).toBe('Bearer realm="orders"');
  });

  it('never lets a request through when the downstream handler throws or authentication fails unexpectedly', async () => {
    const jwt = createJwtAuth({
      algorithms: ['RS256'],
      issuer: ISSUER,
      audience: AUDIENCE,
      keys: [rsa.jwk],
      clock: createManualClock(T0),
      scopes: () => {
        throw new Error('bug in a custom scope reader');
      },
    });
    cleanups.push(() => jwt.close());
    const s = await serve(jwt.middleware());
    cleanups.push(() => s.close());
    const answer = await call(s.url, { authorization: `Bearer ${await sign(rsa, T0)}` });
    expect(answer.status).toBe(500);
    const apiKeys = createApiKeyAuth({ validate: async () => ({ subject: 'x' }), ttlFor: () => -1 });
    cleanups.push(() => apiKeys.close());
    const s2 = await serve(apiKeys.middleware());
    cleanups.push(() => s2.close());
    const broken = await call(s2.url, { 'x-api-key': KEY });
    expect(broken.status).toBe(500);
    expect(JSON.parse(broken.body)).toMatchObject({ status: 500 });
  });
});
