/**
 * Per-call overhead of @edgekit/breaker against opossum and cockatiel, on the closed (healthy) path.
 *
 *   pnpm --filter @edgekit/breaker bench
 *   BENCH_PASSES=5 BENCH_ROUNDS=31 BENCH_BATCH_MS=10 pnpm --filter @edgekit/breaker bench
 *
 * Method: every target awaits the same trivial async action, one call at a time. Each target runs
 * in a process of its own (so one library's garbage or timers never slow another), alternating
 * batches of the bare action and of the breaker; the overhead of a round is the breaker batch
 * minus the bare batch, which cancels slow moments of a shared machine. The batch size is
 * calibrated on a warm target (the median of probe batches over the second half of ~WARM_MS of
 * calls), so that every target is sized, and measured, at the speed of its optimized code rather
 * than of its first, interpreted calls or of one probe that met a collection. A child reports
 * medians over its measured rounds; the whole set of children runs several passes in rotating order
 * and the table shows the median of the passes.
 */
import { fileURLToPath } from 'node:url';
import { markdownTable, median, spawnTs } from '@edgekit/test-utils/node';
import { SamplingBreaker, TimeoutStrategy, circuitBreaker, handleAll, timeout as cockatielTimeout, wrap } from 'cockatiel';
import Opossum from 'opossum';
import { CircuitBreaker } from '../src/index.js';

const PASSES = Number(process.env.BENCH_PASSES ?? 3);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 21);
const WARMUP_ROUNDS = Number(process.env.BENCH_WARMUP_ROUNDS ?? 5);
/** Target duration of one batch; the iteration count is calibrated per target. */
const BATCH_MS = Number(process.env.BENCH_BATCH_MS ?? 5);
/** How long (ms) a child calls its target and the bare action before sizing its batches (on the median of the later probes). */
const WARM_MS = Number(process.env.BENCH_WARM_MS ?? 100);

const TARGETS = ['@edgekit/breaker', 'opossum', 'cockatiel'] as const;
type TargetName = (typeof TARGETS)[number];

interface Config {
  id: string;
  title: string;
  description: string;
  timeout: number | false;
}

const CONFIGS: Config[] = [
  {
    id: 'no-timeout',
    title: 'Timeouts disabled',
    timeout: false,
    description:
      '@edgekit/breaker and opossum: `{ timeout: false }`, all else default (percentage mode, 50 %, 10 s window in 10 buckets, ' +
      'latency percentiles on). cockatiel: `circuitBreaker(handleAll, { halfOpenAfter: 30_000, breaker: new SamplingBreaker({ threshold: 0.5, duration: 10_000 }) })`.',
  },
  {
    id: 'timeout',
    title: 'Timeout enabled (10 s)',
    timeout: 10_000,
    description:
      'Same breakers with a 10 s call timeout that rejects the caller when it elapses. @edgekit/breaker and opossum: `{ timeout: 10_000 }` ' +
      '(opossum arms a timer per call; @edgekit/breaker reuses the kept timer of a call that ended in time for the next call with the same deadline: same millisecond, or same event-loop turn when the call reads no clock). cockatiel: `wrap(timeout(10_000, TimeoutStrategy.Aggressive), breaker)`.',
  },
];

const action = async (x: number): Promise<number> => x + 1;

function makeTarget(name: TargetName, timeoutMs: number | false): (i: number) => Promise<unknown> {
  if (name === '@edgekit/breaker') {
    const breaker = new CircuitBreaker(action, { timeout: timeoutMs });
    return (i) => breaker.fire(i);
  }
  if (name === 'opossum') {
    const breaker = new Opossum(action, { timeout: timeoutMs });
    return (i) => breaker.fire(i);
  }
  const breaker = circuitBreaker(handleAll, { halfOpenAfter: 30_000, breaker: new SamplingBreaker({ threshold: 0.5, duration: 10_000 }) });
  const policy = timeoutMs === false ? breaker : wrap(cockatielTimeout(timeoutMs, TimeoutStrategy.Aggressive), breaker);
  // cockatiel's execute takes a thunk; it is built once so a per-call closure is not counted against it.
  let next = 0;
  const task = (): Promise<number> => action(next);
  return (i) => {
    next = i;
    return policy.execute(task);
  };
}

async function batch(call: (i: number) => Promise<unknown>, iterations: number): Promise<number> {
  const started = process.hrtime.bigint();
  for (let i = 0; i < iterations; i++) await call(i);
  return Number(process.hrtime.bigint() - started) / iterations;
}

/** Child process: measures one target in one configuration and prints one RESULT line. */
async function runChild(spec: string): Promise<void> {
  const [configId, name] = spec.split('|') as [string, TargetName];
  const config = CONFIGS.find((c) => c.id === configId) as Config;
  const bare = (i: number): Promise<number> => action(i);
  const target = makeTarget(name, config.timeout);
  const probes = [await batch(target, 1000)];
  const warmUntil = performance.now() + WARM_MS;
  while (performance.now() < warmUntil) {
    await batch(bare, 1000);
    probes.push(await batch(target, 1000));
  }
  // The median of the later probes: one probe alone may catch a collection and size batches far off.
  const probe = median(probes.slice(Math.floor(probes.length / 2)));
  const iterations = Math.max(1000, Math.min(50_000, Math.round((BATCH_MS * 1e6) / probe)));
  const bareNs: number[] = [];
  const targetNs: number[] = [];
  const overheadNs: number[] = [];
  for (let round = 0; round < WARMUP_ROUNDS + ROUNDS; round++) {
    const b = await batch(bare, iterations);
    const t = await batch(target, iterations);
    if (round < WARMUP_ROUNDS) continue;
    bareNs.push(b);
    targetNs.push(t);
    overheadNs.push(t - b);
  }
  console.log(`RESULT ${JSON.stringify({ bare: median(bareNs), target: median(targetNs), overhead: median(overheadNs), iterations })}`);
  process.exit(0);
}

interface Measured {
  bare: number;
  target: number;
  overhead: number;
  iterations: number;
}

async function measure(config: Config, name: TargetName): Promise<Measured> {
  const child = spawnTs(fileURLToPath(import.meta.url), [], { BENCH_CHILD: `${config.id}|${name}` });
  try {
    const line = await child.waitForLine((l) => l.startsWith('RESULT '), 300_000);
    return JSON.parse(line.slice('RESULT '.length)) as Measured;
  } finally {
    await child.stop();
  }
}

async function runParent(): Promise<void> {
  console.log(
    `## @edgekit/breaker benchmark\n\nNode ${process.version}, ${PASSES} passes. Per target and pass, in a process of its own: ` +
      `${WARM_MS} ms of calls to calibrate on, then ${WARMUP_ROUNDS} warm-up + ${ROUNDS} measured rounds, each a batch (~${BATCH_MS} ms) of sequential awaited calls of the bare ` +
      'action then as many through the breaker. Action: `async (x) => x + 1`, every call succeeds (closed path). ' +
      'Overhead = breaker − bare: median of per-round differences, then median over passes.',
  );
  let allMet = true;
  for (const config of CONFIGS) {
    const passes = new Map<TargetName, Measured[]>(TARGETS.map((name) => [name, []]));
    for (let pass = 0; pass < PASSES; pass++) {
      for (let i = 0; i < TARGETS.length; i++) {
        const name = TARGETS[(i + pass) % TARGETS.length] as TargetName;
        passes.get(name)?.push(await measure(config, name));
      }
    }
    const results = new Map<TargetName, Measured>(
      TARGETS.map((name) => {
        const runs = passes.get(name) ?? [];
        const pick = (key: 'bare' | 'target' | 'overhead'): number => median(runs.map((r) => r[key]));
        return [name, { bare: pick('bare'), target: pick('target'), overhead: pick('overhead'), iterations: runs[0]?.iterations ?? 0 }];
      }),
    );
    const ours = results.get('@edgekit/breaker') as Measured;
    const opossum = results.get('opossum') as Measured;
    const cockatiel = results.get('cockatiel') as Measured;
    const rows = [
      ['bare async call', median(TARGETS.map((n) => (results.get(n) as Measured).bare)).toFixed(1), '—', '—'],
      ...TARGETS.map((name) => {
        const r = results.get(name) as Measured;
        return [name, r.target.toFixed(1), r.overhead.toFixed(1), name === '@edgekit/breaker' ? '1.00×' : `${(r.overhead / Math.max(ours.overhead, 0.1)).toFixed(2)}×`];
      }),
    ];
    const vsCockatiel = ours.overhead <= cockatiel.overhead;
    const vsOpossum = ours.overhead <= opossum.overhead / 4;
    allMet = allMet && vsCockatiel && vsOpossum;
    console.log(`\n### ${config.title}\n\n${config.description}\n`);
    console.log(markdownTable(['target', 'median ns/op', 'overhead ns/op', 'overhead ÷ ours'], rows));
    console.log('');
    console.log(`- overhead ≤ cockatiel's: ${ours.overhead.toFixed(1)} ≤ ${cockatiel.overhead.toFixed(1)} ns → ${vsCockatiel ? 'met ✅' : 'NOT met ❌'}`);
    console.log(`- overhead ≤ ¼ of opossum's: ${ours.overhead.toFixed(1)} ≤ ${(opossum.overhead / 4).toFixed(1)} ns → ${vsOpossum ? 'met ✅' : 'NOT met ❌'}`);
  }
  console.log(`\nAll bars met: ${allMet ? 'yes ✅' : 'no ❌'}`);
}

if (process.env.BENCH_CHILD) await runChild(process.env.BENCH_CHILD);
else await runParent();
