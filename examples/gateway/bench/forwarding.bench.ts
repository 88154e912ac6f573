/**
 * Forwarding throughput in one run, every target in its own process in front of one origin, wrk
 * with the same settings, alternating rounds, medians (loopback throughput on a shared machine
 * drifts; every target sees the same drift). Rows and bars:
 *
 * - the example gateway (src/main.ts: geo, breakers, health, telemetry; no cache, auth or limits)
 *   >= 0.9x the req/s of the bare forwarder composed as in the @edgekit/proxy README;
 * - that bare forwarder >= 1.3x @fastify/http-proxy (and the older bar: >= 1.5x with p99 no worse);
 * - one region as three endpoints behind P2C (+ outlier detection) >= 0.95x one endpoint.
 *
 *   pnpm --filter @edgekit/gateway bench:forwarding
 *   BENCH_DURATION=5 BENCH_ROUNDS=3 BENCH_CONNECTIONS=50 pnpm --filter @edgekit/gateway bench:forwarding
 *
 * CPU time per request of each target process (from /proc) is printed beside req/s: it depends far
 * less than req/s on what else the machine runs.
 */
import { fileURLToPath } from 'node:url';
import { type TsChild, hasWrk, markdownTable, median, runWrk, spawnTs } from '@edgekit/test-utils/node';
import { type Sample, benchSettings, fmt, loadRange, measure, startGatewayProcess } from './harness.js';

const { durationSeconds, warmupSeconds, rounds, connections } = benchSettings();
// Every target believes X-Forwarded-For from loopback and locates this public address (geoip-lite).
const settings = { connections, durationSeconds, threads: 1, headers: { 'x-forwarded-for': '8.8.8.8' } };
const PROXY_SERVER = fileURLToPath(new URL('../../../packages/proxy/bench/server.ts', import.meta.url));

if (!hasWrk()) {
  console.error('wrk is not installed (apt-get install wrk)');
  process.exit(1);
}

interface Target {
  key: string;
  name: string;
  url: string;
  child: TsChild;
  samples: Sample[];
}

const children: Array<{ stop(): Promise<void> }> = [];
async function started(file: string, args: string[]): Promise<{ child: TsChild; port: string }> {
  const child = spawnTs(file, args);
  children.push(child);
  const line = await child.waitForLine((l) => l.startsWith('READY '), 60_000);
  return { child, port: line.slice(6).trim() };
}

const samples: Sample[] = [];
try {
  const origin = await started(PROXY_SERVER, ['origin']);
  const originUrl = `http://127.0.0.1:${origin.port}`;
  const targets: Target[] = [];
  const add = async (key: string, name: string, file: string, args: string[]): Promise<void> => {
    const { child, port } = await started(file, args);
    targets.push({ key, name, url: `http://127.0.0.1:${port}/api/item`, child, samples: [] });
  };

  const gateway = await startGatewayProcess(
    {
      edge: { location: 'bench' },
      server: { host: '127.0.0.1', port: 0, shutdownDelay: 0 },
      regions: [
        { name: 'eu-central', url: originUrl, location: { lat: 50.11, lon: 8.68 } },
        { name: 'us-east', url: originUrl, location: { lat: 39.04, lon: -77.49 } },
      ],
      geo: { trustedProxies: ['loopback'], resolver: 'geoip-lite' },
      health: { interval: 5_000, initialJitter: 0 },
      telemetry: { defaultMetrics: false },
    },
    { args: ['--no-watch'] },
  );
  children.push(gateway);
  targets.push({ key: 'gateway', name: 'example gateway (geo, breakers, health, telemetry; no cache, auth or limits)', url: `${gateway.url}/api/item`, child: gateway.child, samples: [] });
  await add('bare', 'bare forwarder as in the proxy README (geo, breakers, health)', fileURLToPath(new URL('./readme-forwarder.ts', import.meta.url)), [originUrl]);
  await add('fastify', '@fastify/http-proxy', PROXY_SERVER, ['fastify-http-proxy', originUrl]);
  await add('one', 'forwarder, region as 1 endpoint', PROXY_SERVER, ['endpoints-1', originUrl]);
  await add('three', 'forwarder, region as 3 endpoints (P2C + outlier detection)', PROXY_SERVER, ['endpoints-3', originUrl]);

  for (const target of targets) {
    const check = await fetch(target.url, { headers: settings.headers });
    await check.arrayBuffer();
    if (check.status !== 200) throw new Error(`${target.name} answered ${check.status}`);
    await runWrk(target.url, { ...settings, durationSeconds: warmupSeconds });
  }
  for (let round = 0; round < rounds; round++) {
    // Alternate the order: no target always runs first or last in a round.
    const order = round % 2 === 0 ? targets : [...targets].reverse();
    for (const target of order) {
      const sample = await measure(target.url, target.child.child.pid, settings);
      target.samples.push(sample);
      samples.push(sample);
    }
  }

  const row = (t: Target) => ({
    rps: median(t.samples.map((s) => s.rps)),
    p99: median(t.samples.map((s) => s.p99)),
    cpu: median(t.samples.map((s) => s.cpuUs)),
    // Contention only adds CPU per request (cache misses, shared cores): the lowest round is the closest to the cost itself.
    cpuMin: Math.min(...t.samples.map((s) => s.cpuUs)),
    errors: t.samples.reduce((n, s) => n + s.errors, 0),
  });
  const by = (key: string) => row(targets.find((t) => t.key === key)!);
  const fastify = by('fastify');
  console.log(`\nwrk -t1 -c${connections} -d${durationSeconds}s x ${rounds} alternating rounds after ${warmupSeconds}s warm-up, X-Forwarded-For: 8.8.8.8, Node ${process.version}, load average ${loadRange(samples)} during the run\n`);
  console.log(
    markdownTable(
      ['target', 'req/s (median)', 'req/s per round', 'p50 ms', 'p99 ms', 'CPU µs/req (median)', 'CPU µs/req (lowest round)', 'errors', 'vs @fastify/http-proxy'],
      targets.map((t) => {
        const r = row(t);
        return [t.name, fmt(r.rps), t.samples.map((s) => fmt(s.rps)).join(' / '), fmt(median(t.samples.map((s) => s.p50)), 2), fmt(r.p99, 2), fmt(r.cpu, 1), fmt(r.cpuMin, 1), r.errors, `${fmt(r.rps / fastify.rps, 2)}x`];
      }),
    ),
  );
  const gatewayRow = by('gateway');
  const bare = by('bare');
  const one = by('one');
  const three = by('three');
  const verdict = (ok: boolean) => (ok ? 'MET' : 'NOT MET');
  const errors = targets.reduce((n, t) => n + row(t).errors, 0);
  console.log('');
  console.log(`example gateway / bare forwarder: req/s ${fmt(gatewayRow.rps / bare.rps, 2)}x (bar >= 0.90x) — ${verdict(gatewayRow.rps / bare.rps >= 0.9)}; CPU per request ${fmt(gatewayRow.cpu, 1)} µs vs ${fmt(bare.cpu, 1)} µs (lowest rounds ${fmt(gatewayRow.cpuMin, 1)} vs ${fmt(bare.cpuMin, 1)})`);
  console.log(`bare forwarder / @fastify/http-proxy: req/s ${fmt(bare.rps / fastify.rps, 2)}x (bar >= 1.30x) — ${verdict(bare.rps / fastify.rps >= 1.3)}; >= 1.50x with p99 no worse (${fmt(bare.p99, 2)} vs ${fmt(fastify.p99, 2)} ms) — ${verdict(bare.rps / fastify.rps >= 1.5 && bare.p99 <= fastify.p99)}`);
  console.log(`3 endpoints (P2C) / 1 endpoint: req/s ${fmt(three.rps / one.rps, 2)}x (bar >= 0.95x) — ${verdict(three.rps / one.rps >= 0.95)}`);
  if (errors > 0) console.log(`errors: ${errors} (a bar with errors is not met)`);
} finally {
  for (const child of children.reverse()) await child.stop();
}
