/**
 * Proxy throughput and latency against its peers, in one run with one load tool and one setting:
 * the origin direct, @edgekit/proxy (geo lookup, region selection, health and breaker checks on),
 * @fastify/http-proxy, http-proxy with a keep-alive agent, nginx when installed, and a bare undici
 * forward with no logic at all (the floor of any Node proxy on undici). Each server
 * runs in its own process; all are started first, warmed up, then measured in alternating rounds
 * (loopback throughput on a shared machine drifts, so every target sees the same drift) and the
 * median round is reported. Beside req/s and latency, the CPU time each proxy process spends per
 * request (from /proc) is the figure that does not depend on how the machine schedules the load
 * generator, the proxy and the origin. Prints markdown tables and whether the bar is met:
 * at least 1.5x the requests per second of @fastify/http-proxy with a p99 no worse than it.
 *
 *   pnpm --filter @edgekit/proxy bench
 *   BENCH_DURATION=10 BENCH_ROUNDS=5 BENCH_CONNECTIONS=100 pnpm --filter @edgekit/proxy bench
 */
import { fileURLToPath } from 'node:url';
import {
  type LoadResult,
  type LoadSettings,
  type TsChild,
  cpuTimeMs,
  freePort,
  hasNginx,
  hasWrk,
  markdownTable,
  median,
  runWrk,
  spawnTs,
  startNginx,
} from '@edgekit/test-utils/node';

const SERVER = fileURLToPath(new URL('./server.ts', import.meta.url));
const durationSeconds = Number(process.env.BENCH_DURATION ?? 5);
const warmupSeconds = Number(process.env.BENCH_WARMUP ?? 3);
const rounds = Math.max(1, Number(process.env.BENCH_ROUNDS ?? 3));
const connections = Number(process.env.BENCH_CONNECTIONS ?? 50);
const RPS_BAR = 1.5;

// The same settings for every target. The client address header is believed only by edgekit
// (which trusts loopback peers) and lets it geolocate a public address; peers forward it as is.
const settings: LoadSettings = { connections, durationSeconds, threads: 1, headers: { 'x-forwarded-for': '8.8.8.8' } };

interface Target {
  name: string;
  url: string;
  /** The process whose CPU time is charged to this target (undefined: the origin itself). */
  pid: number | undefined;
  stop(): Promise<void>;
}

interface Sample {
  result: LoadResult;
  /** CPU microseconds per request in the target's process and in the origin. */
  cpu: number | undefined;
  originCpu: number | undefined;
}

async function startTarget(kind: string, originUrl: string): Promise<{ url: string; child: TsChild }> {
  const child = spawnTs(SERVER, [kind, originUrl]);
  const line = await child.waitForLine((l) => l.startsWith('READY '), 60_000);
  return { url: `http://127.0.0.1:${line.slice(6).trim()}/api/item`, child };
}

async function main(): Promise<void> {
  if (!hasWrk()) {
    console.error('wrk is not installed: apt-get install wrk');
    process.exit(1);
  }
  const origin = await startTarget('origin', '');
  const originUrl = new URL(origin.url).origin;
  const originPid = origin.child.child.pid;
  const targets: Target[] = [{ name: 'origin (direct)', url: origin.url, pid: undefined, stop: async () => {} }];
  try {
    for (const [name, kind] of [
      ['@edgekit/proxy (geo + health + breaker)', 'edgekit'],
      ['@fastify/http-proxy', 'fastify-http-proxy'],
      ['http-proxy (keep-alive agent)', 'http-proxy'],
      ['bare undici forward, no logic (floor)', 'bare-undici'],
    ] as const) {
      const { url, child } = await startTarget(kind, originUrl);
      targets.push({ name, url, pid: child.child.pid, stop: () => child.stop() });
    }
    if (hasNginx()) {
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
      targets.push({ name: 'nginx (1 worker, upstream keepalive)', url: `http://127.0.0.1:${port}/api/item`, pid: nginx.pid, stop: () => nginx.stop() });
    } else {
      console.log('nginx is not installed: skipped');
    }

    // Warm up the JIT and the connection pools with the same load.
    for (const target of targets) await runWrk(target.url, { ...settings, durationSeconds: warmupSeconds });
    const samples = new Map<Target, Sample[]>(targets.map((t) => [t, []]));
    for (let round = 1; round <= rounds; round++) {
      process.stdout.write(`round ${round}/${rounds}: `);
      for (const target of targets) {
        const pid = target.pid ?? originPid;
        const before = cpuTimeMs(pid);
        const originBefore = cpuTimeMs(originPid);
        const result = await runWrk(target.url, settings);
        const after = cpuTimeMs(pid);
        const originAfter = cpuTimeMs(originPid);
        const perRequest = (a: number | undefined, b: number | undefined): number | undefined =>
          a === undefined || b === undefined || result.requests === 0 ? undefined : ((b - a) * 1000) / result.requests;
        samples.get(target)!.push({ result, cpu: perRequest(before, after), originCpu: target.pid === undefined ? undefined : perRequest(originBefore, originAfter) });
        process.stdout.write('.');
      }
      console.log('');
    }
    report(targets, samples);
  } finally {
    for (const target of targets.slice(1)) await target.stop();
    await origin.child.stop();
  }
}

function report(targets: Target[], samples: Map<Target, Sample[]>): void {
  const fmt = (n: number | undefined, digits = 2): string => (n !== undefined && Number.isFinite(n) ? n.toFixed(digits) : 'n/a');
  const summary = targets.map((target) => {
    const list = samples.get(target)!;
    const cpus = list.map((s) => s.cpu).filter((c): c is number => c !== undefined);
    const originCpus = list.map((s) => s.originCpu).filter((c): c is number => c !== undefined);
    return {
      name: target.name,
      rps: median(list.map((s) => s.result.rps)),
      perRound: list.map((s) => s.result.rps),
      p50: median(list.map((s) => s.result.p50)),
      p99: median(list.map((s) => s.result.p99)),
      errors: list.reduce((sum, s) => sum + s.result.errors, 0),
      cpu: cpus.length > 0 ? median(cpus) : undefined,
      originCpu: originCpus.length > 0 ? median(originCpus) : undefined,
    };
  });
  const peer = summary.find((r) => r.name === '@fastify/http-proxy')!;
  const ours = summary.find((r) => r.name.startsWith('@edgekit/proxy'))!;
  console.log('');
  console.log(
    markdownTable(
      ['target', 'req/s (median)', 'req/s per round', 'p50 (ms)', 'p99 (ms)', 'errors', 'req/s vs @fastify/http-proxy', 'CPU µs/request (target)', 'CPU µs/request (origin)'],
      summary.map((r) => [
        r.name,
        fmt(r.rps, 0),
        r.perRound.map((v) => v.toFixed(0)).join(' / '),
        fmt(r.p50),
        fmt(r.p99),
        r.errors,
        `${fmt(r.rps / peer.rps)}x`,
        fmt(r.cpu, 1),
        fmt(r.originCpu, 1),
      ]),
    ),
  );
  const rpsMet = ours.rps >= RPS_BAR * peer.rps;
  const p99Met = ours.p99 <= peer.p99;
  console.log('');
  console.log(
    `wrk, ${settings.threads} thread, ${connections} connections, ${rounds} alternating rounds of ${durationSeconds}s per target after a ${warmupSeconds}s warm-up each; each server in its own process; medians over rounds.`,
  );
  if (ours.cpu !== undefined && peer.cpu !== undefined) {
    console.log(`CPU per proxied request: @edgekit/proxy ${fmt(ours.cpu, 1)} µs, @fastify/http-proxy ${fmt(peer.cpu, 1)} µs (${fmt(peer.cpu / ours.cpu)}x as much).`);
  }
  console.log(`Bar: >= ${RPS_BAR}x the req/s of @fastify/http-proxy (${fmt(ours.rps / peer.rps)}x: ${rpsMet ? 'met' : 'NOT met'}) and p99 no worse (${fmt(ours.p99)} ms vs ${fmt(peer.p99)} ms: ${p99Met ? 'met' : 'NOT met'}).`);
  console.log(rpsMet && p99Met ? 'BAR MET' : 'BAR NOT MET');
  if (ours.errors > 0) console.log(`warning: @edgekit/proxy had ${ours.errors} errors`);
}

await main();
