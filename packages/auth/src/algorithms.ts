import { describeValue } from '@edgekit/core';

/** Every JWS algorithm this package can verify: public-key signatures only. */
export const PUBLIC_KEY_ALGORITHMS = Object.freeze([
  'RS256',
  'RS384',
  'RS512',
  'PS256',
  'PS384',
  'PS512',
  'ES256',
  'ES384',
  'ES512',
  'EdDSA',
  'Ed25519',
] as const);

/** A JWS algorithm name accepted in the `algorithms` allow-list. */
export type JwtAlgorithm = (typeof PUBLIC_KEY_ALGORITHMS)[number];

/** A sensible allow-list to start from: RSA, P-256 ECDSA and Ed25519 (both of its JOSE names). */
export const DEFAULT_ALGORITHMS: readonly JwtAlgorithm[] = Object.freeze(['RS256', 'ES256', 'EdDSA', 'Ed25519']);

const SUPPORTED = new Set<string>(PUBLIC_KEY_ALGORITHMS);
const SYMMETRIC = /^HS\d+$/i;

/**
 * Checks the `algorithms` allow-list. It is required: a verifier that accepts "whatever the token
 * says" is how `alg: none` and HMAC-with-a-public-key forgeries get in. Symmetric algorithms are
 * refused outright, since an edge that holds only public keys never needs them.
 */
export function checkAlgorithms(scope: string, value: unknown): readonly JwtAlgorithm[] {
  if (!Array.isArray(value) || value.length === 0) {
    throw new TypeError(`${scope}: option "algorithms" is required: a non-empty array such as ${JSON.stringify(DEFAULT_ALGORITHMS)} (got ${describeValue(value)})`);
  }
  for (const alg of value) {
    if (typeof alg === 'string' && SYMMETRIC.test(alg)) {
      throw new RangeError(`${scope}: option "algorithms" must not contain the symmetric algorithm ${JSON.stringify(alg)}: edge verification uses public keys only`);
    }
    if (typeof alg === 'string' && alg.toLowerCase() === 'none') {
      throw new RangeError(`${scope}: option "algorithms" must not contain "none": unsigned tokens are never accepted`);
    }
    if (typeof alg !== 'string' || !SUPPORTED.has(alg)) {
      throw new RangeError(`${scope}: option "algorithms" contains an unsupported algorithm ${describeValue(alg)} (supported: ${PUBLIC_KEY_ALGORITHMS.join(', ')})`);
    }
  }
  return Object.freeze([...new Set(value as JwtAlgorithm[])]);
}

/** The algorithms a public JWK can verify, from its key type and curve. */
export function algorithmsForKey(jwk: { kty?: unknown; crv?: unknown }): readonly JwtAlgorithm[] {
  switch (jwk.kty) {
    case 'RSA':
      return ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512'];
    case 'EC':
      if (jwk.crv === 'P-256') return ['ES256'];
      if (jwk.crv === 'P-384') return ['ES384'];
      if (jwk.crv === 'P-521') return ['ES512'];
      return [];
    case 'OKP':
      return jwk.crv === 'Ed25519' ? ['EdDSA', 'Ed25519'] : [];
    default:
      return [];
  }
}
