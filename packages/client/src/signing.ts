import { type EdgeMap, badMap, checkEdgeMap } from './edge-map.js';
import { EdgeClientError } from './errors.js';

/** A WebCrypto `CryptoKey`, as far as the client looks at it. */
export interface CryptoKeyLike {
  readonly algorithm: { name: string; namedCurve?: string };
  readonly type: string;
}

/** A JSON Web Key (RFC 7517) of an Ed25519 (`OKP`) or P-256 (`EC`) key. */
export interface JsonWebKeyLike {
  kty?: string;
  crv?: string;
  x?: string;
  y?: string;
  d?: string;
  [field: string]: unknown;
}

/** A WebCrypto key or a JWK: Ed25519 (`OKP`, JWS `EdDSA`) or ECDSA P-256 (`EC`, JWS `ES256`). */
export type EdgeMapKey = CryptoKeyLike | JsonWebKeyLike;

// WebCrypto through a narrow local type, so the published declarations need neither DOM nor Node types.
type Subtle = {
  importKey(format: 'jwk', key: unknown, algorithm: unknown, extractable: boolean, usages: string[]): Promise<unknown>;
  sign(algorithm: unknown, key: unknown, data: Uint8Array): Promise<ArrayBuffer>;
  verify(algorithm: unknown, key: unknown, signature: Uint8Array, data: Uint8Array): Promise<boolean>;
};
export const subtle = (): Subtle => (globalThis as unknown as { crypto: { subtle: Subtle } }).crypto.subtle;

/** The JWS `typ` of a signed edge map. */
export const EDGE_MAP_TYPE = 'edgekit-edge-map+jws';

export const encoder = new TextEncoder();

export function toBase64url(bytes: Uint8Array): string {
  let binary = '';
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

function fromBase64url(text: string): Uint8Array {
  const binary = atob(text.replace(/-/g, '+').replace(/_/g, '/'));
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

export type Algorithm = { jws: 'EdDSA' | 'ES256'; params: { name: string; namedCurve?: string; hash?: string } };

export function algorithmOf(key: EdgeMapKey): Algorithm {
  const alg = 'algorithm' in key ? (key as CryptoKeyLike).algorithm : undefined;
  const jwk = alg === undefined ? (key as JsonWebKeyLike) : undefined;
  if (alg?.name === 'Ed25519' || (jwk?.kty === 'OKP' && jwk.crv === 'Ed25519')) return { jws: 'EdDSA', params: { name: 'Ed25519' } };
  if ((alg?.name === 'ECDSA' && alg.namedCurve === 'P-256') || (jwk?.kty === 'EC' && jwk.crv === 'P-256')) {
    return { jws: 'ES256', params: { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } };
  }
  throw new TypeError('@edgekit/client: edge map keys are Ed25519 or P-256');
}

export async function toCryptoKey(key: EdgeMapKey, algorithm: Algorithm, use: 'sign' | 'verify'): Promise<unknown> {
  if ('algorithm' in key) return key;
  return subtle().importKey('jwk', key, algorithm.params, false, [use]);
}

/**
 * Verifies a signed edge map and returns it: `EBADSIGNATURE` when the signature or algorithm does
 * not match the key, `ESTALEMAP` once `expiresAt` has passed, `EBADMAP` for anything malformed.
 */
export async function verifyEdgeMap(token: string, publicKey: EdgeMapKey, now: number): Promise<EdgeMap> {
  const parts = typeof token === 'string' ? token.trim().split('.') : [];
  if (parts.length !== 3) throw badMap('not a JWS compact serialization');
  const algorithm = algorithmOf(publicKey);
  let header: { alg?: unknown };
  let payload: unknown;
  let signature: Uint8Array;
  try {
    const decode = (part: string): any => JSON.parse(new TextDecoder().decode(fromBase64url(part)));
    header = decode(parts[0]!);
    payload = decode(parts[1]!);
    signature = fromBase64url(parts[2]!);
  } catch (cause) {
    throw badMap('undecodable JWS', cause);
  }
  // The key decides the algorithm; a header naming another one is refused (no algorithm confusion).
  if (header.alg !== algorithm.jws) throw new EdgeClientError('EBADSIGNATURE', `edge map: algorithm "${String(header.alg)}" does not match the key (${algorithm.jws})`);
  const key = await toCryptoKey(publicKey, algorithm, 'verify');
  const valid = await subtle().verify(algorithm.params, key, signature, encoder.encode(`${parts[0]}.${parts[1]}`));
  if (!valid) throw new EdgeClientError('EBADSIGNATURE', 'edge map: signature does not verify');
  const map = checkEdgeMap(payload);
  if (now >= map.expiresAt) throw new EdgeClientError('ESTALEMAP', `edge map: version ${map.version} expired at ${new Date(map.expiresAt).toISOString()}`);
  return map;
}
