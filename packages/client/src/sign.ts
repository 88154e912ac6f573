import { type EdgeMap, checkEdgeMap } from './edge-map.js';
import { EDGE_MAP_TYPE, type EdgeMapKey, algorithmOf, encoder, subtle, toBase64url, toCryptoKey } from './signing.js';

export type { EdgeMap } from './edge-map.js';
export type { EdgeMapKey } from './signing.js';

/**
 * Signs an edge map as a JWS compact serialization (RFC 7515) with an Ed25519 (`EdDSA`) or P-256
 * (`ES256`) private key: what a gateway serves and the client's `verifyEdgeMap` accepts.
 *
 * @example
 * const token = await signEdgeMap({ version: 3, issuedAt: Date.now(), expiresAt: Date.now() + 86_400_000, edges }, privateKey);
 */
export async function signEdgeMap(map: EdgeMap, privateKey: EdgeMapKey, options: { kid?: string } = {}): Promise<string> {
  const checked = checkEdgeMap(map);
  const algorithm = algorithmOf(privateKey);
  const header = { alg: algorithm.jws, typ: EDGE_MAP_TYPE, ...(options.kid === undefined ? {} : { kid: options.kid }) };
  const input = `${toBase64url(encoder.encode(JSON.stringify(header)))}.${toBase64url(encoder.encode(JSON.stringify(checked)))}`;
  const key = await toCryptoKey(privateKey, algorithm, 'sign');
  const signature = new Uint8Array(await subtle().sign(algorithm.params, key, encoder.encode(input)));
  return `${input}.${toBase64url(signature)}`;
}
