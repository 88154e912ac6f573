import { KeyObject, X509Certificate, createPublicKey } from 'node:crypto';
import type { CryptoKey, JSONWebKeySet, JWK } from 'jose';
import { type JwtAlgorithm, algorithmsForKey } from './algorithms.js';

/** A public key given as a JWK, a Node `KeyObject`, a WebCrypto `CryptoKey`, or PEM text (SPKI or an X.509 certificate). */
export type PublicKeyInput = JWK | KeyObject | CryptoKey | string;

/** A static verification key, optionally with the `kid` it is published under and the one `alg` it may verify. */
export type StaticKey = PublicKeyInput | { key: PublicKeyInput; kid?: string; alg?: JwtAlgorithm };

// The public members of a JWK (RFC 7517 §4, RFC 7518 §6): anything else is dropped, and `d`,
// `p`, `q`, `dp`, `dq`, `qi` (private parts) are refused before we get here.
const PUBLIC_MEMBERS = ['kty', 'crv', 'n', 'e', 'x', 'y', 'kid', 'alg', 'use', 'key_ops'] as const;
const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'k'] as const;

function isCryptoKey(value: unknown): value is CryptoKey {
  const ctor = (globalThis as { CryptoKey?: abstract new () => unknown }).CryptoKey;
  return typeof ctor === 'function' && value instanceof ctor;
}

function isWrapper(value: unknown): value is { key: PublicKeyInput; kid?: string; alg?: JwtAlgorithm } {
  return typeof value === 'object' && value !== null && 'key' in value && !('kty' in value);
}

function fromKeyObject(where: string, key: KeyObject): JWK {
  if (key.type !== 'public') {
    throw new TypeError(`${where} is a ${key.type} key: give the public key (never ship private or shared secrets to the edge)`);
  }
  return key.export({ format: 'jwk' }) as JWK;
}

function fromPem(where: string, pem: string): JWK {
  if (pem.includes('PRIVATE KEY')) throw new TypeError(`${where} is a private key: give the public key (SPKI) or a certificate`);
  try {
    if (pem.includes('-----BEGIN CERTIFICATE-----')) return fromKeyObject(where, new X509Certificate(pem).publicKey);
    if (pem.includes('-----BEGIN PUBLIC KEY-----') || pem.includes('-----BEGIN RSA PUBLIC KEY-----')) return fromKeyObject(where, createPublicKey(pem));
  } catch (cause) {
    if (cause instanceof TypeError && cause.message.startsWith(where)) throw cause;
    throw new TypeError(`${where} is not a readable PEM public key or certificate`, { cause });
  }
  throw new TypeError(`${where} must be a PEM "PUBLIC KEY" (SPKI) or "CERTIFICATE" (X.509)`);
}

function fromJwk(where: string, jwk: JWK): JWK {
  for (const member of PRIVATE_MEMBERS) {
    if (member in jwk) throw new TypeError(`${where} is a private or symmetric JWK (it has "${member}"): give the public key`);
  }
  const clean: Record<string, unknown> = {};
  for (const member of PUBLIC_MEMBERS) if (jwk[member] !== undefined) clean[member] = jwk[member];
  try {
    // Parse once now so a broken key fails at construction, not on the first request.
    createPublicKey({ key: clean as import('node:crypto').JsonWebKey, format: 'jwk' });
  } catch (cause) {
    throw new TypeError(`${where} is not a valid public JWK`, { cause });
  }
  return clean as JWK;
}

function toJwk(where: string, input: PublicKeyInput): JWK {
  if (typeof input === 'string') return fromPem(where, input);
  if (input instanceof KeyObject) return fromKeyObject(where, input);
  if (isCryptoKey(input)) return fromKeyObject(where, KeyObject.from(input));
  if (typeof input === 'object' && input !== null && typeof (input as JWK).kty === 'string') return fromJwk(where, input as JWK);
  throw new TypeError(`${where} must be a JWK, a KeyObject, a CryptoKey or a PEM string`);
}

/**
 * Turns the `keys` option into a JWK Set that jose's `createLocalJWKSet` can select from by
 * `kid`, `alg` and key type. Private keys, secrets, RSA keys under 2048 bits and keys that no allowed
 * algorithm can use are refused with an error naming the key.
 */
export function staticKeySet(scope: string, keys: unknown, algorithms: readonly JwtAlgorithm[]): JSONWebKeySet {
  if (!Array.isArray(keys) || keys.length === 0) {
    throw new TypeError(`${scope}: option "keys" must be a non-empty array of public keys`);
  }
  const out: JWK[] = [];
  keys.forEach((entry: unknown, index) => {
    const where = `${scope}: option "keys[${index}]"`;
    const member = (field: string): string => `${scope}: option "keys[${index}].${field}"`;
    const wrapper = isWrapper(entry) ? entry : undefined;
    const jwk = toJwk(where, (wrapper ? wrapper.key : entry) as PublicKeyInput);
    if (wrapper?.kid !== undefined) {
      if (typeof wrapper.kid !== 'string' || wrapper.kid.length === 0) throw new TypeError(`${member('kid')} must be a non-empty string`);
      jwk.kid = wrapper.kid;
    }
    if (wrapper?.alg !== undefined) {
      if (!algorithms.includes(wrapper.alg)) throw new RangeError(`${member('alg')} ${JSON.stringify(wrapper.alg)} is not in option "algorithms"`);
      jwk.alg = wrapper.alg;
    }
    const usable = algorithmsForKey(jwk).filter((alg) => algorithms.includes(alg) && (jwk.alg === undefined || jwk.alg === alg));
    if (usable.length === 0) {
      throw new RangeError(`${where} (${jwk.kty}${jwk.crv ? ` ${jwk.crv}` : ''}${jwk.alg ? `, alg ${jwk.alg}` : ''}) cannot verify any of the allowed algorithms ${algorithms.join(', ')}`);
    }
    if (jwk.kty === 'RSA' && typeof jwk.n === 'string' && Buffer.from(jwk.n, 'base64url').length * 8 < 2048) {
      throw new RangeError(`${where} is an RSA key shorter than 2048 bits`);
    }
    out.push(jwk);
  });
  return { keys: out };
}
