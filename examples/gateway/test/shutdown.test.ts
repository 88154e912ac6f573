import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { spawn } from 'node:child_process';
import { spawnTs, tsNodeArgs } from '@edgekit/test-utils';
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { baseConfig, from, CLIENTS, startOrigins, waitFor } from './helpers.js';
import type { DemoOrigin } from '../src/origin.js';

const MAIN = fileURLToPath(new URL('../src/main.ts', import.meta.url));
// A spawned gateway compiles its TypeScript at start: seconds alone, tens of seconds on a loaded machine.
const START_TIMEOUT = 90_000;
// How long the gateway keeps answering after SIGTERM: long enough for the checks made during it on
// a loaded machine, and the request in flight outlasts it, so it is the drain that completes it.
const SHUTDOWN_DELAY = 5_000;
const SLOW_MS = SHUTDOWN_DELAY + 2_500;

describe('graceful shutdown of the gateway process', () => {
  let origins: Record<'us' | 'eu' | 'ap', DemoOrigin>;
  let dir: string;
  beforeAll(async () => {
    origins = await startOrigins();
    dir = mkdtempSync(join(tmpdir(), 'gateway-shutdown-'));
  });
  afterAll(async () => {
    await Promise.all(Object.values(origins).map((origin) => origin.close()));
    rmSync(dir, { recursive: true, force: true });
  });

  it('on SIGTERM fails readiness first, keeps serving during the delay, drains the request in flight, then exits 0', async () => {
    const file = join(dir, 'gateway.yaml');
    const config = baseConfig(origins, { server: { host: '127.0.0.1', port: 0, shutdownDelay: SHUTDOWN_DELAY, drainTimeout: 60_000 } });
    // The request in flight outlasts the shutdown delay: it must not hit the origin's headers timeout first.
    config.proxy = { ...config.proxy, headersTimeout: 60_000 };
    writeFileSync(file, stringify(config));
    const child = spawnTs(MAIN, ['--', '--config', file], { EDGE_NODE_ID: 'spawned-1' });
    try {
      const line = await child.waitForLine((text) => text.includes('"msg":"listening"'), START_TIMEOUT);
      const { url, nodeId } = JSON.parse(line) as { url: string; nodeId: string };
      expect(nodeId).toBe('spawned-1');
      await waitFor(async () => (await fetch(`${url}/ready`)).status === 200, 30_000, 'ready');

      const slowBefore = origins.us.hits.get('/slow') ?? 0;
      const slow = fetch(`${url}/slow?ms=${SLOW_MS}`, { headers: from(CLIENTS.virginia) });
      await waitFor(() => (origins.us.hits.get('/slow') ?? 0) > slowBefore, 30_000, 'slow request reached the origin');
      const exited = once(child.child, 'exit');
      child.child.kill('SIGTERM');

      // Readiness fails at once while the listener still answers (load balancers stop sending).
      await waitFor(async () => (await fetch(`${url}/ready`)).status === 503, SHUTDOWN_DELAY, 'readiness failing');
      const ready = (await (await fetch(`${url}/ready`)).json()) as { phase: string };
      expect(ready.phase).toBe('draining');
      expect((await fetch(`${url}/health`)).status).toBe(200);
      const during = await fetch(`${url}/api/where`, { headers: from(CLIENTS.london) });
      expect(during.status).toBe(200);
      expect(during.headers.get('x-served-by')).toBe('eu');

      // The request that was in flight completes.
      const response = await slow;
      expect(response.status).toBe(200);
      expect(((await response.json()) as { waitedMs: number }).waitedMs).toBe(SLOW_MS);

      const [code, signal] = (await exited) as [number | null, string | null];
      expect(signal).toBeNull();
      expect(code).toBe(0);
      await expect(fetch(`${url}/health`)).rejects.toThrow();
    } finally {
      await child.stop();
    }
  }, START_TIMEOUT + 60_000);

  it('exits 1 with every configuration error listed when the file is invalid', async () => {
    const file = join(dir, 'broken.yaml');
    writeFileSync(file, stringify({ regions: [{ name: 'us', url: 'nope', location: { lat: 0, lon: 0 } }], proxy: { maxAttempts: 0 } }));
    const child = spawn(process.execPath, [...tsNodeArgs(), MAIN, '--config', file, '--check'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const [code] = (await once(child, 'exit')) as [number];
    expect(code).toBe(1);
    expect(stderr).toContain('(2 errors)');
    expect(stderr).toContain('- regions[0].url: must be an absolute http(s) URL');
    expect(stderr).toContain('- proxy.maxAttempts:');
  }, START_TIMEOUT);
});
