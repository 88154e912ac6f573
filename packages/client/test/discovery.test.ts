import { createServer } from 'node:http';
import { createManualClock } from '@edgekit/core/testing';
import { closeServer, listen } from '@edgekit/test-utils/node';
import * as jose from 'jose';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type EdgeClient, type EdgeClientEvents, type EdgeMap, createEdgeClient, createMemoryStorage } from '../src/index.js';
import { signEdgeMap } from '../src/sign.js';

const START = Date.UTC(2026, 0, 1);
const HOUR = 3_600_000;

const mapOf = (version: number, issuedAt: number, ids: string[]): EdgeMap => ({
  version,
  issuedAt,
  expiresAt: issuedAt + HOUR,
  edges: ids.map((id, i) => ({ id, region: id.slice(0, 2), url: `http://127.0.0.1:${40_000 + i}`, location: { lat: 50 - i * 10, lon: i * 40 } })),
});

describe('edge discovery from a signed map', () => {
  let keys: { privateJwk: jose.JWK; publicJwk: jose.JWK };
  let other: jose.JWK;
  let server: ReturnType<typeof createServer>;
  let url: string;
  // What the map endpoint serves next: a token, or a status.
  let body: string | number = 404;
  let hint: string | undefined;
  let client: EdgeClient | undefined;

  beforeAll(async () => {
    const pair = await jose.generateKeyPair('EdDSA', { extractable: true, crv: 'Ed25519' });
    keys = { privateJwk: await jose.exportJWK(pair.privateKey), publicJwk: await jose.exportJWK(pair.publicKey) };
    other = await jose.exportJWK((await jose.generateKeyPair('EdDSA', { extractable: true, crv: 'Ed25519' })).privateKey);
    server = createServer((_req, res) => {
      if (typeof body === 'number') res.writeHead(body).end();
      else res.writeHead(200, { 'content-type': 'application/jose', ...(hint === undefined ? {} : { 'x-region-hint': hint }) }).end(body);
    });
    url = `http://127.0.0.1:${await listen(server)}/.well-known/edge-map`;
  });
  afterAll(async () => {
    await closeServer(server);
  });
  afterEach(async () => {
    await client?.close();
    client = undefined;
    hint = undefined;
  });

  const next = <K extends keyof EdgeClientEvents>(c: EdgeClient, event: K) => new Promise<EdgeClientEvents[K]>((resolve) => c.on(event, resolve));

  const makeClient = (clock = createManualClock(START), storage = createMemoryStorage()) => {
    client = createEdgeClient({ edgeMap: { url, publicKey: keys.publicJwk, refreshInterval: 600_000, retryInterval: 60_000 }, probe: false, clock, storage });
    return { client, clock, storage };
  };

  it('takes the verified map into use and refreshes it in the background', async () => {
    body = await signEdgeMap(mapOf(1, START, ['eu-1', 'us-1']), keys.privateJwk);
    const { client, clock } = makeClient();
    await client.ready();
    expect(client.explain()).toMatchObject({ mapVersion: 1, edges: [{ id: 'eu-1' }, { id: 'us-1' }] });

    body = await signEdgeMap(mapOf(2, START + 1000, ['eu-1', 'us-1', 'ap-1']), keys.privateJwk);
    const refreshed = next(client, 'map');
    // Refreshes come at most every refreshInterval (10 min) or half the map's life, jittered by ±10 %.
    await clock.advanceAsync(0.5 * HOUR * 1.1);
    expect(await refreshed).toEqual({ version: 2, edges: 3, regionHint: undefined });
    expect(client.explain().edges.map((e) => e.id)).toContain('ap-1');
  });

  it('refuses a map with a bad signature, keeps the last good one and says why', async () => {
    body = await signEdgeMap(mapOf(1, START, ['eu-1']), keys.privateJwk);
    const { client } = makeClient();
    await client.ready();
    body = await signEdgeMap(mapOf(2, START, ['ev-1']), other);
    const rejected = next(client, 'mapRejected');
    await expect(client.refreshMap()).rejects.toMatchObject({ code: 'EBADSIGNATURE' });
    expect((await rejected).error.code).toBe('EBADSIGNATURE');
    expect(client.explain()).toMatchObject({ mapVersion: 1, edges: [{ id: 'eu-1' }] });
  });

  it('refuses an expired map and a rollback to an older version (ESTALEMAP)', async () => {
    body = await signEdgeMap(mapOf(5, START, ['eu-1']), keys.privateJwk);
    const { client, clock } = makeClient();
    await client.ready();
    body = await signEdgeMap(mapOf(4, START, ['eu-9']), keys.privateJwk);
    await expect(client.refreshMap()).rejects.toMatchObject({ code: 'ESTALEMAP', message: expect.stringContaining('older than version 5') });
    body = await signEdgeMap(mapOf(6, START - 2 * HOUR, ['eu-6']), keys.privateJwk);
    await expect(client.refreshMap()).rejects.toMatchObject({ code: 'ESTALEMAP', message: expect.stringContaining('expired') });
    body = 500;
    await expect(client.refreshMap()).rejects.toMatchObject({ code: 'EBADMAP', message: expect.stringContaining('500') });
    expect(client.explain()).toMatchObject({ mapVersion: 5, edges: [{ id: 'eu-1' }] });
  });

  it('starts the next session from the last good map in storage when the endpoint is down', async () => {
    body = await signEdgeMap(mapOf(3, START, ['eu-1', 'us-1']), keys.privateJwk);
    const first = makeClient();
    await first.client.ready();
    await first.client.close();

    body = 503;
    const { client } = makeClient(createManualClock(START + 60_000), first.storage);
    const rejected = next(client, 'mapRejected');
    await client.ready();
    expect(client.explain()).toMatchObject({ mapVersion: 3, current: 'eu-1' });
    expect((await rejected).error.code).toBe('EBADMAP');
  });

  it('does not use a stored map that has expired since', async () => {
    body = await signEdgeMap(mapOf(3, START, ['eu-1']), keys.privateJwk);
    const first = makeClient();
    await first.client.ready();
    await first.client.close();
    body = await signEdgeMap(mapOf(4, START + 2 * HOUR, ['us-1']), keys.privateJwk);
    const { client } = makeClient(createManualClock(START + 2 * HOUR), first.storage);
    await client.ready();
    expect(client.explain()).toMatchObject({ mapVersion: 4, edges: [{ id: 'us-1' }] });
  });

  it('uses the region hint header to order edges by geography before any probe', async () => {
    body = await signEdgeMap(mapOf(1, START, ['eu-1', 'us-1', 'ap-1']), keys.privateJwk);
    hint = 'ap';
    const { client } = makeClient();
    const took = next(client, 'map');
    await client.ready();
    expect((await took).regionHint).toBe('ap');
    expect(client.current()?.id).toBe('ap-1');
    expect(client.explain().edges[0]).toMatchObject({ id: 'ap-1', source: 'geography' });
  });

  it('stops refreshing on close: no timer left behind', async () => {
    body = await signEdgeMap(mapOf(1, START, ['eu-1']), keys.privateJwk);
    const { client, clock } = makeClient();
    await client.ready();
    await new Promise((resolve) => setImmediate(resolve));
    expect(clock.pendingTimers()).toBe(1);
    await client.close();
    expect(clock.pendingTimers()).toBe(0);
  });
});
