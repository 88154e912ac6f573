import type { Bus } from '@edgekit/bus';
import { createNatsBus } from '@edgekit/bus/nats';
import { type Clock, systemClock } from '@edgekit/core';
import { type EdgeRateLimiter, createEdgeLimiter } from '@edgekit/ratelimit';
import { markdownTable, startNatsSupercluster } from '@edgekit/test-utils/node';
import type { NatsConnection } from '@nats-io/nats-core';
import { connect } from '@nats-io/transport-node';
import { linkDelayMs } from '../world.js';
import { type LabContext, region } from './context.js';

/** One run of the global limit: what was offered and admitted, beside the formula's bound. */
export interface GlobalLimitRun {
  variant: string;
  syncInterval: number | undefined;
  offered: number;
  allowed: number;
  allowedPerRegion: Record<string, number>;
  /** `allowed − limit`. */
  overage: number;
  /** The formula's bound for this run: max over regions i of Σ_{j≠i} r_j · (S + D_ij). */
  bound: number | undefined;
}

export interface GlobalLimitResult {
  limit: number;
  windowMs: number;
  /** Requests per second offered in each region. */
  ratePerRegion: number;
  loadSeconds: number;
  runs: GlobalLimitRun[];
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Scenario 7: one limit of `limit` per minute shared by three regions. Each region's limiter
 * decides locally and publishes its counts to the others through its own NATS connection, over a
 * supercluster whose gateway links are delayed by distance. Every region receives four times
 * the allowed rate; the total admitted is compared with the limit and with the overage bound.
 */
export async function runGlobalLimitScenario(ctx: LabContext): Promise<GlobalLimitResult> {
  const { world } = ctx;
  const limit = ctx.quick ? 300 : 600;
  const windowMs = 60_000;
  // Each region is offered four times the limit's rate, 12x the allowed rate in all: the global limit
  // is reached after 5 s, a region limiting alone reaches it after 15 s.
  const ratePerRegion = (4 * limit) / (windowMs / 1000);
  const loadSeconds = 16;
  const connections: NatsConnection[] = [];
  const closers: Array<() => Promise<unknown>> = [];
  const variants: Array<{ variant: string; syncInterval: number | undefined }> = [
    { variant: 'regional limits only (no bus)', syncInterval: undefined },
    { variant: 'global over NATS, sync 250 ms', syncInterval: 250 },
    { variant: 'global over NATS, sync 1000 ms', syncInterval: 1000 },
  ];
  const tick = ctx.progress.step('scenario 7/8 · a global rate limit across three regions over NATS', variants.length + 1);
  try {
    const cluster = await startNatsSupercluster(Object.fromEntries(world.regions.map((r) => [r.name, 1])), {
      gatewayLink: async (from, to, target) => (await world.serviceLink(region(ctx, from), region(ctx, to), target, `nats ${from}->${to}`)).port,
    });
    closers.push(() => cluster.stop());
    const buses = new Map<string, Bus>();
    for (const r of world.regions) {
      const server = cluster.clusters.get(r.name)![0]!;
      const link = await world.serviceLink(r, r, { host: '127.0.0.1', port: server.port }, `${r.name} limiter->nats`);
      const nc = await connect({ servers: `nats://127.0.0.1:${link.port}`, maxReconnectAttempts: -1, reconnectTimeWait: 100, ignoreClusterUpdates: true });
      connections.push(nc);
      const bus = createNatsBus({ connection: nc, nodeId: `limiter-${r.name}` });
      closers.push(() => bus.close());
      buses.set(r.name, bus);
    }
    tick();
    const runs: GlobalLimitRun[] = [];
    for (const [index, { variant, syncInterval }] of variants.entries()) {
      // The load starts on a window boundary of the limiters' clock, so it falls in one window.
      const startAt = Date.now() + 1_000;
      const clock: Clock = { ...systemClock, now: () => Date.now() - startAt + windowMs * 1_000 };
      const limiters = new Map<string, EdgeRateLimiter>();
      for (const r of world.regions) {
        const limiter = createEdgeLimiter({
          name: `lab-global-${index}`,
          limit,
          window: windowMs,
          algorithm: 'fixed-window',
          predict: false,
          syncInterval: syncInterval ?? 1000,
          ...(syncInterval === undefined ? { bus: isolatedBus(r.name) } : { bus: buses.get(r.name)!, region: r.name }),
          clock,
        });
        limiters.set(r.name, limiter);
      }
      // Interest in the channel crosses the gateways with the first messages: publish once before the window.
      for (const limiter of limiters.values()) limiter.limit('warm-up');
      await sleep(startAt - Date.now());
      const allowedPerRegion: Record<string, number> = Object.fromEntries(world.regions.map((r) => [r.name, 0]));
      let offered = 0;
      const due = new Map<string, number>(world.regions.map((r) => [r.name, 0]));
      const began = Date.now();
      let last = began;
      while (Date.now() - began < loadSeconds * 1000) {
        const now = Date.now();
        for (const [name, limiter] of limiters) {
          let owed = due.get(name)! + (ratePerRegion * (now - last)) / 1000;
          while (owed >= 1) {
            owed--;
            offered++;
            if (limiter.limit('tenant-42').allowed) allowedPerRegion[name]!++;
          }
          due.set(name, owed);
        }
        last = now;
        await sleep(5);
      }
      for (const limiter of limiters.values()) await limiter.close();
      const allowed = Object.values(allowedPerRegion).reduce((a, b) => a + b, 0);
      // r_j: region j's offered rate per ms; D_ij: the injected one-way delay of the gateway link from j to i.
      const rate = ratePerRegion / 1000;
      let bound: number | undefined;
      if (syncInterval !== undefined) {
        bound = Math.max(
          ...world.regions.map((i) =>
            world.regions.filter((j) => j !== i).reduce((sum, j) => sum + rate * (syncInterval + Math.max(0.5, linkDelayMs(j, i, world.routeFactor))), 0),
          ),
        );
      }
      runs.push({ variant, syncInterval, offered, allowed, allowedPerRegion, overage: allowed - limit, bound });
      tick();
    }
    ctx.progress.done();
    return { limit, windowMs, ratePerRegion, loadSeconds, runs };
  } finally {
    for (const close of closers.reverse()) await close().catch(() => {});
    for (const nc of connections) await nc.close().catch(() => {});
  }
}

/** A bus that reaches nobody: each region limits on its own. */
function isolatedBus(name: string): Bus {
  return { nodeId: `alone-${name}`, publish: async () => {}, subscribe: () => ({ dispose() {}, [Symbol.dispose]() {} }) } as unknown as Bus;
}

/** Scenario 7's report section. */
export function globalLimitSection(result: GlobalLimitResult): string {
  const pct = (x: number): string => `${x >= 0 ? '+' : ''}${((x / result.limit) * 100).toFixed(1)}%`;
  return (
    `## 7. A global rate limit across three regions over NATS\n\n` +
    `One limit of ${result.limit} per minute (fixed window, prediction off) shared by the three regions' limiters; each region is offered ${result.ratePerRegion} requests/s for ${result.loadSeconds} s of one window (${(result.ratePerRegion * 3) / (result.limit / 60)}x the allowed rate in all). Each limiter publishes its counts to the others through a supercluster whose gateway links are delayed by distance. Bound: max over regions i of Σ_{j≠i} r_j · (S + D_ij), D_ij the injected one-way delay from j to i.\n\n` +
    markdownTable(
      ['Limiter', 'Offered', 'Allowed', 'Overage', 'Bound (formula)', 'Allowed per region'],
      result.runs.map((r) => [
        r.variant,
        r.offered,
        r.allowed,
        `${r.overage} (${pct(r.overage)})`,
        r.bound === undefined ? 'none: each region admits the limit' : `${r.bound.toFixed(0)} (${pct(r.bound)})`,
        Object.entries(r.allowedPerRegion).map(([k, v]) => `${k} ${v}`).join(', '),
      ]),
    )
  );
}
