import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describeNats, useNatsServer } from '@edgekit/test-utils';
import { type TcpRelay, startTcpRelay } from '@edgekit/test-utils/node';
import { connect } from '@nats-io/transport-node';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { type Gateway, type GatewayConfigInput, createGateway, openConfigBucket, publishConfigFile } from '../src/index.js';
import type { DemoOrigin } from '../src/origin.js';
import { CLIENTS, baseConfig, from, startOrigins, waitFor } from './helpers.js';

const TOKEN = 'nats-admin-token-0123456789';
const KEY = 'nats-test-api-key-0001';
const BUCKET = 'edgekit-config-test';

describeNats('NATS JetStream mode: durable invalidations, fail-closed revocations, configuration bucket', () => {
  const nats = useNatsServer();
  let origins: Record<'us' | 'eu' | 'ap', DemoOrigin>;
  let relay: TcpRelay;
  let dir: string;
  let config: GatewayConfigInput;
  const nodes: Array<{ gateway: Gateway; url: string }> = [];

  beforeAll(async () => {
    origins = await startOrigins();
    relay = await startTcpRelay({ port: nats.current.port });
    dir = mkdtempSync(join(tmpdir(), 'edgekit-gateway-nats-'));
    config = baseConfig(origins, {
      cache: { host: 'api.example', routes: { 'GET /api/products/:id': { ttl: 60_000, tags: ['product:{id}'] } } },
      // Servers come from NATS_URL on each node; the shared file holds a placeholder.
      bus: { driver: 'nats', nats: { servers: ['nats://127.0.0.1:4222'], contactInterval: 100, maxStaleness: 1_000, configBucket: BUCKET } },
      auth: { apiKeys: { keys: [{ key: KEY, scopes: [] }] } },
      routes: [{ path: '/api/secure', auth: 'apiKey', revocations: 'fresh' }],
    });
    // us-east talks to NATS directly; ap-south through a link the test can cut.
    for (const [nodeId, port] of [['us-east-1', nats.current.port], ['ap-south-1', relay.port]] as const) {
      const env = { EDGE_NODE_ID: nodeId, EDGE_ADMIN_TOKEN: TOKEN, NATS_URL: `nats://127.0.0.1:${port}` };
      const gateway = await createGateway(config, { env, logger: () => {} });
      nodes.push({ gateway, url: await gateway.listen() });
    }
    for (const { url } of nodes) await waitFor(async () => (await fetch(`${url}/ready`)).status === 200, 15_000, 'ready');
  }, 60_000);
  afterAll(async () => {
    for (const { gateway } of nodes) await gateway.close();
    await relay?.close();
    await Promise.all(Object.values(origins ?? {}).map((origin) => origin.close()));
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const product = async (node: number, id: number): Promise<string> => {
    const response = await fetch(`${nodes[node]!.url}/api/products/${id}`, { headers: from(CLIENTS.virginia) });
    await response.arrayBuffer();
    return response.headers.get('cache-status') ?? '';
  };
  const secure = (node: number) => fetch(`${nodes[node]!.url}/api/secure`, { headers: { ...from(CLIENTS.virginia), 'x-api-key': KEY } });
  const status = async (node: number) => (await (await fetch(`${nodes[node]!.url}/status.json`, { headers: { authorization: `Bearer ${TOKEN}` } })).json()) as { config: { version: number; source?: string; lastReloadError?: string }; events?: { caughtUp: boolean; failClosed: boolean; lag: number } };

  it('applies, after the partition heals, a purge published while ap-south was cut off, and reports being caught up', async () => {
    await waitFor(async () => (await status(1)).events?.caughtUp === true, 10_000, 'ap-south caught up');
    expect(await product(1, 41)).toContain('stored');
    expect(await product(1, 41)).toMatch(/edgekit; hit/);
    relay.cut();
    await waitFor(async () => (await status(1)).events?.caughtUp === false, 10_000, 'ap-south behind');
    const purge = await fetch(`${nodes[0]!.url}/admin/purge`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ tags: ['product:41'] }),
    });
    expect(purge.status).toBe(200);
    relay.heal();
    await waitFor(async () => (await status(1)).events?.caughtUp === true, 15_000, 'ap-south caught up after the heal');
    expect(await product(1, 41)).not.toMatch(/edgekit; hit/);
  }, 60_000);

  it('fails closed on fresh-revocation routes once the stream is unreachable beyond maxStaleness, says so on /ready and the status, and recovers', async () => {
    expect((await secure(1)).status).toBe(200);
    relay.cut();
    let refused: Response | undefined;
    await waitFor(async () => {
      refused = await secure(1);
      return refused.status === 503;
    }, 10_000, 'fail closed');
    expect(refused!.headers.get('content-type')).toContain('application/problem+json');
    expect(((await refused!.json()) as { detail: string }).detail).toMatch(/revocation state cannot be trusted/);
    const ready = (await (await fetch(`${nodes[1]!.url}/ready`)).json()) as { dependencies: Record<string, { ok: boolean }> };
    expect(ready.dependencies['event-stream']?.ok).toBe(false);
    expect((await status(1)).events?.failClosed).toBe(true);
    // us-east still reaches the stream and keeps serving the route.
    expect((await secure(0)).status).toBe(200);
    relay.heal();
    await waitFor(async () => (await secure(1)).status === 200, 15_000, 'recovery after the heal');
    expect((await status(1)).events?.failClosed).toBe(false);
  }, 60_000);

  it('hot-reloads a configuration revision published to the bucket on every gateway, and rejects an invalid one whole', async () => {
    const before = await Promise.all([status(0), status(1)]);
    const file = join(dir, 'gateway.yaml');
    writeFileSync(file, stringify({ ...config, status: { interval: 300 } }));
    const { revision } = await publishConfigFile(file, { servers: [nats.current.url], bucket: BUCKET, key: 'gateway' });
    for (const node of [0, 1]) {
      await waitFor(async () => (await status(node)).config.source === `nats-kv://${BUCKET}/gateway@${revision}`, 10_000, `revision ${revision} applied on node ${node}`);
      expect((await status(node)).config.version).toBe(before[node]!.config.version + 1);
      expect(nodes[node]!.gateway.config.status.interval).toBe(300);
    }
    // Each node keeps its own servers (NATS_URL) across the reload.
    expect(nodes[1]!.gateway.config.bus.nats?.servers).toEqual([`nats://127.0.0.1:${relay.port}`]);
    // An invalid revision written past the CLI is rejected by every node; the running configuration stays.
    const nc = await connect({ servers: nats.current.url });
    const kv = await openConfigBucket(nc, BUCKET);
    await kv.put('gateway', stringify({ ...config, regions: [] }));
    await nc.close();
    for (const node of [0, 1]) {
      await waitFor(async () => (await status(node)).config.lastReloadError !== undefined, 10_000, `rejection on node ${node}`);
      expect((await status(node)).config.version).toBe(before[node]!.config.version + 1);
      expect(nodes[node]!.gateway.config.status.interval).toBe(300);
    }
    await expect(publishConfigFile(join(dir, 'missing.yaml'), { servers: [nats.current.url], bucket: BUCKET, key: 'gateway' })).rejects.toThrow(/cannot be read/);
  }, 60_000);
});
