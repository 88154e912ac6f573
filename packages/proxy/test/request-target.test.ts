import http from 'node:http';
import { createForwarder } from '@edgekit/proxy';
import { expressForwarder } from '@edgekit/proxy/express';
import { fastifyForwarder } from '@edgekit/proxy/fastify';
import { closeServer, listen } from '@edgekit/test-utils';
import express5 from 'express';
import Fastify from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { rawExchange, startFront, startUpstream } from './helpers.js';

const cleanup: Array<() => Promise<void>> = [];
afterEach(async () => {
  while (cleanup.length > 0) await cleanup.pop()!();
});

async function setup(options: { nonCanonicalTarget?: 'refuse' | 'normalize' } = {}) {
  const eu = await startUpstream('eu');
  cleanup.push(() => eu.close());
  const forwarder = createForwarder({ regions: [eu.region()], ...options });
  cleanup.push(() => forwarder.close());
  return { eu, forwarder };
}

const statusOf = (raw: string): number => Number(/^HTTP\/1\.1 (\d{3})/.exec(raw)?.[1] ?? 0);
const get = (target: string, extra = ''): string => `GET ${target} HTTP/1.1\r\nHost: app.example\r\n${extra}Connection: close\r\n\r\n`;

describe('request targets', () => {
  it('forwards absolute-form as its path, with the Host header kept', async () => {
    const { eu, forwarder } = await setup();
    const front = await startFront(forwarder);
    cleanup.push(() => front.close());
    const raw = await rawExchange(front.port, get('http://anything.example:1/api/admin/secret?x=1'));
    expect(statusOf(raw)).toBe(200);
    expect(eu.received[0]!.url).toBe('/api/admin/secret?x=1');
  });

  it.each([
    ['/api/x/../admin/secret'],
    ['/api/%2e%2e/api/admin'],
    ['/api/.%2e/api/admin'],
    ['/api/./admin'],
    ['/api/%2E/admin'],
    ['//api/admin'],
    ['/api/%61dmin'],
    ['http://h/api/x/../admin'],
  ])('refuses the non-canonical path %s with 400 instead of forwarding it raw', async (target) => {
    const { eu, forwarder } = await setup();
    const front = await startFront(forwarder);
    cleanup.push(() => front.close());
    const raw = await rawExchange(front.port, get(target));
    expect(statusOf(raw)).toBe(400);
    expect(raw).toContain('application/problem+json');
    expect(eu.received).toHaveLength(0);
  });

  it('forwards the canonical path when told to normalise', async () => {
    const { eu, forwarder } = await setup({ nonCanonicalTarget: 'normalize' });
    const front = await startFront(forwarder);
    cleanup.push(() => front.close());
    expect(statusOf(await rawExchange(front.port, get('/api/x/%2E%2e/admin//secret?q=%2e%2e')))).toBe(200);
    expect(eu.received[0]!.url).toBe('/api/admin/secret?q=%2e%2e');
  });

  it.each([['/api%2Fadmin'], ['/api/%5cadmin'], ['/api/%00'], ['/api/public/..;/admin']])('refuses %s in both modes', async (target) => {
    for (const mode of ['refuse', 'normalize'] as const) {
      const { eu, forwarder } = await setup({ nonCanonicalTarget: mode });
      const front = await startFront(forwarder);
      cleanup.push(() => front.close());
      expect(statusOf(await rawExchange(front.port, get(target)))).toBe(400);
      expect(eu.received).toHaveLength(0);
    }
  });

  it('refuses an upgrade to a non-canonical path before any tunnel opens', async () => {
    const { eu, forwarder } = await setup();
    const server = http.createServer(forwarder.handler);
    server.on('upgrade', forwarder.upgrade);
    const port = await listen(server);
    cleanup.push(() => closeServer(server));
    const raw = await rawExchange(port, get('/ws/../admin/ws', 'Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n').replace('Connection: close\r\n', ''));
    expect(statusOf(raw)).toBe(400);
    expect(eu.received).toHaveLength(0);
  });

  it('express: a request the app routed on its raw path is not forwarded under another path', async () => {
    const { eu, forwarder } = await setup();
    const app = express5();
    app.use('/api/admin', (_req, res) => {
      res.status(401).send('admin needs credentials');
    });
    app.use('/api', expressForwarder(forwarder, { keepMountPath: true }));
    const server = http.createServer(app);
    const port = await listen(server);
    cleanup.push(() => closeServer(server));
    expect(statusOf(await rawExchange(port, get('/api/admin/secret')))).toBe(401);
    expect(statusOf(await rawExchange(port, get('/api/x/../admin/secret')))).toBe(400);
    expect(statusOf(await rawExchange(port, get('/api/%2e%2e/api/admin/secret')))).toBe(400);
    expect(eu.received).toHaveLength(0);
    expect(statusOf(await rawExchange(port, get('/api/items')))).toBe(200);
    expect(eu.received[0]!.url).toBe('/api/items');
  });

  it('fastify: a non-canonical path under the prefix is refused, not forwarded', async () => {
    const { eu, forwarder } = await setup();
    const app = Fastify();
    await app.register(fastifyForwarder, { forwarder, prefix: '/api' });
    const address = await app.listen({ port: 0, host: '127.0.0.1' });
    cleanup.push(() => app.close());
    const port = Number(new URL(address).port);
    expect(statusOf(await rawExchange(port, get('/api/public/../admin')))).toBe(400);
    expect(statusOf(await rawExchange(port, get('/api/public/%2e%2e/admin')))).toBe(400);
    expect(eu.received).toHaveLength(0);
  });
});
