import { type CityClient, type Sample, cityClient, load } from '../client.js';
import { startGateway } from '../gateway.js';
import { percentile } from '../stats.js';
import { nearestRegion } from '../world.js';
import { type LabContext, region } from './context.js';

export interface SwrRow {
  variant: string;
  requests: number;
  p50: number;
  p95: number;
  max: number;
  /** Requests that reached the origin during the burst and the revalidation after it. */
  originCalls: number;
  errors: number;
}

const VARIANTS = [
  { variant: 'no cache (no-store)', family: 'slow-live' },
  { variant: 'cache, expired, no stale window', family: 'slow-plain' },
  { variant: 'cache, stale-while-revalidate', family: 'slow' },
] as const;

/**
 * Scenario 4: the us-east origin takes `slowMs` per answer. An entry that has just expired is
 * requested by a burst of clients; with stale-while-revalidate they get the stale answer at once
 * while one background request refreshes it.
 */
export async function runSwrScenario(ctx: LabContext, home = 'us-east', slowMs = 2_000): Promise<SwrRow[]> {
  const { world } = ctx;
  const at = region(ctx, home);
  const origin = world.origins.get(home)!;
  const gateway = await startGateway(at, world.regions, world.links.get(home)!, { upstreamTimeout: slowMs * 3, locator: ctx.locator }, { cache: {} });
  const clients: CityClient[] = [];
  const previousSlow = origin.slowMs;
  try {
    const cities = ctx.cities.filter((c) => nearestRegion(c, world.regions).name === home);
    for (const city of cities) clients.push(cityClient(city, (await world.cityLink(city, at, gateway.port)).url));
    // One wave: every request of the burst is sent before any answer comes back.
    const concurrency = ctx.quick ? 6 : 10;
    const perClient = concurrency;
    const prime = ctx.progress.step(`scenario 4/8 · origin takes ${slowMs} ms: fill and expire the cache`, 2);
    origin.slowMs = slowMs;
    const parallel = concurrency * VARIANTS.length;
    await Promise.all(clients.map((c) => load(c, parallel, parallel, (i) => `/api/live/warm${i}`)));
    await Promise.all([clients[0]!.get('/api/slow/1'), clients[0]!.get('/api/slow-plain/1')]);
    prime();
    await new Promise((resolve) => setTimeout(resolve, 1_600)); // born 2 s old with max-age=3: now stale
    prime();
    ctx.progress.done();

    origin.resetCounts();
    const tick = ctx.progress.step('scenario 4/8 · burst on the expired entry', VARIANTS.length * clients.length * perClient);
    // The three variants run side by side, so they meet the same expired moment and the same load.
    const samples = await Promise.all(
      VARIANTS.map(async ({ family }) => (await Promise.all(clients.map((c) => load(c, perClient, concurrency, () => `/api/${family}/1`, tick)))).flat()),
    );
    // Give a background revalidation time to reach the origin and finish.
    await new Promise((resolve) => setTimeout(resolve, slowMs + 300));
    ctx.progress.done();
    return VARIANTS.map(({ variant, family }, i) => {
      const list: Sample[] = samples[i]!;
      const ms = list.map((s) => s.ms);
      return {
        variant,
        requests: list.length,
        p50: percentile(ms, 50),
        p95: percentile(ms, 95),
        max: Math.max(...ms),
        originCalls: origin.counts.get(family) ?? 0,
        errors: list.filter((s) => s.status !== 200).length,
      };
    });
  } finally {
    origin.slowMs = previousSlow;
    await Promise.all(clients.map((c) => c.close()));
    await gateway.close();
  }
}
