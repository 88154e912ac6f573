/**
 * Proxy throughput and latency against its peers, in one run with one load tool and one setting:
 * the origin direct, @edgekit/proxy (geo lookup, region selection, health and breaker checks on),
 * @fastify/http-proxy, http-proxy with a keep-alive agent, and nginx when installed. Each server
 * runs in its own process. Prints a markdown table and whether the bar is met:
 * at least 1.5x the requests per second of @fastify/http-proxy with a p99 no worse than it.
 *
 *   pnpm --filter @edgekit/proxy bench
 *   BENCH_DURATION=20 BENCH_CONNECTIONS=100 pnpm --filter @edgekit/proxy bench
 */
import { fileURLToPath } from 'node:url';
import { type LoadResult, type LoadSettings, type TsChild, freePort, hasNginx, hasWrk, markdownTable, runWrk, spawnTs, startNginx } from '@edgekit/test-utils/node';

const SERVER = fileURLToPath(new URL('./server.ts', import.meta.url));
const durationSeconds = Number(process.env.BENCH_DURATION ?? 10);
const warmupSeconds = Number(process.env.BENCH_WARMUP ?? 3);
const connections = Number(process.env.BENCH_CONNECTIONS ?? 50);
const RPS_BAR = 1.5;

// The same settings for every target. The client address header is believed only by edgekit
// (which trusts loopback peers) and lets it geolocate a public address; peers forward it as is.
const settings: LoadSettings = { connections, durationSeconds, threads: 1, headers: { 'x-forwarded-for': '8.8.8.8' } };

interface Row {
  name: string;
  result: LoadResult;
}

async function startTarget(kind: string, originUrl: string): Promise<{ url: string; child: TsChild }> {
  const child = spawnTs(SERVER, [kind, originUrl]);
  const line = await child.waitForLine((l) => l.startsWith('READY '), 60_000);
  return { url: `http://127.0.0.1:${line.slice(6).trim()}/api/item`, child };
}

async function measure(url: string): Promise<LoadResult> {
  // Warm up the JIT and the connection pools with the same load, then measure.
  await runWrk(url, { ...settings, durationSeconds: warmupSeconds });
  return runWrk(url, settings);
}

async function main(): Promise<void> {
  if (!hasWrk()) {
    console.error('wrk is not installed: apt-get install wrk');
    process.exit(1);
  }
  const rows: Row[] = [];
  const origin = await startTarget('origin', '');
  const originUrl = new URL(origin.url).origin;
  try {
    process.stdout.write(`origin direct (${durationSeconds}s, ${connections} connections)... `);
    rows.push({ name: 'origin (direct)', result: await measure(origin.url) });
    console.log('done');
    for (const [name, kind] of [
      ['@edgekit/proxy (geo + health + breaker)', 'edgekit'],
      ['@fastify/http-proxy', 'fastify-http-proxy'],
      ['http-proxy (keep-alive agent)', 'http-proxy'],
    ] as const) {
      process.stdout.write(`${name}... `);
      const target = await startTarget(kind, originUrl);
      try {
        rows.push({ name, result: await measure(target.url) });
      } finally {
        await target.child.stop();
      }
      console.log('done');
    }
    if (hasNginx()) {
      process.stdout.write('nginx... ');
      const port = await freePort();
      const originPort = new URL(originUrl).port;
      const nginx = await startNginx(
        `upstream origin { server 127.0.0.1:${originPort}; keepalive 64; }
  server {
    listen 127.0.0.1:${port};
    location / {
      proxy_pass http://origin;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
    }
  }`,
        { readyUrl: `http://127.0.0.1:${port}/health` },
      );
      try {
        rows.push({ name: 'nginx (1 worker, upstream keepalive)', result: await measure(`http://127.0.0.1:${port}/api/item`) });
      } finally {
        await nginx.stop();
      }
      console.log('done');
    } else {
      console.log('nginx is not installed: skipped');
    }
  } finally {
    await origin.child.stop();
  }

  const peer = rows.find((r) => r.name === '@fastify/http-proxy')!.result;
  const ours = rows.find((r) => r.name.startsWith('@edgekit/proxy'))!.result;
  const fmt = (n: number, digits = 2): string => (Number.isFinite(n) ? n.toFixed(digits) : 'n/a');
  console.log('');
  console.log(
    markdownTable(
      ['target', 'req/s', 'p50 (ms)', 'p99 (ms)', 'errors', 'req/s vs @fastify/http-proxy'],
      rows.map(({ name, result }) => [name, fmt(result.rps, 0), fmt(result.p50), fmt(result.p99), result.errors, `${fmt(result.rps / peer.rps)}x`]),
    ),
  );
  const rpsMet = ours.rps >= RPS_BAR * peer.rps;
  const p99Met = ours.p99 <= peer.p99;
  console.log('');
  console.log(`wrk, ${settings.threads} thread, ${connections} connections, ${durationSeconds}s per target after ${warmupSeconds}s warm-up; each server in its own process.`);
  console.log(`Bar: >= ${RPS_BAR}x the req/s of @fastify/http-proxy (${fmt(ours.rps / peer.rps)}x: ${rpsMet ? 'met' : 'NOT met'}) and p99 no worse (${fmt(ours.p99)} ms vs ${fmt(peer.p99)} ms: ${p99Met ? 'met' : 'NOT met'}).`);
  console.log(rpsMet && p99Met ? 'BAR MET' : 'BAR NOT MET');
  if (ours.errors > 0) console.log(`warning: @edgekit/proxy had ${ours.errors} errors`);
}

await main();
