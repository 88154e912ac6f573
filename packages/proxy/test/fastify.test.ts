import { createForwarder } from '@edgekit/proxy';
import { fastifyForwarder } from '@edgekit/proxy/fastify';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { send, startUpstream } from './helpers.js';

const cleanup: Array<() => Promise<void>> = [];
afterEach(async () => {
  while (cleanup.length > 0) await cleanup.pop()!();
});

async function listenApp(app: FastifyInstance): Promise<string> {
  const address = await app.listen({ port: 0, host: '127.0.0.1' });
  cleanup.push(() => app.close());
  return address;
}

describe('fastify plugin', () => {
  it('forwards every method under its prefix with failover, next to local routes', async () => {
    const eu = await startUpstream('eu');
    const us = await startUpstream('us');
    cleanup.push(() => eu.close(), () => us.close());
    const forwarder = createForwarder({ regions: [eu.region(), us.region()] });
    cleanup.push(() => forwarder.close());
    const app = Fastify();
    app.get('/local', async () => ({ local: true }));
    await app.register(fastifyForwarder, { forwarder, prefix: '/api' });
    const url = await listenApp(app);
    expect((await send(`${url}/local`)).json()).toEqual({ local: true });
    expect((await send(`${url}/api/users?page=2`)).json()).toMatchObject({ region: 'eu', url: '/api/users?page=2' });
    expect((await send(`${url}/api`)).json()).toMatchObject({ region: 'eu', url: '/api' });
    await eu.kill();
    const reply = await send(`${url}/api/items`, { method: 'DELETE' });
    expect(reply.json()).toMatchObject({ region: 'us', method: 'DELETE' });
    expect(reply.headers['x-served-by']).toBe('us');
  });

  it('streams request bodies fastify would otherwise parse or refuse', async () => {
    const eu = await startUpstream('eu');
    cleanup.push(() => eu.close());
    const forwarder = createForwarder({ regions: [eu.region()] });
    cleanup.push(() => forwarder.close());
    const app = Fastify({ bodyLimit: 1_000 });
    app.post('/local', async (request) => ({ parsed: request.body }));
    await app.register(fastifyForwarder, { forwarder, prefix: '/api' });
    const url = await listenApp(app);
    const json = '{"not":"parsed by fastify"';
    expect((await send(`${url}/api/json`, { method: 'POST', body: json, headers: { 'content-type': 'application/json' } })).status).toBe(200);
    expect(eu.received[0]!.body).toBe(json);
    const big = 'z'.repeat(50_000);
    const reply = await send(`${url}/api/blob`, { method: 'PUT', body: big, headers: { 'content-type': 'application/x-custom' } });
    expect(reply.json()).toMatchObject({ bytes: 50_000 });
    // The app's own routes keep fastify's parsers.
    expect((await send(`${url}/local`, { method: 'POST', body: '{"a":1}', headers: { 'content-type': 'application/json' } })).json()).toEqual({ parsed: { a: 1 } });
  });

  it('rewrites the prefix when asked', async () => {
    const eu = await startUpstream('eu');
    cleanup.push(() => eu.close());
    const forwarder = createForwarder({ regions: [eu.region()] });
    cleanup.push(() => forwarder.close());
    const app = Fastify();
    await app.register(fastifyForwarder, { forwarder, prefix: '/api', rewritePrefix: '/v2' });
    const url = await listenApp(app);
    await send(`${url}/api/users?x=1`);
    await send(`${url}/api`);
    expect(eu.received.map((r) => r.url)).toEqual(['/v2/users?x=1', '/v2']);
  });

  it('answers failures with problem+json', async () => {
    const eu = await startUpstream('eu');
    await eu.kill();
    const forwarder = createForwarder({ regions: [eu.region()] });
    cleanup.push(() => forwarder.close());
    const app = Fastify();
    await app.register(fastifyForwarder, { forwarder });
    const url = await listenApp(app);
    const reply = await send(`${url}/anything`);
    expect(reply.status).toBe(502);
    expect(reply.headers['content-type']).toBe('application/problem+json');
    expect(reply.json()).toMatchObject({ status: 502, regionsTried: ['eu'] });
  });

  it('refuses to register without a forwarder', async () => {
    const app = Fastify();
    cleanup.push(() => app.close());
    await expect(app.register(fastifyForwarder, { forwarder: undefined as never })).rejects.toThrow(/"forwarder"/);
  });
});
