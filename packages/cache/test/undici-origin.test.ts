import { type IncomingMessage, type Server, type ServerResponse, createServer } from 'node:http';
import { closeServer, listen } from '@edgekit/test-utils';
import { Pool, request } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { type Origin, createCache } from '../src/index.js';
import { get, startGateway, until } from './helpers.js';

// An origin function of the forwarder's shape over a real HTTP origin, through undici.
function undiciOrigin(base: string): { origin: Origin; pool: Pool } {
  const pool = new Pool(base, { connections: 8 });
  const origin: Origin = async (req, { signal }) => {
    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(req.headers)) if (typeof value === 'string' && name !== 'host' && name !== 'connection') headers[name] = value;
    const response = await pool.request({ path: req.url ?? '/', method: (req.method ?? 'GET') as 'GET', headers, signal, body: req.method === 'GET' || req.method === 'HEAD' ? null : req });
    return { statusCode: response.statusCode, headers: response.headers as Record<string, string | string[]>, body: response.body, region: 'local' };
  };
  return { origin, pool };
}

const cleanup: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
});

async function setup(handler: (req: IncomingMessage, res: ServerResponse) => void) {
  const originServer: Server = createServer(handler);
  const base = `http://127.0.0.1:${await listen(originServer)}`;
  const { origin, pool } = undiciOrigin(base);
  const cache = createCache({ routes: { 'GET /api/*': { ttl: 60_000 } } });
  const gateway = await startGateway(cache, origin);
  cleanup.push(async () => {
    await gateway.close();
    await cache.close();
    await pool.close();
    await closeServer(originServer);
  });
  return { gateway, cache };
}

describe('in front of a real HTTP origin through undici', () => {
  it('stores and serves a response fetched over a socket', async () => {
    let hits = 0;
    const { gateway } = await setup((_req, res) => {
      hits++;
      res.writeHead(200, { 'content-type': 'text/plain', etag: '"a"' });
      res.end('hello');
    });
    await get(gateway.base, '/api/a');
    const second = await get(gateway.base, '/api/a');
    expect(second.body).toBe('hello');
    expect(second.headers['cache-status']).toMatch(/; hit;/);
    expect(hits).toBe(1);
  });

  it('revalidates with a real 304', async () => {
    let calls = 0;
    const { gateway } = await setup((req, res) => {
      calls++;
      if (req.headers['if-none-match'] === '"v1"') {
        res.writeHead(304, { etag: '"v1"', 'cache-control': 'max-age=60' });
        res.end();
        return;
      }
      res.writeHead(200, { etag: '"v1"', 'cache-control': 'no-cache' });
      res.end('body');
    });
    await get(gateway.base, '/api/r');
    const again = await get(gateway.base, '/api/r');
    expect(again.body).toBe('body');
    expect(again.headers['cache-status']).toMatch(/fwd=stale; fwd-status=304/);
    expect((await get(gateway.base, '/api/r')).headers['cache-status']).toMatch(/; hit;/);
    expect(calls).toBe(2);
  });

  it('aborts the origin request of a pass-through response when the client goes away', async () => {
    let originClosed = false;
    const { gateway } = await setup((_req, res) => {
      res.writeHead(200, { 'cache-control': 'no-store' });
      res.write('start');
      res.on('close', () => (originClosed = true));
    });
    const controller = new AbortController();
    const response = await request(`${gateway.base}/api/stream`, { signal: controller.signal });
    for await (const _chunk of response.body) {
      controller.abort();
      break;
    }
    await until(() => originClosed, 10_000, 'origin request closed');
  });

  it('passes a POST body through to the origin', async () => {
    const { gateway } = await setup((req, res) => {
      let text = '';
      req.on('data', (c: Buffer) => (text += c.toString()));
      req.on('end', () => {
        res.writeHead(201, { 'content-type': 'text/plain' });
        res.end(`got ${text}`);
      });
    });
    const response = await request(`${gateway.base}/api/items`, { method: 'POST', body: 'payload' });
    expect(response.statusCode).toBe(201);
    expect(await response.body.text()).toBe('got payload');
    expect(response.headers['cache-status']).toBe('edgekit; fwd=method; fwd-status=201');
  });
});
