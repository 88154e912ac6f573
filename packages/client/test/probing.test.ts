import { createManualClock } from '@edgekit/core/testing';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type ClientEnvironment, type EdgeClient, type EdgeClientEvents, type EdgeClientOptions, createEdgeClient, createMemoryStorage } from '../src/index.js';
import { type DistantEdge, type TestEdge, probes, startDistantEdge, startEdge } from './edges.js';

const START = Date.UTC(2026, 0, 1);

describe('probing', () => {
  let edges: TestEdge[];
  let client: EdgeClient | undefined;

  beforeAll(async () => {
    edges = await Promise.all(['a', 'b', 'c'].map((name) => startEdge(name)));
  });
  afterAll(async () => {
    await Promise.all(edges.map((e) => e.close()));
  });
  afterEach(async () => {
    await client?.close();
    client = undefined;
    for (const edge of edges) edge.requests.length = 0;
  });

  const nextProbe = (c: EdgeClient) => new Promise<EdgeClientEvents['probe']>((resolve) => c.on('probe', resolve));

  const makeClient = (extra: Partial<EdgeClientOptions>) => {
    client = createEdgeClient({
      edges: edges.map((e) => ({ id: e.name, region: 'eu', url: e.url })),
      probe: { interval: 30_000, jitter: 0.2 },
      ...extra,
    });
    return client;
  };

  it('probes one edge per tick, each edge about once per interval, with the pause jittered', async () => {
    const clock = createManualClock(START);
    // random() = 0 gives the shortest pause: interval / edges × (1 − jitter) = 8 s.
    const client = makeClient({ clock, random: () => 0 });
    const initial = await Promise.all([nextProbe(client), client.probe()]);
    expect(initial[0].rtt).toBeGreaterThanOrEqual(0);
    const before = edges.map(probes);
    // probe() joined the round the client started on creation: one probe per edge, not two.
    expect(before).toEqual([1, 1, 1]);

    await clock.advanceAsync(7_999);
    expect(edges.map(probes)).toEqual(before);
    const seen: string[] = [];
    for (let tick = 0; tick < 6; tick++) {
      const probed = nextProbe(client);
      await clock.advanceAsync(tick === 0 ? 1 : 8_000);
      seen.push((await probed).edge);
    }
    expect(seen).toEqual(['a', 'b', 'c', 'a', 'b', 'c']);
    expect(edges.map(probes)).toEqual([3, 3, 3]);
  });

  it('sends no probe while the page is hidden or the user saves data, and says so', async () => {
    const state = { hidden: true, saveData: false };
    const environment: ClientEnvironment = { hidden: () => state.hidden, saveData: () => state.saveData };
    const clock = createManualClock(START);
    const client = makeClient({ clock, environment });
    const skipped: EdgeClientEvents['probe'][] = [];
    client.on('probe', (e) => skipped.push(e));
    await client.probe();
    await clock.advanceAsync(60_000);
    expect(edges.map(probes)).toEqual([0, 0, 0]);
    expect(skipped.length).toBeGreaterThan(3);
    expect(skipped.every((e) => e.skipped === 'hidden')).toBe(true);
    expect(client.explain().probing).toBe('hidden');

    state.hidden = false;
    state.saveData = true;
    await client.probe();
    expect(edges.map(probes)).toEqual([0, 0, 0]);
    expect(client.explain().probing).toBe('saveData');

    state.saveData = false;
    await client.probe();
    expect(edges.map(probes)).toEqual([1, 1, 1]);
  });

  it('counts failed probes against the edge breaker', async () => {
    const client = makeClient({ probe: { interval: 3_600_000 }, breaker: { failureThreshold: 2 } });
    const breakers: EdgeClientEvents['breaker'][] = [];
    client.on('breaker', (e) => breakers.push(e));
    await edges[0]!.stop();
    try {
      await client.probe();
      await client.probe();
      expect(breakers).toEqual([{ edge: 'a', state: 'open' }]);
      expect(client.current()?.id).not.toBe('a');
    } finally {
      await edges[0]!.start();
    }
  });
});

describe('cold start and persistence', () => {
  let near: DistantEdge;
  let far: DistantEdge;
  let client: EdgeClient | undefined;

  beforeAll(async () => {
    [near, far] = await Promise.all([startDistantEdge('near', 10), startDistantEdge('far', 80)]);
  });
  afterAll(async () => {
    await client?.close();
    for (const d of [near, far]) await Promise.all([d.proxy.close(), d.edge.close()]);
  });

  const edgesNearFirst = () => [
    // Configuration order and coordinates both point at the far edge first.
    { id: 'far', region: 'us', url: far.proxy.url, location: { lat: 48.9, lon: 2.4 } },
    { id: 'near', region: 'ap', url: near.proxy.url, location: { lat: 35.7, lon: 139.7 } },
  ];

  it('starts from geography, then follows the probes', async () => {
    client = createEdgeClient({ edges: edgesNearFirst(), location: { lat: 52.5, lon: 13.4 }, probe: { interval: 3_600_000 } });
    expect(client.explain().edges[0]).toMatchObject({ id: 'far', source: 'geography' });
    expect(client.current()?.id).toBe('far');
    await client.probe();
    await client.probe();
    expect(client.current()?.id).toBe('near');
    await client.close();
  });

  it('restores latency averages in the next session, before its first probe', async () => {
    const storage = createMemoryStorage();
    client = createEdgeClient({ edges: edgesNearFirst(), probe: { interval: 3_600_000 }, storage });
    await client.probe();
    await client.probe();
    await client.close();
    expect(JSON.parse(storage.getItem('edgekit-client')!).latency).toMatchObject({ near: { rtt: expect.any(Number) }, far: { rtt: expect.any(Number) } });

    client = createEdgeClient({ edges: edgesNearFirst(), probe: false, storage, location: { lat: 52.5, lon: 13.4 } });
    expect(client.current()?.id).toBe('near');
    expect(client.explain().edges.map((e) => [e.id, e.source])).toEqual([
      ['near', 'persisted'],
      ['far', 'persisted'],
    ]);
    await client.close();
  });

  it('ignores persisted averages older than maxLatencyAge', async () => {
    const storage = createMemoryStorage();
    storage.setItem('edgekit-client', JSON.stringify({ latency: { near: { rtt: 1, at: START } } }));
    const clock = createManualClock(START + 2 * 86_400_000);
    client = createEdgeClient({ edges: edgesNearFirst(), probe: false, storage, clock });
    expect(client.explain().edges.map((e) => e.source)).toEqual(['unknown', 'unknown']);
    await client.close();
  });
});
