import { performance } from 'node:perf_hooks';
import { type DurableBus, createJetStreamBus } from '@edgekit/bus/nats';
import { startNatsSupercluster, startRedis } from '@edgekit/test-utils/node';
import { Kvm } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/nats-core';
import { connect } from '@nats-io/transport-node';
import { Redis } from 'ioredis';
import { floorOneWayMs } from '../geo-math.js';
import type { LatencyProxy } from '../latency-proxy.js';
import { percentile } from '../stats.js';
import { type LabContext, region } from './context.js';

/** Figures of scenario 5: state kept in each region, changes carried between regions by NATS JetStream. */
export interface RegionalStateResult {
  /** Redis round trips from the ap-south edge (what each L2 read, lock and counter update pays). */
  l2: Array<{ redis: string; p50: number; p95: number; floorRtt: number }>;
  /** An event published in us-east: time until each region applied it. */
  propagation: Array<{ region: string; p50: number; p95: number; floorOneWay: number }>;
  partition: { seconds: number; published: number; appliedDuringCut: number; healToCaughtUpMs: number; appliedAfter: number; missing: number; inOrder: boolean; staleAfterCaughtUp: number };
  /** A configuration revision put in us-east: time until each region's watcher saw it. */
  config: Array<{ region: string; ms: number }>;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Scenario 5: a Redis per region against one shared in us-east, then three nats-servers (one
 * cluster per region) joined as a supercluster over links delayed by distance. The JetStream
 * stream lives in us-east; each region's edge reads it through its own durable consumer. The
 * ap-south edge's link is cut for `partitionSeconds` while us-east revokes keys and purges tags.
 */
export async function runRegionalStateScenario(ctx: LabContext, partitionSeconds: number): Promise<RegionalStateResult> {
  const { world } = ctx;
  const closers: Array<() => Promise<unknown>> = [];
  const connections: NatsConnection[] = [];
  const samples = ctx.quick ? 15 : 40;
  try {
    // 1. L2 from Mumbai: the shared Redis in us-east, then ap-south's own.
    const tick = ctx.progress.step('scenario 6/8 · regional state: Redis per region, JetStream between regions', 4);
    const apSouth = region(ctx, 'ap-south');
    const l2: RegionalStateResult['l2'] = [];
    for (const [label, at] of [['shared, in us-east', 'us-east'], ['regional, in ap-south', 'ap-south']] as const) {
      const server = await startRedis({ useEnv: false });
      closers.push(() => server.stop());
      const link = await world.serviceLink(apSouth, region(ctx, at), { host: server.host, port: server.port }, `ap-south->redis-${at}`);
      const client = new Redis({ host: '127.0.0.1', port: link.port, maxRetriesPerRequest: 1 });
      client.on('error', () => {});
      closers.push(() => client.quit().catch(() => client.disconnect()));
      await client.set('lab:entry', 'x'.repeat(512));
      const times: number[] = [];
      for (let i = 0; i < samples; i++) {
        const started = performance.now();
        await client.getBuffer('lab:entry');
        times.push(performance.now() - started);
      }
      l2.push({ redis: label, p50: percentile(times, 50), p95: percentile(times, 95), floorRtt: at === 'ap-south' ? 0 : 2 * floorOneWayMs(apSouth, region(ctx, at)) });
    }
    tick();

    // 2. The supercluster, its gateway links delayed by distance; each edge reaches its own cluster over a metro link.
    const cluster = await startNatsSupercluster(Object.fromEntries(world.regions.map((r) => [r.name, 1])), {
      gatewayLink: async (from, to, target) => (await world.serviceLink(region(ctx, from), region(ctx, to), target, `nats ${from}->${to}`)).port,
    });
    closers.push(() => cluster.stop());
    const edgeLinks = new Map<string, LatencyProxy>();
    const open = async (name: string): Promise<NatsConnection> => {
      let link = edgeLinks.get(name);
      if (!link) {
        const server = cluster.clusters.get(name)![0]!;
        link = await world.serviceLink(region(ctx, name), region(ctx, name), { host: '127.0.0.1', port: server.port }, `${name} edge->nats`);
        edgeLinks.set(name, link);
      }
      const nc = await connect({ servers: `nats://127.0.0.1:${link.port}`, maxReconnectAttempts: -1, reconnectTimeWait: 100, ignoreClusterUpdates: true });
      connections.push(nc);
      return nc;
    };
    const buses = new Map<string, DurableBus>();
    for (const r of world.regions) {
      const bus = createJetStreamBus({ connection: await open(r.name), nodeId: `edge-${r.name}`, placement: 'us-east', contactInterval: 250, publishTimeout: 10_000 });
      closers.push(() => bus.close());
      buses.set(r.name, bus);
    }
    await Promise.all([...buses.values()].map((bus) => bus.whenCaughtUp()));
    const usEast = buses.get('us-east')!;
    const arrivals = new Map<string, number[]>(world.regions.map((r) => [r.name, []]));
    for (const [name, bus] of buses) bus.subscribe<{ at: number }>('lab:latency', ({ at }) => arrivals.get(name)!.push(performance.now() - at));
    for (let i = 0; i < samples; i++) {
      await usEast.publish('lab:latency', { at: performance.now() });
      await sleep(50);
    }
    const expectedArrivals = samples;
    const deadline = performance.now() + 15_000;
    while ([...arrivals.values()].some((a) => a.length < expectedArrivals) && performance.now() < deadline) await sleep(20);
    const home = region(ctx, 'us-east');
    const propagation = world.regions.map((r) => ({
      region: r.name,
      p50: percentile(arrivals.get(r.name)!, 50),
      p95: percentile(arrivals.get(r.name)!, 95),
      floorOneWay: floorOneWayMs(home, r),
    }));
    tick();

    // 3. Partition the ap-south edge; us-east revokes keys and purges tags meanwhile.
    const revoked = new Set<string>();
    const purged = new Set<string>();
    const order: number[] = [];
    const ap = buses.get('ap-south')!;
    ap.subscribe<{ n: number; key: string }>('auth:revoke', ({ n, key }) => (revoked.add(key), order.push(n)));
    ap.subscribe<{ n: number; tag: string }>('cache:purge', ({ n, tag }) => (purged.add(tag), order.push(n)));
    const link = edgeLinks.get('ap-south')!;
    link.cut();
    const cutAt = performance.now();
    let published = 0;
    while (performance.now() - cutAt < partitionSeconds * 1000) {
      published++;
      if (published % 2 === 0) await usEast.publish('auth:revoke', { n: published, key: `key-${published}` });
      else await usEast.publish('cache:purge', { n: published, tag: `product:${published}` });
      await sleep(100);
    }
    const appliedDuringCut = order.length;
    link.restore();
    const healAt = performance.now();
    await ap.whenCaughtUp();
    const healToCaughtUpMs = performance.now() - healAt;
    // After caught up: a revoked key still accepted, or a purged tag still served, is a stale read.
    let staleAfterCaughtUp = 0;
    for (let n = 1; n <= published; n++) if (n % 2 === 0 ? !revoked.has(`key-${n}`) : !purged.has(`product:${n}`)) staleAfterCaughtUp++;
    tick();

    // 4. A configuration revision put in us-east, watched in every region.
    const seen = new Map<string, number>();
    // The bucket's stream lives in us-east, like the event stream; the other regions open it.
    await new Kvm(await open('us-east')).create('lab-config', { history: 4, placement: { cluster: 'us-east', tags: [] } });
    const watchers = await Promise.all(
      world.regions.map(async (r) => {
        const kv = await new Kvm(await open(r.name)).open('lab-config');
        const iterator = await kv.watch({ key: 'gateway' });
        void (async () => {
          for await (const entry of iterator) if (entry.string() === 'revision-2' && !seen.has(r.name)) seen.set(r.name, performance.now());
        })();
        return { kv, iterator };
      }),
    );
    await watchers[0]!.kv.put('gateway', 'revision-1');
    await sleep(1_000);
    const putAt = performance.now();
    await watchers[0]!.kv.put('gateway', 'revision-2');
    const configDeadline = performance.now() + 10_000;
    while (seen.size < world.regions.length && performance.now() < configDeadline) await sleep(5);
    for (const { iterator } of watchers) iterator.stop();
    tick();
    ctx.progress.done();
    return {
      l2,
      propagation,
      partition: {
        seconds: partitionSeconds,
        published,
        appliedDuringCut,
        healToCaughtUpMs,
        appliedAfter: order.length,
        missing: published - order.length,
        inOrder: order.every((n, i) => n === i + 1),
        staleAfterCaughtUp,
      },
      config: world.regions.map((r) => ({ region: r.name, ms: seen.has(r.name) ? seen.get(r.name)! - putAt : Number.NaN })),
    };
  } finally {
    for (const close of closers.reverse()) await close().catch(() => {});
    for (const nc of connections) await nc.close().catch(() => {});
  }
}
