import { type EdgeClient, createEdgeClient, verifyEdgeMap } from '@edgekit/client';
import * as jose from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type World, startWorld } from './helpers.js';

describe('the signed edge map endpoint', () => {
  let world: World;
  let publicKey: jose.JWK;
  let client: EdgeClient | undefined;

  beforeAll(async () => {
    const pair = await jose.generateKeyPair('ES256', { extractable: true });
    publicKey = await jose.exportJWK(pair.publicKey);
    world = await startWorld({
      edgeMap: {
        privateKey: await jose.exportJWK(pair.privateKey),
        version: 4,
        edges: [
          { id: 'test-edge', region: 'eu', url: 'https://eu.edge.example', location: { lat: 53.35, lon: -6.26 } },
          { id: 'us-edge', region: 'us', url: 'https://us.edge.example', location: { lat: 39.04, lon: -77.49 }, weight: 2 },
        ],
      },
    });
  });
  afterAll(async () => {
    await client?.close();
    await world?.close();
  });

  it('serves the configured edges as a map that verifies with the public key', async () => {
    const response = await fetch(`${world.url}/.well-known/edge-map`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('application/jose');
    expect(response.headers.get('access-control-allow-origin')).toBe('*');
    // This node's location names the edge "test-edge", so clients that reached it are hinted its region.
    expect(response.headers.get('x-region-hint')).toBe('eu');
    const map = await verifyEdgeMap(await response.text(), publicKey, Date.now());
    expect(map).toMatchObject({ version: 4, edges: [{ id: 'test-edge' }, { id: 'us-edge', weight: 2 }] });
    expect(map.expiresAt - map.issuedAt).toBe(86_400_000);
    expect(world.origins.eu.requests + world.origins.us.requests + world.origins.ap.requests).toBe(0);
  });

  it('is what @edgekit/client fetches, verifies and starts from', async () => {
    client = createEdgeClient({ edgeMap: { url: `${world.url}/.well-known/edge-map`, publicKey }, probe: false });
    await client.ready();
    expect(client.explain()).toMatchObject({ mapVersion: 4, current: 'test-edge' });
    expect(client.explain().edges[0]).toMatchObject({ id: 'test-edge', source: 'geography' });
  });

  it('answers 405 to other methods than GET and HEAD', async () => {
    const response = await fetch(`${world.url}/.well-known/edge-map`, { method: 'POST' });
    expect(response.status).toBe(405);
  });
});
