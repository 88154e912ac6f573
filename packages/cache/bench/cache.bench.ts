// pnpm --filter @edgekit/cache bench
// 1. Cache hits through the gateway path (node:http + cache.handler, memory store, child process)
//    against nginx serving the same response from proxy_cache, both under the same wrk settings,
//    and bare node:http answering the same bytes: the ceiling of any node:http gateway.
// 2. Invalidation latency: one node invalidates tags; how long until all three other nodes (child
//    processes on a real Redis, Redis bus) have dropped them.
// Settings: BENCH_DURATION (s per run, default 5), BENCH_ROUNDS (default 3), BENCH_CONNECTIONS (default 50),
// BENCH_INVALIDATIONS (default 1000).
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  closeServer,
  freePort,
  hasNginx,
  hasWrk,
  listen,
  markdownTable,
  redisAvailability,
  runWrk,
  spawnTs,
  startNginx,
  startRedis,
  type LoadResult,
  type TsChild,
} from '@edgekit/test-utils/node';
import { Redis } from 'ioredis';
import { createCache } from '../src/index.js';

const duration = Number(process.env.BENCH_DURATION ?? 5);
const rounds = Math.max(1, Number(process.env.BENCH_ROUNDS ?? 3));
const connections = Number(process.env.BENCH_CONNECTIONS ?? 50);
const invalidations = Number(process.env.BENCH_INVALIDATIONS ?? 1_000);
const here = (file: string): string => fileURLToPath(new URL(file, import.meta.url));
const fmt = (n: number, digits = 0): string => n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });

const body = Buffer.from(JSON.stringify({ id: 42, name: 'Trail running shoe', price: 129.9, currency: 'EUR', tags: ['running', 'trail', 'outdoor'], description: 'x'.repeat(700) }));

async function hitBenchmark(): Promise<boolean> {
  console.log(`\n## Cache hits: edgekit gateway vs nginx proxy_cache\n`);
  if (!hasWrk() || !hasNginx()) {
    console.log(`skipped: ${hasWrk() ? '' : 'wrk '}${hasNginx() ? '' : 'nginx '}not installed`);
    return false;
  }
  const origin = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'public, max-age=600', 'content-length': body.length });
    res.end(body);
  });
  const originPort = await listen(origin);
  const nginxPort = await freePort();
  // nginx workers run as an unprivileged user when the bench runs as root: give them a cache
  // directory they can write, and open up the private prefix directory after start.
  const cacheDir = mkdtempSync(join(tmpdir(), 'edgekit-nginx-cache-'));
  chmodSync(cacheDir, 0o777);
  const nginx = await startNginx(
    `
  proxy_cache_path ${cacheDir} levels=1:2 keys_zone=edge:10m max_size=100m inactive=10m use_temp_path=off;
  upstream origin { server 127.0.0.1:${originPort}; keepalive 32; }
  server {
    listen 127.0.0.1:${nginxPort};
    location / {
      proxy_cache edge;
      proxy_cache_valid 200 10m;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_pass http://origin;
      add_header X-Cache-Status $upstream_cache_status;
    }
  }`,
    { readyUrl: `http://127.0.0.1:${nginxPort}/ready` },
  );
  chmodSync(nginx.dir, 0o755);
  const gateway: TsChild = spawnTs(here('./gateway.child.ts'), [`http://127.0.0.1:${originPort}`]);
  const bare: TsChild = spawnTs(here('./bare.child.ts'), [String(body.length)]);
  try {
    const port = Number((await gateway.waitForLine((l) => l.startsWith('ready '))).split(' ')[1]);
    const barePort = Number((await bare.waitForLine((l) => l.startsWith('ready '))).split(' ')[1]);
    const bareUrl = `http://127.0.0.1:${barePort}/api/products/42`;
    const edgeUrl = `http://127.0.0.1:${port}/api/products/42`;
    const nginxUrl = `http://127.0.0.1:${nginxPort}/api/products/42`;
    // Fill both caches and check they answer hits.
    for (const url of [edgeUrl, nginxUrl, edgeUrl, nginxUrl]) await (await fetch(url)).arrayBuffer();
    const edgeCheck = await fetch(edgeUrl);
    const nginxCheck = await fetch(nginxUrl);
    await edgeCheck.arrayBuffer();
    await nginxCheck.arrayBuffer();
    if (!String(edgeCheck.headers.get('cache-status')).includes('hit')) throw new Error(`edgekit is not answering hits: ${edgeCheck.headers.get('cache-status')}`);
    if (nginxCheck.headers.get('x-cache-status') !== 'HIT') throw new Error(`nginx is not answering hits: ${nginxCheck.headers.get('x-cache-status')}`);
    const settings = { connections, durationSeconds: duration, threads: 1 };
    // Short warm-up so the JIT and nginx's page cache are settled, then alternate the real runs.
    await runWrk(edgeUrl, { ...settings, durationSeconds: 1 });
    await runWrk(nginxUrl, { ...settings, durationSeconds: 1 });
    // Alternating rounds, median per target: loopback throughput on a shared machine is noisy.
    await runWrk(bareUrl, { ...settings, durationSeconds: 1 });
    const nginxRuns: LoadResult[] = [];
    const edgeRuns: LoadResult[] = [];
    const bareRuns: LoadResult[] = [];
    for (let round = 0; round < rounds; round++) {
      if (round % 2 === 0) {
        nginxRuns.push(await runWrk(nginxUrl, settings));
        edgeRuns.push(await runWrk(edgeUrl, settings));
        bareRuns.push(await runWrk(bareUrl, settings));
      } else {
        bareRuns.push(await runWrk(bareUrl, settings));
        edgeRuns.push(await runWrk(edgeUrl, settings));
        nginxRuns.push(await runWrk(nginxUrl, settings));
      }
    }
    const median = (runs: LoadResult[]): LoadResult => [...runs].sort((a, b) => a.rps - b.rps)[Math.floor(runs.length / 2)]!;
    const nginxRun = median(nginxRuns);
    const edgeRun = median(edgeRuns);
    const bareRun = median(bareRuns);
    const ratio = edgeRun.rps / nginxRun.rps;
    const errors = edgeRuns.reduce((sum, r) => sum + r.errors, 0);
    const row = (name: string, r: LoadResult, all: LoadResult[]): Array<string | number> => [name, fmt(r.rps), all.map((x) => fmt(x.rps)).join(' / '), fmt(r.p50, 2), fmt(r.p99, 2), all.reduce((sum, x) => sum + x.errors, 0)];
    console.log(`wrk -t1 -c${connections} -d${duration}s x ${rounds} alternating rounds (median shown), ${body.length}-byte JSON body, same origin behind both\n`);
    console.log(
      markdownTable(
        ['target', 'req/s (median)', 'req/s per round', 'p50 ms', 'p99 ms', 'errors'],
        [
          row('nginx proxy_cache (1 worker)', nginxRun, nginxRuns),
          row('edgekit cache.handler (1 process)', edgeRun, edgeRuns),
          row('bare node:http, same bytes, no cache (ceiling)', bareRun, bareRuns),
        ],
      ),
    );
    console.log(`\nbare node:http / nginx = ${fmt(bareRun.rps / nginxRun.rps, 2)}x; edgekit / bare node:http = ${fmt(edgeRun.rps / bareRun.rps, 2)}x (the cache's own share of the gap)`);
    const met = ratio >= 0.8 && errors === 0;
    console.log(`\nedgekit / nginx = ${fmt(ratio, 2)}x (per round: ${edgeRuns.map((r, i) => fmt(r.rps / nginxRuns[i]!.rps, 2)).join(', ')}) — bar >= 0.80x: ${met ? 'MET' : 'NOT MET'}`);
    return met;
  } finally {
    await gateway.stop();
    await bare.stop();
    await nginx.stop();
    rmSync(cacheDir, { recursive: true, force: true });
    await closeServer(origin);
  }
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

async function invalidationBenchmark(): Promise<boolean> {
  console.log(`\n## Invalidation reaching 3 nodes (child processes, Redis bus, shared Redis)\n`);
  if (!redisAvailability().available) {
    console.log('skipped: redis-server not installed and REDIS_URL not set');
    return false;
  }
  const redisServer = await startRedis();
  const prefix = `bench${process.pid}:`;
  const children = Array.from({ length: 3 }, () => spawnTs(here('./node.child.ts'), [redisServer.url, prefix]));
  const redis = new Redis(redisServer.url, { maxRetriesPerRequest: 1 });
  const publisher = createCache({ redis, prefix, channel: `${prefix}bus` });
  try {
    await Promise.all(children.map((c) => c.waitForLine((l) => l === 'ready')));
    const started = new Map<string, number>();
    const wallNow = (): number => performance.timeOrigin + performance.now();
    for (let i = 0; i < invalidations; i++) {
      const tag = `product:${i}`;
      started.set(tag, wallNow());
      await publisher.invalidateTag(tag);
      // Spread the invalidations out a little, as real purges are.
      await new Promise((resolve) => setTimeout(resolve, 1));
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
    const reports = await Promise.all(
      children.map(async (child) => {
        child.send('report');
        const line = await child.waitForLine((l) => l.startsWith('report '));
        return new Map(JSON.parse(line.slice('report '.length)) as Array<[string, number]>);
      }),
    );
    const allNodes: number[] = [];
    const perNode: number[] = [];
    let missing = 0;
    for (const [tag, start] of started) {
      const times = reports.map((r) => r.get(tag));
      if (times.some((t) => t === undefined)) {
        missing++;
        continue;
      }
      for (const t of times as number[]) perNode.push(t - start);
      allNodes.push(Math.max(...(times as number[])) - start);
    }
    allNodes.sort((a, b) => a - b);
    perNode.sort((a, b) => a - b);
    const row = (name: string, values: number[]): Array<string | number> => [name, values.length, fmt(percentile(values, 50), 2), fmt(percentile(values, 90), 2), fmt(percentile(values, 99), 2), fmt(values.at(-1) ?? Number.NaN, 2)];
    console.log(`${invalidations} invalidateTag() calls from a 4th node; time from the call to the tag being dropped\n`);
    console.log(markdownTable(['measure', 'samples', 'p50 ms', 'p90 ms', 'p99 ms', 'max ms'], [row('one node dropped it', perNode), row('all 3 nodes dropped it', allNodes)]));
    const p99 = percentile(allNodes, 99);
    const met = missing === 0 && p99 < 10;
    console.log(`\nlost invalidations: ${missing}; p99 to all 3 nodes = ${fmt(p99, 2)} ms — bar < 10 ms: ${met ? 'MET' : 'NOT MET'}`);
    return met;
  } finally {
    await Promise.all(children.map((c) => c.stop()));
    await publisher.close();
    redis.disconnect();
    await redisServer.stop();
  }
}

// Some helpers wait on unref'd child processes (redis-server); keep the loop alive until done.
const keepAlive = setInterval(() => {}, 1_000);
const results = { hits: await hitBenchmark(), invalidation: await invalidationBenchmark() };
clearInterval(keepAlive);
console.log(`\n${markdownTable(['bar', 'met'], [['hits >= 0.8x nginx', results.hits ? 'yes' : 'no'], ['invalidation p99 < 10 ms to 3 nodes', results.invalidation ? 'yes' : 'no']])}`);
