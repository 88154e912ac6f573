import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { type Bus, createRedisBus } from '@edgekit/bus';
import { describeRedis, useRedisServer } from '@edgekit/test-utils';
import { Redis } from 'ioredis';
import { afterEach, expect, it } from 'vitest';
import { type ApiKeyAuthenticator, type ApiKeyPrincipal, createApiKeyAuth, hashApiKey } from '../src/index.js';
import { percentile, waitFor } from './helpers.js';

const cleanups: Array<() => Promise<unknown> | void> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function origin(keys: string[]) {
  const known = new Map<string, ApiKeyPrincipal>(keys.map((k, i) => [k, { subject: `tenant-${i}`, scopes: ['orders:read'] }]));
  const o = {
    known,
    calls: 0,
    validate: async (key: string) => {
      o.calls++;
      return known.get(key) ?? null;
    },
  };
  return o;
}

interface Node {
  bus: Bus;
  auth: ApiKeyAuthenticator;
}

function node(url: string, id: string, validate: (key: string) => Promise<ApiKeyPrincipal | null>): Node {
  const redis = new Redis(url, { maxRetriesPerRequest: 1 });
  redis.on('error', () => {});
  const bus = createRedisBus({ redis, nodeId: id, publishTimeout: 1_000 });
  const auth = createApiKeyAuth({ validate, bus, ttl: 300_000 });
  cleanups.push(
    () => redis.disconnect(),
    () => bus.close(),
    () => auth.close(),
  );
  return { bus, auth };
}

const req = (key: string) => ({ headers: { 'x-api-key': key }, method: 'GET', url: '/' });

describeRedis('API-key revocation across three nodes over Redis', () => {
  const server = useRedisServer();

  it('refuses a key on all three nodes once any node revokes it, and measures how long that takes', async () => {
    const keys = Array.from({ length: 100 }, () => `ek_live_${randomBytes(16).toString('hex')}`);
    const o = origin(keys);
    const nodes = ['edge-a', 'edge-b', 'edge-c'].map((id) => node(server.current.url, id, o.validate));
    await waitFor(() => nodes.every((n) => n.bus.connected), 10_000, 'buses connected');

    for (const n of nodes) for (const key of keys) await n.auth.authenticate(req(key));
    expect(o.calls).toBe(300);
    for (const n of nodes) await n.auth.authenticate(req(keys[0] as string));
    expect(o.calls).toBe(300);

    // Arrival time of each revocation on each node, on the one process-wide monotonic clock.
    const arrivals = new Map<string, number[]>();
    for (const n of nodes) {
      n.auth.on('revoked', (event) => {
        const list = arrivals.get(event.keyHash) ?? [];
        list.push(performance.now());
        arrivals.set(event.keyHash, list);
      });
    }
    const latencies: number[] = [];
    for (let i = 0; i < keys.length; i++) {
      const key = keys[i] as string;
      const hash = hashApiKey(key);
      const start = performance.now();
      await nodes[i % 3]?.auth.revoke(key);
      await waitFor(() => (arrivals.get(hash)?.length ?? 0) === 3, 10_000, `revocation ${i} reached all nodes`);
      latencies.push(Math.max(...(arrivals.get(hash) as number[])) - start);
    }

    for (const n of nodes) {
      for (const key of keys) await expect(n.auth.authenticate(req(key))).rejects.toMatchObject({ code: 'EKEYREVOKED' });
    }
    expect(o.calls).toBe(300);

    const sorted = [...latencies].sort((x, y) => x - y);
    const p50 = percentile(sorted, 50);
    const p99 = percentile(sorted, 99);
    console.log(`revocation reached all 3 nodes over Redis: p50 ${p50.toFixed(2)} ms, p99 ${p99.toFixed(2)} ms, max ${sorted.at(-1)?.toFixed(2)} ms (n=${sorted.length})`);
    // A generous bound for a loaded CI machine; the benchmark reports the real numbers.
    expect(p99).toBeLessThan(2_000);
  }, 60_000);

  it('stops trusting its cache while the bus is disconnected and flushes it once reconnected', async () => {
    const good = `ek_live_${randomBytes(16).toString('hex')}`;
    const other = `ek_live_${randomBytes(16).toString('hex')}`;
    const o = origin([good, other]);
    const a = node(server.current.url, 'edge-a', o.validate);
    const b = node(server.current.url, 'edge-b', o.validate);
    const flushes: string[] = [];
    b.auth.on('flushed', (e) => flushes.push(e.reason));
    await waitFor(() => a.bus.connected && b.bus.connected, 10_000, 'buses connected');
    await b.auth.authenticate(req(good));
    await b.auth.authenticate(req(good));
    expect(o.calls).toBe(1);

    await server.current.kill();
    await waitFor(() => !b.auth.stats().trusted, 10_000, 'node b noticed the gap');
    expect(flushes).toEqual(['disconnected']);

    // The identity service revokes the key; the broadcast cannot get through.
    o.known.delete(good);
    await expect(a.auth.revoke(good)).rejects.toThrow();
    // Node b missed the broadcast, but it asks the origin instead of trusting its cache.
    await expect(b.auth.authenticate(req(good))).rejects.toMatchObject({ code: 'EKEYINVALID' });
    expect(o.calls).toBe(2);
    // And nothing is cached during the gap.
    await b.auth.authenticate(req(other));
    await b.auth.authenticate(req(other));
    expect(o.calls).toBe(4);

    await server.current.start();
    await waitFor(() => b.auth.stats().trusted, 20_000, 'node b reconnected');
    expect(flushes).toEqual(['disconnected', 'reconnected']);
    await b.auth.authenticate(req(other));
    await b.auth.authenticate(req(other));
    expect(o.calls).toBe(5);
    await expect(b.auth.authenticate(req(good))).rejects.toMatchObject({ code: 'EKEYINVALID' });
  }, 60_000);
});
