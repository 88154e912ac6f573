import http from 'node:http';
import { Socket } from 'node:net';
import { createBreakerRegistry } from '@edgekit/breaker';
import { type Forwarder, createForwarder } from '@edgekit/proxy';
import { afterEach, describe, expect, it } from 'vitest';
import { type Upstream, startFront, startUpstream, waitFor } from './helpers.js';

const cleanup: Array<() => Promise<void>> = [];
afterEach(async () => {
  while (cleanup.length > 0) await cleanup.pop()!();
});

async function setup(upstream: Upstream): Promise<{ url: string; forwarder: Forwarder; breakers: ReturnType<typeof createBreakerRegistry> }> {
  cleanup.push(() => upstream.close());
  const breakers = createBreakerRegistry({ defaults: { timeout: false, volumeThreshold: 1 } });
  cleanup.push(() => breakers.close());
  const forwarder = createForwarder({ regions: [upstream.region()], breakers });
  const front = await startFront(forwarder);
  cleanup.push(async () => {
    await front.close();
    await forwarder.close();
  });
  return { url: front.url, forwarder, breakers };
}

/** Records when the upstream's request connection closes. */
function watchClose(): { closed: boolean; aborted: boolean; attach(req: http.IncomingMessage): void } {
  const state = {
    closed: false,
    aborted: false,
    attach(req: http.IncomingMessage) {
      req.socket.on('close', () => (state.closed = true));
      req.on('close', () => {
        if (!req.complete) state.aborted = true;
      });
    },
  };
  return state;
}

describe('client abort', () => {
  it('aborts the upstream request when the client disconnects while waiting, releasing the permit', async () => {
    const watch = watchClose();
    const upstream = await startUpstream('eu', { kind: 'custom', handle: (req) => watch.attach(req) });
    const { url, forwarder, breakers } = await setup(upstream);
    const aborts: unknown[] = [];
    forwarder.on('abort', (e) => aborts.push(e));
    const req = http.get(`${url}/wait`, { agent: false });
    req.on('error', () => undefined);
    await waitFor(() => upstream.received.length === 1, 10_000, 'the upstream to receive the request');
    req.destroy();
    await waitFor(() => watch.closed, 10_000, 'the upstream socket to close');
    const snapshot = breakers.get('eu').snapshot();
    expect(snapshot.inFlight).toBe(0);
    expect(snapshot.stats.failures).toBe(0);
    expect(snapshot.state).toBe('closed');
    expect(aborts).toEqual([{ method: 'GET', region: 'eu', phase: 'waiting' }]);
  });

  it('aborts the upstream response when the client disconnects mid-download', async () => {
    const watch = watchClose();
    const upstream = await startUpstream('eu', {
      kind: 'custom',
      handle: (req, res) => {
        watch.attach(req);
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.write('first part');
      },
    });
    const { url } = await setup(upstream);
    await new Promise<void>((resolve, reject) => {
      const req = http.get(`${url}/stream`, { agent: false }, (res) => {
        res.once('data', () => {
          req.destroy();
          resolve();
        });
      });
      req.on('error', () => undefined);
      setTimeout(() => reject(new Error('no data')), 10_000).unref();
    });
    await waitFor(() => watch.closed, 10_000, 'the upstream socket to close');
  });

  it('aborts the upstream upload when the client disconnects mid-upload', async () => {
    const watch = watchClose();
    let bytes = 0;
    const upstream = await startUpstream('eu', {
      kind: 'custom',
      handle: (req) => {
        watch.attach(req);
        req.on('data', (c: Buffer) => (bytes += c.length));
      },
    });
    const { url } = await setup(upstream);
    const req = http.request(`${url}/upload`, { method: 'POST', agent: false, headers: { 'content-length': 10_000_000 } });
    req.on('error', () => undefined);
    req.write(Buffer.alloc(100_000));
    await waitFor(() => bytes > 0, 10_000, 'upload bytes upstream');
    req.destroy();
    await waitFor(() => watch.aborted && watch.closed, 10_000, 'the upstream request to be aborted');
  });

  it('aborts forward() when its signal aborts before the response', async () => {
    const watch = watchClose();
    const upstream = await startUpstream('eu', { kind: 'custom', handle: (req) => watch.attach(req) });
    const { forwarder, breakers } = await setup(upstream);
    const controller = new AbortController();
    const req = new http.IncomingMessage(new Socket());
    req.method = 'GET';
    req.url = '/x';
    req.push(null);
    const pending = forwarder.forward(req, { signal: controller.signal });
    await waitFor(() => upstream.received.length === 1, 10_000, 'the upstream to receive the request');
    controller.abort();
    await expect(pending).rejects.toMatchObject({ name: 'AbortError' });
    await waitFor(() => watch.closed, 10_000, 'the upstream socket to close');
    expect(breakers.get('eu').snapshot().stats.failures).toBe(0);
  });

  it('aborts the upstream when the consumer of forward() destroys the body', async () => {
    const watch = watchClose();
    const upstream = await startUpstream('eu', {
      kind: 'custom',
      handle: (req, res) => {
        watch.attach(req);
        res.writeHead(200);
        res.write('partial');
      },
    });
    const { forwarder } = await setup(upstream);
    const req = new http.IncomingMessage(new Socket());
    req.method = 'GET';
    req.url = '/x';
    req.push(null);
    const response = await forwarder.forward(req);
    response.body.destroy();
    await waitFor(() => watch.closed, 10_000, 'the upstream socket to close');
  });

  it('rejects at once when the signal is already aborted, without an upstream attempt', async () => {
    const upstream = await startUpstream('eu');
    const { forwarder } = await setup(upstream);
    const req = new http.IncomingMessage(new Socket());
    req.method = 'GET';
    req.url = '/x';
    req.push(null);
    await expect(forwarder.forward(req, { signal: AbortSignal.abort() })).rejects.toMatchObject({ name: 'AbortError' });
    expect(upstream.received).toHaveLength(0);
  });
});
