import { createBreakerRegistry } from '@edgekit/breaker';
import { createManualClock } from '@edgekit/core/testing';
import { type GeoLocation, createRegionSelector } from '@edgekit/geo';
import { type Forwarder, createForwarder } from '@edgekit/proxy';
import { afterEach, describe, expect, it } from 'vitest';
import { type Upstream, recordAttempts, send, startFront, startUpstream } from './helpers.js';

const SINGAPORE: GeoLocation = { country: 'SG', continent: 'AS', lat: 1.29, lon: 103.85, source: 'custom' };

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

describe('failover', () => {
  it('tries regions in the order the selector gives for the client location', async () => {
    const [eu, us, ap] = await upstreams('eu', 'us', 'ap');
    await ap!.kill();
    await eu!.kill();
    const forwarder = createForwarder({ regions: [eu!.region(), us!.region(), ap!.region()], locate: () => SINGAPORE });
    const attempts = recordAttempts(forwarder);
    const url = await front(forwarder);
    const reply = await send(`${url}/orders?id=7`);
    expect(reply.status).toBe(200);
    expect(reply.json()).toMatchObject({ region: 'us', url: '/orders?id=7' });
    expect(reply.headers['x-served-by']).toBe('us');
    // Singapore: nearest is ap, then eu (Frankfurt), then us (Virginia).
    expect(attempts).toEqual(['ap', 'eu', 'us']);
  });

  it('fails over when a region is killed mid-test', async () => {
    const [eu, us] = await upstreams('eu', 'us');
    const forwarder = createForwarder({ regions: [eu!.region(), us!.region()] });
    const url = await front(forwarder);
    expect((await send(`${url}/a`)).json().region).toBe('eu');
    await eu!.kill();
    const reply = await send(`${url}/b`);
    expect(reply.status).toBe(200);
    expect(reply.json().region).toBe('us');
    expect(eu!.received.map((r) => r.url)).toEqual(['/a']);
  });

  it('skips an unhealthy region without a network attempt', async () => {
    const [eu, us] = await upstreams('eu', 'us');
    const down = new Set(['eu']);
    const forwarder = createForwarder({ regions: [eu!.region(), us!.region()], health: { isHealthy: (name) => !down.has(name) } });
    const decisions: unknown[] = [];
    forwarder.on('decision', (d) => decisions.push(d));
    const url = await front(forwarder);
    const reply = await send(`${url}/x`);
    expect(reply.json().region).toBe('us');
    expect(eu!.received).toHaveLength(0);
    expect(decisions[0]).toMatchObject({ candidates: ['us'], skipped: [{ region: 'eu', reason: 'unhealthy' }], healthIgnored: false });
  });

  it('skips a region whose breaker is open without a network attempt', async () => {
    const [eu, us] = await upstreams('eu', 'us');
    const breakers = createBreakerRegistry({ defaults: { timeout: false } });
    cleanup.push(() => breakers.close());
    breakers.get('eu').open();
    const forwarder = createForwarder({ regions: [eu!.region(), us!.region()], breakers });
    const decisions: Array<{ skipped: unknown[] }> = [];
    forwarder.on('decision', (d) => decisions.push(d));
    const url = await front(forwarder);
    const reply = await send(`${url}/x`);
    expect(reply.json().region).toBe('us');
    expect(eu!.received).toHaveLength(0);
    expect(decisions[0]!.skipped).toEqual([{ region: 'eu', reason: 'breaker-open' }]);
  });

  it('tries every region, primary first, when all of them are reported unhealthy', async () => {
    const [eu, us] = await upstreams('eu', 'us');
    const forwarder = createForwarder({ regions: [eu!.region(), us!.region()], health: { isHealthy: () => false } });
    const decisions: Array<{ healthIgnored: boolean }> = [];
    forwarder.on('decision', (d) => decisions.push(d));
    const url = await front(forwarder);
    const reply = await send(`${url}/x`);
    expect(reply.status).toBe(200);
    expect(reply.json().region).toBe('eu');
    expect(decisions[0]!.healthIgnored).toBe(true);
  });

  it('opens a breaker after connection failures, then stops sending to that region', async () => {
    const [eu, us] = await upstreams('eu', 'us');
    await eu!.kill();
    const breakers = createBreakerRegistry({ defaults: { timeout: false, volumeThreshold: 1, errorThresholdPercentage: 50, resetTimeout: 60_000 } });
    cleanup.push(() => breakers.close());
    const forwarder = createForwarder({ regions: [eu!.region(), us!.region()], breakers });
    const attempts = recordAttempts(forwarder);
    const url = await front(forwarder);
    expect((await send(`${url}/1`)).json().region).toBe('us');
    expect(breakers.get('eu').opened).toBe(true);
    expect((await send(`${url}/2`)).json().region).toBe('us');
    expect(attempts).toEqual(['eu', 'us', 'us']);
  });

  it('never sends a POST twice: a reset after the upstream read the body is answered 502', async () => {
    const [eu, us] = await upstreams('eu', 'us');
    eu!.behaviour = { kind: 'reset-after-body' };
    const forwarder = createForwarder({ regions: [eu!.region(), us!.region()] });
    const url = await front(forwarder);
    const reply = await send(`${url}/pay`, { method: 'POST', body: '{"amount":10}', headers: { 'content-type': 'application/json' } });
    expect(reply.status).toBe(502);
    expect(eu!.received).toHaveLength(1);
    expect(eu!.received[0]!.body).toBe('{"amount":10}');
    expect(us!.received).toHaveLength(0);
  });

  it('retries a POST on the next region when the first refused the connection (it never left)', async () => {
    const [eu, us] = await upstreams('eu', 'us');
    await eu!.kill();
    const forwarder = createForwarder({ regions: [eu!.region(), us!.region()] });
    const url = await front(forwarder);
    const reply = await send(`${url}/pay`, { method: 'POST', body: 'x'.repeat(200_000) });
    expect(reply.status).toBe(200);
    expect(reply.json()).toMatchObject({ region: 'us', bytes: 200_000 });
    expect(us!.received).toHaveLength(1);
  });

  it('retries an idempotent request after a connection reset', async () => {
    const [eu, us] = await upstreams('eu', 'us');
    eu!.behaviour = { kind: 'reset' };
    const forwarder = createForwarder({ regions: [eu!.region(), us!.region()] });
    const url = await front(forwarder);
    const reply = await send(`${url}/item`, { method: 'GET' });
    expect(reply.json().region).toBe('us');
    expect(eu!.received).toHaveLength(1);
  });

  it('replays a small PUT body on the next region', async () => {
    const [eu, us] = await upstreams('eu', 'us');
    eu!.behaviour = { kind: 'reset-after-body' };
    const forwarder = createForwarder({ regions: [eu!.region(), us!.region()] });
    const url = await front(forwarder);
    const reply = await send(`${url}/doc/1`, { method: 'PUT', body: 'hello' });
    expect(reply.status).toBe(200);
    expect(reply.json()).toMatchObject({ region: 'us', bytes: 5 });
    expect(eu!.received[0]!.body).toBe('hello');
    expect(us!.received[0]!.body).toBe('hello');
  });

  it('does not replay a PUT body larger than maxReplayBody', async () => {
    const [eu, us] = await upstreams('eu', 'us');
    eu!.behaviour = { kind: 'reset-after-body' };
    const forwarder = createForwarder({ regions: [eu!.region(), us!.region()], maxReplayBody: 10 });
    const url = await front(forwarder);
    const reply = await send(`${url}/doc/1`, { method: 'PUT', body: 'a body longer than ten bytes' });
    expect(reply.status).toBe(502);
    expect(us!.received).toHaveLength(0);
  });

  it('fails over a GET on 503 but hands a POST its 503 as is', async () => {
    const [eu, us] = await upstreams('eu', 'us');
    eu!.behaviour = { kind: 'ok', status: 503 };
    const forwarder = createForwarder({ regions: [eu!.region(), us!.region()] });
    const failovers: unknown[] = [];
    forwarder.on('failover', (e) => failovers.push(e));
    const url = await front(forwarder);
    const get = await send(`${url}/g`);
    expect(get.status).toBe(200);
    expect(get.json().region).toBe('us');
    expect(failovers).toEqual([{ from: 'eu', to: 'us', reason: 'status', status: 503 }]);
    const post = await send(`${url}/p`, { method: 'POST', body: 'once' });
    expect(post.status).toBe(503);
    expect(post.headers['x-served-by']).toBe('eu');
    expect(us!.received.map((r) => r.method)).toEqual(['GET']);
    expect(eu!.received.filter((r) => r.method === 'POST')).toHaveLength(1);
  });

  it('passes a 500 through without failover by default (an application error, not an outage)', async () => {
    const [eu, us] = await upstreams('eu', 'us');
    eu!.behaviour = { kind: 'ok', status: 500 };
    const forwarder = createForwarder({ regions: [eu!.region(), us!.region()] });
    const url = await front(forwarder);
    const reply = await send(`${url}/g`);
    expect(reply.status).toBe(500);
    expect(us!.received).toHaveLength(0);
  });

  it('makes the idempotent methods configurable', async () => {
    const [eu, us] = await upstreams('eu', 'us');
    eu!.behaviour = { kind: 'reset-after-body' };
    const forwarder = createForwarder({ regions: [eu!.region(), us!.region()], idempotentMethods: ['GET', 'POST'] });
    const url = await front(forwarder);
    const post = await send(`${url}/search`, { method: 'POST', body: '{"q":1}' });
    expect(post.json()).toMatchObject({ region: 'us' });
    const del = await send(`${url}/x`, { method: 'DELETE' });
    expect(del.status).toBe(502);
  });

  it('stops after maxAttempts network attempts', async () => {
    const [eu, us, ap] = await upstreams('eu', 'us', 'ap');
    for (const u of [eu!, us!, ap!]) u.behaviour = { kind: 'reset' };
    const forwarder = createForwarder({ regions: [eu!.region(), us!.region(), ap!.region()], maxAttempts: 2 });
    const attempts = recordAttempts(forwarder);
    const url = await front(forwarder);
    const reply = await send(`${url}/x`);
    expect(reply.status).toBe(502);
    expect(attempts).toHaveLength(2);
    expect(ap!.received).toHaveLength(0);
  });

  it('waits for a slow region within headersTimeout instead of failing over, and learns its latency', async () => {
    const [eu, us] = await upstreams('eu', 'us');
    eu!.behaviour = { kind: 'ok', delayMs: 300 };
    const selector = createRegionSelector({ regions: [eu!.region(), us!.region()] });
    const forwarder = createForwarder({ selector, headersTimeout: 10_000 });
    const url = await front(forwarder);
    const reply = await send(`${url}/slow`);
    expect(reply.json().region).toBe('eu');
    expect(us!.received).toHaveLength(0);
    expect(selector.latencies().eu?.rttMs).toBeGreaterThanOrEqual(250);
  });

  it('feeds the measured time to response headers to the selector', async () => {
    const [eu, us] = await upstreams('eu', 'us');
    const clock = createManualClock(1_000);
    eu!.behaviour = {
      kind: 'custom',
      handle: (_req, res) => {
        clock.advance(40);
        res.end('ok');
      },
    };
    const recorded: Array<[string, number]> = [];
    const regions = [eu!.region(), us!.region()];
    const forwarder = createForwarder({
      selector: { regions, select: () => ({ primary: regions[0]!, regions: [...regions], reason: 'default' }), recordLatency: (r, ms) => recorded.push([r, ms]) },
      clock,
    });
    const url = await front(forwarder);
    await send(`${url}/x`);
    expect(recorded).toEqual([['eu', 40]]);
  });
});
