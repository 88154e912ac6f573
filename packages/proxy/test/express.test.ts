import { type IncomingMessage, type ServerResponse, createServer } from 'node:http';
import { type Forwarder, createForwarder } from '@edgekit/proxy';
import { expressForwarder } from '@edgekit/proxy/express';
import { closeServer, listen } from '@edgekit/test-utils';
import express5 from 'express';
import express4 from 'express4';
import { afterEach, describe, expect, it } from 'vitest';
import { type Upstream, send, startUpstream } from './helpers.js';

const cleanup: Array<() => Promise<void>> = [];
afterEach(async () => {
  while (cleanup.length > 0) await cleanup.pop()!();
});

async function serve(app: (req: IncomingMessage, res: ServerResponse) => void): Promise<string> {
  const server = createServer(app);
  const port = await listen(server);
  cleanup.push(() => closeServer(server));
  return `http://127.0.0.1:${port}`;
}

async function regions(): Promise<{ eu: Upstream; us: Upstream; forwarder: Forwarder }> {
  const eu = await startUpstream('eu');
  const us = await startUpstream('us');
  cleanup.push(() => eu.close(), () => us.close());
  const forwarder = createForwarder({ regions: [eu.region(), us.region()] });
  cleanup.push(() => forwarder.close());
  return { eu, us, forwarder };
}

describe.each([
  ['express 5', express5],
  ['express 4', express4],
])('%s middleware', (_name, express) => {
  it('forwards under a mount path with failover, next to local routes', async () => {
    const { eu, forwarder } = await regions();
    const app = express();
    app.get('/health', (_req, res) => {
      res.send('local');
    });
    app.use('/api', expressForwarder(forwarder));
    const url = await serve(app);
    expect((await send(`${url}/health`)).body).toBe('local');
    expect((await send(`${url}/api/users?x=1`)).json()).toMatchObject({ region: 'eu', url: '/users?x=1' });
    await eu.kill();
    const reply = await send(`${url}/api/users`, { method: 'POST', body: 'created' });
    expect(reply.json()).toMatchObject({ region: 'us', method: 'POST', bytes: 7 });
  });

  it('keeps the mount path when asked', async () => {
    const { eu, forwarder } = await regions();
    const app = express();
    app.use('/api', expressForwarder(forwarder, { keepMountPath: true }));
    const url = await serve(app);
    await send(`${url}/api/users`);
    expect(eu.received[0]!.url).toBe('/api/users');
  });

  it('answers forwarding failures itself with problem+json, not through next()', async () => {
    const { eu, us, forwarder } = await regions();
    await eu.kill();
    await us.kill();
    const app = express();
    let nextCalled = false;
    app.use('/api', expressForwarder(forwarder));
    app.use((_error: unknown, _req: unknown, res: { status(n: number): { send(b: string): void } }, _next: unknown) => {
      nextCalled = true;
      res.status(500).send('error handler');
    });
    const url = await serve(app);
    const reply = await send(`${url}/api/x`);
    expect(reply.status).toBe(502);
    expect(reply.headers['content-type']).toBe('application/problem+json');
    expect(reply.json().regionsTried).toEqual(['eu', 'us']);
    expect(nextCalled).toBe(false);
  });

  it('passes a body already consumed by a body parser to next(err)', async () => {
    const { eu, forwarder } = await regions();
    const app = express();
    app.use(express.json());
    app.use('/api', expressForwarder(forwarder));
    let seen: { code?: string } | undefined;
    app.use((error: { code?: string }, _req: unknown, res: { status(n: number): { send(b: string): void } }, _next: unknown) => {
      seen = error;
      res.status(500).send('error handler');
    });
    const url = await serve(app);
    const reply = await send(`${url}/api/x`, { method: 'POST', body: '{"a":1}', headers: { 'content-type': 'application/json' } });
    expect(reply.body).toBe('error handler');
    expect(seen?.code).toBe('EBODYCONSUMED');
    expect(eu.received).toHaveLength(0);
  });
});
