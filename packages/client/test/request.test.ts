import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type EdgeClient, type EdgeClientEvents, type EdgeClientOptions, createEdgeClient } from '../src/index.js';
import { type TestEdge, createShiftableClock, served, startEdge } from './edges.js';

describe('failover, idempotency, Retry-After, hedging and the retry budget', () => {
  let a: TestEdge;
  let b: TestEdge;
  let c: TestEdge;
  let client: EdgeClient | undefined;

  beforeAll(async () => {
    [a, b, c] = await Promise.all([startEdge('a'), startEdge('b'), startEdge('c')]);
  });
  afterAll(async () => {
    await Promise.all([a.close(), b.close(), c.close()]);
  });
  afterEach(async () => {
    await client?.close();
    client = undefined;
    for (const edge of [a, b, c]) {
      edge.requests.length = 0;
      edge.mode = 'ok';
      edge.delay = 0;
      edge.retryAfter = undefined;
    }
  });

  // Without probes or coordinates the configuration order decides: a, then b, then c.
  const makeClient = (extra: Partial<EdgeClientOptions> = {}) => {
    client = createEdgeClient({
      edges: [
        { id: 'a', region: 'eu', url: a.url },
        { id: 'b', region: 'eu', url: b.url },
        { id: 'c', region: 'us', url: c.url },
      ],
      probe: false,
      timeout: 5_000,
      ...extra,
    });
    return client;
  };

  it('replays a GET on the next edge after a 503', async () => {
    const client = makeClient();
    a.mode = 'fail503';
    const res = await client.fetch('/api/x');
    expect([res.status, await res.text()]).toEqual([200, 'b']);
    expect([served(a), served(b)]).toEqual([1, 1]);
  });

  it('never replays a POST that reached an edge, even when the connection then broke', async () => {
    const client = makeClient();
    a.mode = 'destroy';
    const error = await client.fetch('/api/orders', { method: 'POST', body: 'order-1' }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'EUPSTREAM', edgesTried: ['a'] });
    expect(a.requests.map((r) => r.body)).toEqual(['order-1']);
    expect(served(b) + served(c)).toBe(0);
  });

  it('returns a 503 to a POST as it is, without trying another edge', async () => {
    const client = makeClient();
    a.mode = 'fail503';
    const res = await client.fetch('/api/orders', { method: 'POST', body: 'x' });
    expect(res.status).toBe(503);
    expect(served(b)).toBe(0);
  });

  it('sends a POST to the next edge when the first refused the connection (nothing was sent)', async () => {
    const client = makeClient();
    await a.stop();
    try {
      const res = await client.fetch('/api/orders', { method: 'POST', body: 'order-2' });
      expect(await res.text()).toBe('b');
      expect(b.requests.map((r) => r.body)).toEqual(['order-2']);
    } finally {
      await a.start();
    }
  });

  it('replays a POST that carries an Idempotency-Key header', async () => {
    const client = makeClient();
    a.mode = 'destroy';
    const res = await client.fetch('/api/orders', { method: 'POST', body: 'order-3', headers: { 'idempotency-key': 'k-3' } });
    expect(await res.text()).toBe('b');
    expect(b.requests.map((r) => r.body)).toEqual(['order-3']);
  });

  it('honours Retry-After: the edge gets no request until the time has passed', async () => {
    const clock = createShiftableClock();
    const client = makeClient({ clock });
    const cooled: EdgeClientEvents['retryAfter'][] = [];
    client.on('retryAfter', (e) => cooled.push(e));
    a.mode = 'fail503';
    a.retryAfter = '30';
    expect(await (await client.fetch('/api/x')).text()).toBe('b');
    expect(cooled).toEqual([{ edge: 'a', until: expect.any(Number) }]);
    a.mode = 'ok';
    expect(await (await client.fetch('/api/x')).text()).toBe('b');
    expect(served(a)).toBe(1);
    expect(client.current()?.id).toBe('b');
    expect(client.explain().edges.find((e) => e.id === 'a')).toMatchObject({ excluded: 'retryAfter', waitFor: expect.any(Number) });
    clock.shift(30_000);
    expect(client.explain().edges.find((e) => e.id === 'a')?.excluded).toBeUndefined();
  });

  it('reports EUNAVAILABLE with the wait when every edge asked for time', async () => {
    const client = makeClient({ maxAttempts: 3 });
    for (const edge of [a, b, c]) {
      edge.mode = 'fail503';
      edge.retryAfter = '20';
    }
    const res = await client.fetch('/api/x');
    expect(res.status).toBe(503);
    expect([served(a), served(b), served(c)]).toEqual([1, 1, 1]);
    const error = await client.fetch('/api/x').catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'EUNAVAILABLE', retryAfter: expect.any(Number) });
    expect((error as { retryAfter: number }).retryAfter).toBeGreaterThan(15_000);
    expect(served(a) + served(b) + served(c)).toBe(3);
  });

  it('hedges a slow GET to the next edge and takes the first answer', async () => {
    const client = makeClient({ hedge: { delay: 50 } });
    const hedges: EdgeClientEvents['hedge'][] = [];
    client.on('hedge', (e) => hedges.push(e));
    a.delay = 3_000;
    const res = await client.fetch('/api/x');
    expect(await res.text()).toBe('b');
    expect(hedges).toEqual([{ waiting: 'a', to: 'b' }]);
    expect([served(a), served(b), served(c)]).toEqual([1, 1, 0]);
  });

  it('does not hedge a POST', async () => {
    const client = makeClient({ hedge: { delay: 20 } });
    a.delay = 300;
    const res = await client.fetch('/api/orders', { method: 'POST', body: 'x' });
    expect(await res.text()).toBe('a');
    expect(served(b)).toBe(0);
  });

  it('stops retrying when the retry budget is spent', async () => {
    const client = makeClient({ retryBudget: { ratio: 0, minPerSecond: 0 } });
    const refused: EdgeClientEvents['budgetExhausted'][] = [];
    client.on('budgetExhausted', (e) => refused.push(e));
    a.mode = 'fail503';
    const res = await client.fetch('/api/x');
    expect(res.status).toBe(503);
    expect(refused).toEqual([{ edge: 'b', kind: 'retry' }]);
    expect(served(b)).toBe(0);
  });

  it('fails over from an edge that does not answer in time (timeout)', async () => {
    const client = makeClient({ timeout: 200 });
    a.mode = 'hang';
    expect(await (await client.fetch('/api/x')).text()).toBe('b');
    b.mode = 'hang';
    c.mode = 'hang';
    const error = await client.fetch('/api/x').catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'ETIMEDOUT' });
  });

  it('never leaves a pinned region, even when every edge in it is down', async () => {
    const client = makeClient({ region: 'us', breaker: { failureThreshold: 1 } });
    c.mode = 'destroy';
    const error = await client.fetch('/api/x').catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'EUPSTREAM', edgesTried: ['c'], region: 'us' });
    const again = await client.fetch('/api/x').catch((e: unknown) => e);
    expect(again).toMatchObject({ code: 'EUNAVAILABLE', region: 'us' });
    expect(served(a) + served(b)).toBe(0);
    expect(client.explain().edges.filter((e) => e.excluded === 'region').map((e) => e.id)).toEqual(['a', 'b']);
  });

  it('aborts with the caller signal and tries no other edge', async () => {
    const client = makeClient();
    a.mode = 'hang';
    const controller = new AbortController();
    const pending = client.fetch('/api/x', { signal: controller.signal });
    setTimeout(() => controller.abort(new Error('caller gave up')), 50);
    await expect(pending).rejects.toThrow('caller gave up');
    expect(served(b)).toBe(0);
  });

  it('rejects with ECLOSED once closed', async () => {
    const client = makeClient();
    await client.close();
    await expect(client.fetch('/api/x')).rejects.toMatchObject({ code: 'ECLOSED' });
  });
});
