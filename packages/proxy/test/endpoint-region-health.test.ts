import { createBreakerRegistry } from '@edgekit/breaker';
import { createManualClock } from '@edgekit/core/testing';
import type { GeoLocation } from '@edgekit/geo';
import { type DecisionEvent, type Forwarder, type ForwarderOptions, REGION_BREAKER_DEFAULTS, createForwarder } from '@edgekit/proxy';
import { afterEach, describe, expect, it } from 'vitest';
import { type Upstream, send, startFront, startUpstream } from './helpers.js';

const cleanup: Array<() => Promise<void>> = [];
afterEach(async () => {
  while (cleanup.length > 0) await cleanup.pop()!();
});

const PARIS: GeoLocation = { country: 'FR', continent: 'EU', lat: 48.86, lon: 2.35, source: 'custom' };

interface World {
  url: string;
  forwarder: Forwarder;
  eu: Upstream[];
  us: Upstream;
  ap: Upstream;
  decisions: DecisionEvent[];
}

/**
 * Region eu (three endpoints, nearest to the client), then us and ap (one URL each) in latency
 * order, on a manual clock so ejections and breakers end when the test says.
 */
async function world(region: Record<string, unknown>, options: Partial<ForwarderOptions>): Promise<World> {
  const eu = await Promise.all(['eu-a', 'eu-b', 'eu-c'].map((name) => startUpstream(name)));
  const [us, ap] = await Promise.all([startUpstream('us'), startUpstream('ap')]);
  for (const u of [...eu, us!, ap!]) cleanup.push(() => u.close());
  const regions = [
    { name: 'eu', url: 'http://eu.invalid', location: { lat: 50.11, lon: 8.68 }, endpoints: eu.map((u) => u.url), ...region },
    { name: 'us', url: us!.url, location: { lat: 39.04, lon: -77.49 } },
    { name: 'ap', url: ap!.url, location: { lat: 1.35, lon: 103.82 } },
  ];
  const forwarder = createForwarder({ regions, locate: () => PARIS, retryBackoff: false, retryBudget: false, ...options });
  const front = await startFront(forwarder);
  cleanup.push(async () => {
    await front.close();
    await forwarder.close();
  });
  const decisions: DecisionEvent[] = [];
  forwarder.on('decision', (event) => decisions.push(event));
  return { url: front.url, forwarder, eu, us: us!, ap: ap!, decisions };
}

const received = (list: Upstream[]): number => list.reduce((n, u) => n + u.received.length, 0);

async function regionsServing(url: string, n: number): Promise<string[]> {
  const out: string[] = [];
  for (let i = 0; i < n; i++) {
    const reply = await send(`${url}/orders`);
    out.push(reply.status === 200 ? reply.json().region : String(reply.status));
  }
  return out;
}

describe('a region whose endpoints are all down', () => {
  it('is skipped for the next region in latency order once every endpoint is ejected, panic threshold or not, and serves again when the ejections end', async () => {
    const clock = createManualClock(1_000);
    const { url, forwarder, eu, us, ap, decisions } = await world(
      { outlierDetection: { consecutive5xx: 1, maxEjectionPercent: 100, baseEjectionTime: 30_000 } },
      { clock, maxAttempts: 4 },
    );
    expect((await regionsServing(url, 3)).every((name) => name.startsWith('eu-'))).toBe(true);
    for (const u of eu) u.behaviour = { kind: 'ok', status: 503 };
    const health: boolean[] = [];
    forwarder.regionBalancer('eu')!.on('health', (event) => health.push(event.healthy));
    // The first request meets each endpoint failing in turn (each is ejected), then fails over.
    expect(await regionsServing(url, 1)).toEqual(['us']);
    const status = forwarder.regionBalancer('eu')!.status();
    expect(status.endpoints.every((e) => e.ejected)).toBe(true);
    // Below the panic threshold the region would spread over its ejected endpoints; with a healthy
    // region left (Envoy: normalized total health 100 %), traffic leaves it instead.
    expect(status).toMatchObject({ panic: true, healthy: false });
    expect(health).toEqual([false]);

    const before = received(eu);
    decisions.length = 0;
    expect(await regionsServing(url, 20)).toEqual(Array(20).fill('us'));
    expect(received(eu)).toBe(before);
    expect(ap.received).toHaveLength(0);
    for (const decision of decisions) {
      expect(decision).toMatchObject({ candidates: ['us', 'ap'], skipped: [{ region: 'eu', reason: 'unhealthy' }], region: 'us', endpoint: undefined });
    }

    for (const u of eu) u.behaviour = { kind: 'ok' };
    clock.advance(30_000);
    expect(forwarder.regionBalancer('eu')!.isHealthy()).toBe(true);
    const usBefore = us.received.length;
    const back = await regionsServing(url, 30);
    expect(back.every((name) => name.startsWith('eu-'))).toBe(true);
    expect(new Set(back).size).toBe(3);
    expect(us.received.length).toBe(usBefore);
  });

  it('is skipped while every endpoint fails its active checks, and serves again as soon as one passes enough of them', async () => {
    const { url, forwarder, eu, us } = await world({ minHealthyPercent: 30 }, {});
    const region = forwarder.regionBalancer('eu')!;
    for (const u of eu) region.setEndpointHealth(u.url, false);
    expect(await regionsServing(url, 10)).toEqual(Array(10).fill('us'));
    expect(received(eu)).toBe(0);
    // One of three back: 33 % healthy, above minHealthyPercent; below the panic threshold (50 %),
    // so the region spreads over every endpoint rather than piling on the one that passed.
    region.setEndpointHealth(eu[1]!.url, true);
    const back = await regionsServing(url, 60);
    expect(back.every((name) => name.startsWith('eu-'))).toBe(true);
    expect(new Set(back).size).toBe(3);
    expect(us.received).toHaveLength(10);
  });

  it('opens the region breaker when every endpoint fails but too few may be ejected, then closes it once they answer again', async () => {
    const clock = createManualClock(1_000);
    const breakers = createBreakerRegistry({ clock, defaults: REGION_BREAKER_DEFAULTS });
    cleanup.push(() => breakers.close());
    // Envoy's default: at most 10 % ejected (one endpoint), so the region's health alone never drops.
    const { url, eu, us, decisions } = await world({}, { clock, breakers });
    for (const u of eu) u.behaviour = { kind: 'ok', status: 503 };
    const first = await regionsServing(url, 15);
    expect(first.every((name) => name === 'us')).toBe(true);
    expect(breakers.get('eu').snapshot().state).toBe('open');

    const before = received(eu);
    decisions.length = 0;
    expect(await regionsServing(url, 10)).toEqual(Array(10).fill('us'));
    expect(received(eu)).toBe(before);
    expect(decisions.every((d) => d.skipped.some((s) => s.region === 'eu' && s.reason === 'breaker-open'))).toBe(true);

    for (const u of eu) u.behaviour = { kind: 'ok' };
    clock.advance(REGION_BREAKER_DEFAULTS.resetTimeout);
    const usBefore = us.received.length;
    const back = await regionsServing(url, 10);
    expect(back.every((name) => name.startsWith('eu-'))).toBe(true);
    expect(breakers.get('eu').snapshot().state).toBe('closed');
    expect(us.received.length).toBe(usBefore);
  });

  it('keeps the last attempt for another region, unless no other region would take it', async () => {
    const breakers = createBreakerRegistry({ defaults: REGION_BREAKER_DEFAULTS });
    cleanup.push(() => breakers.close());
    const { url, eu, us, ap } = await world({ outlierDetection: false }, { maxAttempts: 2, breakers, routeKey: false });
    for (const u of eu) u.behaviour = { kind: 'ok', status: 503 };
    expect(await regionsServing(url, 1)).toEqual(['us']);
    expect(received(eu)).toBe(1);

    breakers.get('us').open();
    breakers.get('ap').open();
    expect(await regionsServing(url, 1)).toEqual(['503']);
    // Both attempts stayed in the region: the second went to another of its endpoints.
    expect(received(eu)).toBe(3);
    expect(us.received).toHaveLength(1);
    expect(ap.received).toHaveLength(0);
  });
});
