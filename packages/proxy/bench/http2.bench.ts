/**
 * HTTP/2 rows of the proxy benchmark: h2load (nghttp2) against an h2c listener (prior knowledge),
 * in one run with one setting: the h2c origin direct, @edgekit/proxy with an HTTP/2 downstream and
 * an HTTP/1.1 upstream, @edgekit/proxy HTTP/2 on both sides, and nginx configured the same way for
 * the h2 → HTTP/1.1 row (`listen ... http2`, upstream keepalive; nginx's `proxy_pass` has no
 * HTTP/2 upstream, so it has no h2 → h2 row). Each server runs in its own process; targets are
 * measured in alternating rounds and the median round is reported, with the CPU time each server
 * process spends per request. The direct origin row is the ceiling: a bare `http2.createServer`
 * answering fixed bytes, no forwarding at all.
 *
 *   pnpm --filter @edgekit/proxy bench:http2
 *   BENCH_REQUESTS=40000 BENCH_CLIENTS=20 BENCH_STREAMS=10 pnpm --filter @edgekit/proxy bench:http2
 */
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { type TsChild, cpuTimeMs, freePort, hasNginx, markdownTable, median, spawnTs, startNginx } from '@edgekit/test-utils/node';

const SERVER = fileURLToPath(new URL('./server.ts', import.meta.url));
const requests = Number(process.env.BENCH_REQUESTS ?? 20_000);
// 50 streams in flight, as the HTTP/1.1 rows' 50 connections (and below maxInFlightPerClient).
const clients = Number(process.env.BENCH_CLIENTS ?? 10);
const streams = Number(process.env.BENCH_STREAMS ?? 5);
const rounds = Math.max(1, Number(process.env.BENCH_ROUNDS ?? 3));

interface H2loadResult {
  rps: number;
  meanMs: number;
  maxMs: number;
  failed: number;
}

function hasH2load(): boolean {
  try {
    execFileSync('h2load', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** Runs h2load with prior knowledge and parses its summary lines. */
function runH2load(url: string, count: number): H2loadResult {
  const out = execFileSync('h2load', ['-n', String(count), '-c', String(clients), '-m', String(streams), '-H', 'x-forwarded-for: 8.8.8.8', url], { encoding: 'utf8' });
  const rps = Number(/finished in [\d.]+m?s, ([\d.]+) req\/s/.exec(out)?.[1] ?? Number.NaN);
  if (process.env.BENCH_DEBUG) console.log(out);
  const failed = /requests: \d+ total, \d+ started, \d+ done, \d+ succeeded, (\d+) failed, (\d+) errored/.exec(out);
  const timing = /time for request:\s+([\d.]+)(us|ms|s)\s+([\d.]+)(us|ms|s)\s+([\d.]+)(us|ms|s)/.exec(out);
  const ms = (value: string, unit: string): number => Number(value) * (unit === 'us' ? 0.001 : unit === 's' ? 1000 : 1);
  return {
    rps,
    meanMs: timing === null ? Number.NaN : ms(timing[5]!, timing[6]!),
    maxMs: timing === null ? Number.NaN : ms(timing[3]!, timing[4]!),
    failed: failed === null ? Number.NaN : Number(failed[1]) + Number(failed[2]),
  };
}

async function start(kind: string, originUrl: string): Promise<{ port: number; child: TsChild }> {
  const child = spawnTs(SERVER, [kind, originUrl]);
  const line = await child.waitForLine((l) => l.startsWith('READY '), 60_000);
  return { port: Number(line.slice(6).trim()), child };
}

interface Target {
  name: string;
  url: string;
  pid: number | undefined;
  stop(): Promise<void>;
}

async function main(): Promise<void> {
  if (!hasH2load()) {
    console.error('h2load is not installed: apt-get install nghttp2-client');
    process.exit(1);
  }
  const origin = await start('origin', '');
  const originH2 = await start('origin-h2c', '');
  const targets: Target[] = [];
  try {
    targets.push({ name: 'origin h2c (direct)', url: `http://127.0.0.1:${originH2.port}/api/item`, pid: originH2.child.child.pid, stop: () => originH2.child.stop() });
    const h1 = await start('edgekit-h2c-h1', `http://127.0.0.1:${origin.port}`);
    targets.push({ name: '@edgekit/proxy h2c → HTTP/1.1', url: `http://127.0.0.1:${h1.port}/api/item`, pid: h1.child.child.pid, stop: () => h1.child.stop() });
    const h2 = await start('edgekit-h2c-h2', `http://127.0.0.1:${originH2.port}`);
    targets.push({ name: '@edgekit/proxy h2c → h2c', url: `http://127.0.0.1:${h2.port}/api/item`, pid: h2.child.child.pid, stop: () => h2.child.stop() });
    if (hasNginx()) {
      const port = await freePort();
      const readyPort = await freePort();
      const nginx = await startNginx(
        `upstream origin { server 127.0.0.1:${origin.port}; keepalive 64; }
  server {
    listen 127.0.0.1:${port} http2;
    listen 127.0.0.1:${readyPort};
    # HTTP/2 connections otherwise end with GOAWAY after 1000 requests, and h2load does not reconnect.
    keepalive_requests 1000000;
    location / {
      proxy_pass http://origin;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
    }
  }`,
        { readyUrl: `http://127.0.0.1:${readyPort}/health` },
      );
      targets.push({ name: 'nginx h2c → HTTP/1.1 (1 worker, upstream keepalive)', url: `http://127.0.0.1:${port}/api/item`, pid: nginx.pid, stop: () => nginx.stop() });
    } else {
      console.log('nginx is not installed: skipped');
    }
    for (const target of targets) runH2load(target.url, Math.min(requests, 5_000));
    const samples = new Map<Target, Array<H2loadResult & { cpu: number | undefined }>>(targets.map((t) => [t, []]));
    for (let round = 1; round <= rounds; round++) {
      process.stdout.write(`round ${round}/${rounds}: `);
      for (const target of targets) {
        const before = target.pid === undefined ? undefined : cpuTimeMs(target.pid);
        const result = runH2load(target.url, requests);
        const after = target.pid === undefined ? undefined : cpuTimeMs(target.pid);
        const cpu = before === undefined || after === undefined ? undefined : ((after - before) * 1000) / requests;
        samples.get(target)!.push({ ...result, cpu });
        process.stdout.write('.');
      }
      console.log('');
    }
    const fmt = (n: number | undefined, digits = 2): string => (n !== undefined && Number.isFinite(n) ? n.toFixed(digits) : 'n/a');
    const rows = targets.map((target) => {
      const list = samples.get(target)!;
      const cpus = list.map((s) => s.cpu).filter((c): c is number => c !== undefined);
      return {
        name: target.name,
        rps: median(list.map((s) => s.rps)),
        perRound: list.map((s) => s.rps.toFixed(0)).join(' / '),
        mean: median(list.map((s) => s.meanMs)),
        max: median(list.map((s) => s.maxMs)),
        failed: list.reduce((sum, s) => sum + s.failed, 0),
        cpu: cpus.length > 0 ? median(cpus) : undefined,
      };
    });
    const nginxRow = rows.find((r) => r.name.startsWith('nginx'));
    console.log('');
    console.log(
      markdownTable(
        ['target', 'req/s (median)', 'req/s per round', 'mean latency (ms)', 'max latency (ms)', 'failed', 'req/s vs nginx h2c → HTTP/1.1', 'CPU µs/request (target)'],
        rows.map((r) => [r.name, fmt(r.rps, 0), r.perRound, fmt(r.mean), fmt(r.max), r.failed, nginxRow === undefined ? 'n/a' : `${fmt(r.rps / nginxRow.rps)}x`, fmt(r.cpu, 1)]),
      ),
    );
    console.log('');
    console.log(`h2load, ${clients} clients × ${streams} concurrent streams, ${requests} requests per round, ${rounds} alternating rounds; each server in its own process; medians over rounds.`);
  } finally {
    for (const target of targets) await target.stop();
    await origin.child.stop();
  }
}

await main();
