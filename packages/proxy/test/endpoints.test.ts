import { createStaticEndpoints } from '@edgekit/balancer';
import { type DecisionEvent, type Forwarder, type ForwarderOptions, createForwarder } from '@edgekit/proxy';
import { afterEach, describe, expect, it } from 'vitest';
import { type Upstream, send, startFront, startUpstream, waitFor } from './helpers.js';

const cleanup: Array<() => Promise<void>> = [];
afterEach(async () => {
  while (cleanup.length > 0) await cleanup.pop()!();
});

async function upstreams(...names: string[]): Promise<Upstream[]> {
  const list = await Promise.all(names.map((name) => startUpstream(name)));
  for (const u of list) cleanup.push(() => u.close());
  return list;
}

async function front(forwarder: Forwarder): Promise<string> {
  const f = await startFront(forwarder);
  cleanup.push(async () => {
    await f.close();
    await forwarder.close();
  });
  return f.url;
}

const EU = { lat: 50.11, lon: 8.68 };
const US = { lat: 39.04, lon: -77.49 };

/** A forwarder with region eu (the given endpoints) first and region us (one URL) as its fallback. */
/**
 * An endpoint that refuses connections: a port below the ephemeral range, which no server of a
 * parallel test can be given (a killed upstream's port can be, and would then answer).
 */
function refusing(port: number): Upstream {
  return { url: `http://127.0.0.1:${port}` } as Upstream;
}

async function twoRegions(eu: Upstream[], us: Upstream, extra: Partial<ForwarderOptions> & { region?: Record<string, unknown> } = {}): Promise<{ url: string; forwarder: Forwarder }> {
  const { region, ...options } = extra;
  const regions = [
    { name: 'eu', url: 'http://eu.invalid', location: EU, endpoints: eu.map((u) => u.url), ...region },
    { name: 'us', url: us.url, location: US },
  ];
  const forwarder = createForwarder({ selector: { regions, select: () => ({ primary: regions[0]!, regions, reason: 'default' }) }, ...options });
  return { url: await front(forwarder), forwarder };
}

async function many(url: string, n: number, concurrency = 8, headers?: Record<string, string>): Promise<{ status: number; from: string }[]> {
  const out: { status: number; from: string }[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < n) {
        next++;
        const reply = await send(`${url}/item`, headers === undefined ? {} : { headers });
        out.push({ status: reply.status, from: reply.status === 200 ? reply.json().region : '' });
      }
    }),
  );
  return out;
}

describe('regions with endpoints', () => {
  it('spreads requests over every endpoint of the region and names the region that answered', async () => {
    const [a, b, c, us] = await upstreams('eu-a', 'eu-b', 'eu-c', 'us');
    const { url } = await twoRegions([a!, b!, c!], us!);
    const replies = await many(url, 90);
    expect(replies.every((r) => r.status === 200)).toBe(true);
    for (const u of [a!, b!, c!]) expect(u.received.length).toBeGreaterThan(5);
    expect(us!.received).toHaveLength(0);
    const one = await send(`${url}/x`);
    expect(one.headers['x-served-by']).toBe('eu');
  });

  it('ejects one failing endpoint of three without sending anything to another region; clients see < 1 % errors', async () => {
    const [a, b, c, us] = await upstreams('eu-a', 'eu-b', 'eu-c', 'us');
    b!.behaviour = { kind: 'ok', status: 503 };
    const { url, forwarder } = await twoRegions([a!, b!, c!], us!, { region: { outlierDetection: { maxEjectionPercent: 50 } } });
    const ejected: string[] = [];
    forwarder.regionBalancer('eu')!.on('eject', (e) => ejected.push(e.id));
    const replies = await many(url, 300);
    const errors = replies.filter((r) => r.status !== 200).length;
    expect(errors / replies.length).toBeLessThan(0.01);
    expect(ejected).toEqual([b!.url]);
    expect(us!.received).toHaveLength(0);
    expect(b!.received.length).toBeLessThanOrEqual(6);
    const status = forwarder.regionBalancer('eu')!.status();
    expect(status.healthy).toBe(true);
    expect(status.endpoints.find((e) => e.id === b!.url)).toMatchObject({ ejected: true });
  });

  it('retries a refused connection on another endpoint of the same region before any other region', async () => {
    const [b, us] = await upstreams('eu-b', 'us');
    const { url, forwarder } = await twoRegions([refusing(1), b!], us!, { region: { balancer: 'round-robin', outlierDetection: false } });
    const failovers: string[] = [];
    forwarder.on('failover', (e) => failovers.push(`${e.from}->${e.to}`));
    for (let i = 0; i < 4; i++) expect((await send(`${url}/x`)).json().region).toBe('eu-b');
    expect(failovers).toEqual(['eu->eu', 'eu->eu']);
    expect(us!.received).toHaveLength(0);
  });

  it('fails over to the next region once every endpoint of the region was tried', async () => {
    const [us] = await upstreams('us');
    const { url } = await twoRegions([refusing(1), refusing(2)], us!, { region: { outlierDetection: false } });
    const reply = await send(`${url}/x`);
    expect({ status: reply.status, region: reply.json().region }).toEqual({ status: 200, region: 'us' });
  });

  it('never replays a POST whose body was sent', async () => {
    const [a, b, us] = await upstreams('eu-a', 'eu-b', 'us');
    a!.behaviour = { kind: 'reset-after-body' };
    b!.behaviour = { kind: 'reset-after-body' };
    const { url } = await twoRegions([a!, b!], us!, { region: { outlierDetection: false } });
    const reply = await send(`${url}/orders`, { method: 'POST', body: 'x'.repeat(100), headers: { 'content-type': 'text/plain' } });
    expect(reply.status).toBe(502);
    expect(a!.received.length + b!.received.length).toBe(1);
    expect(us!.received).toHaveLength(0);
  });

  it('answers 503 problem+json at once when every endpoint is at its connection and queue limit', async () => {
    const [a, us] = await upstreams('eu-a', 'us');
    a!.behaviour = { kind: 'hang' };
    const { url, forwarder } = await twoRegions([a!], us!, { region: { connectionsPerEndpoint: 1, queuePerEndpoint: 1 } });
    const codes: string[] = [];
    forwarder.on('error', (e) => codes.push(e.code));
    let attempts = 0;
    forwarder.on('attempt', () => attempts++);
    const controller = new AbortController();
    const stuck = [send(`${url}/1`, { signal: controller.signal }).catch(() => undefined), send(`${url}/2`, { signal: controller.signal }).catch(() => undefined)];
    // The third request comes once the first is upstream and the second holds the queue's one slot,
    // whatever order a loaded machine delivers the first two in.
    await waitFor(() => a!.received.length === 1 && attempts === 2, 10_000, 'first request upstream, second queued');
    const started = Date.now();
    const reply = await send(`${url}/3`);
    // "At once": not after waiting out queueTimeout (5 s by default), however slow the loop.
    expect(Date.now() - started).toBeLessThan(4_000);
    expect(reply.status).toBe(503);
    expect(reply.headers['content-type']).toContain('application/problem+json');
    expect(reply.json()).toMatchObject({ type: 'urn:edgekit:problem:endpoints-overloaded', status: 503 });
    expect(codes).toEqual(['EOVERLOADED']);
    expect(us!.received).toHaveLength(0);
    controller.abort();
    await Promise.all(stuck);
  });

  it('lets requests in flight on a removed endpoint finish, then closes its connections', async () => {
    const [a, b, us] = await upstreams('eu-a', 'eu-b', 'us');
    let release: (() => void) | undefined;
    a!.behaviour = {
      kind: 'custom',
      handle: (_req, res) => {
        release = () => res.end(JSON.stringify({ region: 'eu-a' }));
      },
    };
    const set = createStaticEndpoints([a!.url]);
    const regions = [
      { name: 'eu', url: 'http://eu.invalid', location: EU, endpoints: set },
      { name: 'us', url: us!.url, location: US },
    ];
    const forwarder = createForwarder({ selector: { regions, select: () => ({ primary: regions[0]!, regions, reason: 'default' }) } });
    const url = await front(forwarder);
    const slow = send(`${url}/slow`);
    await waitFor(() => release !== undefined, 10_000, 'request on eu-a');
    set.set([b!.url]);
    expect((await send(`${url}/next`)).json().region).toBe('eu-b');
    release!();
    const reply = await slow;
    expect(reply.status).toBe(200);
    expect(reply.json().region).toBe('eu-a');
    await waitFor(() => a!.closedSockets >= 1, 10_000, 'eu-a connection closed');
  });

  it('honours Retry-After up to maxRetryAfter, and relays the answer when it asks for longer', async () => {
    const [a, b, us] = await upstreams('eu-a', 'eu-b', 'us');
    a!.behaviour = { kind: 'ok', status: 503, headers: { 'retry-after': '30' } };
    b!.behaviour = { kind: 'ok', status: 503, headers: { 'retry-after': '30' } };
    const { url } = await twoRegions([a!, b!], us!, { region: { outlierDetection: false } });
    const relayed = await send(`${url}/x`);
    expect(relayed.status).toBe(503);
    expect(relayed.headers['retry-after']).toBe('30');
    expect(a!.received.length + b!.received.length).toBe(1);

    a!.behaviour = { kind: 'ok', status: 503, headers: { 'retry-after': '0' } };
    b!.behaviour = { kind: 'ok', status: 503, headers: { 'retry-after': '0' } };
    const retried = await send(`${url}/y`);
    expect(retried.status).toBe(200);
    expect(retried.json().region).toBe('us');
  });

  it('answers 504 when the overall request deadline passes, however many attempts remain', async () => {
    const [a, b, us] = await upstreams('eu-a', 'eu-b', 'us');
    a!.behaviour = { kind: 'hang' };
    b!.behaviour = { kind: 'hang' };
    const { url } = await twoRegions([a!, b!], us!, { requestTimeout: 400, headersTimeout: 60_000 });
    const started = Date.now();
    const reply = await send(`${url}/x`);
    expect(reply.status).toBe(504);
    expect(Date.now() - started).toBeGreaterThanOrEqual(350);
    expect(us!.received).toHaveLength(0);
  });

  it('keeps a user on one endpoint with Maglev affinity on a header', async () => {
    const [a, b, c, us] = await upstreams('eu-a', 'eu-b', 'eu-c', 'us');
    const { url } = await twoRegions([a!, b!, c!], us!, { region: { balancer: 'maglev', affinity: { header: 'x-user-id' } } });
    const homes = new Map<string, Set<string>>();
    for (let user = 0; user < 12; user++) {
      for (let i = 0; i < 3; i++) {
        const reply = await send(`${url}/x`, { headers: { 'x-user-id': `user-${user}` } });
        const set = homes.get(`user-${user}`) ?? new Set();
        set.add(reply.json().region);
        homes.set(`user-${user}`, set);
      }
    }
    for (const set of homes.values()) expect(set.size).toBe(1);
    expect(new Set([...homes.values()].map((s) => [...s][0])).size).toBeGreaterThan(1);
  });

  it('puts the service, region, endpoint, balancer reason, ejections and affinity hit on the decision event', async () => {
    const [a, b, c, us] = await upstreams('eu-a', 'eu-b', 'eu-c', 'us');
    b!.behaviour = { kind: 'ok', status: 503 };
    const { url, forwarder } = await twoRegions([a!, b!, c!], us!, {
      service: 'orders',
      region: { balancer: 'maglev', affinity: { header: 'x-user-id' }, outlierDetection: { consecutive5xx: 1, maxEjectionPercent: 50 } },
    });
    const ejected: string[] = [];
    forwarder.regionBalancer('eu')!.on('eject', (e) => ejected.push(e.id));
    for (let user = 0; ejected.length === 0 && user < 200; user++) await send(`${url}/x`, { headers: { 'x-user-id': `warm-${user}` } });
    expect(ejected).toEqual([b!.url]);

    const decisions: DecisionEvent[] = [];
    forwarder.on('decision', (event) => decisions.push(event));
    const urlOf = new Map([a!, b!, c!, us!].map((u) => [u.name, u.url]));
    const answeredBy: string[] = [];
    for (let user = 0; user < 20; user++) {
      const reply = await send(`${url}/x`, { headers: { 'x-user-id': `user-${user}` } });
      expect(reply.status).toBe(200);
      answeredBy.push(urlOf.get(reply.json().region)!);
    }
    const unkeyed = await send(`${url}/x`);
    answeredBy.push(urlOf.get(unkeyed.json().region)!);

    expect(decisions).toHaveLength(21);
    decisions.forEach((decision, i) => {
      expect(decision).toMatchObject({ service: 'orders', method: 'GET', region: 'eu', candidates: ['eu', 'us'], panic: false });
      expect(decision.endpoint).toEqual(
        i < 20
          ? { endpoint: answeredBy[i], balancer: 'maglev', reason: 'affinity', affinity: 'hit', ejected: 1 }
          : { endpoint: answeredBy[i], balancer: 'maglev', reason: 'balanced', affinity: undefined, ejected: 1 },
      );
    });
    // The ejected endpoint is never chosen, and both others are.
    expect(new Set(answeredBy.slice(0, 20))).toEqual(new Set([a!.url, c!.url]));
  });

  it('names the region but no endpoint on the decision of a region with one URL, and the endpoint once the first region is skipped', async () => {
    const [a, b, us] = await upstreams('eu-a', 'eu-b', 'us');
    const regions = [
      { name: 'us', url: us!.url, location: US },
      { name: 'eu', url: 'http://eu.invalid', location: EU, endpoints: [a!.url, b!.url] },
    ];
    let healthyUs = true;
    const forwarder = createForwarder({
      service: 'users',
      selector: { regions, select: () => ({ primary: regions[0]!, regions, reason: 'default' }) },
      health: { isHealthy: (name) => name !== 'us' || healthyUs },
    });
    const url = await front(forwarder);
    const decisions: DecisionEvent[] = [];
    forwarder.on('decision', (event) => decisions.push(event));
    expect((await send(`${url}/x`)).json().region).toBe('us');
    healthyUs = false;
    const reply = await send(`${url}/x`);
    expect(decisions[0]).toMatchObject({ service: 'users', region: 'us', endpoint: undefined });
    expect(decisions[1]).toMatchObject({ service: 'users', region: 'eu', skipped: [{ region: 'us', reason: 'unhealthy' }] });
    expect(decisions[1]!.endpoint).toEqual({ endpoint: reply.json().region === 'eu-a' ? a!.url : b!.url, balancer: 'least-request', reason: 'balanced', affinity: undefined, ejected: 0 });
  });

  it('rejects bad endpoint settings naming the region option', () => {
    const region = { name: 'eu', url: 'http://eu.invalid', location: EU };
    expect(() => createForwarder({ regions: [{ ...region, endpoints: ['ftp://x'] } as never] })).toThrow(/regions\[0\].*url/);
    expect(() => createForwarder({ regions: [{ ...region, endpoints: ['http://a:1'], queuePerEndpoint: -1 } as never] })).toThrow(/queuePerEndpoint/);
    expect(() => createForwarder({ regions: [{ ...region, endpoints: ['http://a:1'], balancer: 'nope' } as never] })).toThrow(/balancer/);
  });
});
