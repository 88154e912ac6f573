import { performance } from 'node:perf_hooks';
import { type DurableBus, createJetStreamBus } from '@edgekit/bus/nats';
import { markdownTable, startNatsSupercluster } from '@edgekit/test-utils/node';
import { jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/nats-core';
import { connect } from '@nats-io/transport-node';
import { ms } from '../stats.js';
import type { LatencyProxy } from '../latency-proxy.js';
import { type LabContext, region } from './context.js';

/** Figures of scenario 8: the stream leader killed while us-east publishes. */
export interface NatsFailoverResult {
  serversPerRegion: number;
  replicas: number;
  published: number;
  acknowledged: number;
  /** Publish attempts refused (not stored) and retried. */
  refused: number;
  /** From the kill to the first publish stored by the new leader, ms. */
  killToStoredMs: number;
  /** Per consuming region: acknowledged messages received, missing, in order. */
  regions: Array<{ region: string; received: number; missing: number; inOrder: boolean }>;
  /** The gateway connections between ap-south's cluster and the others cut while us-east publishes. */
  clusterCut: {
    seconds: number;
    published: number;
    appliedDuringCut: number;
    /** Whether ap-south's edge stayed connected to its own server throughout. */
    stayedConnected: boolean;
    /** Publishes from ap-south during the cut refused with a coded error (none is lost silently). */
    refusedInApSouth: number;
    healToCaughtUpMs: number;
    missing: number;
    inOrder: boolean;
  };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Scenario 8: three nats-servers per region (nine in all), the stream placed in us-east with three
 * replicas. us-east publishes a purge every 50 ms; a third of the way through, the server leading
 * the stream is killed (SIGKILL). Refused publishes are retried; every region's consumer must end
 * with every acknowledged message, in order.
 */
export async function runNatsFailoverScenario(ctx: LabContext): Promise<NatsFailoverResult> {
  const { world } = ctx;
  const serversPerRegion = 3;
  const replicas = 3;
  const total = ctx.quick ? 100 : 200;
  const cutSeconds = ctx.quick ? 5 : 10;
  const tick = ctx.progress.step('scenario 8/8 · a nats-server killed in a three-server region, a cut between clusters', 4);
  const connections: NatsConnection[] = [];
  const closers: Array<() => Promise<unknown>> = [];
  try {
    const apSouthLinks: LatencyProxy[] = [];
    const cluster = await startNatsSupercluster(Object.fromEntries(world.regions.map((r) => [r.name, serversPerRegion])), {
      gatewayLink: async (from, to, target) => {
        const link = await world.serviceLink(region(ctx, from), region(ctx, to), target, `nats ${from}->${to}`);
        if (from === 'ap-south' || to === 'ap-south') apSouthLinks.push(link);
        return link.port;
      },
    });
    closers.push(() => cluster.stop());
    const buses = new Map<string, DurableBus>();
    for (const r of world.regions) {
      const nc = await connect({ servers: cluster.urls(r.name), maxReconnectAttempts: -1, reconnectTimeWait: 100, ignoreClusterUpdates: true });
      connections.push(nc);
      const bus = createJetStreamBus({ connection: nc, nodeId: `edge-${r.name}`, stream: 'LAB_R3', prefix: 'lab.r3', placement: 'us-east', replicas, contactInterval: 250, publishTimeout: 2_000 });
      closers.push(() => bus.close());
      buses.set(r.name, bus);
    }
    await Promise.all([...buses.values()].map((bus) => bus.whenCaughtUp()));
    const received = new Map<string, number[]>();
    for (const [name, bus] of buses) {
      if (name === 'us-east') continue;
      received.set(name, []);
      bus.subscribe<number>('cache:purge', (n) => received.get(name)!.push(n));
    }
    const jsm = await jetstreamManager(connections[0]!);
    const leaderName = (await jsm.streams.info('LAB_R3')).cluster?.leader;
    const leader = cluster.clusters.get('us-east')!.find((s) => s.name === leaderName);
    if (!leader) throw new Error(`scenario 8: stream leader ${String(leaderName)} not found in us-east`);
    tick();

    const publisher = buses.get('us-east')!;
    const acknowledged: number[] = [];
    let refused = 0;
    let killedAt = 0;
    let storedAfterKill = 0;
    for (let n = 1; n <= total; n++) {
      if (n === Math.floor(total / 3)) {
        await leader.kill(true);
        killedAt = performance.now();
      }
      for (;;) {
        try {
          await publisher.publish('cache:purge', n);
          if (killedAt > 0 && storedAfterKill === 0) storedAfterKill = performance.now();
          acknowledged.push(n);
          break;
        } catch {
          refused++;
          await sleep(50);
        }
      }
      await sleep(50);
    }
    tick();
    const deadline = performance.now() + 60_000;
    while ([...received.values()].some((got) => !acknowledged.every((n) => got.includes(n))) && performance.now() < deadline) await sleep(50);
    await leader.start().catch(() => {});
    tick();

    // The gateway connections between ap-south's cluster and the others cut; the edge keeps its own server.
    const apSouth = buses.get('ap-south')!;
    await apSouth.whenCaughtUp();
    const applied: number[] = [];
    apSouth.subscribe<number>('auth:revoke', (n) => applied.push(n));
    for (const link of apSouthLinks) link.cut();
    const cutAt = performance.now();
    let stayedConnected = true;
    let refusedInApSouth = 0;
    let published = 0;
    // A publish from the cut-off region is refused (its stream is out of reach), once.
    await apSouth.publish('auth:probe', 0).catch(() => refusedInApSouth++);
    while (performance.now() - cutAt < cutSeconds * 1000) {
      stayedConnected &&= apSouth.connected;
      published++;
      await publisher.publish('auth:revoke', published);
      await sleep(100);
    }
    const appliedDuringCut = applied.length;
    for (const link of apSouthLinks) link.restore();
    const healAt = performance.now();
    await apSouth.whenCaughtUp();
    const healToCaughtUpMs = performance.now() - healAt;
    tick();
    ctx.progress.done();
    return {
      serversPerRegion,
      replicas,
      published: total,
      acknowledged: acknowledged.length,
      refused,
      killToStoredMs: storedAfterKill - killedAt,
      regions: [...received].map(([name, got]) => {
        const firsts = got.filter((n, i) => got.indexOf(n) === i);
        return {
          region: name,
          received: acknowledged.filter((n) => got.includes(n)).length,
          missing: acknowledged.filter((n) => !got.includes(n)).length,
          inOrder: firsts.every((n, i) => i === 0 || n > firsts[i - 1]!),
        };
      }),
      clusterCut: {
        seconds: cutSeconds,
        published,
        appliedDuringCut,
        stayedConnected,
        refusedInApSouth,
        healToCaughtUpMs,
        missing: published - new Set(applied).size,
        inOrder: applied.every((n, i) => n === i + 1),
      },
    };
  } finally {
    for (const close of closers.reverse()) await close().catch(() => {});
    for (const nc of connections) await nc.close().catch(() => {});
  }
}

/** Scenario 8's report section. */
export function natsFailoverSection(result: NatsFailoverResult): string {
  const c = result.clusterCut;
  return (
    `## 8. A nats-server killed in a three-server region; a cut between two regions' clusters\n\n` +
    `${result.serversPerRegion} nats-servers per region (${result.serversPerRegion * 3} in all), the stream in us-east with ${result.replicas} replicas. The us-east edge publishes ${result.published} purges (one every 50 ms); a third of the way through the server leading the stream is killed (SIGKILL). Refused publishes are retried.\n\n` +
    markdownTable(
      ['Region', 'Acknowledged', 'Received', 'Missing', 'In order', 'Refused and retried', 'Kill → next publish stored ms'],
      result.regions.map((r) => [r.region, result.acknowledged, r.received, r.missing, r.inOrder ? 'yes' : 'NO', result.refused, ms(result.killToStoredMs)]),
    ) +
    `\n\nThen the gateway connections between ap-south's cluster and the others cut for ${c.seconds} s (the ap-south edge keeps its own server, unlike scenario 6's cut of the edge's link) while us-east revokes a key every 100 ms.\n\n` +
    markdownTable(
      ['Published during the cut', 'Applied in ap-south during the cut', 'Edge still connected to its server', 'ap-south publish refused', 'Heal → caught up ms', 'Missing', 'In order'],
      [[c.published, c.appliedDuringCut, c.stayedConnected ? 'yes' : 'no', c.refusedInApSouth === 1 ? 'yes (coded error)' : 'NO', ms(c.healToCaughtUpMs), c.missing, c.inOrder ? 'yes' : 'NO']],
    )
  );
}
