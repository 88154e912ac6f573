import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './net.js';

/** Why NATS-backed suites can or cannot run here. */
export interface NatsAvailability {
  /** True when `nats-server` is on the PATH. */
  available: boolean;
  /** Set when `EDGEKIT_REQUIRE_NATS=1`: missing NATS must fail the run instead of skipping. */
  required: boolean;
  /** Human-readable reason when not available. */
  reason?: string;
}

/** Inspects the environment; cheap enough to call at collection time. */
export function natsAvailability(): NatsAvailability {
  const required = process.env.EDGEKIT_REQUIRE_NATS === '1';
  try {
    execFileSync('nats-server', ['--version'], { stdio: 'ignore' });
    return { available: true, required };
  } catch {
    return { available: false, required, reason: 'nats-server is not installed' };
  }
}

/** A running `nats-server` with JetStream. */
export interface NatsServerHandle {
  /** `server_name`, unique across a supercluster. */
  readonly name: string;
  /** `nats://127.0.0.1:<port>`. */
  readonly url: string;
  readonly port: number;
  /** Monitoring endpoint, `http://127.0.0.1:<port>`. */
  readonly monitorUrl: string;
  /** Cluster name when the server is part of a cluster. */
  readonly cluster: string | undefined;
  /** The JetStream store directory; it survives `kill()`/`start()`. */
  readonly storeDir: string;
  /** Kills the server (SIGKILL when `hard`), simulating an outage; `start()` brings it back on the same ports and store. */
  kill(hard?: boolean): Promise<void>;
  /** Starts the server again after `kill()`, waiting until it reports healthy. */
  start(): Promise<void>;
  /** Stops the server for good and removes its files. */
  stop(): Promise<void>;
}

interface ServerPlan {
  name: string;
  cluster: string | undefined;
  port: number;
  monitorPort: number;
  clusterPort: number;
  gatewayPort: number;
}

/** Where a server of cluster `from` dials the gateway port of a server of cluster `to`. */
type GatewayAddress = (from: string, to: ServerPlan) => number;

function configText(plan: ServerPlan, storeDir: string, peers: ServerPlan[], clusters: Map<string, ServerPlan[]>, gatewayPort: GatewayAddress = (_, to) => to.gatewayPort, linked = false): string {
  const lines = [
    `server_name: ${JSON.stringify(plan.name)}`,
    `listen: "127.0.0.1:${plan.port}"`,
    `http: "127.0.0.1:${plan.monitorPort}"`,
    `jetstream { store_dir: ${JSON.stringify(storeDir)}, max_memory_store: 64MB, max_file_store: 512MB }`,
  ];
  if (plan.cluster !== undefined) {
    // JetStream in cluster mode refuses to start without routes; a one-server cluster routes to itself (the server ignores it).
    const others = peers.filter((p) => p !== plan);
    const routes = (others.length > 0 ? others : [plan]).map((p) => `"nats-route://127.0.0.1:${p.clusterPort}"`);
    lines.push(`cluster { name: ${JSON.stringify(plan.cluster)}, listen: "127.0.0.1:${plan.clusterPort}", routes: [${routes.join(', ')}] }`);
    if (clusters.size > 1) {
      const gateways = [...clusters].map(
        ([name, members]) => `{ name: ${JSON.stringify(name)}, urls: [${members.map((m) => `"nats://127.0.0.1:${name === plan.cluster ? m.gatewayPort : gatewayPort(plan.cluster!, m)}"`).join(', ')}] }`,
      );
      // With links between clusters, servers must not learn each other's direct gateway addresses (a
      // server tells the others of its cluster's members), or they would connect around the links:
      // the advertised address refuses connections, so only the links' addresses work.
      const advertise = linked ? `, advertise: "127.0.0.1:1"` : '';
      lines.push(`gateway { name: ${JSON.stringify(plan.cluster)}, listen: "127.0.0.1:${plan.gatewayPort}"${advertise}, gateways: [${gateways.join(', ')}] }`);
    }
  }
  return `${lines.join('\n')}\n`;
}

async function killChild(child: ChildProcess | undefined, signal: NodeJS.Signals): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill(signal);
  const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
}

async function waitHealthy(plan: ServerPlan, child: ChildProcess, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new ServerExitedError(`nats-server ${plan.name} exited with ${child.exitCode} while starting`);
    try {
      const response = await fetch(`http://127.0.0.1:${plan.monitorPort}/healthz`);
      last = await response.text();
      if (response.ok) return;
    } catch (error) {
      last = String(error);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`nats-server ${plan.name} was not healthy within ${timeoutMs} ms: ${last}`);
}

function launch(plan: ServerPlan, dir: string, config: string): NatsServerHandle {
  const storeDir = join(dir, 'jetstream');
  const configFile = join(dir, 'nats.conf');
  writeFileSync(configFile, config);
  let child: ChildProcess | undefined;
  const start = async (): Promise<void> => {
    child = spawn('nats-server', ['-c', configFile], { stdio: ['ignore', 'ignore', 'ignore'] });
    child.unref();
    await waitHealthy(plan, child, 30_000);
  };
  return {
    name: plan.name,
    url: `nats://127.0.0.1:${plan.port}`,
    port: plan.port,
    monitorUrl: `http://127.0.0.1:${plan.monitorPort}`,
    cluster: plan.cluster,
    storeDir,
    kill: (hard = false) => killChild(child, hard ? 'SIGKILL' : 'SIGTERM'),
    start,
    async stop() {
      await killChild(child, 'SIGTERM');
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A server that exited while starting: most often a planned free port taken by another process in the meantime. */
class ServerExitedError extends Error {}

/** Runs `start` again with freshly planned ports when a server exited while starting, up to three times. */
async function withFreshPorts<T>(start: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await start();
    } catch (error) {
      if (!(error instanceof ServerExitedError) || attempt >= 3) throw error;
    }
  }
}

async function planServer(name: string, cluster: string | undefined): Promise<ServerPlan> {
  const ports = new Set<number>();
  while (ports.size < 4) ports.add(await freePort());
  const [port, monitorPort, clusterPort, gatewayPort] = [...ports] as [number, number, number, number];
  return { name, cluster, port, monitorPort, clusterPort, gatewayPort };
}

/** Starts a real standalone `nats-server` with JetStream on free loopback ports and a private store directory. */
export function startNatsServer(options: { name?: string } = {}): Promise<NatsServerHandle> {
  return withFreshPorts(() => startNatsServerOnce(options));
}

async function startNatsServerOnce(options: { name?: string }): Promise<NatsServerHandle> {
  const plan = await planServer(options.name ?? `edgekit-${process.pid}-${Math.random().toString(36).slice(2, 8)}`, undefined);
  const dir = mkdtempSync(join(tmpdir(), 'edgekit-nats-'));
  const handle = launch(plan, dir, configText(plan, join(dir, 'jetstream'), [], new Map()));
  try {
    await handle.start();
  } catch (error) {
    await handle.stop();
    throw error;
  }
  return handle;
}

/** Running NATS clusters joined as a supercluster through gateway connections. */
export interface NatsSuperclusterHandle {
  /** The servers of each cluster, by cluster name. */
  readonly clusters: ReadonlyMap<string, readonly NatsServerHandle[]>;
  /** Client URLs of one cluster's servers, for `servers` in a client's options. */
  urls(cluster: string): string[];
  /** Stops every server and removes their files. */
  stop(): Promise<void>;
}

/**
 * Starts one NATS cluster per entry of `clusters` (`{ 'us-east': 3, 'ap-south': 1 }`: servers per
 * cluster), JetStream on every server, routes inside each cluster and gateway connections between
 * clusters; resolves once every server is healthy and every gateway is connected.
 */
export function startNatsSupercluster(
  clusters: Record<string, number>,
  options: Parameters<typeof startSuperclusterOnce>[1] = {},
): Promise<NatsSuperclusterHandle> {
  return withFreshPorts(() => startSuperclusterOnce(clusters, options));
}

async function startSuperclusterOnce(
  clusters: Record<string, number>,
  options: {
    /**
     * Called once per pair of clusters and server: returns the port a server of `from` dials to reach
     * `target` (the gateway port of a server of cluster `to`), so a test can put a delaying or
     * cuttable link between regions. Default: the target's own port. With links, servers advertise a
     * gateway address that refuses connections, so no server learns (from another cluster's members)
     * a direct address that would bypass the links.
     */
    gatewayLink?: (from: string, to: string, target: { host: string; port: number }) => Promise<number>;
  } = {},
): Promise<NatsSuperclusterHandle> {
  const plans = new Map<string, ServerPlan[]>();
  for (const [cluster, size] of Object.entries(clusters)) {
    if (!Number.isInteger(size) || size < 1) throw new RangeError(`startNatsSupercluster: cluster "${cluster}" needs at least one server (got ${size})`);
    const members: ServerPlan[] = [];
    for (let i = 0; i < size; i++) members.push(await planServer(`${cluster}-${i + 1}`, cluster));
    plans.set(cluster, members);
  }
  const links = new Map<string, number>();
  if (options.gatewayLink) {
    for (const from of plans.keys()) {
      for (const [to, members] of plans) {
        if (to === from) continue;
        for (const member of members) links.set(`${from}>${member.name}`, await options.gatewayLink(from, to, { host: '127.0.0.1', port: member.gatewayPort }));
      }
    }
  }
  const gatewayPort: GatewayAddress = (from, to) => links.get(`${from}>${to.name}`) ?? to.gatewayPort;
  const handles = new Map<string, NatsServerHandle[]>();
  const all: NatsServerHandle[] = [];
  for (const [cluster, members] of plans) {
    handles.set(
      cluster,
      members.map((plan) => {
        const dir = mkdtempSync(join(tmpdir(), `edgekit-nats-${plan.name}-`));
        const handle = launch(plan, dir, configText(plan, join(dir, 'jetstream'), members, plans, gatewayPort, options.gatewayLink !== undefined));
        all.push(handle);
        return handle;
      }),
    );
  }
  const stop = async (): Promise<void> => {
    await Promise.all(all.map((h) => h.stop()));
  };
  try {
    await Promise.all(all.map((h) => h.start()));
    if (plans.size > 1) await waitForGateways(all, plans.size - 1, 30_000);
  } catch (error) {
    await stop();
    throw error;
  }
  return {
    clusters: handles,
    urls: (cluster) => (handles.get(cluster) ?? []).map((h) => h.url),
    stop,
  };
}

/** Waits until every server has outbound gateway connections to `count` other clusters. */
export async function waitForGateways(servers: readonly NatsServerHandle[], count: number, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (const server of servers) {
    for (;;) {
      try {
        const gatewayz = (await (await fetch(`${server.monitorUrl}/gatewayz`)).json()) as { outbound_gateways?: Record<string, unknown> };
        if (Object.keys(gatewayz.outbound_gateways ?? {}).length >= count) break;
      } catch {
        // Not answering yet.
      }
      if (Date.now() > deadline) throw new Error(`nats-server ${server.name} did not connect to ${count} gateways within ${timeoutMs} ms`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
}
