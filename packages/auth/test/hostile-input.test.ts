import { createManualClock } from '@edgekit/core/testing';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ApiKeyAuthenticator, type JwtAuthenticator, createApiKeyAuth, createJwtAuth, isAuthError } from '../src/index.js';
import { AUDIENCE, ISSUER, T0, type TestKey, b64url, makeKey, sign } from './helpers.js';

let rsa: TestKey;
let jwt: JwtAuthenticator;
let apiKeys: ApiKeyAuthenticator;
let originCalls = 0;

beforeAll(async () => {
  rsa = await makeKey('RS256', 'rsa-1');
  jwt = createJwtAuth({ algorithms: ['RS256'], issuer: ISSUER, audience: AUDIENCE, keys: [rsa.jwk], clock: createManualClock(T0) });
  apiKeys = createApiKeyAuth({
    validate: async () => {
      originCalls++;
      return null;
    },
  });
});
afterAll(async () => {
  await jwt.close();
  await apiKeys.close();
});

/** Any header value a hostile client or a confused proxy could produce, including arrays (duplicates). */
const headerValue = fc.oneof(
  fc.string({ maxLength: 300 }),
  fc.string({ unit: 'binary', maxLength: 300 }),
  fc.constantFrom('Bearer', 'Bearer ', 'bearer\t', 'BEARER  a.b.c', 'Bearer a.b.c\r\nX: y', 'Bearer \u0000', 'Bearer ...', 'Bearer a..b'),
  fc.array(fc.string({ maxLength: 40 }), { minLength: 2, maxLength: 3 }),
  fc.string({ maxLength: 40 }).map((s) => `Bearer ${s}`),
  fc.tuple(fc.json(), fc.json(), fc.string({ maxLength: 40 })).map(([h, p, s]) => `Bearer ${b64url(h)}.${b64url(p)}.${b64url(s)}`),
);

describe('hostile credentials never crash, hang or get through', () => {
  it('answers any Authorization header with 400 or 401 and a typed AuthError', async () => {
    await fc.assert(
      fc.asyncProperty(headerValue, async (authorization) => {
        const outcome = await jwt.authenticate({ headers: { authorization } as never }).then(
          () => 'accepted',
          (error: unknown) => error,
        );
        expect(isAuthError(outcome)).toBe(true);
        if (isAuthError(outcome)) expect([400, 401]).toContain(outcome.status);
      }),
      { numRuns: 400 },
    );
  });

  it('answers any token string passed to verify() with a typed 401', async () => {
    const valid = await sign(rsa, T0);
    const mutated = fc.tuple(fc.nat(valid.length - 1), fc.string({ minLength: 1, maxLength: 3, unit: 'grapheme-ascii' })).map(([at, s]) => valid.slice(0, at) + s + valid.slice(at + s.length));
    await fc.assert(
      fc.asyncProperty(fc.oneof(fc.string({ maxLength: 500 }), mutated), async (token) => {
        fc.pre(token !== valid);
        const outcome = await jwt.verify(token).then(
          (info) => info,
          (error: unknown) => error,
        );
        // A mutation that keeps the token valid can only be one the signature covers identically.
        if (!isAuthError(outcome)) {
          expect((outcome as { claims: unknown }).claims).toEqual((await jwt.verify(valid)).claims);
          return;
        }
        expect(outcome.status).toBe(401);
        expect(outcome.message).not.toContain(token.length > 20 ? token : '\u0000never');
      }),
      { numRuns: 400 },
    );
  });

  it('answers any X-API-Key header with 400 or 401, and asks the origin only for well-formed keys', async () => {
    originCalls = 0;
    let wellFormed = 0;
    await fc.assert(
      fc.asyncProperty(headerValue, async (key) => {
        const outcome = await apiKeys.authenticate({ headers: { 'x-api-key': key } as never }).then(
          () => 'accepted',
          (error: unknown) => error,
        );
        expect(isAuthError(outcome)).toBe(true);
        if (isAuthError(outcome)) expect([400, 401]).toContain(outcome.status);
        if (typeof key === 'string' && /^[\t ]*[\x21-\x7e]{8,256}[\t ]*$/.test(key)) wellFormed++;
      }),
      { numRuns: 400 },
    );
    expect(originCalls).toBeLessThanOrEqual(wellFormed);
  });
});
