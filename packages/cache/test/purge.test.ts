import { type Server, createServer } from 'node:http';
import { createManualClock } from '@edgekit/core/testing';
import { closeServer, listen } from '@edgekit/test-utils';
import { request } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { createMemoryStore } from '@edgekit/swr';
import { CACHE_ENTRY_CODEC, type EdgeCache, type TagStore, createCache, createPurgeHandler } from '../src/index.js';
import { EPOCH, until } from './helpers.js';

const servers: Server[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) await closeServer(s);
});

async function purgeServer(cache: EdgeCache, authorize?: (req: import('node:http').IncomingMessage) => boolean): Promise<string> {
  const server = createServer(createPurgeHandler(cache, authorize ? { authorize, maxBodySize: 1_024 } : { maxBodySize: 1_024 }));
  servers.push(server);
  return `http://127.0.0.1:${await listen(server)}/purge`;
}

async function post(url: string, body: string, headers: Record<string, string> = { 'content-type': 'application/json' }, method = 'POST') {
  const res = await request(url, { method: method as 'POST', headers, body: method === 'GET' ? null : body });
  return { status: res.statusCode, headers: res.headers, json: (await res.body.json().catch(() => undefined)) as Record<string, unknown> | undefined };
}

describe('purge handler', () => {
  it('invalidates tags, keys and patterns given as JSON', async () => {
    const cache = createCache({ clock: createManualClock(EPOCH) });
    let calls = 0;
    const fn = async () => ++calls;
    await cache.wrap('p:1', fn, { ttl: 60_000, tags: ['product:1'] });
    await cache.wrap('p:2', fn, { ttl: 60_000 });
    await cache.wrap('p:3', fn, { ttl: 60_000 });
    const url = await purgeServer(cache);
    const res = await post(url, JSON.stringify({ tags: ['product:1'], keys: ['p:2'], pattern: 'p:3*' }));
    expect(res.status).toBe(200);
    expect(res.json).toEqual({ purged: { tags: 1, keys: 1, deleted: 1 } });
    expect(await cache.wrap('p:1', fn, { ttl: 60_000 })).toBe(4);
    expect(await cache.wrap('p:2', fn, { ttl: 60_000 })).toBe(5);
    expect(await cache.wrap('p:3', fn, { ttl: 60_000 })).toBe(6);
  });

  it('refuses what it cannot do with problem details', async () => {
    const cache = createCache();
    const url = await purgeServer(cache);
    expect((await post(url, '', {}, 'GET')).status).toBe(405);
    expect((await post(url, '{}', { 'content-type': 'text/plain' })).status).toBe(415);
    const bad = await post(url, '{nope');
    expect(bad.status).toBe(400);
    expect(bad.headers['content-type']).toBe('application/problem+json');
    expect((await post(url, JSON.stringify({ tags: 'x' }))).json?.detail).toMatch(/"tags"/);
    expect((await post(url, JSON.stringify({ tag: ['x'] }))).json?.detail).toMatch(/unknown field "tag"/);
    expect((await post(url, JSON.stringify({}))).status).toBe(400);
    expect((await post(url, JSON.stringify({ tags: ['x'.repeat(2_000)] }))).status).toBe(413);
  });

  it('asks authorize first and answers 403 when it refuses', async () => {
    const cache = createCache();
    const url = await purgeServer(cache, (req) => req.headers.authorization === 'Bearer ops');
    expect((await post(url, JSON.stringify({ tags: ['a'] }))).status).toBe(403);
    expect((await post(url, JSON.stringify({ tags: ['a'] }), { 'content-type': 'application/json', authorization: 'Bearer ops' })).status).toBe(200);
  });

  it('answers 202 when the shared store fails: the purge is applied on this node and retried until the store takes it', async () => {
    let calls = 0;
    const flaky: TagStore = {
      name: 'flaky',
      generation: async () => 0,
      invalidate: async () => {
        calls++;
        if (calls <= 2) throw new Error('redis down');
        return calls;
      },
      generations: async (tags) => tags.map(() => 0),
      close: async () => {},
    };
    const cache = createCache({ store: createMemoryStore({ codec: CACHE_ENTRY_CODEC }), tagStore: flaky, cooldown: 20 });
    cache.on('error', () => {});
    const url = await purgeServer(cache);
    const res = await post(url, JSON.stringify({ tags: ['a'] }));
    expect(res.status).toBe(202);
    expect(res.json).toEqual({ purged: { tags: 1 }, queued: ['tags'] });
    await until(() => calls === 3, 5_000, 'the queued purge reached the store');
  });
});
