// Multi-region JetStream bus on loopback: a supercluster of one nats-server per region (us-east,
// eu-west, ap-south) joined by gateway connections; the stream lives in us-east. Measures delivery
// latency between regions, a partition of ap-south (time from heal to caught up, nothing lost or
// reordered), and how long a configuration revision put in us-east takes to reach every region.
// Usage: pnpm --filter @edgekit/bus bench [-- --partition 30]
import { execFileSync } from 'node:child_process';
import { parseArgs } from 'node:util';
import { markdownTable, median, startNatsSupercluster, startTcpRelay } from '@edgekit/test-utils/node';
import { Kvm } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/nats-core';
import { connect } from '@nats-io/transport-node';
import { type DurableBus, createJetStreamBus } from '../src/nats.js';

const { values } = parseArgs({ args: process.argv.slice(2).filter((arg) => arg !== '--'), options: { partition: { type: 'string', default: '5' }, messages: { type: 'string', default: '200' } } });
const partitionSeconds = Number(values.partition);
const messageCount = Number(values.messages);
const REGIONS = ['us-east', 'eu-west', 'ap-south'] as const;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const connections: NatsConnection[] = [];
const open = async (port: number): Promise<NatsConnection> => {
  const nc = await connect({ servers: `nats://127.0.0.1:${port}`, maxReconnectAttempts: -1, reconnectTimeWait: 100, ignoreClusterUpdates: true });
  connections.push(nc);
  return nc;
};

const started = Date.now();
const cluster = await startNatsSupercluster(Object.fromEntries(REGIONS.map((r) => [r, 1])));
const startupMs = Date.now() - started;
const port = (region: string) => cluster.clusters.get(region)![0]!.port;
const relay = await startTcpRelay({ port: port('ap-south') });
const buses = {} as Record<(typeof REGIONS)[number], DurableBus>;
for (const region of REGIONS) {
  const nc = await open(region === 'ap-south' ? relay.port : port(region));
  buses[region] = createJetStreamBus({ connection: nc, nodeId: region, placement: 'us-east', contactInterval: 200, publishTimeout: 5000 });
}
await Promise.all(REGIONS.map((r) => buses[r].whenCaughtUp()));

// 1. Delivery latency from us-east to each region.
const latencies: Record<string, number[]> = { 'eu-west': [], 'ap-south': [] };
for (const region of ['eu-west', 'ap-south'] as const) {
  buses[region].subscribe<{ at: number }>('latency', ({ at }) => latencies[region]!.push(performance.now() - at));
}
await sleep(500);
for (let i = 0; i < messageCount; i++) {
  await buses['us-east'].publish('latency', { at: performance.now() });
}
while (latencies['eu-west']!.length < messageCount || latencies['ap-south']!.length < messageCount) await sleep(20);

// 2. Partition ap-south, publish revocations and purges in us-east, heal.
const applied: number[] = [];
buses['ap-south'].subscribe<{ n: number }>('revoke', ({ n }) => applied.push(n));
buses['ap-south'].subscribe<{ n: number }>('purge', ({ n }) => applied.push(n));
relay.cut();
const cutAt = Date.now();
let sent = 0;
while (Date.now() - cutAt < partitionSeconds * 1000) {
  sent++;
  await buses['us-east'].publish(sent % 2 === 0 ? 'revoke' : 'purge', { n: sent });
  await sleep(50);
}
const appliedDuringCut = applied.length;
const healAt = performance.now();
relay.heal();
await buses['ap-south'].whenCaughtUp();
const caughtUpMs = performance.now() - healAt;
const inOrder = applied.every((n, i) => n === i + 1);

// 3. Configuration revision propagation: a key-value bucket in us-east, watched in every region. The
// first revision is put as soon as the watchers exist, the second 1.5 s later: a push consumer whose
// deliver subject has interest only across a gateway starts delivering when the server's once-a-second
// gateway interest check finds it (nats-server consumer.go, watchGWinterest), so only the first is late.
const seenFirst: Record<string, number> = {};
const seen: Record<string, number> = {};
const setupKv = await new Kvm(await open(port('us-east'))).create('edgekit-config-bench', { history: 4, placement: { cluster: 'us-east', tags: [] } });
const watchers = await Promise.all(
  REGIONS.map(async (region) => {
    const kv = region === 'us-east' ? setupKv : await new Kvm(await open(port(region))).open('edgekit-config-bench');
    const iterator = await kv.watch({ key: 'gateway' });
    void (async () => {
      for await (const entry of iterator) {
        if (entry.string() === 'revision-1') seenFirst[region] = performance.now();
        if (entry.string() === 'revision-2') seen[region] = performance.now();
      }
    })();
    return { kv, iterator };
  }),
);
const firstPutAt = performance.now();
await setupKv.put('gateway', 'revision-1');
while (Object.keys(seenFirst).length < REGIONS.length) await sleep(2);
await sleep(1500);
const putAt = performance.now();
await setupKv.put('gateway', 'revision-2');
while (Object.keys(seen).length < REGIONS.length) await sleep(2);

const p99 = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length * 0.99)]!;
console.log(`#### JetStream bus across a loopback supercluster\n`);
const natsVersion = execFileSync('nats-server', ['--version'], { encoding: 'utf8' }).trim();
console.log(`Node ${process.version}, ${natsVersion}: three one-server clusters joined by gateways (started in ${startupMs} ms), the stream placed in us-east, ap-south's client behind a relay that the partition cuts; loopback, no added link delay.\n`);
console.log(markdownTable(['Measure', 'Result'], [
  ['us-east → eu-west delivery, median / p99', `${median(latencies['eu-west']!).toFixed(2)} / ${p99(latencies['eu-west']!).toFixed(2)} ms (${messageCount} messages)`],
  ['us-east → ap-south delivery, median / p99', `${median(latencies['ap-south']!).toFixed(2)} / ${p99(latencies['ap-south']!).toFixed(2)} ms`],
  [`ap-south partitioned ${partitionSeconds} s: published in us-east`, `${sent} revocations and purges`],
  ['applied in ap-south during the cut', String(appliedDuringCut)],
  ['heal → ap-south caught up', `${caughtUpMs.toFixed(0)} ms`],
  ['applied after caught up / missing / in order', `${applied.length} / ${sent - applied.length} / ${inOrder ? 'yes' : 'NO'}`],
  ...REGIONS.map((r) => [`config revision put in us-east → seen in ${r}: right after the watch started / 1.5 s later`, `${(seenFirst[r]! - firstPutAt).toFixed(2)} / ${(seen[r]! - putAt).toFixed(2)} ms`]),
]));

for (const { iterator } of watchers) iterator.stop();
for (const region of REGIONS) await buses[region].close();
for (const nc of connections) await nc.close();
await relay.close();
await cluster.stop();
