/**
 * HTTP/2 downstream, HTTP/1.1 upstream: the gateway (src/main.ts, TLS with ALPN h2) against nginx
 * configured the same way (`listen ssl http2`, the same certificate, `proxy_pass` with keep-alive to
 * the same origin), measured with h2load in one run. Each process (origin, gateway, nginx, h2load)
 * is its own:
 *
 *   pnpm --filter @edgekit/gateway bench:http2
 *   BENCH_DURATION=5 BENCH_CONNECTIONS=16 BENCH_STREAMS=8 pnpm --filter @edgekit/gateway bench:http2
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { createTestCertificates, freePort, hasNginx, markdownTable, spawnTs, startNginx } from '@edgekit/test-utils/node';
import { Agent, fetch as undiciFetch } from 'undici';
import { stringify } from 'yaml';

const durationSeconds = Number(process.env.BENCH_DURATION ?? 5);
const warmupRequests = Number(process.env.BENCH_WARMUP_REQUESTS ?? 2_000);
const connections = Number(process.env.BENCH_CONNECTIONS ?? 16);
const streams = Number(process.env.BENCH_STREAMS ?? 8);
const run = promisify(execFile);

/** What h2load reports: throughput, mean latency, failures. */
interface H2loadResult {
  rps: number;
  meanMs: number;
  maxMs: number;
  succeeded: number;
  failed: number;
  protocol: string;
}

function toMs(value: string, unit: string): number {
  const n = Number(value);
  return unit === 'us' ? n / 1000 : unit === 's' ? n * 1000 : n;
}

/** Parses h2load's summary (`finished in`, `requests:`, `time for request:`, `Application protocol:`). */
export function parseH2load(output: string): H2loadResult {
  const rps = Number(/finished in [\d.]+\w+, ([\d.]+) req\/s/.exec(output)?.[1] ?? Number.NaN);
  const requests = /requests: \d+ total, \d+ started, \d+ done, (\d+) succeeded, (\d+) failed, (\d+) errored/.exec(output);
  const status = /status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx/.exec(output);
  const time = /time for request:\s+([\d.]+)(us|ms|s)\s+([\d.]+)(us|ms|s)\s+([\d.]+)(us|ms|s)/.exec(output);
  const non2xx = status === null ? 0 : Number(status[2]) + Number(status[3]) + Number(status[4]);
  return {
    rps,
    meanMs: time === null ? Number.NaN : toMs(time[5]!, time[6]!),
    maxMs: time === null ? Number.NaN : toMs(time[3]!, time[4]!),
    succeeded: Number(status?.[1] ?? 0),
    failed: Number(requests?.[2] ?? 0) + Number(requests?.[3] ?? 0) + non2xx,
    protocol: /Application protocol: (\S+)/.exec(output)?.[1] ?? '?',
  };
}

async function h2load(url: string, amount: { seconds: number } | { requests: number }, h1 = false, perConnection = streams): Promise<H2loadResult> {
  // -D: a fixed duration (-n: a request count); -m: concurrent streams per connection (HTTP/1.1: 1).
  // -N: a connection without any activity for 10 s is given up (and counted), instead of waited for forever.
  const limit = 'seconds' in amount ? ['-D', String(amount.seconds)] : ['-n', String(amount.requests)];
  const seconds = 'seconds' in amount ? amount.seconds : 30;
  const args = [...limit, '-N', '10', '-c', String(connections), '-m', h1 ? '1' : String(perConnection), '-t', '1', ...(h1 ? ['--h1'] : []), url];
  const { stdout } = await run('h2load', args, { timeout: (seconds + 30) * 1000, maxBuffer: 16 * 1024 * 1024 });
  return parseH2load(stdout);
}

async function measure(url: string, h1 = false, perConnection = streams): Promise<H2loadResult> {
  // Warm-up by count, then a timed run: every connection is up and the JIT warm before the clock starts.
  await h2load(url, { requests: warmupRequests }, h1, perConnection);
  return h2load(url, { seconds: durationSeconds }, h1, perConnection);
}

if (!hasNginx()) {
  console.error('nginx is not installed (apt-get install nginx)');
  process.exit(1);
}

const dir = mkdtempSync(join(tmpdir(), 'gateway-h2-bench-'));
const authority = createTestCertificates('bench CA');
const certificate = authority.issue({ commonName: 'localhost', dns: ['localhost'], ips: ['127.0.0.1'] });
const origin = spawnTs(fileURLToPath(new URL('./origin-process.ts', import.meta.url)), ['us']);
const originUrl = (await origin.waitForLine((line) => line.startsWith('READY '))).slice(6);
const file = join(dir, 'gateway.yaml');
writeFileSync(
  file,
  stringify({
    edge: { location: 'bench' },
    server: { host: '127.0.0.1', port: 0, shutdownDelay: 0, maxConnectionsPerClient: 0, tls: { certificates: [{ cert: certificate.certFile, key: certificate.keyFile }], watch: false } },
    regions: [{ name: 'us', url: originUrl, location: { lat: 39, lon: -77 } }],
    geo: { resolver: 'none' },
    health: { interval: 1_000, initialJitter: 0 },
    proxy: { maxInFlightPerClient: 0 },
    telemetry: { defaultMetrics: false },
  }),
);
const gateway = spawnTs(fileURLToPath(new URL('../src/main.ts', import.meta.url)), ['--config', file]);
const gatewayUrl = JSON.parse(await gateway.waitForLine((line) => line.includes('"msg":"listening"'))).url as string;
const nginxPort = await freePort();
const originPort = new URL(originUrl).port;
const nginx = await startNginx(
  `  upstream origin { server 127.0.0.1:${originPort}; keepalive 64; }
  server {
    listen 127.0.0.1:${nginxPort} ssl http2;
    ssl_certificate ${certificate.certFile};
    ssl_certificate_key ${certificate.keyFile};
    ssl_protocols TLSv1.2 TLSv1.3;
    http2_max_concurrent_streams 100;
    # nginx closes a connection after 1000 requests by default (h2load does not reconnect); the gateway does not.
    keepalive_requests 1000000;
    location / {
      proxy_pass http://origin;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host $host;
      proxy_set_header X-Forwarded-For $remote_addr;
      proxy_set_header X-Forwarded-Proto https;
    }
  }`,
  { readyUrl: `${originUrl}/health` },
);
const nginxUrl = `https://127.0.0.1:${nginxPort}`;

const rows: Array<Array<string | number>> = [];
try {
  // The gateway is measured once it is ready (its region probed healthy), over its own TLS.
  const trusting = new Agent({ connect: { ca: authority.cert, servername: 'localhost' } });
  for (let i = 0; i < 200 && (await undiciFetch(`${gatewayUrl}/ready`, { dispatcher: trusting })).status !== 200; i++) await new Promise((r) => setTimeout(r, 50));
  await trusting.close();
  const cases: Array<[string, boolean, number]> = [
    [`HTTP/2 (TLS) → HTTP/1.1, ${streams} streams per connection`, false, streams],
    ['HTTP/2 (TLS) → HTTP/1.1, 1 stream per connection', false, 1],
    ['HTTP/1.1 (TLS) → HTTP/1.1', true, 1],
  ];
  for (const [name, h1, perConnection] of cases) {
    const ours = await measure(`${gatewayUrl}/api/where`, h1, perConnection);
    const theirs = await measure(`${nginxUrl}/api/where`, h1, perConnection);
    rows.push([`${name}: edgekit gateway`, ours.protocol, Math.round(ours.rps), ours.meanMs.toFixed(2), ours.failed, `${(ours.rps / theirs.rps).toFixed(2)}x nginx req/s, ${(ours.meanMs / theirs.meanMs).toFixed(2)}x its mean latency`]);
    rows.push([`${name}: nginx 1 worker`, theirs.protocol, Math.round(theirs.rps), theirs.meanMs.toFixed(2), theirs.failed, '']);
  }
  // Where the time goes: the gateway answering /health itself (listener, TLS, ingress; no forwarding).
  for (const [name, h1, perConnection] of cases) {
    const own = await measure(`${gatewayUrl}/health`, h1, perConnection);
    rows.push([`${name.replace(' → HTTP/1.1', '')}: edgekit gateway, /health (not forwarded)`, own.protocol, Math.round(own.rps), own.meanMs.toFixed(2), own.failed, '']);
  }
} finally {
  await gateway.stop();
  await nginx.stop();
  await origin.stop();
  authority.remove();
  rmSync(dir, { recursive: true, force: true });
}
console.log(`\nh2load: ${connections} connections × ${streams} streams (HTTP/1.1: 1 request per connection at a time), ${durationSeconds} s per case after ${warmupRequests} warm-up requests, 1 thread; Node ${process.version}\n`);
console.log(markdownTable(['case', 'protocol', 'req/s', 'mean ms', 'failed', 'ratio'], rows));
