import type { IncomingMessage, ServerResponse } from 'node:http';
import { createBreakerRegistry } from '@edgekit/breaker';
import { createCache } from '@edgekit/cache';
import { createManualClock } from '@edgekit/core/testing';
import type { GeoLocation } from '@edgekit/geo';
import { createHealthChecker } from '@edgekit/health';
import { createForwarder } from '@edgekit/proxy';
import { type EdgeMetricsOptions, createEdgeMetrics } from '@edgekit/telemetry';
import { Registry, register as globalRegistry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { abandon, metricsContaining, samples, send, startFront, startUpstream, waitFor } from './helpers.js';

const cleanup: Array<() => Promise<void>> = [];
afterEach(async () => {
  while (cleanup.length > 0) await cleanup.pop()!();
});

const PARIS: GeoLocation = { country: 'FR', continent: 'EU', lat: 48.86, lon: 2.35, source: 'custom' };
const NEW_YORK: GeoLocation = { country: 'US', continent: 'NA', lat: 40.71, lon: -74.0, source: 'custom' };
const LOCATIONS: Record<string, GeoLocation> = { '198.51.100.1': PARIS, '198.51.100.2': NEW_YORK };

function options(registry: Registry, extra: Partial<EdgeMetricsOptions> = {}): EdgeMetricsOptions {
  return { registry, location: 'eu-west', regions: ['eu-west', 'us-east'], ...extra };
}

/** A gateway front: forwarder behind the metrics' handler wrapper, clients located by X-Forwarded-For from loopback. */
async function gateway(upstreams: Array<Awaited<ReturnType<typeof startUpstream>>>, extra: Partial<EdgeMetricsOptions> = {}) {
  const registry = new Registry();
  const metrics = createEdgeMetrics(options(registry, extra));
  const forwarder = createForwarder({
    regions: upstreams.map((u) => u.region()),
    locate: (ip) => LOCATIONS[ip] ?? null,
    trustedProxies: 'loopback',
    retryBudget: false,
  });
  metrics.observeForwarder(forwarder);
  const front = await startFront(metrics.wrapHandler(forwarder.handler));
  cleanup.push(async () => {
    await front.close();
    await metrics.close();
    await forwarder.close();
    for (const upstream of upstreams) await upstream.close();
  });
  return { registry, metrics, forwarder, front };
}

describe('routing metrics', () => {
  it('counts routed requests by target region, client continent and status class', async () => {
    const eu = await startUpstream('eu-west');
    const us = await startUpstream('us-east');
    const { registry, front } = await gateway([eu, us]);
    await send(`${front.url}/a`, { headers: { 'x-forwarded-for': '198.51.100.1' } });
    await send(`${front.url}/b`, { headers: { 'x-forwarded-for': '198.51.100.1' } });
    await send(`${front.url}/c`, { headers: { 'x-forwarded-for': '198.51.100.2' } });
    us.behaviour = 404;
    await send(`${front.url}/d`, { headers: { 'x-forwarded-for': '198.51.100.2' } });
    await send(`${front.url}/e`, { headers: { 'x-forwarded-for': '192.0.2.77' } });
    const text = await registry.metrics();
    expect(samples(text, 'edge_routing_requests_total').sort()).toEqual(
      [
        'edge_routing_requests_total{target_region="eu-west",client_region="EU",status="2xx"} 2',
        'edge_routing_requests_total{target_region="us-east",client_region="NA",status="2xx"} 1',
        'edge_routing_requests_total{target_region="us-east",client_region="NA",status="4xx"} 1',
        'edge_routing_requests_total{target_region="eu-west",client_region="unknown",status="2xx"} 1',
      ].sort(),
    );
    expect(text).toContain('# TYPE edge_routing_requests_total counter');
  });

  it('counts a failover and the backend time of the region that answered', async () => {
    const eu = await startUpstream('eu-west', 'reset');
    const us = await startUpstream('us-east');
    const { registry, front } = await gateway([eu, us]);
    const reply = await send(`${front.url}/x`, { headers: { 'x-forwarded-for': '198.51.100.1' } });
    expect(reply.status).toBe(200);
    const text = await registry.metrics();
    expect(samples(text, 'edge_routing_failovers_total')).toEqual(['edge_routing_failovers_total{from_region="eu-west",to_region="us-east"} 1']);
    expect(samples(text, 'edge_routing_requests_total')).toEqual(['edge_routing_requests_total{target_region="us-east",client_region="EU",status="2xx"} 1']);
    expect(samples(text, 'edge_to_backend_duration_seconds_count')).toEqual(['edge_to_backend_duration_seconds_count{edge_location="eu-west",backend_region="us-east"} 1']);
    expect(text).toContain('edge_to_backend_duration_seconds_bucket{le="10",edge_location="eu-west",backend_region="us-east"} 1');
  });

  it('counts a request no region could answer against the last region tried, as 5xx', async () => {
    const eu = await startUpstream('eu-west');
    await eu.close();
    const us = await startUpstream('us-east');
    await us.close();
    const { registry, front } = await gateway([eu, us]);
    const reply = await send(`${front.url}/x`, { headers: { 'x-forwarded-for': '198.51.100.1' } });
    expect(reply.status).toBe(502);
    const text = await registry.metrics();
    expect(samples(text, 'edge_routing_requests_total')).toEqual(['edge_routing_requests_total{target_region="us-east",client_region="EU",status="5xx"} 1']);
    expect(samples(text, 'edge_routing_failovers_total')).toEqual(['edge_routing_failovers_total{from_region="eu-west",to_region="us-east"} 1']);
  });

  it('counts a client that went away before the answer as aborted', async () => {
    const eu = await startUpstream('eu-west', 'hang');
    const { registry, front } = await gateway([eu]);
    await abandon(`${front.url}/slow`, () => eu.received.length === 1);
    const text = await metricsContaining(registry, 'status="aborted"');
    expect(samples(text, 'edge_routing_requests_total')).toEqual(['edge_routing_requests_total{target_region="eu-west",client_region="unknown",status="aborted"} 1']);
  });

  it('times gateway requests until the response closes, on the injected clock', async () => {
    const registry = new Registry();
    const clock = createManualClock(1_000);
    const metrics = createEdgeMetrics(options(registry, { clock, requestBuckets: [0.1, 0.5, 1] }));
    cleanup.push(() => metrics.close());
    let pending: ServerResponse | undefined;
    const front = await startFront(
      metrics.wrapHandler((_req: IncomingMessage, res: ServerResponse) => {
        pending = res;
      }),
    );
    cleanup.push(() => front.close());
    const reply = send(`${front.url}/slow`);
    await waitFor(() => pending !== undefined, 5_000, 'the request');
    clock.advance(300);
    pending!.end('done');
    await reply;
    const text = await metricsContaining(registry, 'edge_gateway_request_duration_seconds_count{location="eu-west"} 1');
    expect(text).toContain('edge_gateway_request_duration_seconds_bucket{le="0.1",location="eu-west"} 0');
    expect(text).toContain('edge_gateway_request_duration_seconds_bucket{le="0.5",location="eu-west"} 1');
    expect(text).toContain('edge_gateway_request_duration_seconds_sum{location="eu-west"} 0.3');
  });

  it('passes a middleware\'s extra arguments (next) through the timing wrapper', async () => {
    const registry = new Registry();
    const metrics = createEdgeMetrics(options(registry));
    cleanup.push(() => metrics.close());
    const seen: unknown[] = [];
    const middleware = metrics.wrapHandler((req: IncomingMessage, res: ServerResponse, next: (value: string) => void) => {
      seen.push(req.url);
      next('called');
      res.end('ok');
    });
    const front = await startFront((req, res) => middleware(req, res, (value) => seen.push(value)));
    cleanup.push(() => front.close());
    await send(`${front.url}/a`);
    expect(seen).toEqual(['/a', 'called']);
    await metricsContaining(registry, 'edge_gateway_request_duration_seconds_count{location="eu-west"} 1');
  });
});

describe('label cardinality', () => {
  it('creates no series for hostile paths, client addresses, locations or unconfigured regions', async () => {
    const eu = await startUpstream('eu-west');
    const us = await startUpstream('us-east');
    // us-east is served but not configured in the metrics: it must appear as "other".
    const registry = new Registry();
    const metrics = createEdgeMetrics({ registry, location: 'eu-west', regions: ['eu-west'] });
    const hostile: Record<string, GeoLocation> = {};
    const forwarder = createForwarder({
      regions: [eu.region(), us.region()],
      locate: (ip) => hostile[ip] ?? null,
      trustedProxies: 'loopback',
      retryBudget: false,
    });
    metrics.observeForwarder(forwarder);
    const front = await startFront(metrics.wrapHandler(forwarder.handler));
    cleanup.push(async () => {
      await front.close();
      await metrics.close();
      await forwarder.close();
      await eu.close();
      await us.close();
    });
    const requests: Array<Promise<unknown>> = [];
    for (let i = 0; i < 120; i++) {
      const ip = i % 2 === 0 ? `10.${i}.${(i * 7) % 256}.${(i * 13) % 256}` : `2001:db8::${i.toString(16)}`;
      // Half the clients claim a continent or country no one configured; some are near us-east.
      if (i % 3 === 0) hostile[ip] = { continent: `Z${i}` as GeoLocation['continent'], country: `Q${i}`, lat: 40, lon: -74, source: 'custom' };
      else if (i % 3 === 1) hostile[ip] = { continent: 'AS', country: 'SG', lat: 1.3, lon: 103.8, source: 'custom' };
      // Most paths are hostile but canonical, so they are routed; every fourth also climbs with dot
      // segments and carries a NUL, which the forwarder refuses with 400 before routing.
      // (`<script>0</script>` escaped but for its `/`: an escaped slash is refused either way.)
      const hostilePath = `/users/${i}/${encodeURIComponent(`<script>${i}<`)}/${encodeURIComponent('script>')}`;
      const path = `${hostilePath}${i % 4 === 3 ? '/../../etc/passwd%00' : '/etc/passwd'}?q=${'x'.repeat(i)}&ip=${ip}`;
      requests.push(send(`${front.url}${path}`, { headers: { 'x-forwarded-for': ip } }));
      if (requests.length === 8) await Promise.all(requests.splice(0));
    }
    await Promise.all(requests);
    const text = await registry.metrics();
    const series = text.split('\n').filter((line) => line !== '' && !line.startsWith('#'));
    for (const line of series) {
      expect(line).not.toMatch(/users|script|passwd|2001:db8|10\.\d+\.|Z\d|Q\d|us-east/);
    }
    const routing = samples(text, 'edge_routing_requests_total');
    const labelSets = new Set(routing.map((line) => line.slice(0, line.lastIndexOf(' '))));
    // Routed: client_region ∈ {AS, other, unknown}, target ∈ {eu-west, other}, status 2xx; refused: one more set, 4xx.
    expect(labelSets.size).toBeLessThanOrEqual(7);
    const count = (lines: string[]): number => lines.reduce((sum, line) => sum + Number(line.slice(line.lastIndexOf(' ') + 1)), 0);
    expect(count(routing)).toBe(120);
    expect(count(routing.filter((line) => line.includes('status="4xx"')))).toBe(30);
    expect(routing.some((line) => line.includes('client_region="other"'))).toBe(true);
    expect(routing.some((line) => line.includes('target_region="other"'))).toBe(true);
    expect(series.length).toBeLessThan(60);
  });

  it('keeps a custom client region function within clientRegions', () => {
    const registry = new Registry();
    const metrics = createEdgeMetrics(options(registry, { clientRegion: (l) => l?.country ?? 'unknown', clientRegions: ['FR', 'US'] }));
    cleanup.push(() => metrics.close());
    expect(metrics.clientRegionOf(PARIS)).toBe('FR');
    expect(metrics.clientRegionOf({ country: 'KP' })).toBe('other');
    expect(metrics.clientRegionOf(null)).toBe('unknown');
  });
});

describe('breaker, health and cache metrics', () => {
  it('follows breaker states per configured region and ignores other keys', async () => {
    const registry = new Registry();
    const metrics = createEdgeMetrics(options(registry));
    const breakers = createBreakerRegistry({ clock: createManualClock() });
    breakers.get('eu-west');
    const handle = metrics.observeBreakers(breakers);
    cleanup.push(async () => {
      await metrics.close();
      await breakers.close();
    });
    let text = await registry.metrics();
    // us-east has no breaker yet (a registry makes one on first use): it is closed all the same.
    expect(samples(text, 'edge_breaker_state').sort()).toEqual(
      ['eu-west', 'us-east'].flatMap((region) => [`edge_breaker_state{region="${region}",state="closed"} 1`, `edge_breaker_state{region="${region}",state="open"} 0`, `edge_breaker_state{region="${region}",state="half_open"} 0`]).sort(),
    );
    breakers.get('us-east').open();
    breakers.get('203.0.113.9:/admin').open();
    text = await registry.metrics();
    expect(samples(text, 'edge_breaker_state')).toContain('edge_breaker_state{region="us-east",state="open"} 1');
    expect(samples(text, 'edge_breaker_state')).toContain('edge_breaker_state{region="us-east",state="closed"} 0');
    expect(text).not.toContain('203.0.113.9');
    handle.dispose();
    breakers.get('eu-west').open();
    text = await registry.metrics();
    expect(samples(text, 'edge_breaker_state')).toContain('edge_breaker_state{region="eu-west",state="open"} 0');
  });

  it('follows region health from the checker\'s snapshot and change events', async () => {
    const registry = new Registry();
    const metrics = createEdgeMetrics(options(registry));
    let euUp = true;
    const checker = createHealthChecker({
      targets: [
        { name: 'eu-west', probe: () => euUp },
        { name: 'us-east', probe: () => true },
      ],
      healthyThreshold: 1,
      unhealthyThreshold: 1,
      clock: createManualClock(),
    });
    cleanup.push(async () => {
      await metrics.close();
      await checker.close();
    });
    metrics.observeHealth(checker);
    let text = await registry.metrics();
    // Unknown targets count as healthy (the checker's default).
    expect(samples(text, 'edge_region_healthy').sort()).toEqual(['edge_region_healthy{region="eu-west"} 1', 'edge_region_healthy{region="us-east"} 1']);
    euUp = false;
    await checker.checkNow();
    text = await registry.metrics();
    expect(samples(text, 'edge_region_healthy').sort()).toEqual(['edge_region_healthy{region="eu-west"} 0', 'edge_region_healthy{region="us-east"} 1']);
    euUp = true;
    await checker.checkNow();
    text = await registry.metrics();
    expect(samples(text, 'edge_region_healthy')).toContain('edge_region_healthy{region="eu-west"} 1');
  });

  it('counts cache requests and hits from a real cache in front of the forwarder', async () => {
    const eu = await startUpstream('eu-west');
    const registry = new Registry();
    const metrics = createEdgeMetrics(options(registry));
    const forwarder = createForwarder({ regions: [eu.region()] });
    const cache = createCache({ routes: { 'GET /api/items/:id': { ttl: 60_000 } } });
    metrics.observeCache(cache);
    metrics.observeForwarder(forwarder);
    const front = await startFront(metrics.wrapHandler(cache.handler(forwarder.forward)));
    cleanup.push(async () => {
      await front.close();
      await cache.close();
      await metrics.close();
      await forwarder.close();
      await eu.close();
    });
    let text = await registry.metrics();
    expect(samples(text, 'edge_cache_requests_total')).toEqual(['edge_cache_requests_total{location="eu-west"} 0']);
    const first = await send(`${front.url}/api/items/1`);
    const second = await send(`${front.url}/api/items/1`);
    await send(`${front.url}/api/items/2`);
    expect(first.headers['cache-status']).toMatch(/miss/i);
    expect(second.headers['cache-status']).toMatch(/hit/);
    expect(eu.received).toHaveLength(2);
    text = await registry.metrics();
    expect(samples(text, 'edge_cache_requests_total')).toEqual(['edge_cache_requests_total{location="eu-west"} 3']);
    expect(samples(text, 'edge_cache_hits_total')).toEqual(['edge_cache_hits_total{location="eu-west"} 1']);
    // Only the two misses were routed; all three requests were timed.
    expect(samples(text, 'edge_routing_requests_total')).toEqual(['edge_routing_requests_total{target_region="eu-west",client_region="unknown",status="2xx"} 2']);
    await metricsContaining(registry, 'edge_gateway_request_duration_seconds_count{location="eu-west"} 3');
  });
});

describe('lifecycle and options', () => {
  it('never touches the global registry, and close() removes its metrics so they can be made again', async () => {
    const before = await globalRegistry.metrics();
    const registry = new Registry();
    const metrics = createEdgeMetrics(options(registry));
    metrics.recordRouting({ targetRegion: 'eu-west', clientRegion: 'EU', status: 200 });
    expect(await globalRegistry.metrics()).toBe(before);
    expect(() => createEdgeMetrics(options(registry))).toThrow(/already has a metric named "edge_routing_requests_total"/);
    await metrics.close();
    expect(await registry.metrics()).not.toContain('edge_');
    const again = createEdgeMetrics(options(registry));
    cleanup.push(() => again.close());
    expect(await registry.metrics()).toContain('edge_routing_requests_total');
    expect(() => metrics.observeCache({ on: () => ({ dispose() {} }) })).toThrow(/closed/);
  });

  it('follows a new region list without resetting counters, dropping gauges of removed regions', async () => {
    const registry = new Registry();
    const metrics = createEdgeMetrics(options(registry));
    cleanup.push(() => metrics.close());
    metrics.recordRouting({ targetRegion: 'ap-south', clientRegion: 'AS', status: 200 });
    metrics.recordRouting({ targetRegion: 'us-east', clientRegion: 'NA', status: 200 });
    metrics.setRegionHealthy('us-east', true);
    metrics.setBreakerState('us-east', 'open');
    metrics.setRegions([{ name: 'eu-west' }, { name: 'ap-south' }]);
    metrics.recordRouting({ targetRegion: 'ap-south', clientRegion: 'AS', status: 200 });
    metrics.setRegionHealthy('ap-south', false);
    const text = await registry.metrics();
    expect(samples(text, 'edge_routing_requests_total').sort()).toEqual(
      [
        'edge_routing_requests_total{target_region="other",client_region="AS",status="2xx"} 1',
        'edge_routing_requests_total{target_region="us-east",client_region="NA",status="2xx"} 1',
        'edge_routing_requests_total{target_region="ap-south",client_region="AS",status="2xx"} 1',
      ].sort(),
    );
    expect(samples(text, 'edge_region_healthy')).toEqual(['edge_region_healthy{region="ap-south"} 0']);
    expect(samples(text, 'edge_breaker_state')).toEqual([]);
    expect(() => metrics.setRegions([])).toThrow(/option "regions"/);
  });

  it('shows the breaker state of a region added by setRegions at once, closed until its breaker exists', async () => {
    const registry = new Registry();
    const metrics = createEdgeMetrics(options(registry));
    const breakers = createBreakerRegistry({ clock: createManualClock() });
    cleanup.push(async () => {
      await metrics.close();
      await breakers.close();
    });
    metrics.observeBreakers(breakers);
    breakers.get('eu-central').open();
    metrics.setRegions([{ name: 'eu-west' }, { name: 'ap-south' }, { name: 'eu-central' }]);
    const text = await registry.metrics();
    expect(samples(text, 'edge_breaker_state')).toContain('edge_breaker_state{region="ap-south",state="closed"} 1');
    expect(samples(text, 'edge_breaker_state')).toContain('edge_breaker_state{region="eu-central",state="open"} 1');
    expect(samples(text, 'edge_breaker_state').some((line) => line.includes('us-east'))).toBe(false);
  });

  it('prefixes every metric name', async () => {
    const registry = new Registry();
    const metrics = createEdgeMetrics(options(registry, { prefix: 'shop_' }));
    cleanup.push(() => metrics.close());
    metrics.recordFailover('eu-west', 'us-east');
    const text = await registry.metrics();
    expect(samples(text, 'shop_edge_routing_failovers_total')).toEqual(['shop_edge_routing_failovers_total{from_region="eu-west",to_region="us-east"} 1']);
    expect(metrics.names.routingFailovers).toBe('shop_edge_routing_failovers_total');
  });

  it('disposes its subscriptions when closed', async () => {
    const registry = new Registry();
    const metrics = createEdgeMetrics(options(registry));
    const listeners = new Set<(e: { status: 'hit' }) => void>();
    metrics.observeCache({
      on: (_event, listener) => {
        listeners.add(listener);
        return { dispose: () => listeners.delete(listener) };
      },
    });
    expect(listeners.size).toBe(1);
    await metrics.close();
    expect(listeners.size).toBe(0);
  });

  it('validates its options, naming the option', () => {
    const registry = new Registry();
    expect(() => createEdgeMetrics({ ...options(registry), registry: undefined as never })).toThrow(/option "registry"/);
    expect(() => createEdgeMetrics({ ...options(registry), location: '' })).toThrow(/option "location"/);
    expect(() => createEdgeMetrics({ ...options(registry), regions: [] })).toThrow(/option "regions"/);
    expect(() => createEdgeMetrics({ ...options(registry), regions: ['eu', 7 as never] })).toThrow(/option "regions\[1\]"/);
    expect(() => createEdgeMetrics({ ...options(registry), prefix: 'bad-prefix' })).toThrow(/option "prefix"/);
    expect(() => createEdgeMetrics({ ...options(registry), requestBuckets: [1, 0.5] })).toThrow(/option "requestBuckets"/);
    expect(() => createEdgeMetrics({ ...options(registry), clientRegion: 'EU' as never })).toThrow(/option "clientRegion"/);
    expect(() => createEdgeMetrics(options(registry)).observeForwarder({} as never)).toThrow(/observeForwarder\(forwarder\)/);
  });
});
