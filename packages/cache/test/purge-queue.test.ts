import { createServer } from 'node:http';
import { closeServer, describeRedis, listen, useRedisServer } from '@edgekit/test-utils';
import { Redis } from 'ioredis';
import { afterEach, expect, it } from 'vitest';
import { type EdgeCache, createCache, createPurgeHandler } from '../src/index.js';
import { get, startGateway, testOrigin, until } from './helpers.js';

const cleanup: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
});

let prefixCounter = 0;

describeRedis('purges while Redis stalls', () => {
  const server = useRedisServer();

  async function twoNodes(answer: () => string) {
    const { origin } = testOrigin(() => ({ body: answer() }));
    const prefix = `pq${process.pid}x${++prefixCounter}:`;
    const nodes: Array<{ cache: EdgeCache; base: string; purge: string; errors: Error[] }> = [];
    for (let i = 0; i < 2; i++) {
      const client = new Redis(server.current.url, { maxRetriesPerRequest: 1 });
      client.on('error', () => {});
      const cache = createCache({
        redis: client,
        prefix,
        channel: `${prefix}bus`,
        host: 'shop.example',
        routes: { 'GET /api/products/:id': { ttl: 60_000, tags: ['product:{id}'] } },
        operationTimeout: 200,
        cooldown: 100,
      });
      const errors: Error[] = [];
      cache.on('error', (error) => errors.push(error as Error));
      const gateway = await startGateway(cache, origin);
      const purgeServer = createServer(createPurgeHandler(cache));
      const purgePort = await listen(purgeServer);
      cleanup.push(async () => {
        await closeServer(purgeServer);
        await gateway.close();
        await cache.close();
        client.disconnect();
      });
      nodes.push({ cache, base: gateway.base, purge: `http://127.0.0.1:${purgePort}`, errors });
    }
    await until(() => nodes.every((n) => n.cache.stats().l1?.usable === true), 20_000, 'buses connected');
    return nodes;
  }

  it('applies the purge on the node at once, answers 202, and reaches every node once Redis answers again', async () => {
    let version = 1;
    const [a, b] = await twoNodes(() => `v${version}`);
    for (const node of [a!, b!]) {
      await get(node.base, '/api/products/7');
      expect((await get(node.base, '/api/products/7')).body).toBe('v1');
    }
    version = 2;
    const admin = new Redis(server.current.url);
    cleanup.push(async () => void admin.disconnect());
    await admin.call('CLIENT', 'PAUSE', '1500', 'ALL');
    const response = await fetch(`${a!.purge}/`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"tags":["product:7"]}' });
    expect(response.status).toBe(202);
    expect(await response.json()).toEqual({ purged: { tags: 1 }, queued: ['tags'] });
    // The purging node no longer serves the purged entry, while Redis is still stalled.
    expect((await get(a!.base, '/api/products/7')).body).toBe('v2');
    // The queued purge reaches the shared store and the other node when Redis answers again.
    // (A lock the purging node's stalled fetch left in Redis can hold the other node's miss until it expires.)
    await until(async () => (await get(b!.base, '/api/products/7')).body === 'v2', 20_000, 'the purge reached the other node');
    await until(async () => (await get(a!.base, '/api/products/7')).body === 'v2', 5_000, 'the purging node stays purged');
  }, 40_000);
});
