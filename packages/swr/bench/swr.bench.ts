// pnpm --filter @edgekit/swr bench
// 1. Stampede: 1,000 concurrent requests for one expired key, spread over 3 node processes sharing
//    one Redis, with an origin that takes 2 s. Counts origin calls (bar: exactly 1).
// 2. Stale hits while the origin takes 2 s to refresh: each process answers a stale key
//    sequentially and times every answer (bar: p99 < 1 ms).
// Settings: BENCH_REQUESTS (default 1000), BENCH_ORIGIN_MS (default 2000), BENCH_STALE_CALLS (per process, default 2000).
import { createServer } from 'node:http';
import { fileURLToPath } from 'node:url';
import { type TsChild, closeServer, listen, markdownTable, redisAvailability, spawnTs, startRedis } from '@edgekit/test-utils/node';
import { Redis } from 'ioredis';
import { createSwr } from '../src/index.js';

const requests = Number(process.env.BENCH_REQUESTS ?? 1_000);
const originMs = Number(process.env.BENCH_ORIGIN_MS ?? 2_000);
const staleCalls = Number(process.env.BENCH_STALE_CALLS ?? 2_000);
const fmt = (n: number, digits = 0): string => n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
const percentile = (sorted: number[], p: number): number => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;

interface BurstReport {
  statuses: Record<string, number>;
  values: string[];
  ms: number;
  flight: { fetches: number; waits: number; notified: number; rechecks: number; fallbacks: number };
}

async function main(): Promise<{ stampede: boolean; stale: boolean }> {
  if (!redisAvailability().available) {
    console.log('skipped: redis-server not installed and REDIS_URL not set');
    return { stampede: false, stale: false };
  }
  const redisServer = await startRedis();
  let originCalls = 0;
  const origin = createServer((_req, res) => {
    originCalls++;
    const n = originCalls;
    setTimeout(() => res.end(`value-${n}`), originMs);
  });
  const originBase = `http://127.0.0.1:${await listen(origin)}`;
  const prefix = `bench${process.pid}:`;
  const seeder = new Redis(redisServer.url);
  const seed = createSwr({ redis: seeder, prefix });
  const children: TsChild[] = [];
  try {
    const file = fileURLToPath(new URL('../test/fixtures/swr-node.ts', import.meta.url));
    for (let i = 0; i < 3; i++) children.push(spawnTs(file, [redisServer.url, prefix, originBase]));
    await Promise.all(children.map((c) => c.waitForLine((l) => l === 'ready', 30_000)));

    // 1. Stampede on an expired key.
    console.log(`\n## Stampede: ${fmt(requests)} concurrent requests for one expired key over 3 processes, origin takes ${fmt(originMs)} ms\n`);
    await seed('stampede', () => 'old', { ttl: 1 });
    await new Promise((resolve) => setTimeout(resolve, 5));
    originCalls = 0;
    const shares = [0, 1, 2].map((i) => Math.floor(requests / 3) + (i < requests % 3 ? 1 : 0));
    const t0 = performance.now();
    children.forEach((c, i) => c.send(`burst stampede ${shares[i]} 60000`));
    const bursts = await Promise.all(children.map(async (c) => JSON.parse((await c.waitForLine((l) => l.startsWith('burst '), 60_000)).slice(6)) as BurstReport));
    const wall = performance.now() - t0;
    const stampedeCalls = originCalls;
    const values = new Set(bursts.flatMap((b) => b.values));
    console.log(
      markdownTable(
        ['process', 'requests', 'statuses', 'fetched', 'waited (woken by notice)', 'answered after ms'],
        bursts.map((b, i) => [`node ${i + 1}`, shares[i]!, Object.entries(b.statuses).map(([k, v]) => `${k} ${v}`).join(', '), b.flight.fetches, `${b.flight.waits} (${b.flight.notified})`, fmt(b.ms)]),
      ),
    );
    const stampedeMet = stampedeCalls === 1 && values.size === 1 && bursts.every((b) => !('error' in b));
    console.log(`\norigin calls: ${stampedeCalls} for ${fmt(requests)} requests (distinct values served: ${values.size}); all answered within ${fmt(wall)} ms — bar exactly 1: ${stampedeMet ? 'MET' : 'NOT MET'}`);

    // 2. Stale hits while a 2 s refresh runs: with the local tier (the default), then reading Redis every time.
    console.log(`\n## Stale hits while the origin takes ${fmt(originMs)} ms to refresh (3 processes, Redis store)\n`);
    const staleRun = async (nodes: TsChild[], key: string): Promise<{ latencies: number[]; staleOnly: boolean; elapsed: number; calls: number; perNode: number[][] }> => {
      await seed(key, () => 'old', { ttl: 1, staleWhileRevalidate: 600_000 });
      await new Promise((resolve) => setTimeout(resolve, 5));
      originCalls = 0;
      const t1 = performance.now();
      nodes.forEach((c) => c.send(`stale ${key} ${staleCalls} 60000 600000`));
      const reports = await Promise.all(
        nodes.map(async (c) => JSON.parse((await c.waitForLine((l) => l.startsWith(`stale `), 60_000)).slice(6)) as { statuses: Record<string, number>; latencies: number[] }),
      );
      const elapsed = performance.now() - t1;
      const calls = originCalls;
      // Let the single refresh finish before the next run.
      await new Promise((resolve) => setTimeout(resolve, originMs + 200));
      return {
        latencies: reports.flatMap((r) => r.latencies).sort((a, b) => a - b),
        perNode: reports.map((r) => r.latencies),
        staleOnly: reports.every((r) => Object.keys(r.statuses).join() === 'stale'),
        elapsed,
        calls: Math.max(calls, originCalls),
      };
    };
    const withL1 = await staleRun(children, 'stale');
    await Promise.all(children.splice(0).map((c) => c.stop()));
    for (let i = 0; i < 3; i++) children.push(spawnTs(file, [redisServer.url, prefix, originBase, 'no-l1']));
    await Promise.all(children.map((c) => c.waitForLine((l) => l === 'ready', 30_000)));
    const withoutL1 = await staleRun(children, 'stale-no-l1');
    const row = (name: string, values: number[]): Array<string | number> => {
      const sorted = [...values].sort((a, b) => a - b);
      return [name, sorted.length, fmt(percentile(sorted, 50), 3), fmt(percentile(sorted, 99), 3), fmt(sorted.at(-1) ?? Number.NaN, 3)];
    };
    console.log(`${fmt(staleCalls)} sequential calls per process on an expired key in its stale window; the one background refresh takes ${fmt(originMs)} ms\n`);
    console.log(
      markdownTable(
        ['configuration', 'stale answers', 'p50 ms', 'p99 ms', 'max ms'],
        [
          ...withL1.perNode.map((l, i) => row(`default (local tier): node ${i + 1}`, l)),
          row('default (local tier): all', withL1.latencies),
          row('l1: false (Redis GET per call): all', withoutL1.latencies),
        ],
      ),
    );
    const p99 = percentile(withL1.latencies, 99);
    const staleMet = withL1.staleOnly && p99 < 1 && withL1.elapsed < originMs && withL1.calls === 1;
    console.log(
      `\ndefault: ${fmt(withL1.latencies.length)} answers in ${fmt(withL1.elapsed)} ms, all stale: ${withL1.staleOnly}, origin calls: ${withL1.calls}; l1: false: all stale: ${withoutL1.staleOnly}, origin calls: ${withoutL1.calls}, p99 ${fmt(percentile(withoutL1.latencies, 99), 3)} ms`,
    );
    console.log(`stale hit p99 (default) = ${fmt(p99, 3)} ms — bar < 1 ms: ${staleMet ? 'MET' : 'NOT MET'}`);
    return { stampede: stampedeMet, stale: staleMet };
  } finally {
    await Promise.all(children.map((c) => c.stop()));
    await seed.close();
    seeder.disconnect();
    await closeServer(origin);
    await redisServer.stop();
  }
}

// Some helpers wait on unref'd child processes (redis-server); keep the loop alive until done.
const keepAlive = setInterval(() => {}, 1_000);
const results = await main();
clearInterval(keepAlive);
console.log(
  `\n${markdownTable(
    ['bar', 'met'],
    [
      ['1,000 concurrent requests, 3 processes, 1 expired key → exactly 1 origin call', results.stampede ? 'yes' : 'no'],
      ['stale hit p99 < 1 ms while the origin takes 2 s', results.stale ? 'yes' : 'no'],
    ],
  )}`,
);
