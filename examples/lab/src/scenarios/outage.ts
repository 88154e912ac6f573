import { performance } from 'node:perf_hooks';
import { type CityClient, type Sample, cityClient } from '../client.js';
import { type GatewayFeatures, startGateway } from '../gateway.js';
import { percentile } from '../stats.js';
import { nearestRegion } from '../world.js';
import { type LabContext, region } from './context.js';

/** What clients saw during the outage in one mode. */
export interface OutageResult {
  mode: string;
  requests: number;
  errors: number;
  errorRate: number;
  p50: number;
  p95: number;
  mean: number;
  /** Network attempts the gateway sent to the dead region during the outage. */
  attemptsOnDeadRegion: number;
  /** Where successful answers came from. */
  servedBy: Record<string, number>;
}

const MODES: Array<{ mode: string; features: (ctx: LabContext) => GatewayFeatures }> = [
  { mode: 'naive retry (same region, 3 tries)', features: () => ({ naiveRetry: { attempts: 3 } }) },
  { mode: 'failover only (every request pays the timeout)', features: () => ({}) },
  { mode: 'breaker + failover', features: () => ({ breakers: true }) },
  { mode: 'breaker + failover + health checks', features: () => ({ breakers: true, health: { interval: 250, timeout: 400 } }) },
];

/**
 * Scenario 2: the origin in `dead` stops answering (connections hang) while the cities served by
 * its edge keep sending requests. Each mode gets a fresh gateway and the same outage.
 */
export async function runOutageScenario(ctx: LabContext, dead = 'ap-south'): Promise<OutageResult[]> {
  const { world } = ctx;
  const deadRegion = region(ctx, dead);
  const cities = ctx.cities.filter((c) => nearestRegion(c, world.regions).name === dead);
  const outageMs = ctx.quick ? 3_000 : 6_000;
  const concurrency = 4;
  const origin = world.origins.get(dead)!;
  const results: OutageResult[] = [];
  for (const [index, { mode, features }] of MODES.entries()) {
    const gateway = await startGateway(deadRegion, world.regions, world.links.get(dead)!, { upstreamTimeout: ctx.upstreamTimeout, locator: ctx.locator }, features(ctx));
    const clients: CityClient[] = [];
    try {
      for (const city of cities) clients.push(cityClient(city, (await world.cityLink(city, deadRegion, gateway.port)).url));
      // Before the outage: connections open, latencies measured, health known.
      await Promise.all(clients.map((c) => Promise.all(Array.from({ length: concurrency }, (_, i) => c.get(`/api/live/warm${i}`)))));
      origin.mode = 'hang';
      gateway.attempts.clear();
      const tick = ctx.progress.step(`scenario 2/8 · outage of ${dead}, ${mode}`, Math.ceil(outageMs / 100));
      const ticker = setInterval(tick, 100);
      const until = performance.now() + outageMs;
      const samples: Sample[] = [];
      await Promise.all(
        clients.flatMap((client) =>
          Array.from({ length: concurrency }, async (_, worker) => {
            for (let i = 0; performance.now() < until; i++) samples.push(await client.get(`/api/live/${index}-${worker}-${i}`));
          }),
        ),
      );
      clearInterval(ticker);
      const attemptsOnDeadRegion = gateway.attempts.get(dead) ?? 0;
      origin.mode = 'up';
      const ok = samples.filter((s) => s.status === 200);
      const all = samples.map((s) => s.ms);
      const servedBy: Record<string, number> = {};
      for (const s of ok) servedBy[s.servedBy ?? '?'] = (servedBy[s.servedBy ?? '?'] ?? 0) + 1;
      const result: OutageResult = {
        mode,
        requests: samples.length,
        errors: samples.length - ok.length,
        errorRate: samples.length === 0 ? 0 : (samples.length - ok.length) / samples.length,
        p50: percentile(all, 50),
        p95: percentile(all, 95),
        mean: all.reduce((a, b) => a + b, 0) / Math.max(1, all.length),
        attemptsOnDeadRegion,
        servedBy,
      };
      results.push(result);
      ctx.progress.done(`${result.requests} requests, ${(result.errorRate * 100).toFixed(0)}% errors, mean ${result.mean.toFixed(0)} ms`);
    } finally {
      origin.mode = 'up';
      await Promise.all(clients.map((c) => c.close()));
      await gateway.close();
    }
  }
  return results;
}
