import { createServer } from 'node:net';
import { performance } from 'node:perf_hooks';
import { createGeoLocator, createGeoipLiteResolver, continentOf } from '@edgekit/geo';
import { listen, closeServer } from '@edgekit/test-utils';
import { natsAvailability, redisAvailability } from '@edgekit/test-utils/node';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { distanceKm, floorOneWayMs } from '../src/geo-math.js';
import { startLatencyProxy } from '../src/latency-proxy.js';
import { createProgress } from '../src/progress.js';
import { runBadPodScenario } from '../src/scenarios/bad-pod.js';
import { runLatencyScenario } from '../src/scenarios/latency.js';
import { runRegionalStateScenario } from '../src/scenarios/regional-state.js';
import { runReachScenario } from '../src/scenarios/reach.js';
import { runSwrScenario } from '../src/scenarios/swr.js';
import { type World, startWorld } from '../src/topology.js';
import { CITIES, CONTINENT_RULES, DEFAULT_REGIONS, nearestRegion } from '../src/world.js';

describe('world model', () => {
  it('puts the physical floor of Singapore to N. Virginia at about 78 ms one way', () => {
    const singapore = CITIES.find((c) => c.name === 'Singapore')!;
    const virginia = DEFAULT_REGIONS.find((r) => r.name === 'us-east')!;
    expect(distanceKm(singapore, virginia)).toBeGreaterThan(15_000);
    expect(distanceKm(singapore, virginia)).toBeLessThan(16_000);
    expect(floorOneWayMs(singapore, virginia)).toBeCloseTo(distanceKm(singapore, virginia) / 200, 6);
  });

  it('geolocates every city to a continent whose routing rule names its nearest edge', async () => {
    const locator = createGeoLocator({ resolver: createGeoipLiteResolver({ dataset: 'country' }) });
    await locator.ready();
    for (const city of CITIES) {
      const location = locator.lookup(city.ip);
      expect(location?.country, city.name).toBeDefined();
      const continent = continentOf(location!.country!);
      expect(CONTINENT_RULES[continent as keyof typeof CONTINENT_RULES], city.name).toBe(nearestRegion(city, DEFAULT_REGIONS).name);
    }
    await locator.close();
  });
});

describe('latency proxy', () => {
  it('delays each direction by the one-way delay and a new connection by a handshake', async () => {
    const echo = createServer((socket) => socket.pipe(socket));
    const port = await listen(echo);
    const proxy = await startLatencyProxy({ name: 'test', target: { host: '127.0.0.1', port }, oneWayMs: 40 });
    const { connect } = await import('node:net');
    // Timed from before connect(): a late 'connect' callback on a busy loop cannot shorten it.
    const opened = performance.now();
    const socket = connect(proxy.port, '127.0.0.1');
    const roundTrip = (started: number): Promise<number> =>
      new Promise((resolve) => {
        socket.once('data', () => resolve(performance.now() - started));
        socket.write('ping');
      });
    await new Promise((resolve) => socket.once('connect', resolve));
    const first = await roundTrip(opened);
    const warm = await roundTrip(performance.now());
    // First bytes wait for SYN, SYN-ACK and the data leg (3 one-way), then the answer's leg.
    expect(first).toBeGreaterThanOrEqual(4 * 40 - 2);
    expect(warm).toBeGreaterThanOrEqual(2 * 40 - 2);
    expect(warm).toBeLessThan(first);
    socket.destroy();
    proxy.cut();
    await expect(request(proxy.url, { headersTimeout: 2_000 })).rejects.toThrow();
    await proxy.close();
    await closeServer(echo);
  });
});

describe('scenarios', () => {
  let world: World;
  const locator = createGeoLocator({ resolver: createGeoipLiteResolver({ dataset: 'country' }) });
  const progress = createProgress({ isTTY: false, write: () => true } as unknown as NodeJS.WriteStream);
  beforeAll(async () => {
    await locator.ready();
    world = await startWorld(DEFAULT_REGIONS, 1);
  });
  afterAll(async () => {
    await world?.close();
    await locator.close();
  });

  it('serves far-away cities faster from the nearest edge than from a centralized gateway', async () => {
    const cities = CITIES.filter((c) => c.name === 'Singapore' || c.name === 'London');
    const rows = await runLatencyScenario({ world, cities, locator, progress, upstreamTimeout: 2_000, quick: true });
    for (const row of rows) {
      expect(row.centralized.errors + row.edgeOnly.errors + row.edgeCache.errors, row.city).toBe(0);
      // The injected round trips differ by more than 100 ms for both cities; the edge must show it.
      expect(row.edgeOnly.p50, row.city).toBeLessThan(row.centralized.p50);
      expect(row.edgeOnly.p50, row.city).toBeGreaterThanOrEqual(row.edgeOnly.floor);
      expect(row.centralized.p50, row.city).toBeGreaterThanOrEqual(row.centralized.floor);
    }
    expect(rows.find((r) => r.city === 'Singapore')!.servedBy).toBe('ap-south');
    expect(rows.find((r) => r.city === 'London')!.servedBy).toBe('eu-west');
  });

  it('through a regional outage: GeoDNS clients keep failing, anycast loses requests in flight, the smart client none', async () => {
    const singapore = CITIES.filter((c) => c.name === 'Singapore');
    const [geoDns, anycast, smart] = await runReachScenario({ world, cities: singapore, locator, progress, upstreamTimeout: 1_000, quick: true }, 'ap-south', 2_500);
    expect(geoDns!.errors).toBeGreaterThan(geoDns!.requests / 2);
    expect(geoDns!.recoveredAfter).toBeUndefined();
    // Four requests at a time: at most those in flight when the route was withdrawn are reset.
    expect(anycast!.errors).toBeLessThanOrEqual(4);
    expect(anycast!.recoveredAfter).toBeDefined();
    expect(smart!.errors).toBe(0);
    expect(smart!.recoveredAfter).toBeDefined();
    expect((smart!.servedBy['eu-west'] ?? 0) + (smart!.servedBy['us-east'] ?? 0)).toBeGreaterThan(0);
  });

  it('answers a burst on an expired entry from the stale copy with one origin call', async () => {
    const rows = await runSwrScenario({ world, cities: CITIES, locator, progress, upstreamTimeout: 2_000, quick: true }, 'us-east', 2_000);
    const [noCache, plain, swr] = rows;
    expect(noCache!.originCalls).toBe(noCache!.requests);
    expect(plain!.originCalls).toBe(1);
    expect(swr!.originCalls).toBe(1);
    expect(swr!.errors).toBe(0);
    // Stale answers do not wait for the 2 s origin.
    expect(swr!.p95).toBeLessThan(1_500);
    expect(plain!.p50).toBeGreaterThanOrEqual(2_000);
  });

  // The short version of the demo's scenario 5 (the demo cuts ap-south for 30 s).
  const regional = natsAvailability().available && redisAvailability().canSpawn;
  it.runIf(regional || process.env.EDGEKIT_REQUIRE_NATS === '1')('keeps L2 in the region, and after a partition of ap-south applies every revocation and purge in order with no stale read', async () => {
    const result = await runRegionalStateScenario({ world, cities: CITIES, locator, progress, upstreamTimeout: 2_000, quick: true }, 2);
    const [shared, local] = result.l2;
    expect(local!.p50).toBeLessThan(shared!.p50);
    expect(shared!.p50).toBeGreaterThanOrEqual(shared!.floorRtt);
    const p = result.partition;
    expect(p.published).toBeGreaterThan(5);
    expect(p.appliedDuringCut).toBe(0);
    expect([p.missing, p.staleAfterCaughtUp, p.inOrder]).toEqual([0, 0, true]);
    for (const row of result.propagation) expect(row.p50, row.region).toBeGreaterThanOrEqual(row.floorOneWay);
    for (const row of result.config) expect(Number.isFinite(row.ms), row.region).toBe(true);
  }, 120_000);

  it('one bad pod of three: the round-robin Service passes its errors on, P2C with outlier ejection keeps errors under 1 %', async () => {
    const rows = await runBadPodScenario({ requests: 600, concurrency: 8 });
    const row = (badPod: string, shape: string) => rows.find((r) => r.badPod === badPod && r.shape === shape)!;
    expect(row('failing', 'round-robin Service').errorRate).toBeGreaterThan(0.2);
    expect(row('failing', 'P2C + outlier ejection').errorRate).toBeLessThan(0.01);
    expect(row('failing', 'P2C + outlier ejection').badPodHits).toBeLessThan(20);
    expect(row('failing', 'peak-EWMA + outlier ejection').errorRate).toBeLessThan(0.01);
    // A slow pod fails nothing: peak-EWMA sends it fewer requests than round robin's third.
    expect(row('slow', 'peak-EWMA + outlier ejection').badPodHits).toBeLessThan(row('slow', 'round-robin Service').badPodHits);
  }, 120_000);
});
