/**
 * What endpoints per region cost the forwarder: one region as one URL (one pool), as one endpoint,
 * and as three endpoints behind P2C least-request with outlier detection (three pools on the same
 * origin, so the origin's capacity is the same). Alternating rounds, medians. Bar: three endpoints
 * forward at no less than 0.95x the one-endpoint rate.
 *
 *   pnpm --filter @edgekit/proxy bench:endpoints
 */
import { fileURLToPath } from 'node:url';
import { type LoadResult, type TsChild, hasWrk, markdownTable, median, runWrk, spawnTs } from '@edgekit/test-utils/node';

const SERVER = fileURLToPath(new URL('./server.ts', import.meta.url));
const durationSeconds = Number(process.env.BENCH_DURATION ?? 3);
const rounds = Math.max(1, Number(process.env.BENCH_ROUNDS ?? 3));
const settings = { connections: Number(process.env.BENCH_CONNECTIONS ?? 50), durationSeconds, threads: 1 };
const BAR = 0.95;

async function start(kind: string, originUrl: string): Promise<{ url: string; child: TsChild }> {
  const child = spawnTs(SERVER, [kind, originUrl]);
  const line = await child.waitForLine((l) => l.startsWith('READY '), 60_000);
  return { url: `http://127.0.0.1:${line.slice(6).trim()}/api/item`, child };
}

if (!hasWrk()) {
  console.error('wrk is not installed: apt-get install wrk');
  process.exit(1);
}
const origin = await start('origin', '');
const originUrl = new URL(origin.url).origin;
const targets: { name: string; url: string; child: TsChild; samples: LoadResult[] }[] = [];
try {
  for (const [name, kind] of [
    ['region as one URL', 'one-url'],
    ['1 endpoint', 'endpoints-1'],
    ['**3 endpoints, P2C + outlier detection**', 'endpoints-3'],
  ] as const) {
    const { url, child } = await start(kind, originUrl);
    targets.push({ name, url, child, samples: [] });
  }
  for (const target of targets) await runWrk(target.url, { ...settings, durationSeconds: 2 });
  for (let round = 0; round < rounds; round++) for (const target of targets) target.samples.push(await runWrk(target.url, settings));
  const one = median(targets[1]!.samples.map((s) => s.rps));
  const rows = targets.map((t) => {
    const rps = median(t.samples.map((s) => s.rps));
    return [t.name, rps.toFixed(0), t.samples.map((s) => s.rps.toFixed(0)).join(' / '), median(t.samples.map((s) => s.p99)).toFixed(2), String(t.samples.reduce((n, s) => n + s.errors, 0)), `${(rps / one).toFixed(2)}x`];
  });
  console.log(markdownTable(['region shape', 'req/s (median)', 'per round', 'p99 (ms)', 'errors', 'vs 1 endpoint'], rows));
  const three = median(targets[2]!.samples.map((s) => s.rps));
  console.log(`\nwrk, 1 thread, ${settings.connections} connections, ${rounds} alternating rounds of ${durationSeconds}s.`);
  console.log(`Bar: 3 endpoints >= ${BAR}x the 1-endpoint rate: ${three / one >= BAR ? 'MET' : 'NOT MET'} (${(three / one).toFixed(2)}x)`);
} finally {
  for (const t of targets) await t.child.stop();
  await origin.child.stop();
}
