import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Throughput and latency of one HTTP load run. */
export interface LoadResult {
  /** Requests per second. */
  rps: number;
  /** Median latency in milliseconds. */
  p50: number;
  /** 99th percentile latency in milliseconds. */
  p99: number;
  /** Non-2xx/3xx responses plus socket errors. */
  errors: number;
  /** Requests completed. */
  requests: number;
}

/** Settings shared by every target of one benchmark run, so peers are measured alike. */
export interface LoadSettings {
  connections: number;
  durationSeconds: number;
  threads?: number;
  /** Extra request headers. */
  headers?: Record<string, string>;
}

function hasCommand(name: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${name}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** True when `wrk` is installed. */
export function hasWrk(): boolean {
  return hasCommand('wrk');
}

/** True when `nginx` is installed. */
export function hasNginx(): boolean {
  return hasCommand('nginx') || hasCommand('/usr/sbin/nginx');
}

function toMs(value: string, unit: string): number {
  const n = Number(value);
  if (unit === 'us') return n / 1000;
  if (unit === 's') return n * 1000;
  if (unit === 'm') return n * 60_000;
  return n;
}

/** Parses `wrk --latency` output. */
export function parseWrk(output: string): LoadResult {
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(output)?.[1] ?? Number.NaN);
  const pct = (p: string): number => {
    const m = new RegExp(`^\\s+${p}%\\s+([\\d.]+)(us|ms|s|m)\\s*$`, 'm').exec(output);
    return m ? toMs(m[1]!, m[2]!) : Number.NaN;
  };
  const requests = Number(/(\d+) requests in/.exec(output)?.[1] ?? 0);
  const non2xx = Number(/Non-2xx or 3xx responses:\s+(\d+)/.exec(output)?.[1] ?? 0);
  const socketErrors = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(output);
  const errors = non2xx + (socketErrors ? socketErrors.slice(1).reduce((sum, v) => sum + Number(v), 0) : 0);
  return { rps, p50: pct('50'), p99: pct('99'), errors, requests };
}

/** Runs `wrk --latency` against `url` in a child process and parses its report. */
export async function runWrk(url: string, settings: LoadSettings): Promise<LoadResult> {
  const args = ['--latency', '-c', String(settings.connections), '-d', `${settings.durationSeconds}s`, '-t', String(settings.threads ?? 1)];
  for (const [name, value] of Object.entries(settings.headers ?? {})) args.push('-H', `${name}: ${value}`);
  args.push(url);
  const output = await new Promise<string>((resolve, reject) => {
    const child = spawn('wrk', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let text = '';
    child.stdout.on('data', (chunk: Buffer) => (text += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (text += chunk.toString()));
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve(text) : reject(new Error(`wrk exited with ${code}: ${text}`))));
  });
  return parseWrk(output);
}

/** A running nginx with a private prefix directory. */
export interface NginxHandle {
  readonly dir: string;
  /** The master process; its worker is a child of it. */
  readonly pid: number | undefined;
  stop(): Promise<void>;
}

/**
 * Starts nginx in the foreground with the `http { ... }` body given (server blocks, upstreams,
 * caches). Paths for pid, logs and temp files live in a private directory, which `{{dir}}` in the
 * config refers to.
 */
export async function startNginx(httpBody: string, options: { workers?: number; readyUrl: string }): Promise<NginxHandle> {
  const dir = mkdtempSync(join(tmpdir(), 'edgekit-nginx-'));
  const conf = `worker_processes ${options.workers ?? 1};
daemon off;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
${httpBody.replaceAll('{{dir}}', dir)}
}
`;
  writeFileSync(join(dir, 'nginx.conf'), conf);
  const binary = hasCommand('nginx') ? 'nginx' : '/usr/sbin/nginx';
  const child: ChildProcess = spawn(binary, ['-p', dir, '-c', join(dir, 'nginx.conf')], { stdio: ['ignore', 'ignore', 'inherit'] });
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      child.kill('SIGQUIT');
      await exited;
    }
    rmSync(dir, { recursive: true, force: true });
  };
  const deadline = Date.now() + 10_000;
  for (;;) {
    try {
      const response = await fetch(options.readyUrl);
      await response.arrayBuffer();
      break;
    } catch (error) {
      if (Date.now() > deadline || child.exitCode !== null) {
        await stop();
        throw new Error(`nginx did not start: ${String(error)}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
  return { dir, pid: child.pid, stop };
}

/** The median of `values` (the mean of the middle two for an even count); NaN when empty. */
export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((x, y) => x - y);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** Formats rows as a GitHub-flavoured markdown table. */
export function markdownTable(header: string[], rows: Array<Array<string | number>>): string {
  const line = (cells: Array<string | number>): string => `| ${cells.join(' | ')} |`;
  return [line(header), line(header.map(() => '---')), ...rows.map(line)].join('\n');
}

let ticksPerSecond: number | undefined;

/**
 * CPU time (user + system, milliseconds) used so far by a process and all its descendants, read
 * from Linux's /proc. `undefined` where /proc is not available or the process is gone.
 */
export function cpuTimeMs(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined;
  try {
    ticksPerSecond ??= Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name, which is in parentheses and may contain spaces.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    let ms = ((Number(fields[11]) + Number(fields[12])) * 1000) / ticksPerSecond;
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      for (const child of readFileSync(`/proc/${pid}/task/${tid}/children`, 'utf8').split(' ')) {
        if (child.trim() !== '') ms += cpuTimeMs(Number(child)) ?? 0;
      }
    }
    return ms;
  } catch {
    return undefined;
  }
}
