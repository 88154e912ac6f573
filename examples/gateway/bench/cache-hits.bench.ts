/**
 * Cache hits through the example gateway (src/main.ts: one cached route, geo and breakers on)
 * against nginx answering the same response from proxy_cache, in the same run, with wrk:
 *
 *   pnpm --filter @edgekit/gateway bench:cache
 *   BENCH_DURATION=5 BENCH_ROUNDS=3 BENCH_CONNECTIONS=50 pnpm --filter @edgekit/gateway bench:cache
 *   BENCH_CPU_PROF=/tmp/prof pnpm --filter @edgekit/gateway bench:cache   # the gateway writes a .cpuprofile there
 *
 * A bare node:http server answering the same bytes runs in the same rounds: the ceiling of any
 * node:http gateway on this machine. Bar: gateway req/s >= 0.8x nginx's, gateway p99 <= 1.5x nginx's. CPU time per request (from
 * /proc, the process and its children) is reported too: on a shared machine it moves far less than
 * req/s, which depends on what else gets the cores.
 */
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { closeServer, freePort, hasNginx, hasWrk, listen, markdownTable, runWrk, spawnTs, startNginx } from '@edgekit/test-utils/node';
import { type GatewayProcess, type Sample, benchSettings, fmt, loadRange, measure, startGatewayProcess } from './harness.js';

const { durationSeconds: duration, rounds, connections } = benchSettings();
const cpuProfDir = process.env.BENCH_CPU_PROF;

if (!hasWrk() || !hasNginx()) {
  console.error(`skipped: ${hasWrk() ? '' : 'wrk '}${hasNginx() ? '' : 'nginx '}not installed`);
  process.exit(1);
}

const body = Buffer.from(JSON.stringify({ id: 42, name: 'Trail running shoe', price: 129.9, currency: 'EUR', tags: ['running', 'trail', 'outdoor'], description: 'x'.repeat(700) }));
const origin = createServer((_req, res) => {
  res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'public, max-age=600', 'content-length': body.length });
  res.end(body);
});
const originPort = await listen(origin);
const originUrl = `http://127.0.0.1:${originPort}`;

const nginxPort = await freePort();
// nginx workers run as an unprivileged user when the bench runs as root: a cache directory they can write.
const cacheDir = mkdtempSync(join(tmpdir(), 'edgekit-nginx-cache-'));
chmodSync(cacheDir, 0o777);
const nginx = await startNginx(
  `
  proxy_cache_path ${cacheDir} levels=1:2 keys_zone=edge:10m max_size=100m inactive=10m use_temp_path=off;
  upstream origin { server 127.0.0.1:${originPort}; keepalive 32; }
  server {
    listen 127.0.0.1:${nginxPort};
    # Keep-alive as the gateway's: one connection serves any number of requests (nginx's default
    # closes it after 1,000), idle for 65 s. access_log is off (startNginx); the gateway has none.
    keepalive_requests 1000000;
    keepalive_timeout 65s;
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

// The node:http ceiling: the same bytes as a hit, from a bare server (no gateway work at all).
const ceiling = spawnTs(fileURLToPath(new URL('./hit-ceiling.ts', import.meta.url)), [body.toString('base64')]);
let gateway: GatewayProcess | undefined;

try {
  gateway = await startGatewayProcess(
    {
      edge: { location: 'bench' },
      server: { host: '127.0.0.1', port: 0, shutdownDelay: 0 },
      regions: [{ name: 'us', url: originUrl, location: { lat: 39, lon: -77 } }],
      health: { interval: 1_000, initialJitter: 0 },
      cache: { routes: { 'GET /api/products/:id': { ttl: 600_000 } } },
      telemetry: { defaultMetrics: false },
    },
    { nodeArgs: cpuProfDir ? ['--cpu-prof', `--cpu-prof-dir=${cpuProfDir}`] : [] },
  );
  const gatewayBase = gateway.url;
  const edgeUrl = `${gatewayBase}/api/products/42`;
  const nginxUrl = `http://127.0.0.1:${nginxPort}/api/products/42`;
  const ceilingUrl = `http://127.0.0.1:${(await ceiling.waitForLine((line) => line.startsWith('READY '))).slice(6).trim()}/api/products/42`;
  for (const url of [edgeUrl, nginxUrl, edgeUrl, nginxUrl]) await (await fetch(url)).arrayBuffer();
  const edgeCheck = await fetch(edgeUrl);
  const nginxCheck = await fetch(nginxUrl);
  await edgeCheck.arrayBuffer();
  await nginxCheck.arrayBuffer();
  if (!String(edgeCheck.headers.get('cache-status')).includes('hit')) throw new Error(`the gateway is not answering hits: ${edgeCheck.headers.get('cache-status')}`);
  if (nginxCheck.headers.get('x-cache-status') !== 'HIT') throw new Error(`nginx is not answering hits: ${nginxCheck.headers.get('x-cache-status')}`);

  const settings = { connections, durationSeconds: duration, threads: 1 };
  await runWrk(edgeUrl, { ...settings, durationSeconds: 2 });
  await runWrk(nginxUrl, { ...settings, durationSeconds: 1 });
  await runWrk(ceilingUrl, { ...settings, durationSeconds: 1 });
  const nginxRuns: Sample[] = [];
  const edgeRuns: Sample[] = [];
  const ceilingRuns: Sample[] = [];
  const gatewayPid = gateway.child.child.pid;
  // Alternating rounds, median per target: loopback throughput on a shared machine is noisy.
  const ceilingPid = ceiling.child.pid;
  for (let round = 0; round < rounds; round++) {
    if (round % 2 === 0) {
      nginxRuns.push(await measure(nginxUrl, nginx.pid, settings));
      edgeRuns.push(await measure(edgeUrl, gatewayPid, settings));
      ceilingRuns.push(await measure(ceilingUrl, ceilingPid, settings));
    } else {
      ceilingRuns.push(await measure(ceilingUrl, ceilingPid, settings));
      edgeRuns.push(await measure(edgeUrl, gatewayPid, settings));
      nginxRuns.push(await measure(nginxUrl, nginx.pid, settings));
    }
  }
  const median = (runs: Sample[]): Sample => [...runs].sort((a, b) => a.rps - b.rps)[Math.floor(runs.length / 2)]!;
  const medianCpu = (runs: Sample[]): number => [...runs].map((r) => r.cpuUs).sort((a, b) => a - b)[Math.floor(runs.length / 2)]!;
  // Contention only adds CPU per request: the lowest round is the closest to the cost itself.
  const minCpu = (runs: Sample[]): number => Math.min(...runs.map((r) => r.cpuUs));
  const nginxRun = median(nginxRuns);
  const edgeRun = median(edgeRuns);
  const ceilingRun = median(ceilingRuns);
  const row = (name: string, r: Sample, all: Sample[]): Array<string | number> => [
    name,
    fmt(r.rps),
    all.map((x) => fmt(x.rps)).join(' / '),
    fmt(r.p50, 2),
    fmt(r.p99, 2),
    all.map((x) => fmt(x.p99, 2)).join(' / '),
    fmt(medianCpu(all), 1),
    fmt(minCpu(all), 1),
    all.reduce((sum, x) => sum + x.errors, 0),
  ];
  console.log(`\nwrk -t1 -c${connections} -d${duration}s x ${rounds} alternating rounds (median by req/s shown), ${body.length}-byte JSON body, Node ${process.version}, load average ${loadRange([...nginxRuns, ...edgeRuns, ...ceilingRuns])} during the run`);
  console.log('nginx: 1 worker, keepalive_requests 1000000, keepalive_timeout 65s, access_log off; gateway and bare node:http: 1 process, keepAliveTimeout 65 s, no request limit per connection, no access log\n');
  console.log(
    markdownTable(
      ['target', 'req/s (median)', 'req/s per round', 'p50 ms', 'p99 ms', 'p99 per round', 'CPU µs/req (median)', 'CPU µs/req (lowest round)', 'errors'],
      [
        row('nginx proxy_cache (1 worker)', nginxRun, nginxRuns),
        row('example gateway, cache hit (1 process; geo, health, breakers, telemetry on)', edgeRun, edgeRuns),
        row('bare node:http, the same bytes (the ceiling of a node:http gateway)', ceilingRun, ceilingRuns),
      ],
    ),
  );
  const ratio = edgeRun.rps / nginxRun.rps;
  const p99Ratio = edgeRun.p99 / nginxRun.p99;
  const errors = edgeRuns.reduce((sum, r) => sum + r.errors, 0);
  console.log(`\nCPU per request: gateway ${fmt(medianCpu(edgeRuns), 1)} µs, nginx ${fmt(medianCpu(nginxRuns), 1)} µs (${fmt(medianCpu(edgeRuns) / medianCpu(nginxRuns), 2)}x), bare node:http ${fmt(medianCpu(ceilingRuns), 1)} µs`);
  console.log(`bare node:http / nginx: req/s ${fmt(ceilingRun.rps / nginxRun.rps, 2)}x; gateway / bare node:http: req/s ${fmt(edgeRun.rps / ceilingRun.rps, 2)}x`);
  const met = ratio >= 0.8 && p99Ratio <= 1.5 && errors === 0;
  console.log(`\ngateway / nginx: req/s ${fmt(ratio, 2)}x (bar >= 0.80x), p99 ${fmt(p99Ratio, 2)}x (bar <= 1.50x), errors ${errors} — ${met ? 'MET' : 'NOT MET'}`);
} finally {
  await gateway?.stop();
  await ceiling.stop();
  await nginx.stop();
  rmSync(cacheDir, { recursive: true, force: true });
  await closeServer(origin);
}
