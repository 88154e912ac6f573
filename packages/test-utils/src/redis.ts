import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { freePort, isPortFree } from './net.js';

/** Why Redis-backed suites can or cannot run here. */
export interface RedisAvailability {
  /** True when `REDIS_URL` is set or `redis-server` is on the PATH. */
  available: boolean;
  /** True when a local `redis-server` binary exists (needed for clusters and restarts). */
  canSpawn: boolean;
  /** Set when `EDGEKIT_REQUIRE_REDIS=1`: missing Redis must fail the run instead of skipping. */
  required: boolean;
  /** Human-readable reason when not available. */
  reason?: string;
}

function hasBinary(name: string): boolean {
  try {
    execFileSync(name, ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** Inspects the environment once per call; cheap enough to call at collection time. */
export function redisAvailability(): RedisAvailability {
  const canSpawn = hasBinary('redis-server') && hasBinary('redis-cli');
  const required = process.env.EDGEKIT_REQUIRE_REDIS === '1';
  const available = canSpawn || Boolean(process.env.REDIS_URL);
  return available
    ? { available, canSpawn, required }
    : { available, canSpawn, required, reason: 'redis-server is not installed and REDIS_URL is not set' };
}

/** A running standalone Redis. */
export interface RedisServerHandle {
  /** `redis://127.0.0.1:<port>` (or `REDIS_URL`). */
  readonly url: string;
  readonly host: string;
  readonly port: number;
  /** True when this handle started the process (false for `REDIS_URL`). */
  readonly owned: boolean;
  /** Kills the server (SIGKILL when `hard`), simulating an outage; `start()` brings it back on the same port. */
  kill(hard?: boolean): Promise<void>;
  /** Starts the server again on the same port after `kill()`. */
  start(): Promise<void>;
  /** Stops the server for good and removes its files. */
  stop(): Promise<void>;
}

async function waitForPing(host: string, port: number, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    const client = new Redis({ host, port, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, enableOfflineQueue: false });
    client.on('error', () => {});
    try {
      await client.connect();
      await client.ping();
      client.disconnect();
      return;
    } catch (error) {
      lastError = error;
      client.disconnect();
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
  throw new Error(`redis-server on ${host}:${port} did not answer PING within ${timeoutMs} ms: ${String(lastError)}`);
}

function spawnRedis(port: number, dir: string, extra: string[] = []): ChildProcess {
  const child = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, '--protected-mode', 'no', '--loglevel', 'warning', ...extra],
    { stdio: ['ignore', 'ignore', 'inherit'] },
  );
  child.unref();
  return child;
}

async function killChild(child: ChildProcess | undefined, signal: NodeJS.Signals): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill(signal);
  await exited;
}

/** Starts a real `redis-server` on a free port, or points at `REDIS_URL` when it is set. */
export async function startRedis(options: { useEnv?: boolean } = {}): Promise<RedisServerHandle> {
  const envUrl = process.env.REDIS_URL;
  if (envUrl && options.useEnv !== false) {
    const parsed = new URL(envUrl);
    return {
      url: envUrl,
      host: parsed.hostname,
      port: Number(parsed.port || 6379),
      owned: false,
      kill: () => Promise.reject(new Error('cannot kill a Redis given by REDIS_URL')),
      start: () => Promise.resolve(),
      stop: () => Promise.resolve(),
    };
  }
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'edgekit-redis-'));
  let child: ChildProcess | undefined;
  const start = async (): Promise<void> => {
    child = spawnRedis(port, dir);
    await waitForPing('127.0.0.1', port);
  };
  await start();
  return {
    url: `redis://127.0.0.1:${port}`,
    host: '127.0.0.1',
    port,
    owned: true,
    kill: (hard = false) => killChild(child, hard ? 'SIGKILL' : 'SIGTERM'),
    start,
    async stop() {
      await killChild(child, 'SIGTERM');
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A running 3-master Redis Cluster. */
export interface RedisClusterHandle {
  /** Seed nodes for `new Cluster(nodes)`. */
  readonly nodes: Array<{ host: string; port: number }>;
  stop(): Promise<void>;
}

async function clusterPort(): Promise<number> {
  // A cluster node also listens on port + 10000 for its bus.
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = 20_000 + Math.floor(Math.random() * 30_000);
    if ((await isPortFree(port)) && (await isPortFree(port + 10_000))) return port;
  }
  throw new Error('no free port pair for a Redis Cluster node');
}

/** Starts a real Redis Cluster of `masters` (default 3) masters with no replicas. */
export async function startRedisCluster(masters = 3): Promise<RedisClusterHandle> {
  const dir = mkdtempSync(join(tmpdir(), 'edgekit-redis-cluster-'));
  const ports: number[] = [];
  while (ports.length < masters) {
    const port = await clusterPort();
    if (!ports.includes(port)) ports.push(port);
  }
  const children = ports.map((port) =>
    spawnRedis(port, dir, ['--cluster-enabled', 'yes', '--cluster-config-file', `nodes-${port}.conf`, '--cluster-node-timeout', '2000']),
  );
  const stop = async (): Promise<void> => {
    await Promise.all(children.map((child) => killChild(child, 'SIGTERM')));
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await Promise.all(ports.map((port) => waitForPing('127.0.0.1', port)));
    execFileSync('redis-cli', ['--cluster', 'create', ...ports.map((p) => `127.0.0.1:${p}`), '--cluster-replicas', '0', '--cluster-yes'], {
      stdio: 'ignore',
      timeout: 30_000,
    });
    const deadline = Date.now() + 20_000;
    for (const port of ports) {
      for (;;) {
        const info = execFileSync('redis-cli', ['-p', String(port), 'cluster', 'info'], { encoding: 'utf8' });
        if (info.includes('cluster_state:ok')) break;
        if (Date.now() > deadline) throw new Error(`Redis Cluster node ${port} did not reach cluster_state:ok`);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    }
  } catch (error) {
    await stop();
    throw error;
  }
  return { nodes: ports.map((port) => ({ host: '127.0.0.1', port })), stop };
}
