import http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type World, startWorld, waitFor } from './helpers.js';

const TOKEN = 'operator-token-0123456789abcdef';
const bearer = { authorization: `Bearer ${TOKEN}` };

/** Opens `/status/events` and resolves with the status and, for a stream, a way to close it. */
function openStream(url: string, headers: Record<string, string>): Promise<{ status: number; close(): void }> {
  return new Promise((resolve, reject) => {
    const req = http.get(`${url}/status/events`, { headers, agent: false }, (res) => {
      res.on('data', () => {});
      res.on('error', () => {});
      resolve({ status: res.statusCode ?? 0, close: () => req.destroy() });
    });
    req.on('error', reject);
  });
}

describe('operator endpoints on the public port', () => {
  let world: World;
  const streams: Array<{ close(): void }> = [];
  beforeAll(async () => {
    world = await startWorld({ status: { interval: 200, maxStreams: 2 } }, { env: { EDGE_ADMIN_TOKEN: TOKEN } });
  });
  afterAll(async () => {
    for (const stream of streams) stream.close();
    await world?.close();
  });

  it('need the admin token: /metrics, /status, /status.json and /status/events answer 401 without it', async () => {
    for (const path of ['/metrics', '/status', '/status.json', '/status/events', '/admin/purge']) {
      const response = await fetch(`${world.url}${path}`, { headers: { authorization: 'Bearer wrong-token-000000000000' } });
      expect(response.status, path).toBe(401);
      expect(response.headers.get('www-authenticate')).toBe('Bearer realm="edge-admin"');
      const body = await response.text();
      expect(body).not.toContain(world.origins.us.url);
      expect(body).not.toContain('node-1');
    }
    expect((await fetch(`${world.url}/status.json`)).status).toBe(401);
  });

  it('answer with the admin token', async () => {
    expect(await (await fetch(`${world.url}/metrics`, { headers: bearer })).text()).toContain('edge_gateway_info');
    const status = (await (await fetch(`${world.url}/status.json`, { headers: bearer })).json()) as { edge: { nodeId: string } };
    expect(status.edge.nodeId).toBe('node-1');
    expect((await fetch(`${world.url}/status`, { headers: bearer })).status).toBe(200);
  });

  it('are found under any spelling of their path, so a token is needed for all of them', async () => {
    for (const path of ['/%6Detrics', '/x/../status.json', '//status.json']) {
      expect((await fetch(`${world.url}${path}`)).status, path).toBe(401);
    }
  });

  it('cap the open event streams (status.maxStreams) and free a slot when a stream closes', async () => {
    const first = await openStream(world.url, bearer);
    const second = await openStream(world.url, bearer);
    streams.push(first, second);
    expect([first.status, second.status]).toEqual([200, 200]);
    const third = await openStream(world.url, bearer);
    streams.push(third);
    expect(third.status).toBe(503);
    first.close();
    await waitFor(async () => {
      const next = await openStream(world.url, bearer);
      streams.push(next);
      return next.status === 200;
    }, 5_000, 'a free stream slot');
  });
});
