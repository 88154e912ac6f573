// Cost of choosing an endpoint per request: pick + start + end, for every balancer, with 3 and
// 10 endpoints, and through a region balancer with outlier detection. One command:
//   pnpm --filter @edgekit/balancer bench          (BALANCER_BENCH_MS=2000 for longer samples per row)
// Prints a markdown table of median ns per request and whether the bar (< 1 µs) is met.
import { cpus, loadavg } from 'node:os';
import { markdownTable } from '@edgekit/test-utils/node';
import { type Balancer, type BalancerKind, type Endpoint, BALANCER_KINDS, createBalancer, createRegionBalancer, toEndpoints } from '@edgekit/balancer';

const TARGET_MS = Number(process.env.BALANCER_BENCH_MS ?? 400);
const BAR_NS = 1000;

interface Target {
  name: string;
  run(n: number): number;
}

let sink = 0;

function measure(target: Target): { name: string; medianNs: number; p90Ns: number } {
  let batch = 64;
  for (;;) {
    const start = process.hrtime.bigint();
    sink += target.run(batch);
    if (Number(process.hrtime.bigint() - start) > 2_000_000 || batch >= 1 << 22) break;
    batch *= 2;
  }
  const perOp: number[] = [];
  const deadline = performance.now() + TARGET_MS;
  while (performance.now() < deadline || perOp.length < 15) {
    const start = process.hrtime.bigint();
    sink += target.run(batch);
    perOp.push(Number(process.hrtime.bigint() - start) / batch);
  }
  perOp.sort((a, b) => a - b);
  return { name: target.name, medianNs: perOp[Math.floor(perOp.length / 2)]!, p90Ns: perOp[Math.floor(perOp.length * 0.9)]! };
}

const endpointsOf = (n: number): Endpoint[] => toEndpoints(Array.from({ length: n }, (_, i) => `http://10.0.${i >> 8}.${i & 255}:8080`), 'endpoints');
const keys = Array.from({ length: 1024 }, (_, i) => `user-${i * 7919}`);
const outcome = { latencyMs: 12, ok: true };

function balancerTarget(kind: BalancerKind, n: number): Target {
  const balancer: Balancer = createBalancer(kind);
  balancer.setEndpoints(endpointsOf(n));
  const hashing = kind === 'ring-hash' || kind === 'maglev';
  const request: { key: string | undefined } = { key: undefined };
  return {
    name: `${kind}${hashing ? ' (keyed)' : ''}, ${n} endpoints`,
    run(count) {
      let s = 0;
      for (let i = 0; i < count; i++) {
        if (hashing) request.key = keys[i & 1023];
        const e = balancer.pick(request)!;
        balancer.onRequestStart(e);
        balancer.onRequestEnd(e, outcome);
        s += e.weight;
      }
      return s;
    },
  };
}

const region = createRegionBalancer({ endpoints: endpointsOf(3) });
const regionOutcome = { latencyMs: 12, status: 200 };
const targets: Target[] = [
  {
    name: 'baseline: a random index, 3 endpoints',
    run(count) {
      const list = endpointsOf(3);
      let s = 0;
      for (let i = 0; i < count; i++) s += list[(Math.random() * 3) | 0]!.weight;
      return s;
    },
  },
  ...BALANCER_KINDS.flatMap((kind) => [balancerTarget(kind, 3), balancerTarget(kind, 10)]),
  {
    name: '**region balancer** (least-request + outlier detection), 3 endpoints',
    run(count) {
      let s = 0;
      for (let i = 0; i < count; i++) {
        const e = region.pick()!;
        region.onRequestStart(e);
        region.onRequestEnd(e, regionOutcome);
        s += e.weight;
      }
      return s;
    },
  },
];

const results = targets.map(measure);
const fmt = (ns: number): string => (ns >= 100 ? ns.toFixed(0) : ns.toFixed(1));
console.log(`\n@edgekit/balancer benchmark: Node ${process.version}, ${cpus()[0]?.model ?? 'unknown CPU'} x${cpus().length}, load ${loadavg()[0]!.toFixed(2)}, ~${TARGET_MS} ms per row\n`);
console.log(markdownTable(['per request: pick + start + end', 'median ns', 'p90 ns'], results.map((r) => [r.name, fmt(r.medianNs), fmt(r.p90Ns)])));
const worst = results.slice(1).reduce((a, b) => (b.medianNs > a.medianNs ? b : a));
console.log(`\nBar: every balancer < ${BAR_NS} ns per request: ${worst.medianNs < BAR_NS ? 'MET' : 'NOT MET'} (slowest: ${worst.name}, ${fmt(worst.medianNs)} ns)`);
if (sink === 42) console.log('');
await region.close();
