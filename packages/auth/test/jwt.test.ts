import { X509Certificate, createPrivateKey, generateKeyPairSync } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createManualClock } from '@edgekit/core/testing';
import { SignJWT, exportSPKI } from 'jose';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type AuthErrorCode, DEFAULT_ALGORITHMS, type DeniedEvent, type JwtAuthenticator, createJwtAuth, isAuthError } from '../src/index.js';
import { AUDIENCE, ISSUER, T0, type TestKey, type TestServer, b64url, call, hmacToken, makeKey, rawRequest, serve, sign } from './helpers.js';

const INVALID_TOKEN_CHALLENGE = 'Bearer realm="api", error="invalid_token", error_description="The credentials are invalid"';

let rsa: TestKey;
let ec: TestKey;
let ed: TestKey;
let evil: TestKey;
let es384: TestKey;

beforeAll(async () => {
  [rsa, ec, ed, evil, es384] = await Promise.all([makeKey('RS256', 'rsa-1'), makeKey('ES256', 'ec-1'), makeKey('EdDSA', 'ed-1'), makeKey('RS256', 'evil'), makeKey('ES384', 'ec384')]);
});

const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function verifier(extra: Partial<Parameters<typeof createJwtAuth>[0]> = {}, clock = createManualClock(T0)): JwtAuthenticator {
  const jwt = createJwtAuth({
    algorithms: DEFAULT_ALGORITHMS,
    issuer: ISSUER,
    audience: AUDIENCE,
    // Three ways to give a public key: a JWK, a WebCrypto CryptoKey and PEM text.
    keys: [rsa.jwk, { key: ec.publicKey, kid: 'ec-1' }, ed.jwk],
    clock,
    ...extra,
  });
  cleanups.push(() => jwt.close());
  return jwt;
}

async function server(jwt: JwtAuthenticator, ...after: Parameters<typeof serve>): Promise<TestServer> {
  const s = await serve(jwt.middleware(), ...after);
  cleanups.push(() => s.close());
  return s;
}

describe('JWT verification with static public keys', () => {
  it('accepts RS256, ES256 and EdDSA tokens and hands the verified claims to the request', async () => {
    const jwt = verifier();
    const s = await server(jwt);
    for (const key of [rsa, ec, ed]) {
      const answer = await call(s.url, { authorization: `Bearer ${await sign(key, T0)}` });
      expect(answer.status, key.alg).toBe(200);
      expect(JSON.parse(answer.body)).toEqual({ scheme: 'jwt', subject: 'user-1', scopes: ['orders:read'] });
    }
  });

  it('returns claims, header and token from verify()', async () => {
    const jwt = verifier();
    const token = await sign(rsa, T0, { scp: ['a', 'b'], scope: undefined });
    const info = await jwt.verify(token);
    expect(info).toMatchObject({ scheme: 'jwt', subject: 'user-1', scopes: ['a', 'b'], token, expiresAt: (Math.floor(T0 / 1000) + 300) * 1000 });
    expect(info.claims.iss).toBe(ISSUER);
    expect(info.header).toMatchObject({ alg: 'RS256', kid: 'rsa-1' });
    expect(Object.isFrozen(info.claims)).toBe(true);
  });

  it('refuses forged, expired, misdirected, confused and malformed tokens with one generic 401', async () => {
    const clock = createManualClock(T0);
    const jwt = verifier({}, clock);
    const denied: DeniedEvent[] = [];
    jwt.on('denied', (event) => denied.push(event));
    const s = await server(jwt);
    const now = Math.floor(T0 / 1000);
    const valid = await sign(rsa, T0);
    const [h, p, sig] = valid.split('.') as [string, string, string];
    const flipped = `${sig.slice(0, 10)}${sig[10] === 'A' ? 'B' : 'A'}${sig.slice(11)}`;
    const adminPayload = b64url(JSON.stringify({ ...JSON.parse(Buffer.from(p, 'base64url').toString()), sub: 'admin', scope: 'orders:write' }));
    const rsaPem = await exportSPKI(rsa.publicKey);
    const claims = { iss: ISSUER, aud: AUDIENCE, sub: 'admin', iat: now, exp: now + 300 };

    const cases: Array<[string, string, AuthErrorCode]> = [
      ['signature altered', `${h}.${p}.${flipped}`, 'EBADSIGNATURE'],
      ['payload altered', `${h}.${adminPayload}.${sig}`, 'EBADSIGNATURE'],
      ['signed by an untrusted key under a trusted kid', await sign(evil, T0, {}, { kid: 'rsa-1' }), 'EBADSIGNATURE'],
      ['expired', await sign(rsa, T0, { iat: now - 600, exp: now - 60 }), 'ETOKENEXPIRED'],
      ['not yet valid', await sign(rsa, T0, { nbf: now + 60 }), 'ETOKENNOTYETVALID'],
      ['issued in the future', await sign(rsa, T0, { iat: now + 3600, exp: now + 7200 }), 'EBADIAT'],
      ['wrong audience', await sign(rsa, T0, { aud: 'billing-api' }), 'EBADCLAIM'],
      ['wrong issuer', await sign(rsa, T0, { iss: 'https://evil.test' }), 'EBADCLAIM'],
      ['no expiry', await sign(rsa, T0, { exp: undefined }), 'EBADCLAIM'],
      ['expiry of the wrong type', await sign(rsa, T0, { exp: 'tomorrow' as unknown as number }), 'EBADCLAIM'],
      ['alg none without signature', `${b64url(JSON.stringify({ alg: 'none' }))}.${b64url(JSON.stringify(claims))}.`, 'ETOKENMALFORMED'],
      ['alg none with a signature', `${b64url(JSON.stringify({ alg: 'none' }))}.${b64url(JSON.stringify(claims))}.${b64url('x')}`, 'EALGNOTALLOWED'],
      ['HS256 keyed with the RSA public key (PEM)', hmacToken({ alg: 'HS256', kid: 'rsa-1' }, claims, rsaPem), 'EALGNOTALLOWED'],
      ['HS256 keyed with the RSA public key (JWK n)', hmacToken({ alg: 'HS256' }, claims, String(rsa.jwk.n)), 'EALGNOTALLOWED'],
      ['alg outside the allow-list (ES384)', await sign(es384, T0), 'EALGNOTALLOWED'],
      ['header alg that does not match the key type', await sign(ec, T0, {}, { kid: 'rsa-1' }), 'EUNKNOWNKEY'],
      ['unknown kid', await sign(evil, T0), 'EUNKNOWNKEY'],
      ['oversized', await sign(rsa, T0, { pad: 'x'.repeat(9000) }), 'ETOKENTOOLARGE'],
      ['garbage', 'hello-world', 'ETOKENMALFORMED'],
      ['two segments', `${h}.${p}`, 'ETOKENMALFORMED'],
      ['four segments', `${valid}.${sig}`, 'ETOKENMALFORMED'],
      ['empty segment', `${h}..${sig}`, 'ETOKENMALFORMED'],
      ['non-base64url characters', `${h}.${p}.${sig.slice(0, -2)}+/`, 'ETOKENMALFORMED'],
      ['header that is not JSON', `${b64url('{"alg":')}.${p}.${sig}`, 'ETOKENMALFORMED'],
      ['payload that is not an object', `${h}.${b64url('[1,2]')}.${sig}`, 'EBADSIGNATURE'],
    ];

    const answers = [];
    for (const [name, token, code] of cases) {
      denied.length = 0;
      const answer = await call(s.url, { authorization: `Bearer ${token}` });
      expect(answer.status, name).toBe(401);
      expect(answer.challenge, name).toBe(INVALID_TOKEN_CHALLENGE);
      expect(answer.contentType, name).toBe('application/problem+json');
      expect(denied.map((d) => d.code), name).toEqual([code]);
      answers.push(answer.body);
    }
    // The client cannot tell an expired token from a forged one.
    expect(new Set(answers).size).toBe(1);
    expect(JSON.parse(answers[0] as string)).toEqual({ type: 'about:blank', title: 'Unauthorized', status: 401, detail: 'The credentials are invalid.' });
    // The denied event carries no token.
    expect(JSON.stringify(denied.map(({ error, ...rest }) => rest))).not.toContain(valid.slice(0, 20));
  });

  it('accepts clock skew up to clockTolerance and no more', async () => {
    const clock = createManualClock(T0);
    const jwt = verifier({ clockTolerance: 5_000 }, clock);
    const now = Math.floor(T0 / 1000);
    await expect(jwt.verify(await sign(rsa, T0, { iat: now - 600, exp: now - 4 }))).resolves.toMatchObject({ subject: 'user-1' });
    await expect(jwt.verify(await sign(rsa, T0, { nbf: now + 4 }))).resolves.toMatchObject({ subject: 'user-1' });
    await expect(jwt.verify(await sign(rsa, T0, { iat: now + 4 }))).resolves.toMatchObject({ subject: 'user-1' });
    await expect(jwt.verify(await sign(rsa, T0, { iat: now - 600, exp: now - 6 }))).rejects.toMatchObject({ code: 'ETOKENEXPIRED' });
    await expect(jwt.verify(await sign(rsa, T0, { nbf: now + 6 }))).rejects.toMatchObject({ code: 'ETOKENNOTYETVALID' });
    await expect(jwt.verify(await sign(rsa, T0, { iat: now + 6 }))).rejects.toMatchObject({ code: 'EBADIAT' });
  });

  it('turns a valid token into 401 once the injected clock passes its expiry', async () => {
    const clock = createManualClock(T0);
    const jwt = verifier({ clockTolerance: 0 }, clock);
    const s = await server(jwt);
    const token = await sign(rsa, T0, { exp: Math.floor(T0 / 1000) + 60 });
    expect((await call(s.url, { authorization: `Bearer ${token}` })).status).toBe(200);
    clock.advance(59_000);
    expect((await call(s.url, { authorization: `Bearer ${token}` })).status).toBe(200);
    clock.advance(1_000);
    expect((await call(s.url, { authorization: `Bearer ${token}` })).status).toBe(401);
  });

  it('refuses tokens older than maxTokenAge', async () => {
    const clock = createManualClock(T0);
    const jwt = verifier({ maxTokenAge: 60_000, clockTolerance: 0 }, clock);
    const token = await sign(rsa, T0, { exp: Math.floor(T0 / 1000) + 3600 });
    await expect(jwt.verify(token)).resolves.toBeDefined();
    clock.advance(61_000);
    await expect(jwt.verify(token)).rejects.toMatchObject({ code: 'ETOKENEXPIRED', claim: 'iat' });
  });

  it('checks the typ header when asked (RFC 9068 at+jwt)', async () => {
    const jwt = verifier({ typ: 'at+jwt' });
    await expect(jwt.verify(await sign(rsa, T0, {}, { typ: 'at+jwt' }))).resolves.toBeDefined();
    await expect(jwt.verify(await sign(rsa, T0))).rejects.toMatchObject({ code: 'EBADCLAIM', claim: 'typ' });
  });

  it('answers 401 without an error code when no bearer token is sent', async () => {
    const jwt = verifier();
    const s = await server(jwt);
    for (const headers of [{}, { authorization: 'Basic dXNlcjpwYXNz' }] as Array<Record<string, string>>) {
      const answer = await call(s.url, headers);
      expect(answer.status).toBe(401);
      expect(answer.challenge).toBe('Bearer realm="api"');
      expect(JSON.parse(answer.body)).toMatchObject({ status: 401, detail: 'Authentication is required.' });
    }
  });

  it('answers 400 invalid_request for a duplicated Authorization header or an empty bearer token', async () => {
    const jwt = verifier();
    const s = await server(jwt);
    const token = await sign(rsa, T0);
    const duplicated = await rawRequest(s.url, [`Authorization: Bearer ${token}`, `Authorization: Bearer ${token}`]);
    expect(duplicated.status).toBe(400);
    expect(duplicated.headers['www-authenticate']).toBe('Bearer realm="api", error="invalid_request", error_description="The request is malformed"');
    const empty = await rawRequest(s.url, ['Authorization: Bearer    ']);
    expect(empty.status).toBe(400);
  });

  it('refuses binary bytes, CRLF and other hostile token content with the generic 401', async () => {
    const jwt = verifier();
    const s = await server(jwt);
    const valid = await sign(rsa, T0);
    const binary = await rawRequest(s.url, [Buffer.concat([Buffer.from('Authorization: Bearer '), Buffer.from(valid.slice(0, 40)), Buffer.from([0xff, 0xfe, 0x80]), Buffer.from(valid.slice(43))])]);
    expect(binary.status).toBe(401);
    expect(binary.headers['www-authenticate']).toBe(INVALID_TOKEN_CHALLENGE);
    // CRLF cannot cross an HTTP parser, but authenticate() may be handed any object.
    for (const token of [`${valid}\r\nX-Admin: 1`, `${valid.slice(0, 30)}\r\n${valid.slice(30)}`, `${valid}\u0000`, `\u202e${valid}`]) {
      const error = await jwt.authenticate({ headers: { authorization: `Bearer ${token}` } }).catch((e: unknown) => e);
      expect(isAuthError(error) && error.status).toBe(401);
      expect(isAuthError(error) && error.code).toBe('ETOKENMALFORMED');
    }
  });

  it('answers 403 insufficient_scope when the token lacks a required scope', async () => {
    const jwt = verifier();
    const denied: DeniedEvent[] = [];
    jwt.on('denied', (event) => denied.push(event));
    const s = await server(jwt, jwt.requireScopes(['orders:write']));
    const reader = await call(s.url, { authorization: `Bearer ${await sign(rsa, T0)}` });
    expect(reader.status).toBe(403);
    expect(reader.challenge).toBe('Bearer realm="api", error="insufficient_scope", error_description="The credentials do not grant access to this resource"');
    expect(JSON.parse(reader.body)).toMatchObject({ status: 403, title: 'Forbidden' });
    expect(denied.map((d) => d.code)).toEqual(['EINSUFFICIENTSCOPE']);
    const writer = await call(s.url, { authorization: `Bearer ${await sign(rsa, T0, { scope: 'orders:read orders:write' })}` });
    expect(writer.status).toBe(200);
  });

  it('accepts any one of the listed scopes in "any" mode', async () => {
    const jwt = verifier();
    const s = await server(jwt, jwt.requireScopes(['orders:write', 'orders:admin'], { mode: 'any' }));
    expect((await call(s.url, { authorization: `Bearer ${await sign(rsa, T0, { scope: 'orders:admin' })}` })).status).toBe(200);
    expect((await call(s.url, { authorization: `Bearer ${await sign(rsa, T0, { scope: 'orders:read' })}` })).status).toBe(403);
  });

  it('lets requests without credentials through in optional mode, but still refuses bad ones', async () => {
    const jwt = verifier();
    const s = await serve(jwt.middleware({ optional: true }));
    cleanups.push(() => s.close());
    const anonymous = await call(s.url);
    expect(anonymous.status).toBe(200);
    expect(anonymous.body).toBe('null');
    expect((await call(s.url, { authorization: 'Bearer nope' })).status).toBe(401);
  });
});

describe('key inputs and the algorithm policy', () => {
  const certPem = readFileSync(new URL('./fixtures/x509-test-cert.pem', import.meta.url), 'utf8');
  const certKey = createPrivateKey(readFileSync(new URL('./fixtures/x509-test-key.pem', import.meta.url), 'utf8'));

  it('verifies with a PEM SPKI public key and with an X.509 certificate', async () => {
    const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const spki = publicKey.export({ type: 'spki', format: 'pem' }).toString();
    const jwt = createJwtAuth({ algorithms: ['RS256', 'ES256'], issuer: ISSUER, audience: AUDIENCE, keys: [spki, { key: certPem, kid: 'cert' }], clock: createManualClock(T0) });
    cleanups.push(() => jwt.close());
    const now = Math.floor(T0 / 1000);
    const claims = { iss: ISSUER, aud: AUDIENCE, sub: 'pem', exp: now + 60 };
    const viaSpki = await new SignJWT(claims).setProtectedHeader({ alg: 'RS256' }).sign(privateKey);
    const viaCert = await new SignJWT(claims).setProtectedHeader({ alg: 'ES256', kid: 'cert' }).sign(certKey);
    await expect(jwt.verify(viaSpki)).resolves.toMatchObject({ subject: 'pem' });
    await expect(jwt.verify(viaCert)).resolves.toMatchObject({ subject: 'pem' });
    expect(new X509Certificate(certPem).publicKey.asymmetricKeyType).toBe('ec');
  });

  it('refuses a token whose alg differs from the alg pinned on the key', async () => {
    const jwt = createJwtAuth({ algorithms: ['RS256', 'PS256'], issuer: ISSUER, audience: AUDIENCE, keys: [{ key: rsa.publicKey, kid: 'pinned', alg: 'PS256' }], clock: createManualClock(T0) });
    cleanups.push(() => jwt.close());
    await expect(jwt.verify(await sign(rsa, T0, {}, { kid: 'pinned', alg: 'RS256' }))).rejects.toMatchObject({ code: 'EUNKNOWNKEY' });
  });

  it('tries each fitting key for a token without kid', async () => {
    const other = await makeKey('RS256', 'rsa-2');
    const jwt = createJwtAuth({ algorithms: ['RS256'], issuer: ISSUER, audience: AUDIENCE, keys: [other.publicKey, rsa.publicKey], clock: createManualClock(T0) });
    cleanups.push(() => jwt.close());
    await expect(jwt.verify(await sign(rsa, T0, {}, { kid: null }))).resolves.toMatchObject({ subject: 'user-1' });
    await expect(jwt.verify(await sign(evil, T0, {}, { kid: null }))).rejects.toMatchObject({ code: 'EBADSIGNATURE' });
  });

  it('refuses private keys, secrets, weak RSA keys and keys no allowed algorithm can use, naming the key', () => {
    const base = { algorithms: ['RS256'] as const, issuer: ISSUER, audience: AUDIENCE };
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const weak = generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey;
    expect(() => createJwtAuth({ ...base, algorithms: ['RS256'], keys: [privateKey] })).toThrow(/keys\[0\].*private/);
    expect(() => createJwtAuth({ ...base, algorithms: ['RS256'], keys: [rsa.jwk, { kty: 'oct', k: 'c2VjcmV0' }] })).toThrow(/keys\[1\].*symmetric/);
    expect(() => createJwtAuth({ ...base, algorithms: ['RS256'], keys: [privateKey.export({ type: 'pkcs8', format: 'pem' }).toString()] })).toThrow(/keys\[0\].*private/);
    expect(() => createJwtAuth({ ...base, algorithms: ['RS256'], keys: [weak] })).toThrow(/keys\[0\].*2048/);
    expect(() => createJwtAuth({ ...base, algorithms: ['RS256'], keys: [ec.jwk] })).toThrow(/keys\[0\].*EC P-256.*RS256/);
    expect(() => createJwtAuth({ ...base, algorithms: ['RS256'], keys: ['not a pem'] })).toThrow(/keys\[0\]/);
  });

  it('requires an allow-list and refuses none and HMAC algorithms in it', () => {
    const base = { issuer: ISSUER, audience: AUDIENCE, keys: [rsa.jwk] };
    expect(() => createJwtAuth({ ...base } as never)).toThrow(/option "algorithms" is required/);
    expect(() => createJwtAuth({ ...base, algorithms: [] })).toThrow(/option "algorithms" is required/);
    expect(() => createJwtAuth({ ...base, algorithms: ['none'] as never })).toThrow(/"algorithms" must not contain "none"/);
    expect(() => createJwtAuth({ ...base, algorithms: ['RS256', 'HS256'] as never })).toThrow(/"algorithms" must not contain the symmetric algorithm "HS256"/);
    expect(() => createJwtAuth({ ...base, algorithms: ['RS1'] as never })).toThrow(/"algorithms" contains an unsupported algorithm "RS1"/);
  });
});

