/**
 * What telemetry costs a gateway, and its recorders' per-call cost.
 *
 *   pnpm --filter @edgekit/telemetry bench
 *   BENCH_SECONDS=5 BENCH_PASSES=3 pnpm --filter @edgekit/telemetry bench
 *
 * Load: wrk (1 thread, 32 keep-alive connections) against a gateway child process forwarding to an
 * upstream child process on loopback, for each mode in rotating order; the table shows the median
 * of the passes. Throughput depends on whatever else the machine runs, so the gateway process's own
 * CPU time per request (user + system, from `process.cpuUsage()` around the measured run) is the
 * figure to compare. Tracing records every span (always-on sampling) with the SDK's BasicTracerProvider
 * and a BatchSpanProcessor whose exporter drops the spans: the cost of recording, not of exporting.
 * `BENCH_SPAN_PROCESSOR=simple` uses a SimpleSpanProcessor instead.
 * Per request: the telemetry work of one forwarded request without the network (a request and a
 * response object, the forwarder's observer calls replayed: decision, attempt, attempt end, end,
 * response close), in this process: CPU time of alternating batches of 10 000 requests with and
 * without telemetry, median of the differences. Micro: calls per second of the hot recorders.
 */
import { IncomingMessage, ServerResponse } from 'node:http';
import { Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import { type LoadResult, hasWrk, markdownTable, median, runWrk, spawnTs } from '@edgekit/test-utils/node';
import { ROOT_CONTEXT, trace } from '@opentelemetry/api';
import { Registry } from 'prom-client';
import { BasicTracerProvider } from '@opentelemetry/sdk-trace-base';
import {
  type ObservableForwarder,
  type RequestObserverLike,
  createEdgeMetrics,
  createEdgeTracing,
  formatTraceparent,
  parseTraceparent,
  w3cTraceContext,
} from '../src/index.js';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 3);
const PASSES = Number(process.env.BENCH_PASSES ?? 2);
const MODES = ['none', 'metrics', 'tracing', 'both'] as const;
const LABELS: Record<(typeof MODES)[number], string> = {
  none: 'forwarder alone',
  metrics: '+ metrics (observeForwarder, wrapHandler)',
  tracing: '+ tracing (server + client span, traceparent)',
  both: '+ metrics and tracing',
};

async function cpuOf(child: ReturnType<typeof spawnTs>, seen: number): Promise<number> {
  child.child.stdin!.write('cpu\n');
  // Each answer is a new line; skip the ones read before.
  let answers = 0;
  const line = await child.waitForLine((l) => l.startsWith('cpu ') && ++answers > seen);
  return Number(line.slice(4));
}

async function portOf(child: ReturnType<typeof spawnTs>): Promise<number> {
  const line = await child.waitForLine((l) => l.startsWith('port '));
  return Number(line.slice(5));
}

async function load(): Promise<string> {
  if (!hasWrk()) return '_wrk is not installed: load benchmark skipped._';
  const upstream = spawnTs(fileURLToPath(new URL('./upstream.child.ts', import.meta.url)));
  const upstreamUrl = `http://127.0.0.1:${await portOf(upstream)}`;
  const results = new Map<string, LoadResult[]>(MODES.map((m) => [m, []]));
  const cpuPerRequest = new Map<string, number[]>(MODES.map((m) => [m, []]));
  try {
    for (let pass = 0; pass < PASSES; pass++) {
      const order = MODES.map((_, i) => MODES[(i + pass) % MODES.length]!);
      for (const mode of order) {
        const gateway = spawnTs(fileURLToPath(new URL('./gateway.child.ts', import.meta.url)), [mode, upstreamUrl, process.env.BENCH_SPAN_PROCESSOR ?? 'batch']);
        try {
          const url = `http://127.0.0.1:${await portOf(gateway)}/api/items/42?q=1`;
          await runWrk(url, { connections: 32, durationSeconds: 1 }); // warm-up
          const before = await cpuOf(gateway, 0);
          const result = await runWrk(url, { connections: 32, durationSeconds: SECONDS });
          const after = await cpuOf(gateway, 1);
          results.get(mode)!.push(result);
          cpuPerRequest.get(mode)!.push((after - before) / result.requests);
        } finally {
          gateway.child.stdin?.end();
          gateway.child.kill();
        }
      }
    }
  } finally {
    upstream.child.stdin?.end();
    upstream.child.kill();
  }
  const baseCpu = median(cpuPerRequest.get('none')!);
  return markdownTable(
    ['Gateway', 'CPU µs/request', 'added CPU µs/request', 'req/s', 'p50 ms', 'p99 ms', 'errors'],
    MODES.map((mode) => {
      const runs = results.get(mode)!;
      const cpu = median(cpuPerRequest.get(mode)!);
      return [
        LABELS[mode],
        cpu.toFixed(0),
        mode === 'none' ? '—' : `+${(cpu - baseCpu).toFixed(0)} (${(((cpu - baseCpu) / baseCpu) * 100).toFixed(0)} %)`,
        Math.round(median(runs.map((r) => r.rps))),
        median(runs.map((r) => r.p50)).toFixed(2),
        median(runs.map((r) => r.p99)).toFixed(2),
        runs.reduce((sum, r) => sum + r.errors, 0),
      ];
    }),
  );
}

function opsPerSecond(fn: (i: number) => void): number {
  for (let i = 0; i < 50_000; i++) fn(i);
  const start = performance.now();
  let n = 0;
  while (performance.now() - start < 500) {
    for (let i = 0; i < 10_000; i++) fn(n + i);
    n += 10_000;
  }
  return n / ((performance.now() - start) / 1000);
}

function micro(): string {
  const metrics = createEdgeMetrics({ registry: new Registry(), location: 'eu-west', regions: ['eu-west', 'us-east', 'ap-south'] });
  const regions = ['eu-west', 'us-east', 'ap-south', 'mars-1'];
  const continents = ['EU', 'NA', 'AS', undefined];
  const header = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
  const spanContext = parseTraceparent(header)!;
  const ctx = trace.setSpanContext(ROOT_CONTEXT, spanContext);
  const carrier: Record<string, string> = {};
  const setter = { set: (c: Record<string, string>, k: string, v: string) => void (c[k] = v) };
  const rows: Array<[string, number]> = [
    ['recordRouting (3 labels)', opsPerSecond((i) => metrics.recordRouting({ targetRegion: regions[i & 3], clientRegion: continents[(i >> 2) & 3], status: 200 }))],
    ['recordBackend (histogram)', opsPerSecond((i) => metrics.recordBackend(regions[i & 3]!, i % 250))],
    ['recordCacheLookup', opsPerSecond((i) => metrics.recordCacheLookup(i & 1 ? 'hit' : 'miss'))],
    ['parseTraceparent', opsPerSecond(() => parseTraceparent(header))],
    ['formatTraceparent', opsPerSecond(() => formatTraceparent(spanContext))],
    ['w3cTraceContext.inject', opsPerSecond(() => w3cTraceContext.inject(ctx, carrier, setter))],
  ];
  void metrics.close();
  return markdownTable(['Operation', 'calls/s'], rows.map(([name, ops]) => [name, `${(ops / 1e6).toFixed(2)} M`]));
}

/** Replays what the forwarder tells its observers about one request, for the per-request table. */
function perRequest(): string {
  const factories: Array<(req: IncomingMessage) => RequestObserverLike | undefined> = [];
  const forwarder: ObservableForwarder = {
    observe(factory) {
      factories.push(factory);
      return { dispose: () => factories.splice(factories.indexOf(factory), 1) };
    },
    on: () => ({ dispose() {} }),
  };
  // Spans are recorded (always-on sampling) and dropped when they end: no export queue to fill up.
  const dropEnded = { onStart() {}, onEnd() {}, forceFlush: () => Promise.resolve(), shutdown: () => Promise.resolve() };
  const provider = new BasicTracerProvider({ spanProcessors: [dropEnded] });
  const regions = ['eu-west', 'us-east', 'ap-south'];
  const metrics = createEdgeMetrics({ registry: new Registry(), location: 'eu-west', regions });
  const tracing = createEdgeTracing({ location: 'eu-west', nodeId: 'bench-1', tracerProvider: provider });
  const socket = new Socket();
  const decision = { method: 'GET', location: { continent: 'EU', country: 'DE' }, reason: 'continent', candidates: regions, skipped: [], healthIgnored: false };
  const start = { region: 'eu-west', attempt: 1, hedge: false, method: 'GET', origin: 'http://10.0.0.1:8080', path: '/api/items/42?q=1' };
  const attemptEnd = { status: 200, outcome: 'complete' as const, error: undefined };
  const end = { type: 'response' as const, event: { region: 'eu-west', status: 200, attempts: 1, durationMs: 3, ttfbMs: 2 } };
  const noop = (_req: IncomingMessage, _res: ServerResponse): void => undefined;
  const modes = {
    'metrics': { handler: metrics.wrapHandler(noop), subscribe: () => [metrics.observeForwarder(forwarder)] },
    'tracing': { handler: tracing.wrapHandler(noop), subscribe: () => [tracing.observeForwarder(forwarder)] },
    'metrics and tracing': { handler: tracing.wrapHandler(metrics.wrapHandler(noop)), subscribe: () => [metrics.observeForwarder(forwarder), tracing.observeForwarder(forwarder)] },
  };
  const one = (handler: (req: IncomingMessage, res: ServerResponse) => void, observed: boolean): void => {
    const req = new IncomingMessage(socket);
    req.method = 'GET';
    req.url = '/api/items/42?q=1';
    req.httpVersion = '1.1';
    req.httpVersionMajor = 1;
    req.rawHeaders = ['Host', 'edge.example:8080', 'User-Agent', 'wrk', 'Accept', '*/*'];
    const res = new ServerResponse(req);
    handler(req, res);
    for (const factory of observed ? factories : []) {
      const observer = factory(req);
      observer?.decision?.(decision);
      const attempt = observer?.attempt?.(start);
      attempt?.end?.(attemptEnd);
      observer?.end?.(end);
    }
    res.statusCode = 200;
    res.emit('close');
  };
  const bare = (): void => one(noop, false);
  // CPU time, not wall time: on a shared machine other processes stretch wall time, not our CPU time.
  const batch = (fn: () => void, n: number): number => {
    const before = process.cpuUsage();
    for (let i = 0; i < n; i++) fn();
    const used = process.cpuUsage(before);
    return (used.user + used.system) / n;
  };
  const rows: Array<[string, string]> = [];
  for (const [name, mode] of Object.entries(modes)) {
    const handles = mode.subscribe();
    const run = (): void => one(mode.handler, true);
    batch(run, 5_000);
    batch(bare, 5_000);
    // Large batches: the garbage a batch leaves is collected during the next one, so the spill-over
    // must be small against the batch.
    const added: number[] = [];
    for (let round = 0; round < 7; round++) added.push(batch(run, 10_000) - batch(bare, 10_000));
    rows.push([name, median(added).toFixed(1)]);
    for (const handle of handles) handle.dispose();
  }
  void metrics.close();
  void tracing.close();
  void provider.shutdown();
  return markdownTable(['Telemetry per request (no network)', 'added µs/request'], rows);
}

console.log(`Node ${process.version}, ${SECONDS} s per run, ${PASSES} passes, ${process.env.BENCH_SPAN_PROCESSOR ?? 'batch'} span processor\n`);
console.log(await load());
console.log();
console.log(perRequest());
console.log();
console.log(micro());
