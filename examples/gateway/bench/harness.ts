// What the gateway benchmarks share: settings from the environment, the gateway as a child process
// on a written configuration, and one wrk run measured with the CPU time it cost the target.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type LoadResult, type LoadSettings, type TsChild, cpuTimeMs, runWrk, spawnTs } from '@edgekit/test-utils/node';
import { stringify } from 'yaml';

/** wrk settings from `BENCH_DURATION`, `BENCH_WARMUP`, `BENCH_ROUNDS` and `BENCH_CONNECTIONS`. */
export function benchSettings(): { durationSeconds: number; warmupSeconds: number; rounds: number; connections: number } {
  return {
    durationSeconds: Number(process.env.BENCH_DURATION ?? 5),
    warmupSeconds: Number(process.env.BENCH_WARMUP ?? 2),
    rounds: Math.max(1, Number(process.env.BENCH_ROUNDS ?? 3)),
    connections: Number(process.env.BENCH_CONNECTIONS ?? 50),
  };
}

/** A number for a table cell, `n/a` when not finite. */
export function fmt(n: number, digits = 0): string {
  return Number.isFinite(n) ? n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits }) : 'n/a';
}

/** The example gateway running `src/main.ts` in its own process. */
export interface GatewayProcess {
  /** Its base URL, as it logged it. */
  readonly url: string;
  readonly child: TsChild;
  /** Stops the process and removes its configuration. */
  stop(): Promise<void>;
}

/** Starts the gateway on `config` (written as YAML) and waits until `/ready` answers 200. */
export async function startGatewayProcess(config: object, options: { args?: string[]; nodeArgs?: string[] } = {}): Promise<GatewayProcess> {
  const dir = mkdtempSync(join(tmpdir(), 'gateway-bench-'));
  const file = join(dir, 'gateway.yaml');
  writeFileSync(file, stringify(config));
  const child = spawnTs(fileURLToPath(new URL('../src/main.ts', import.meta.url)), ['--config', file, ...(options.args ?? [])], {}, options.nodeArgs ?? []);
  const stop = async (): Promise<void> => {
    await child.stop();
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const url = JSON.parse(await child.waitForLine((line) => line.includes('"msg":"listening"'), 60_000)).url as string;
    for (let i = 0; i < 200 && (await fetch(`${url}/ready`)).status !== 200; i++) await new Promise((r) => setTimeout(r, 50));
    return { url, child, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** One wrk run with the CPU time per request (µs) of the process `pid` and the load average after it. */
export type Sample = LoadResult & { cpuUs: number; load: number };

/** Runs wrk against `url` and reads the CPU time `pid` spent meanwhile (from /proc). */
export async function measure(url: string, pid: number | undefined, settings: LoadSettings): Promise<Sample> {
  const before = cpuTimeMs(pid) ?? Number.NaN;
  const result = await runWrk(url, settings);
  const after = cpuTimeMs(pid) ?? Number.NaN;
  return { ...result, cpuUs: ((after - before) * 1000) / Math.max(1, result.requests), load: loadavg()[0]! };
}

/** The range of load averages seen during a run, for the line above a table. */
export function loadRange(samples: readonly Sample[]): string {
  const loads = samples.map((s) => s.load);
  return `${fmt(Math.min(...loads), 1)}–${fmt(Math.max(...loads), 1)}`;
}
