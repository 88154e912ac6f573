import { createMemoryBus } from '@edgekit/bus';
import { beforeAll, describe, expect, it } from 'vitest';
import { API_KEY_DEFAULTS, JWKS_DEFAULTS, JWT_DEFAULTS, combineAuth, createApiKeyAuth, createJwtAuth, requireScopes } from '../src/index.js';
import { AUDIENCE, ISSUER, type TestKey, makeKey } from './helpers.js';

let rsa: TestKey;
beforeAll(async () => {
  rsa = await makeKey('RS256', 'rsa-1');
});

describe('options are checked at construction, naming the option at fault', () => {
  it('JWT options', () => {
    const base = () => ({ algorithms: ['RS256'] as const, issuer: ISSUER, audience: AUDIENCE, keys: [rsa.jwk] });
    const cases: Array<[Record<string, unknown>, RegExp]> = [
      [{ issuer: undefined }, /option "issuer" is required/],
      [{ issuer: [] }, /option "issuer"/],
      [{ audience: '' }, /option "audience" is required/],
      [{ audience: [42] }, /option "audience"/],
      [{ keys: undefined }, /one of the options "keys" or "jwks" is required/],
      [{ keys: [] }, /option "keys" must be a non-empty array/],
      [{ keys: [{ kty: 'EC', crv: 'P-256', x: 'bad', y: 'bad' }] }, /option "keys\[0\]" is not a valid public JWK/],
      [{ keys: [{ kty: 'RSA', n: 'x', e: 'AQAB' }] }, /option "keys\[0\]" is an RSA key shorter than 2048 bits/],
      [{ keys: [{ key: rsa.jwk, alg: 'ES256' }] }, /option "keys\[0\]\.alg" "ES256" is not in option "algorithms"/],
      [{ keys: [{ key: rsa.jwk, kid: '' }] }, /option "keys\[0\]\.kid" must be a non-empty string/],
      [{ clockTolerance: -1 }, /option "clockTolerance"/],
      [{ clockTolerance: '5s' }, /option "clockTolerance"/],
      [{ maxTokenAge: 10 }, /option "maxTokenAge"/],
      [{ maxTokenLength: 10 }, /option "maxTokenLength"/],
      [{ maxTokenLength: 1.5e6 }, /option "maxTokenLength"/],
      [{ requiredClaims: 'exp' }, /option "requiredClaims"/],
      [{ typ: '' }, /option "typ"/],
      [{ scopes: 'scope' }, /option "scopes" must be a function/],
      [{ realm: 'a"b' }, /option "realm"/],
      [{ jwks: 42 }, /option "jwks"/],
      [{ jwks: 'ftp://id.test/jwks' }, /option "jwks.url" must use https:/],
      [{ jwks: { url: 'https://id.test/jwks', timeout: 0, prefetch: false } }, /option "jwks.timeout"/],
      [{ jwks: { url: 'https://id.test/jwks', cacheMaxAge: 10, prefetch: false } }, /option "jwks.cacheMaxAge"/],
      [{ jwks: { url: 'https://id.test/jwks', maxBytes: 1, prefetch: false } }, /option "jwks.maxBytes"/],
      [{ jwks: { url: 'https://id.test/jwks', fetch: 'curl', prefetch: false } }, /option "jwks.fetch" must be a function/],
      [{ jwks: { url: 'https://id.test/jwks', headers: 'x', prefetch: false } }, /option "jwks.headers"/],
      [{ jwks: { prefetch: false } }, /option "jwks.url" is required/],
    ];
    for (const [patch, message] of cases) {
      expect(() => createJwtAuth({ ...base(), ...patch } as never), JSON.stringify(patch)).toThrow(message);
    }
    expect(() => createJwtAuth(null as never)).toThrow(/options must be an object/);
  });

  it('API-key options', () => {
    const validate = async () => null;
    const cases: Array<[Record<string, unknown>, RegExp]> = [
      [{ validate: undefined }, /option "validate" is required/],
      [{ bus: {} }, /option "bus" must be an @edgekit\/bus Bus/],
      [{ ttl: -1 }, /option "ttl"/],
      [{ ttl: 400_000 }, /option "ttl" must be a number >= 0 <= 300000/],
      [{ maxTtl: Number.NaN }, /option "maxTtl"/],
      [{ negativeTtl: -5 }, /option "negativeTtl"/],
      [{ revokedTtl: '1h' }, /option "revokedTtl"/],
      [{ staleIfError: -1 }, /option "staleIfError"/],
      [{ validateTimeout: 0 }, /option "validateTimeout"/],
      [{ max: 0 }, /option "max"/],
      [{ negativeMax: 1.5 }, /option "negativeMax"/],
      [{ minKeyLength: 0 }, /option "minKeyLength"/],
      [{ minKeyLength: 20, maxKeyLength: 10 }, /option "maxKeyLength"/],
      [{ ttlFor: 60_000 }, /option "ttlFor" must be a function/],
      [{ header: 'X-API-Key' }, /option "header" must be a lower-case header name/],
      [{ header: 'authorization' }, /option "header" must not be "authorization"/],
      [{ channel: '' }, /option "channel"/],
      [{ realm: '\u0000' }, /option "realm"/],
    ];
    for (const [patch, message] of cases) {
      expect(() => createApiKeyAuth({ validate, ...patch } as never), JSON.stringify(patch)).toThrow(message);
    }
  });

  it('combinator and scope options', () => {
    const apiKeys = createApiKeyAuth({ validate: async () => null, bus: createMemoryBus() });
    expect(() => combineAuth([])).toThrow(/needs a non-empty array of authenticators/);
    expect(() => combineAuth([{} as never])).toThrow(/needs a non-empty array of authenticators/);
    expect(() => combineAuth([apiKeys], { onMultiple: 'both' as never })).toThrow(/option "onMultiple"/);
    expect(() => requireScopes('orders:write' as never)).toThrow(/requireScopes\(scopes\)/);
    expect(() => requireScopes(['a'], { mode: 'some' as never })).toThrow(/option "mode"/);
    void apiKeys.close();
  });

  it('exports its defaults', () => {
    expect(JWT_DEFAULTS).toMatchObject({ clockTolerance: 5_000, maxTokenLength: 8_192, requiredClaims: ['exp'] });
    expect(JWKS_DEFAULTS).toMatchObject({ cacheMaxAge: 600_000, cooldown: 30_000, timeout: 5_000 });
    expect(API_KEY_DEFAULTS).toMatchObject({ ttl: 60_000, negativeTtl: 5_000, channel: 'auth:revoke', header: 'x-api-key' });
  });
});
