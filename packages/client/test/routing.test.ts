import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type EdgeClient, type EdgeClientEvents, createEdgeClient } from '../src/index.js';
import { type DistantEdge, createShiftableClock, served, startDistantEdge } from './edges.js';

// One-way delays through the latency proxies: large enough that scheduling noise on a loaded
// machine stays well under the differences the tests rely on.
const NEAR = 15;
const MID = 60;
const FAR = 120;

describe('choosing the nearest edge over real links', () => {
  let near: DistantEdge;
  let mid: DistantEdge;
  let far: DistantEdge;
  let client: EdgeClient | undefined;

  beforeAll(async () => {
    [near, mid, far] = await Promise.all([startDistantEdge('near', NEAR), startDistantEdge('mid', MID), startDistantEdge('far', FAR)]);
  });
  afterAll(async () => {
    for (const d of [near, mid, far]) await Promise.all([d.proxy.close(), d.edge.close()]);
  });
  afterEach(async () => {
    await client?.close();
    client = undefined;
    for (const d of [near, mid, far]) {
      d.proxy.restore();
      d.edge.requests.length = 0;
    }
    near.proxy.oneWayMs = NEAR;
  });

  const makeClient = (clock = createShiftableClock()) => {
    client = createEdgeClient({
      // Configuration order is deliberately not latency order.
      edges: [
        { id: 'far', region: 'ap', url: far.proxy.url },
        { id: 'mid', region: 'us', url: mid.proxy.url },
        { id: 'near', region: 'eu', url: near.proxy.url },
      ],
      probe: { interval: 3_600_000 },
      breaker: { failureThreshold: 1, resetTimeout: 10_000 },
      timeout: 5_000,
      clock,
    });
    return { client, clock };
  };

  it('sends requests to the edge with the lowest measured latency', async () => {
    const { client } = makeClient();
    for (let round = 0; round < 3; round++) await client.probe();
    expect(client.current()?.id).toBe('near');
    const res = await client.fetch('/api/items');
    expect(await res.text()).toBe('near');
    expect(served(near.edge)).toBe(1);
    expect(served(mid.edge) + served(far.edge)).toBe(0);
    const report = client.explain();
    expect(report.edges.map((e) => e.id)).toEqual(['near', 'mid', 'far']);
    expect(report.edges[0]).toMatchObject({ source: 'probe', breaker: 'closed' });
    expect(report.reason).toMatch(/first choice|faster/);
  });

  it('fails over to the next nearest edge when the current one dies, and returns when it heals', async () => {
    const { client, clock } = makeClient();
    const selections: EdgeClientEvents['select'][] = [];
    const failovers: EdgeClientEvents['failover'][] = [];
    client.on('select', (e) => selections.push(e));
    client.on('failover', (e) => failovers.push(e));
    for (let round = 0; round < 3; round++) await client.probe();
    expect(client.current()?.id).toBe('near');
    // Next in the client's own latency order: mid, unless a stalled probe on a loaded machine says otherwise.
    const next = client.explain().edges[1]!.id;

    near.proxy.cut();
    const during = await client.fetch('/api/items');
    expect(during.status).toBe(200);
    expect(await during.text()).toBe(next);
    expect(failovers).toEqual([expect.objectContaining({ from: 'near', to: next })]);
    expect(client.current()?.id).toBe(next);
    expect(client.explain().edges.find((e) => e.id === 'near')).toMatchObject({ breaker: 'open', excluded: 'breaker' });
    // While the breaker is open the dead edge gets no attempt at all.
    expect(await (await client.fetch('/api/items')).text()).toBe(next);

    near.proxy.restore();
    clock.shift(10_000);
    await client.probe();
    expect(client.current()?.id).toBe('near');
    expect(await (await client.fetch('/api/items')).text()).toBe('near');
    expect(selections.map((s) => s.to)).toEqual(['near', next, 'near']);
    expect(selections[1]!.reason).toContain('near unavailable');
  });

  it('moves to a faster edge once it is faster by more than the hysteresis', async () => {
    const { client } = makeClient();
    const samples: string[] = [];
    client.on('probe', (e) => samples.push(`${e.edge}:${e.rtt}`));
    for (let round = 0; round < 3; round++) await client.probe();
    expect(client.current()?.id, JSON.stringify({ samples, edges: client.explain() })).toBe('near');
    near.proxy.oneWayMs = 200;
    for (let i = 0; i < 8 && client.current()?.id === 'near'; i++) await client.probe();
    const moved = client.current()!.id;
    expect(moved).not.toBe('near');
    expect(client.explain().reason).toMatch(new RegExp(`^${moved} faster by \\d+ %`));
  });
});

describe('hysteresis over real links', () => {
  let a: DistantEdge;
  let b: DistantEdge;
  let client: EdgeClient | undefined;

  beforeAll(async () => {
    [a, b] = await Promise.all([startDistantEdge('a', 150), startDistantEdge('b', 156)]);
  });
  afterAll(async () => {
    await client?.close();
    for (const d of [a, b]) await Promise.all([d.proxy.close(), d.edge.close()]);
  });

  it('never flaps between two edges whose latencies are within 5 % of each other', async () => {
    client = createEdgeClient({
      edges: [
        { id: 'a', region: 'eu', url: a.proxy.url },
        { id: 'b', region: 'eu', url: b.proxy.url },
      ],
      probe: { interval: 3_600_000 },
    });
    // Warm-up rounds: the first sample of each edge paid for its connection, the next ones for a cold runtime.
    for (let round = 0; round < 6; round++) await client.probe();
    const first = client.current()?.id;
    const selections: string[] = [];
    client.on('select', (e) => selections.push(e.to));
    const samples: string[] = [];
    client.on('probe', (e) => samples.push(`${e.edge}:${e.rtt}`));
    // The two links trade places every round: 150 ms against 156 ms one way (4 % apart).
    for (let round = 0; round < 10; round++) {
      [a.proxy.oneWayMs, b.proxy.oneWayMs] = [b.proxy.oneWayMs, a.proxy.oneWayMs];
      await client.probe();
      expect(client.current()?.id, JSON.stringify({ round, samples, edges: client.explain().edges.map((e) => [e.id, e.rtt]) })).toBe(first);
    }
    expect(selections).toEqual([]);
    const probed = client.explain().edges.map((e) => e.rtt!);
    expect(Math.max(...probed) / Math.min(...probed)).toBeLessThan(1.1);
  });
});
