/**
 * What the gateway costs on top of its origin, and whether hot reloads under load drop requests.
 * The origin, the gateway (src/main.ts) and wrk each run in their own process:
 *
 *   pnpm --filter @edgekit/gateway bench
 *   BENCH_DURATION=10 BENCH_CONNECTIONS=50 pnpm --filter @edgekit/gateway bench
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type LoadResult, type LoadSettings, hasWrk, markdownTable, runWrk, spawnTs } from '@edgekit/test-utils/node';
import { stringify } from 'yaml';

const durationSeconds = Number(process.env.BENCH_DURATION ?? 4);
const warmupSeconds = Number(process.env.BENCH_WARMUP ?? 2);
const connections = Number(process.env.BENCH_CONNECTIONS ?? 32);
const settings: LoadSettings = { connections, durationSeconds, threads: 1 };

if (!hasWrk()) {
  console.error('wrk is not installed (apt-get install wrk)');
  process.exit(1);
}

const dir = mkdtempSync(join(tmpdir(), 'gateway-bench-'));
const origin = spawnTs(fileURLToPath(new URL('./origin-process.ts', import.meta.url)), ['us']);
const originUrl = (await origin.waitForLine((line) => line.startsWith('READY '))).slice(6);
const file = join(dir, 'gateway.yaml');
const config = (variant: number) => ({
  edge: { location: 'bench' },
  server: { host: '127.0.0.1', port: 0, shutdownDelay: 0 },
  regions: [{ name: 'us', url: originUrl, location: { lat: 39, lon: -77 } }],
  geo: { resolver: 'none' },
  health: { interval: 1_000, initialJitter: 0 },
  proxy: { connectTimeout: 1_000 + variant },
  cache: { routes: { 'GET /api/products/:id': { ttl: 600_000 + variant } } },
  rateLimits: { generous: { limit: 100_000_000, window: 60_000 } },
  routes: [{ path: '/api/limited', rateLimit: 'generous' }],
  telemetry: { defaultMetrics: false },
});
writeFileSync(file, stringify(config(0)));
const gateway = spawnTs(fileURLToPath(new URL('../src/main.ts', import.meta.url)), ['--config', file]);
const gatewayUrl = JSON.parse(await gateway.waitForLine((line) => line.includes('"msg":"listening"'))).url as string;
for (let i = 0; i < 100 && (await fetch(`${gatewayUrl}/ready`)).status !== 200; i++) await new Promise((r) => setTimeout(r, 50));

async function measure(url: string): Promise<LoadResult> {
  await runWrk(url, { ...settings, durationSeconds: warmupSeconds });
  return runWrk(url, settings);
}

const rows: Array<Array<string | number>> = [];
const add = (name: string, result: LoadResult, note = '') =>
  rows.push([name, Math.round(result.rps), result.p50.toFixed(2), result.p99.toFixed(2), result.errors, note]);
try {
  const direct = await measure(`${originUrl}/api/where`);
  add('origin direct', direct);
  const forwarded = await measure(`${gatewayUrl}/api/where`);
  add('gateway, forwarded (geo, health, breaker, telemetry)', forwarded, `${(direct.rps / forwarded.rps).toFixed(2)}x fewer req/s than direct`);
  add('gateway, forwarded + rate limit', await measure(`${gatewayUrl}/api/limited`));
  add('gateway, cache hit', await measure(`${gatewayUrl}/api/products/1`));
  // Reload the configuration every 250 ms while the load runs: every one rebuilds the forwarder and the cache.
  let reloads = 0;
  const timer = setInterval(() => writeFileSync(file, stringify(config(++reloads))), 250);
  const underReload = await runWrk(`${gatewayUrl}/api/where`, settings);
  clearInterval(timer);
  add('gateway, forwarded, config reloaded every 250 ms', underReload, `${reloads} file changes, ${underReload.errors} failed requests`);
} finally {
  await gateway.stop();
  await origin.stop();
  rmSync(dir, { recursive: true, force: true });
}
console.log(`\n${connections} connections, ${durationSeconds} s per case after ${warmupSeconds} s warm-up, wrk 1 thread, Node ${process.version}\n`);
console.log(markdownTable(['case', 'req/s', 'p50 ms', 'p99 ms', 'errors', 'note'], rows));
