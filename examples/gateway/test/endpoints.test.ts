import { type IncomingMessage, type Server, type ServerResponse, createServer } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { ConfigError, type Gateway, type GatewayConfigInput, createGateway, parseConfig } from '../src/index.js';
import { waitFor } from './helpers.js';

const cleanup: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  while (cleanup.length > 0) await cleanup.pop()!();
});

interface Instance {
  url: string;
  name: string;
  received: number;
  failing: boolean;
}

async function startInstance(name: string): Promise<Instance> {
  const instance: Instance = { url: '', name, received: 0, failing: false };
  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    req.resume();
    if (req.url === '/health') {
      res.end('ok');
      return;
    }
    instance.received++;
    if (instance.failing) res.writeHead(503, { 'content-type': 'text/plain' }).end('bad pod');
    else res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ instance: name }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanup.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
  server.on('connection', (socket) => cleanup.push(() => void socket.destroy()));
  instance.url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  return instance;
}

function configOf(pods: Instance[], eu: Instance, extra: Partial<GatewayConfigInput> = {}): GatewayConfigInput {
  return {
    edge: { location: 'test-edge', nodeId: 'node-1' },
    server: { host: '127.0.0.1', port: 0, shutdownDelay: 0 },
    regions: [
      { name: 'us', url: 'http://us.internal', location: { lat: 39.04, lon: -77.49 }, endpoints: pods.map((p) => p.url), outlierDetection: { maxEjectionPercent: 50 } },
      { name: 'eu', url: eu.url, location: { lat: 53.35, lon: -6.26 } },
    ],
    routing: { defaultRegion: 'us' },
    geo: { resolver: 'none' },
    telemetry: { defaultMetrics: false },
    cache: { enabled: false },
    ...extra,
  };
}

async function start(config: GatewayConfigInput): Promise<{ gateway: Gateway; url: string }> {
  const gateway = await createGateway(config, { logger: () => undefined, env: {} });
  cleanup.push(() => gateway.close());
  const url = await gateway.listen();
  await waitFor(async () => (await fetch(`${url}/ready`)).status === 200, 10_000, 'the gateway to be ready');
  return { gateway, url };
}

async function load(url: string, n: number): Promise<number[]> {
  const statuses: number[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: 6 }, async () => {
      while (next < n) {
        next++;
        const reply = await fetch(`${url}/api/items/${next}`);
        await reply.arrayBuffer();
        statuses.push(reply.status);
      }
    }),
  );
  return statuses;
}

describe('the gateway with endpoints per region', () => {
  it('ejects one bad pod of three, keeps traffic in the region and clients under 1 % errors; the status page shows it', async () => {
    const pods = await Promise.all(['us-a', 'us-b', 'us-c'].map(startInstance));
    const eu = await startInstance('eu');
    pods[1]!.failing = true;
    const token = 'operator-token-0123456789';
    const { gateway, url } = await start(configOf(pods, eu, { admin: { token } }));
    const statuses = await load(url, 300);
    const errors = statuses.filter((s) => s !== 200).length;
    expect(errors / statuses.length).toBeLessThan(0.01);
    expect(eu.received).toBe(0);
    expect(pods[1]!.received).toBeLessThanOrEqual(6);
    const us = gateway.status().regions.find((r) => r.name === 'us')!;
    expect(us.endpoints!.find((e) => e.url === pods[1]!.url)).toMatchObject({ ejected: true, ejections: 1 });
    expect(us.endpoints!.filter((e) => e.ejected)).toHaveLength(1);
    const json = (await (await fetch(`${url}/status.json`, { headers: { authorization: `Bearer ${token}` } })).json()) as { regions: Array<{ name: string; endpoints?: Array<{ ejected: boolean }> }> };
    expect(json.regions.find((r) => r.name === 'us')!.endpoints!.some((e) => e.ejected)).toBe(true);
  });

  it('keeps endpoint state across a reload that changed other settings, and applies a changed endpoint list to the kept balancer', async () => {
    const pods = await Promise.all(['us-a', 'us-b', 'us-c'].map(startInstance));
    const eu = await startInstance('eu');
    pods[0]!.failing = true;
    const { gateway, url } = await start(configOf(pods, eu));
    await load(url, 60);
    const ejectedNow = (): boolean => gateway.status().regions[0]!.endpoints!.find((e) => e.url === pods[0]!.url)!.ejected;
    expect(ejectedNow()).toBe(true);
    const result = await gateway.reload(configOf(pods, eu, { proxy: { maxAttempts: 4 } }));
    expect(result).toMatchObject({ version: 2 });
    expect(ejectedNow()).toBe(true);
    const before = pods[0]!.received;
    await load(url, 30);
    expect(pods[0]!.received).toBe(before);
    await gateway.reload(configOf(pods.slice(1), eu, { proxy: { maxAttempts: 4 } }));
    expect(gateway.status().regions[0]!.endpoints!.map((e) => e.url)).toEqual([pods[1]!.url, pods[2]!.url]);
    const statuses = await load(url, 30);
    expect(statuses.every((s) => s === 200)).toBe(true);
  });

  it('reports every endpoint setting error with its path', () => {
    const base = configOf([{ url: 'http://127.0.0.1:1', name: 'x', received: 0, failing: false }], { url: 'http://127.0.0.1:2', name: 'eu', received: 0, failing: false });
    const regions = base.regions as Array<Record<string, unknown>>;
    const bad = {
      ...base,
      regions: [
        { ...regions[0], endpoints: ['http://10.0.0.1:80/path', 'ftp://x'], balancer: 'random', affinity: { header: 'x-user-id' } },
        { ...regions[1], outlierDetection: { consecutive5xx: -1 } },
      ],
    };
    let error: ConfigError | undefined;
    try {
      parseConfig(bad, { env: {} });
    } catch (caught) {
      error = caught as ConfigError;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const paths = error!.issues.map((i) => i.path);
    for (const prefix of ['regions[0].endpoints[0]', 'regions[0].endpoints[1]', 'regions[0].balancer', 'regions[0].affinity', 'regions[1].outlierDetection']) {
      expect(paths.some((p) => p.startsWith(prefix))).toBe(true);
    }
    expect(() => parseConfig({ ...base, regions: [{ ...regions[0], endpoints: { dns: 'orders.svc', minTtl: 5000, maxTtl: 1000 } }] }, { env: {} })).toThrow(/regions\[0\]\.endpoints\.maxTtl/);
  });
});
