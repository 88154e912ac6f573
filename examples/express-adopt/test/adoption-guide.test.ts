// The adoption guide's "cache at the edge" snippet (docs/guides/adopt-one-primitive.md), run as written.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createCache } from '@edgekit/cache';
import { createForwarder } from '@edgekit/proxy';
import express from 'express';
import { afterEach, describe, expect, it } from 'vitest';

const cleanup: Array<() => Promise<void>> = [];
afterEach(async () => {
  while (cleanup.length > 0) await cleanup.pop()!();
});

async function serve(handler: http.RequestListener): Promise<string> {
  const server = http.createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanup.push(() => new Promise<void>((resolve) => (server.closeAllConnections(), server.close(() => resolve()))));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

async function setup(mount: (app: express.Express, handle: http.RequestListener) => void) {
  const seen: string[] = [];
  const origin = await serve((req, res) => {
    seen.push(req.url ?? '');
    res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'public, max-age=60' });
    res.end(JSON.stringify({ path: req.url }));
  });
  const forwarder = createForwarder({ regions: [{ name: 'eu-central', url: origin, location: { lat: 50.11, lon: 8.68 } }] });
  const cache = createCache({ routes: { 'GET /api/products/:id': { ttl: 60_000, staleWhileRevalidate: 30_000, tags: ['product:{id}'] } } });
  cleanup.push(async () => {
    await cache.close();
    await forwarder.close();
  });
  const app = express();
  mount(app, cache.handler(forwarder.forward));
  const url = await serve(app);
  const get = async () => {
    const response = await fetch(`${url}/api/products/42`);
    return { status: response.status, cacheStatus: response.headers.get('cache-status'), body: await response.json() };
  };
  return { get, seen };
}

describe('adoption guide: the response cache behind an Express mount', () => {
  it('as the guide writes it, the second request is a hit and the upstream sees the full path once', async () => {
    const { get, seen } = await setup((app, handle) => {
      app.use('/api', (req, res) => {
        req.url = req.originalUrl;
        handle(req, res);
      });
    });
    const first = await get();
    const second = await get();
    expect(first).toMatchObject({ status: 200, body: { path: '/api/products/42' } });
    expect(second.status).toBe(200);
    expect(second.cacheStatus).toMatch(/hit/);
    expect(seen).toEqual(['/api/products/42']);
  });

  it("mounted with Express's stripped req.url, no route ever matches and every request bypasses the cache", async () => {
    const { get, seen } = await setup((app, handle) => {
      app.use('/api', (req, res) => handle(req, res));
    });
    await get();
    const second = await get();
    expect(second.cacheStatus ?? '').not.toMatch(/hit/);
    expect(seen).toEqual(['/products/42', '/products/42']);
  });
});
