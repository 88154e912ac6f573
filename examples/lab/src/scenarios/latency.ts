import { type CityClient, type Sample, cityClient, load } from '../client.js';
import { floorOneWayMs } from '../geo-math.js';
import { type LabGateway, startGateway } from '../gateway.js';
import { percentile } from '../stats.js';
import { type City, nearestRegion } from '../world.js';
import { type LabContext, region } from './context.js';

/** Latency of one city in one mode. */
export interface ModeLatency {
  p50: number;
  p95: number;
  /** Physical floor: round trip of light in fibre along the great circles of the path. */
  floor: number;
  /** Round trip the links inject (floor × route factor). */
  injected: number;
  errors: number;
}

export interface CityLatency {
  city: string;
  edge: string;
  servedBy: string;
  centralized: ModeLatency;
  edgeOnly: ModeLatency;
  edgeCache: ModeLatency;
}

/** Scenario 1: the same requests through a centralized gateway in us-east, the nearest edge, and the nearest edge with its cache. */
export async function runLatencyScenario(ctx: LabContext): Promise<CityLatency[]> {
  const { world } = ctx;
  const usEast = region(ctx, 'us-east');
  const settings = { upstreamTimeout: ctx.upstreamTimeout, locator: ctx.locator };
  const gateways: LabGateway[] = [];
  const clients: CityClient[] = [];
  try {
    const central = await startGateway(usEast, world.regions, world.links.get('us-east')!, settings);
    gateways.push(central);
    const edges = new Map<string, LabGateway>();
    for (const r of world.regions) {
      const gw = await startGateway(r, world.regions, world.links.get(r.name)!, settings, { cache: {} });
      edges.set(r.name, gw);
      gateways.push(gw);
    }

    const perCity = ctx.quick ? 12 : 30;
    const concurrency = 3;
    const plan = await Promise.all(
      ctx.cities.map(async (city, index) => {
        const edgeRegion = nearestRegion(city, world.regions);
        const edge = edges.get(edgeRegion.name)!;
        const viaCentral = cityClient(city, (await world.cityLink(city, usEast, central.port)).url);
        const viaEdge = cityClient(city, (await world.cityLink(city, edgeRegion, edge.port)).url);
        clients.push(viaCentral, viaEdge);
        return { city, index, edgeRegion, viaCentral, viaEdge };
      }),
    );

    // Warm-up: open the keep-alive connections on every link and fill each edge's cache.
    const warm = ctx.progress.step('scenario 1/8 · warm-up', plan.length * 3);
    await Promise.all(
      plan.map(async (p) => {
        await load(p.viaCentral, concurrency, concurrency, (i) => `/api/live/w${i}`);
        warm();
        await load(p.viaEdge, concurrency, concurrency, (i) => `/api/live/w${i}`);
        warm();
        await load(p.viaEdge, concurrency, concurrency, () => `/api/products/${p.index + 1}`);
        warm();
      }),
    );
    ctx.progress.done();

    // The three modes are measured interleaved (each worker sends one request of each in turn), so
    // background noise on the machine weighs on all of them alike.
    const centralSamples = new Map<string, Sample[]>();
    const edgeSamples = new Map<string, Sample[]>();
    const cacheSamples = new Map<string, Sample[]>();
    const tick = ctx.progress.step('scenario 1/8 · centralized gateway, nearest edge, edge cache hit', plan.length * perCity * 3);
    await Promise.all(
      plan.map(async (p) => {
        const central: Sample[] = [];
        const edge: Sample[] = [];
        const cached: Sample[] = [];
        centralSamples.set(p.city.name, central);
        edgeSamples.set(p.city.name, edge);
        cacheSamples.set(p.city.name, cached);
        let next = 0;
        const worker = async (): Promise<void> => {
          while (next < perCity) {
            const i = next++;
            central.push(await p.viaCentral.get(`/api/live/${i}`));
            tick();
            edge.push(await p.viaEdge.get(`/api/live/${i}`));
            tick();
            cached.push(await p.viaEdge.get(`/api/products/${p.index + 1}`));
            tick();
          }
        };
        await Promise.all(Array.from({ length: concurrency }, worker));
      }),
    );
    ctx.progress.done();

    return plan.map((p) => {
      const servedBy = mostCommon(edgeSamples.get(p.city.name)!.map((s) => s.servedBy ?? '?'));
      const origin = region(ctx, servedBy === '?' ? p.edgeRegion.name : servedBy);
      const rt = (legs: Array<[City | typeof origin, City | typeof origin]>): number => 2 * legs.reduce((sum, [a, b]) => sum + floorOneWayMs(a, b), 0);
      const summary = (samples: Sample[], floor: number): ModeLatency => {
        const ok = samples.filter((s) => s.status === 200).map((s) => s.ms);
        return { p50: percentile(ok, 50), p95: percentile(ok, 95), floor, injected: floor * world.routeFactor, errors: samples.length - ok.length };
      };
      return {
        city: p.city.name,
        edge: p.edgeRegion.name,
        servedBy: origin.name,
        centralized: summary(centralSamples.get(p.city.name)!, rt([[p.city, usEast], [usEast, origin]])),
        edgeOnly: summary(edgeSamples.get(p.city.name)!, rt([[p.city, p.edgeRegion], [p.edgeRegion, origin]])),
        edgeCache: summary(cacheSamples.get(p.city.name)!, rt([[p.city, p.edgeRegion]])),
      };
    });
  } finally {
    await Promise.all(clients.map((c) => c.close()));
    await Promise.all(gateways.map((g) => g.close()));
  }
}

function mostCommon(values: string[]): string {
  const counts = new Map<string, number>();
  for (const v of values) counts.set(v, (counts.get(v) ?? 0) + 1);
  return [...counts.entries()].sort((a, b) => b[1] - a[1])[0]?.[0] ?? '?';
}
