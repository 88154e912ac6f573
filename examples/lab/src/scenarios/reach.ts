import { performance } from 'node:perf_hooks';
import { type EdgeClient, createEdgeClient } from '@edgekit/client';
import type { LatencyProxy } from '@edgekit/test-utils/node';
import { type Origin, startOrigin } from '../origin.js';
import { percentile } from '../stats.js';
import { type City, type WorldRegion, linkDelayMs, nearestRegion } from '../world.js';
import type { LabContext } from './context.js';

/** How a client reaches an edge. */
export type ReachMode = 'GeoDNS (TTL 60 s)' | 'anycast' | '@edgekit/client';

/** What the clients of one mode saw from the moment their nearest region went dark. */
export interface ReachResult {
  mode: ReachMode;
  requests: number;
  errors: number;
  p50: number;
  p95: number;
  /** Milliseconds from the outage until the last request that failed or waited out a timeout ended (`undefined`: not within the window). */
  recoveredAfter: number | undefined;
  /** Where successful answers came from during the outage. */
  servedBy: Record<string, number>;
}

/** GeoDNS answers are cached for this long; the outage ends only when a client's cached answer expires. */
export const GEODNS_TTL_MS = 60_000;

interface Sample {
  startedAt: number;
  endedAt: number;
  ok: boolean;
  servedBy: string | undefined;
}

/** One city's view of the edges: a link to each, in topological (delay) order. */
interface CityEdges {
  city: City;
  links: { region: WorldRegion; link: LatencyProxy; oneWay: number }[];
}

async function get(url: string, timeout: number): Promise<{ ok: boolean; servedBy: string | undefined }> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(timeout) });
    const body = (await res.json()) as { region?: string };
    return { ok: res.status === 200, servedBy: body.region };
  } catch {
    return { ok: false, servedBy: undefined };
  }
}

/**
 * Scenario 5: the edge of `dead` goes dark (it stops answering) while the cities it serves keep
 * sending requests, reaching the edges three ways: GeoDNS (the nearest region's address, cached
 * for the TTL), anycast (the route to the dead edge is withdrawn at once: open connections are
 * reset, new ones reach the next-nearest edge), and `@edgekit/client` (measured latency, breaker,
 * failover of idempotent requests).
 */
export async function runReachScenario(ctx: LabContext, dead = 'ap-south', outageMs = ctx.quick ? 3_000 : 6_000): Promise<ReachResult[]> {
  const { world } = ctx;
  const cities = ctx.cities.filter((c) => nearestRegion(c, world.regions).name === dead);
  const edges = new Map<string, Origin>();
  for (const r of world.regions) edges.set(r.name, await startOrigin(r.name));
  const concurrency = 4;
  const results: ReachResult[] = [];
  try {
    const cityEdges: CityEdges[] = [];
    for (const city of cities) {
      const links = [];
      for (const region of world.regions) {
        links.push({ region, link: await world.cityLink(city, region, edges.get(region.name)!.port), oneWay: linkDelayMs(city, region, world.routeFactor) });
      }
      cityEdges.push({ city, links: links.sort((a, b) => a.oneWay - b.oneWay) });
    }
    for (const mode of ['GeoDNS (TTL 60 s)', 'anycast', '@edgekit/client'] as const) {
      let withdrawn = false;
      const clients: EdgeClient[] = [];
      // Per city: how one request is sent in this mode.
      const senders = cityEdges.map(({ city, links }) => {
        if (mode === 'GeoDNS (TTL 60 s)') return (path: string) => get(links.find((l) => l.region.name === nearestRegion(city, world.regions).name)!.link.url + path, ctx.upstreamTimeout);
        if (mode === 'anycast') return (path: string) => get(links.find((l) => !(withdrawn && l.region.name === dead))!.link.url + path, ctx.upstreamTimeout);
        const client = createEdgeClient({
          edges: links.map((l) => ({ id: l.region.name, region: l.region.name, url: l.link.url, location: l.region })),
          location: city,
          probe: { path: '/healthz', interval: 2_000, timeout: ctx.upstreamTimeout },
          timeout: ctx.upstreamTimeout,
        });
        clients.push(client);
        return async (path: string) => {
          try {
            const res = await client.fetch(path);
            const body = (await res.json()) as { region?: string };
            return { ok: res.status === 200, servedBy: body.region };
          } catch {
            return { ok: false, servedBy: undefined };
          }
        };
      });
      try {
        // Before the outage: connections open, probes answered.
        await Promise.all(clients.map((c) => c.probe().then(() => c.probe())));
        await Promise.all(senders.map((send) => Promise.all(Array.from({ length: concurrency }, (_, i) => send(`/api/live/warm${i}`)))));
        const tick = ctx.progress.step(`scenario 5/8 · ${dead} goes dark, reached by ${mode}`, Math.ceil(outageMs / 100));
        const ticker = setInterval(tick, 100);
        const samples: Sample[] = [];
        // The outage strikes while requests are in flight, half a second into the run.
        const outageAt = performance.now() + 500;
        const until = outageAt + outageMs;
        const outage = setTimeout(() => {
          edges.get(dead)!.mode = 'hang';
          if (mode === 'anycast') {
            withdrawn = true;
            // Packets of open connections now land on another edge, which knows nothing of them: reset.
            for (const { links } of cityEdges) links.find((l) => l.region.name === dead)!.link.cut();
          }
        }, 500);
        await Promise.all(
          senders.flatMap((send, c) =>
            Array.from({ length: concurrency }, async (_, worker) => {
              for (let i = 0; performance.now() < until; i++) {
                const startedAt = performance.now();
                const answer = await send(`/api/live/${mode.length}-${c}-${worker}-${i}`);
                // Requests that ended before the outage saw nothing of it.
                if (performance.now() >= outageAt) samples.push({ startedAt, endedAt: performance.now(), ...answer });
              }
            }),
          ),
        );
        clearTimeout(outage);
        clearInterval(ticker);
        const durations = samples.map((s) => s.endedAt - s.startedAt);
        // Failed, or waited out a timeout before an answer came from elsewhere.
        const slow = ctx.upstreamTimeout;
        const bad = samples.filter((s) => !s.ok || s.endedAt - s.startedAt >= slow);
        const lastBad = Math.max(...bad.map((s) => s.endedAt));
        const servedBy: Record<string, number> = {};
        for (const s of samples) if (s.ok) servedBy[s.servedBy ?? '?'] = (servedBy[s.servedBy ?? '?'] ?? 0) + 1;
        const result: ReachResult = {
          mode,
          requests: samples.length,
          errors: samples.filter((s) => !s.ok).length,
          p50: percentile(durations, 50),
          p95: percentile(durations, 95),
          // Still failing when the window closed: not recovered within it.
          recoveredAfter: bad.length === 0 ? 0 : lastBad >= until - slow ? undefined : lastBad - outageAt,
          servedBy,
        };
        results.push(result);
        ctx.progress.done(`${result.requests} requests, ${result.errors} errors`);
      } finally {
        edges.get(dead)!.mode = 'up';
        for (const { links } of cityEdges) for (const { link } of links) link.restore();
        await Promise.all(clients.map((c) => c.close()));
      }
    }
  } finally {
    await Promise.all([...edges.values()].map((e) => e.close()));
  }
  return results;
}
