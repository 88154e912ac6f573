import { mkdirSync, mkdtempSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type Gateway, type GatewayConfigInput, createGateway } from '../src/index.js';
import type { DemoOrigin } from '../src/origin.js';
import { CLIENTS, baseConfig, from, startOrigins, waitFor } from './helpers.js';

type Origins = Record<'us' | 'eu' | 'ap', DemoOrigin>;

const ADMIN_TOKEN = 'reload-admin-token-0123456789';

describe('hot reload', () => {
  let origins: Origins;
  let dir: string;
  let gateway: Gateway | undefined;
  let logs: Array<{ level: string; msg: string; fields?: Record<string, unknown> }>;

  beforeAll(async () => {
    origins = await startOrigins();
  });
  afterAll(async () => {
    await Promise.all(Object.values(origins).map((origin) => origin.close()));
  });
  afterEach(async () => {
    await gateway?.close();
    gateway = undefined;
    rmSync(dir, { recursive: true, force: true });
  });

  const configWith = (continentEU: 'eu' | 'ap', extra: Partial<GatewayConfigInput> = {}): GatewayConfigInput => {
    const base = baseConfig(origins, extra);
    return { ...base, routing: { defaultRegion: 'us', rules: { continents: { EU: continentEU, AS: 'ap', NA: 'us' } } } };
  };

  async function start(file: string, initial: GatewayConfigInput): Promise<string> {
    logs = [];
    gateway = await createGateway(initial, { configFile: file, env: { EDGE_ADMIN_TOKEN: ADMIN_TOKEN }, watchDebounce: 30, logger: (level, msg, fields) => logs.push({ level, msg, fields }) });
    const url = await gateway.listen();
    await waitFor(async () => (await fetch(`${url}/ready`)).status === 200);
    return url;
  }

  const servedBy = async (url: string, ip: string) => (await fetch(`${url}/api/where`, { headers: from(ip) })).headers.get('x-served-by');

  it('reloads when the file changes, and keeps the running configuration when the new one is invalid', async () => {
    dir = mkdtempSync(join(tmpdir(), 'gateway-reload-'));
    const file = join(dir, 'gateway.yaml');
    writeFileSync(file, stringify(configWith('eu')));
    const url = await start(file, configWith('eu'));
    expect(await servedBy(url, CLIENTS.london)).toBe('eu');

    writeFileSync(file, stringify(configWith('ap')));
    await waitFor(() => gateway!.version === 2, 5_000, 'reload to version 2');
    expect(await servedBy(url, CLIENTS.london)).toBe('ap');

    // Two mistakes at once: both are reported, nothing changes.
    const good = configWith('eu');
    const broken = { ...good, regions: good.regions!.map((r, i) => (i === 0 ? { ...r, url: 'not a url' } : r)), proxy: { maxAttempts: 0 } };
    writeFileSync(file, stringify(broken));
    await waitFor(() => logs.some((line) => line.msg.startsWith('configuration rejected')), 5_000, 'rejection logged');
    const rejection = logs.find((line) => line.msg.startsWith('configuration rejected'))!;
    expect((rejection.fields?.issues as Array<{ path: string }>).map((issue) => issue.path).sort()).toEqual(['proxy.maxAttempts', 'regions[0].url']);
    expect(gateway!.version).toBe(2);
    expect(gateway!.status().config.lastReloadError).toContain('regions[0].url');
    expect(await servedBy(url, CLIENTS.london)).toBe('ap');
    expect(await (await fetch(`${url}/metrics`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })).text()).toMatch(/edge_gateway_config_reloads_total\{[^}]*result="rejected"[^}]*\} 1/);

    // YAML that does not parse is rejected the same way.
    writeFileSync(file, 'regions: [\n');
    await waitFor(() => logs.filter((line) => line.msg.startsWith('configuration rejected')).length === 2, 5_000, 'second rejection');
    expect(gateway!.version).toBe(2);
    expect(await servedBy(url, CLIENTS.london)).toBe('ap');
  });

  it('follows a Kubernetes Secret/ConfigMap volume whose ..data symlink is swapped atomically', async () => {
    dir = mkdtempSync(join(tmpdir(), 'gateway-k8s-'));
    // The layout of Kubernetes' atomic writer: <dir>/gateway.yaml -> ..data/gateway.yaml, ..data -> ..<timestamp>
    const writeVersion = (name: string, config: GatewayConfigInput): void => {
      mkdirSync(join(dir, name));
      writeFileSync(join(dir, name, 'gateway.yaml'), stringify(config));
    };
    writeVersion('..2026_01_01_00_00_00.000000001', configWith('eu'));
    symlinkSync('..2026_01_01_00_00_00.000000001', join(dir, '..data'));
    symlinkSync('..data/gateway.yaml', join(dir, 'gateway.yaml'));
    const url = await start(join(dir, 'gateway.yaml'), configWith('eu'));
    expect(await servedBy(url, CLIENTS.london)).toBe('eu');

    writeVersion('..2026_01_01_00_01_00.000000002', configWith('ap'));
    symlinkSync('..2026_01_01_00_01_00.000000002', join(dir, '..data_tmp'));
    renameSync(join(dir, '..data_tmp'), join(dir, '..data'));
    rmSync(join(dir, '..2026_01_01_00_00_00.000000001'), { recursive: true });
    await waitFor(() => gateway!.version === 2, 5_000, 'reload after the ..data swap');
    expect(await servedBy(url, CLIENTS.london)).toBe('ap');
  });

  it('swaps the pipeline without failing a request in flight or arriving during the reload', async () => {
    dir = mkdtempSync(join(tmpdir(), 'gateway-swap-'));
    const file = join(dir, 'gateway.yaml');
    // Each variant changes what the forwarder and the cache are built from, so both are rebuilt.
    const variant = (i: number): GatewayConfigInput =>
      configWith(i % 2 === 0 ? 'eu' : 'ap', {
        proxy: { connectTimeout: 1_000 + i, headersTimeout: 5_000, retryBudget: false },
        cache: { routes: { 'GET /api/products/:id': { ttl: 60_000 + i } } },
      });
    writeFileSync(file, stringify(variant(0)));
    const url = await start(file, variant(0));

    const statuses: number[] = [];
    const failures: string[] = [];
    let running = true;
    const paths = ['/api/where', '/api/products/1', '/slow?ms=150', '/api/items?q=1'];
    const loop = async (worker: number): Promise<void> => {
      let i = 0;
      while (running) {
        const path = paths[(worker + i++) % paths.length]!;
        try {
          const response = await fetch(`${url}${path}`, { headers: from(worker % 2 ? CLIENTS.london : CLIENTS.virginia) });
          await response.arrayBuffer();
          statuses.push(response.status);
        } catch (error) {
          failures.push(`${path}: ${(error as Error).message}`);
        }
      }
    };
    const workers = Array.from({ length: 6 }, (_, worker) => loop(worker));
    // Traffic is answered between every two reloads and after the last one, however slow the machine:
    // each step waits for ten more answers rather than a fixed time.
    const moreAnswers = async (what: string): Promise<void> => {
      const before = statuses.length + failures.length;
      await waitFor(() => statuses.length + failures.length >= before + 10, 15_000, what);
    };
    for (let i = 1; i <= 5; i++) {
      await moreAnswers(`traffic before reload ${i}`);
      writeFileSync(file, stringify(variant(i)));
      await waitFor(() => gateway!.version === i + 1, 10_000, `reload ${i}`);
    }
    await moreAnswers('traffic after the last reload');
    running = false;
    await Promise.all(workers);

    expect(failures).toEqual([]);
    expect(statuses.length).toBeGreaterThan(50);
    expect(statuses.filter((status) => status !== 200)).toEqual([]);
    expect(gateway!.version).toBe(6);
    expect(await servedBy(url, CLIENTS.london)).toBe('ap');
  });

  it('rejects a configuration whose components cannot be built and keeps serving', async () => {
    dir = mkdtempSync(join(tmpdir(), 'gateway-build-'));
    const file = join(dir, 'gateway.yaml');
    writeFileSync(file, stringify(configWith('eu')));
    const url = await start(file, configWith('eu'));
    // Valid to the schema, but the static resolver cannot compile the CIDR.
    const bad = configWith('ap', { geo: { trustedProxies: ['loopback'], resolver: { static: [{ cidr: '300.1.1.0/24', country: 'GB' }] } } });
    await expect(gateway!.reload(bad)).rejects.toThrow(/geo/);
    expect(gateway!.version).toBe(1);
    expect(await servedBy(url, CLIENTS.london)).toBe('eu');
  });
});
