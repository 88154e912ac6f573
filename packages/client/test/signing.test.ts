import * as jose from 'jose';
import { describe, expect, it } from 'vitest';
import { type EdgeMap, verifyEdgeMap } from '../src/index.js';
import { signEdgeMap } from '../src/sign.js';

const NOW = Date.UTC(2026, 0, 1);
const map: EdgeMap = {
  version: 7,
  issuedAt: NOW,
  expiresAt: NOW + 3_600_000,
  edges: [
    { id: 'fra', region: 'eu', url: 'https://fra.example.com', location: { lat: 50.1, lon: 8.7 } },
    { id: 'iad', region: 'us', url: 'https://iad.example.com', weight: 2 },
  ],
};

async function keyPair(alg: 'EdDSA' | 'ES256') {
  const { publicKey, privateKey } = await jose.generateKeyPair(alg, { extractable: true, crv: alg === 'EdDSA' ? 'Ed25519' : undefined });
  return { publicKey, privateKey, publicJwk: await jose.exportJWK(publicKey), privateJwk: await jose.exportJWK(privateKey) };
}

describe.each(['EdDSA', 'ES256'] as const)('signed edge maps with %s', (alg) => {
  it('round-trips a map signed with a CryptoKey and verified with a JWK', async () => {
    const keys = await keyPair(alg);
    const token = await signEdgeMap(map, keys.privateKey as never);
    expect(await verifyEdgeMap(token, keys.publicJwk, NOW + 1)).toEqual(map);
  });

  it('produces a JWS that jose verifies, and verifies a JWS that jose signed', async () => {
    const keys = await keyPair(alg);
    const ours = await signEdgeMap(map, keys.privateJwk);
    const { payload, protectedHeader } = await jose.compactVerify(ours, keys.publicKey);
    expect(protectedHeader.alg).toBe(alg);
    expect(JSON.parse(new TextDecoder().decode(payload))).toEqual(map);

    const theirs = await new jose.CompactSign(new TextEncoder().encode(JSON.stringify(map))).setProtectedHeader({ alg }).sign(keys.privateKey);
    expect((await verifyEdgeMap(theirs, keys.publicKey as never, NOW)).version).toBe(7);
  });

  it('refuses a map whose payload was changed after signing (EBADSIGNATURE)', async () => {
    const keys = await keyPair(alg);
    const [header, , signature] = (await signEdgeMap(map, keys.privateJwk)).split('.');
    const forged = Buffer.from(JSON.stringify({ ...map, edges: [{ id: 'evil', region: 'eu', url: 'https://evil.example' }] })).toString('base64url');
    await expect(verifyEdgeMap(`${header}.${forged}.${signature}`, keys.publicJwk, NOW)).rejects.toMatchObject({ code: 'EBADSIGNATURE' });
  });

  it('refuses a map signed with another key (EBADSIGNATURE)', async () => {
    const [keys, other] = [await keyPair(alg), await keyPair(alg)];
    const token = await signEdgeMap(map, other.privateJwk);
    await expect(verifyEdgeMap(token, keys.publicJwk, NOW)).rejects.toMatchObject({ code: 'EBADSIGNATURE', name: 'EdgeClientError' });
  });

  it('refuses an expired map (ESTALEMAP)', async () => {
    const keys = await keyPair(alg);
    const token = await signEdgeMap(map, keys.privateJwk);
    await expect(verifyEdgeMap(token, keys.publicJwk, map.expiresAt)).rejects.toMatchObject({ code: 'ESTALEMAP' });
  });
});

describe('edge map checks', () => {
  it('refuses a header naming another algorithm than the key (no algorithm confusion)', async () => {
    const ed = await keyPair('EdDSA');
    const es = await keyPair('ES256');
    const token = await signEdgeMap(map, es.privateJwk);
    await expect(verifyEdgeMap(token, ed.publicJwk, NOW)).rejects.toMatchObject({ code: 'EBADSIGNATURE', message: expect.stringContaining('ES256') });
  });

  it('refuses malformed input with EBADMAP naming the field at fault', async () => {
    const keys = await keyPair('EdDSA');
    await expect(verifyEdgeMap('not a jws', keys.publicJwk, NOW)).rejects.toMatchObject({ code: 'EBADMAP' });
    await expect(signEdgeMap({ ...map, edges: [{ id: 'a', region: 'eu', url: 'ftp://x' }] }, keys.privateJwk)).rejects.toMatchObject({
      code: 'EBADMAP',
      message: expect.stringContaining('edges[0].url'),
    });
    await expect(signEdgeMap({ ...map, edges: [map.edges[0]!, map.edges[0]!] }, keys.privateJwk)).rejects.toMatchObject({ message: expect.stringContaining('not unique') });
    await expect(signEdgeMap({ ...map, expiresAt: map.issuedAt }, keys.privateJwk)).rejects.toMatchObject({ message: expect.stringContaining('expiresAt') });
  });
});
