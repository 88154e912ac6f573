import { performance } from 'node:perf_hooks';
import { type Bus, createMemoryBus, createMemoryBusHub, createRedisBus } from '@edgekit/bus';
import { redisAvailability, startRedis } from '@edgekit/test-utils/node';
import { Redis } from 'ioredis';
import { request } from 'undici';
import { floorOneWayMs } from '../geo-math.js';
import { type LabGateway, startGateway } from '../gateway.js';
import { percentile } from '../stats.js';
import { type LabContext, region } from './context.js';

/** How long an invalidation published in `from` took to reach each edge. */
export interface PropagationRow {
  edge: string;
  p50: number;
  p95: number;
  max: number;
  /** One-way physical floor from the publishing edge (through Redis, which lives there). */
  floor: number;
  injected: number;
  /** Requests answered from the cache right after the invalidation reached the edge (must be 0). */
  staleAfterInvalidation: number;
}

export interface PropagationResult {
  transport: string;
  from: string;
  rounds: number;
  rows: PropagationRow[];
}

/**
 * Scenario 3: each edge caches a product; the us-east edge invalidates its tag; every edge records
 * when the invalidation arrived. Redis (for the bus) runs in us-east and each edge reaches it over
 * its own latency-injecting link. Without redis-server, an in-process bus is used and the figures
 * only show the software cost.
 */
export async function runInvalidationScenario(ctx: LabContext, from = 'us-east'): Promise<PropagationResult> {
  const { world } = ctx;
  const home = region(ctx, from);
  const rounds = ctx.quick ? 8 : 20;
  const closers: Array<() => Promise<unknown>> = [];
  const gateways: LabGateway[] = [];
  try {
    const availability = redisAvailability();
    let transport: string;
    let busFor: (edge: string) => Promise<Bus>;
    if (availability.available) {
      const server = await startRedis();
      closers.push(() => server.stop());
      transport = `Redis pub/sub (redis-server in ${from})`;
      busFor = async (edge) => {
        const link = await world.serviceLink(region(ctx, edge), home, { host: server.host, port: server.port }, `${edge}->redis`);
        const client = new Redis({ host: '127.0.0.1', port: link.port, maxRetriesPerRequest: 1 });
        client.on('error', () => {});
        closers.push(() => client.quit().catch(() => client.disconnect()));
        const bus = createRedisBus({ redis: client, nodeId: `edge-${edge}` });
        closers.push(() => bus.close());
        return bus;
      };
    } else {
      ctx.progress.note(`  ! ${availability.reason}: scenario 3 uses an in-process bus, without link delays`);
      const hub = createMemoryBusHub();
      transport = 'in-process bus (no redis-server)';
      busFor = async (edge) => createMemoryBus({ hub, nodeId: `edge-${edge}` });
    }

    for (const r of world.regions) {
      const bus = await busFor(r.name);
      gateways.push(await startGateway(r, world.regions, world.links.get(r.name)!, { upstreamTimeout: ctx.upstreamTimeout, locator: ctx.locator }, { cache: { bus } }));
    }
    const publisher = gateways.find((g) => g.location === from)!;
    // Subscriptions travel over the links too: publish until every edge has heard one message.
    const heard = new Set<string>();
    const listening = gateways.map((g) => g.cache!.on('invalidate', (notice) => notice.tags.includes('lab:ready') && heard.add(g.location)));
    const readyBy = performance.now() + 15_000;
    while (heard.size < gateways.length) {
      if (performance.now() > readyBy) throw new Error(`scenario 3: edges ${gateways.filter((g) => !heard.has(g.location)).map((g) => g.location).join(', ')} never joined the bus`);
      await publisher.cache!.invalidateTag('lab:ready');
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    for (const sub of listening) sub.dispose();

    const arrivals = new Map<string, number[]>(gateways.map((g) => [g.location, []]));
    const stale = new Map<string, number>(gateways.map((g) => [g.location, 0]));
    const tick = ctx.progress.step(`scenario 3/8 · tag invalidation from ${from} to ${gateways.length} edges`, rounds);
    for (let round = 0; round < rounds; round++) {
      const tag = `product:${100 + round}`;
      const path = `/api/products/${100 + round}`;
      // Each edge stores the product (its own origin, nearby).
      await Promise.all(gateways.map((g) => fetchVia(g, path)));
      const arrived = gateways.map(
        (g) =>
          new Promise<number>((resolve) => {
            // A message the bus lost would leave this edge waiting: give up after 5 s and count it as lost.
            const timer = setTimeout(() => {
              sub.dispose();
              resolve(Number.POSITIVE_INFINITY);
            }, 5_000);
            const sub = g.cache!.on('invalidate', (notice) => {
              if (!notice.tags.includes(tag)) return;
              clearTimeout(timer);
              sub.dispose();
              resolve(performance.now());
            });
          }),
      );
      const sentAt = performance.now();
      await publisher.cache!.invalidateTag(tag);
      const times = await Promise.all(arrived);
      for (const [i, g] of gateways.entries()) arrivals.get(g.location)!.push(times[i]! - sentAt);
      // Right after arrival no edge may answer from the invalidated entry.
      const statuses = await Promise.all(gateways.map((g) => fetchVia(g, path)));
      for (const [i, g] of gateways.entries()) if (/;\s*hit/.test(statuses[i] ?? '')) stale.set(g.location, stale.get(g.location)! + 1);
      tick();
    }
    ctx.progress.done();
    return {
      transport,
      from,
      rounds,
      rows: gateways.map((g) => {
        const values = arrivals.get(g.location)!;
        const floor = g.location === from ? 0 : floorOneWayMs(home, region(ctx, g.location));
        return {
          edge: g.location,
          p50: percentile(values, 50),
          p95: percentile(values, 95),
          max: Math.max(...values),
          floor,
          injected: transport.startsWith('Redis') ? floor * world.routeFactor : 0,
          staleAfterInvalidation: stale.get(g.location)!,
        };
      }),
    };
  } finally {
    await Promise.all(gateways.map((g) => g.close()));
    for (const close of closers.reverse()) await close();
  }
}

/** Requests `path` from a gateway directly (no client link) and returns its `Cache-Status`. */
async function fetchVia(gateway: LabGateway, path: string): Promise<string | undefined> {
  const res = await request(`http://127.0.0.1:${gateway.port}${path}`, { headers: { host: 'shop.example', 'x-forwarded-for': '72.83.0.1' } });
  await res.body.dump();
  const value = res.headers['cache-status'];
  return Array.isArray(value) ? value.join(', ') : value;
}
