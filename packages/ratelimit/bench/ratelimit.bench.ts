// Decisions per second in each mode, and the multi-node overage run: three gateway processes
// sharing one Redis, the design article's 1,000 per hour scaled to 1,000 per 10 s (sync interval
// scaled alike, 100 ms = 36 s at an hour), load well above the limit, for our edge mode, our
// strict mode and rate-limiter-flexible's RateLimiterRedis on the same Redis and the same load.
//
//   pnpm --filter @edgekit/ratelimit bench
//
// Env: BENCH_WINDOW (ms, default 10000), BENCH_RATE (offered req/s, default 500), BENCH_SYNC (ms, default 100).
import { fileURLToPath } from 'node:url';
import { type TsChild, markdownTable, median, spawnTs, startRedis } from '@edgekit/test-utils/node';
import { Redis } from 'ioredis';
import { RateLimiterMemory, RateLimiterRedis } from 'rate-limiter-flexible';
import { ALGORITHMS, createEdgeLimiter, createLocalLimiter, createRedisLimiter } from '../src/index.js';
import { sendLoad, untilWindowStart } from '../test/fixtures/load.js';

const WINDOW = Number(process.env.BENCH_WINDOW ?? 10_000);
const RATE = Number(process.env.BENCH_RATE ?? 500);
const SYNC = Number(process.env.BENCH_SYNC ?? 100);
const LIMIT = 1000;
const KEYS = Array.from({ length: 1000 }, (_, i) => `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`);
const fmt = (n: number): string => Math.round(n).toLocaleString('en-US');

function timeSync(decide: (key: string) => unknown, ms = 1000): { perSecond: number; ns: number } {
  for (let i = 0; i < 50_000; i++) decide(KEYS[i % 1000]!);
  let n = 0;
  const started = process.hrtime.bigint();
  const budget = BigInt(ms) * 1_000_000n;
  for (;;) {
    for (let i = 0; i < 10_000; i++) decide(KEYS[(n + i) % 1000]!);
    n += 10_000;
    const elapsed = process.hrtime.bigint() - started;
    if (elapsed >= budget) return { perSecond: (n * 1e9) / Number(elapsed), ns: Number(elapsed) / n };
  }
}

/** Like timeSync, but yields to the event loop between chunks so background syncs run meanwhile. */
async function timeSyncYielding(decide: (key: string) => unknown, ms: number): Promise<{ perSecond: number; ns: number }> {
  let n = 0;
  const started = process.hrtime.bigint();
  const budget = BigInt(ms) * 1_000_000n;
  for (;;) {
    for (let i = 0; i < 2_000; i++) decide(KEYS[(n + i) % 1000]!);
    n += 2_000;
    await new Promise((resolve) => setImmediate(resolve));
    const elapsed = process.hrtime.bigint() - started;
    if (elapsed >= budget) return { perSecond: (n * 1e9) / Number(elapsed), ns: Number(elapsed) / n };
  }
}

async function timeAsync(decide: (key: string) => Promise<unknown>, ms = 1500, concurrency = 64): Promise<{ perSecond: number; p99: number }> {
  let n = 0;
  const latencies: number[] = [];
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async (_, worker) => {
      let i = worker;
      while (performance.now() - started < ms) {
        const t = performance.now();
        await decide(KEYS[i++ % 1000]!).catch(() => {});
        latencies.push(performance.now() - t);
        n++;
      }
    }),
  );
  latencies.sort((a, b) => a - b);
  return { perSecond: (n * 1000) / (performance.now() - started), p99: latencies[Math.floor(latencies.length * 0.99)]! };
}

const redisServer = await startRedis();
const redis = new Redis(redisServer.url);
await new Promise<void>((resolve) => (redis.status === 'ready' ? resolve() : redis.once('ready', () => resolve())));

try {
  // 1. Local: synchronous decisions, 1,000 keys in rotation, a limit never reached. The machine is
  // shared, so each algorithm runs in 7 interleaved rounds of 150 ms and the median round is reported.
  const local = [];
  const locals = ALGORITHMS.map((algorithm) => ({ algorithm, limiter: createLocalLimiter({ algorithm, limit: 1e9, window: 60_000 }), ns: [] as number[] }));
  for (let round = 0; round < 7; round++) for (const l of locals) l.ns.push(timeSync((k) => l.limiter.limit(k), 150).ns);
  for (const l of locals) {
    const ns = median(l.ns);
    local.push([`edgekit local ${l.algorithm}`, fmt(1e9 / ns), ns.toFixed(0), Math.min(...l.ns).toFixed(0)]);
    await l.limiter.close();
  }
  const memory = new RateLimiterMemory({ points: 1e9, duration: 60 });
  const mem = await timeAsync((k) => memory.consume(k), 1000, 64);
  local.push(['rate-limiter-flexible RateLimiterMemory (Promise, 64 concurrent)', fmt(mem.perSecond), (1e9 / mem.perSecond).toFixed(0), '']);
  console.log('\n### Local mode (one process, 1,000 keys)\n');
  console.log(markdownTable(['Limiter', 'decisions/s (median round)', 'ns/decision (median)', 'ns/decision (best round)'], local));

  // 2. Strict global and edge: one process, one standalone Redis on loopback, 64 concurrent callers for strict.
  const remote = [];
  const stricts: Array<{ label: string; decide: (k: string) => Promise<unknown>; rates: number[]; p99: number[] }> = ALGORITHMS.map((algorithm) => {
    const limiter = createRedisLimiter({ algorithm, limit: 1e9, window: 60_000, redis, name: `bench-${algorithm}` });
    return { label: `edgekit strict ${algorithm}`, decide: (k: string) => limiter.limit(k), rates: [], p99: [] };
  });
  const rlfRedis = new RateLimiterRedis({ storeClient: redis, points: 1e9, duration: 60, keyPrefix: 'bench-rlf' });
  stricts.push({ label: 'rate-limiter-flexible RateLimiterRedis', decide: (k) => rlfRedis.consume(k), rates: [], p99: [] });
  for (let round = 0; round < 3; round++) {
    for (const s of stricts) {
      const r = await timeAsync(s.decide, 500);
      s.rates.push(r.perSecond);
      s.p99.push(r.p99);
    }
  }
  for (const s of stricts) remote.push([s.label, fmt(median(s.rates)), median(s.p99).toFixed(2)]);
  for (const algorithm of ['fixed-window', 'sliding-window'] as const) {
    const limiter = createEdgeLimiter({ algorithm, limit: 1e9, window: 60_000, redis, syncInterval: SYNC, name: `bench-edge-${algorithm}` });
    let syncs = 0;
    limiter.on('sync', () => syncs++);
    // Background syncs run on the same thread between chunks, so their cost is included.
    const r = await timeSyncYielding((k) => limiter.limit(k), 1500);
    remote.push([`edgekit edge ${algorithm} (sync ${SYNC} ms, ${syncs} rounds of 1,000 keys)`, fmt(r.perSecond), `${(r.ns / 1e6).toFixed(4)} (sync)`]);
    await limiter.close();
  }
  console.log('\n### Strict global and edge mode (one process, standalone Redis on loopback; strict: 64 concurrent callers, median of 3 rounds)\n');
  console.log(markdownTable(['Limiter', 'decisions/s', 'p99 ms'], remote));

  // 3. Multi-node overage.
  const node = fileURLToPath(new URL('../test/fixtures/limiter-node.ts', import.meta.url));
  const modes = ['edge', 'edge-nopredict', 'strict', 'rlf'] as const;
  const labels: Record<(typeof modes)[number], string> = {
    edge: `edgekit edge (sync ${SYNC} ms, prediction on)`,
    'edge-nopredict': `edgekit edge (sync ${SYNC} ms, prediction off)`,
    strict: 'edgekit strict (Lua per decision)',
    rlf: 'rate-limiter-flexible RateLimiterRedis',
  };
  const rows = [];
  for (const mode of modes) {
    const env = { MODE: mode, LIMIT: String(LIMIT), WINDOW: String(WINDOW), SYNC_INTERVAL: String(SYNC), NAME: `mn-${mode}-${Date.now()}`, REDIS_URL: redisServer.url };
    const children: TsChild[] = [spawnTs(node, [], env), spawnTs(node, [], env), spawnTs(node, [], env)];
    try {
      const ports = await Promise.all(children.map(async (c) => Number((await c.waitForLine((l) => l.startsWith('ready '))).slice(6))));
      await untilWindowStart(WINDOW);
      const outcome = await sendLoad(ports, RATE, WINDOW - 300);
      const overage = ((outcome.allowed - LIMIT) / LIMIT) * 100;
      rows.push([
        labels[mode],
        fmt(outcome.sent),
        fmt(outcome.allowed),
        `${overage >= 0 ? '+' : ''}${overage.toFixed(1)}%`,
        outcome.errors,
      ]);
      console.error(`${mode}: ${JSON.stringify(outcome)}`);
    } finally {
      await Promise.all(children.map((c) => c.stop()));
    }
  }
  console.log(`\n### Multi-node: 3 processes, ${LIMIT} per ${WINDOW / 1000} s, ${RATE} req/s offered for ${(WINDOW - 300) / 1000} s of one window\n`);
  console.log(markdownTable(['Limiter', 'sent', 'allowed', 'overage', 'errors'], rows));
} finally {
  redis.disconnect();
  // The redis-server child is unref'd: hold the event loop open until it has exited.
  const keepAlive = setInterval(() => {}, 1000);
  await redisServer.stop();
  clearInterval(keepAlive);
}
