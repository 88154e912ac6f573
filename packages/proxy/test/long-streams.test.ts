import http from 'node:http';
import http2 from 'node:http2';
import { connect } from 'node:net';
import { createManualClock } from '@edgekit/core/testing';
import { closeServer, listen } from '@edgekit/test-utils';
import { createForwarder } from '@edgekit/proxy';
import { afterEach, describe, expect, it } from 'vitest';
import { startH2Front } from './grpc-helpers.js';
import { type Upstream, startFront, startUpstream } from './helpers.js';

const cleanup: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  while (cleanup.length > 0) await cleanup.pop()!();
});

/** An SSE upstream whose events the test sends one by one; `closed` resolves when its response closes. */
async function startEventSource(): Promise<{ upstream: Upstream; send(text: string): void; closed: Promise<boolean> }> {
  let res: http.ServerResponse | undefined;
  let onClosed!: (ended: boolean) => void;
  const closed = new Promise<boolean>((resolve) => (onClosed = resolve));
  const upstream = await startUpstream('eu', {
    kind: 'custom',
    handle: (_req, response) => {
      res = response;
      response.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store' });
      response.write(': open\n\n');
      response.on('close', () => onClosed(response.writableEnded));
    },
  });
  cleanup.push(() => upstream.close());
  return { upstream, send: (text) => res!.write(text), closed };
}

/** Reads an SSE response chunk by chunk; `next()` resolves with the next chunk, `end` when it ended cleanly. */
function readEvents(url: string): { next(): Promise<string>; end: Promise<'end' | 'aborted'> } {
  const queue: string[] = [];
  const waiters: Array<(chunk: string) => void> = [];
  let settle!: (how: 'end' | 'aborted') => void;
  const end = new Promise<'end' | 'aborted'>((resolve) => (settle = resolve));
  const req = http.get(url, { headers: { accept: 'text/event-stream' }, agent: false }, (res) => {
    res.setEncoding('utf8');
    res.on('data', (chunk: string) => (waiters.length > 0 ? waiters.shift()!(chunk) : queue.push(chunk)));
    res.on('end', () => settle('end'));
    res.on('aborted', () => settle('aborted'));
    res.on('error', () => settle('aborted'));
  });
  req.on('error', () => settle('aborted'));
  cleanup.push(() => {
    req.destroy();
  });
  return { next: () => (queue.length > 0 ? Promise.resolve(queue.shift()!) : new Promise((resolve) => waiters.push(resolve))), end };
}

describe('long-lived streams', () => {
  it('gives an event stream streamIdleTimeout between bytes instead of bodyTimeout; heartbeats keep it open', async () => {
    const source = await startEventSource();
    const clock = createManualClock(0);
    const forwarder = createForwarder({ regions: [source.upstream.region()], clock, bodyTimeout: 1_000, streamIdleTimeout: 10_000 });
    const front = await startFront(forwarder);
    cleanup.push(async () => {
      await front.close();
      await forwarder.close();
    });
    const events = readEvents(`${front.url}/events`);
    expect(await events.next()).toBe(': open\n\n');
    clock.advance(9_000);
    source.send('data: 1\n\n');
    expect(await events.next()).toBe('data: 1\n\n');
    // 18 s since the stream opened, 9 s since the heartbeat: still open.
    clock.advance(9_000);
    source.send(': heartbeat\n\n');
    expect(await events.next()).toBe(': heartbeat\n\n');
    clock.advance(10_000);
    // Idle past the limit: the client's stream is ended cleanly (an EventSource reconnects) and the upstream request aborted.
    expect(await events.end).toBe('end');
    expect(await source.closed).toBe(false);
  });

  it('ends open event streams cleanly when the forwarder closes', async () => {
    const source = await startEventSource();
    const forwarder = createForwarder({ regions: [source.upstream.region()] });
    const front = await startFront(forwarder);
    cleanup.push(() => front.close());
    const events = readEvents(`${front.url}/events`);
    expect(await events.next()).toBe(': open\n\n');
    await forwarder.close();
    expect(await events.end).toBe('end');
    expect(await source.closed).toBe(false);
  });

  it('closes an HTTP/2 event stream with END_STREAM (NO_ERROR) when the forwarder closes', async () => {
    const source = await startEventSource();
    const forwarder = createForwarder({ regions: [source.upstream.region()] });
    const front = await startH2Front(forwarder);
    cleanup.push(() => front.close());
    const session = http2.connect(`http://127.0.0.1:${front.port}`);
    cleanup.push(() => {
      session.destroy();
    });
    const stream = session.request({ ':method': 'GET', ':path': '/events', accept: 'text/event-stream' });
    await new Promise((resolve) => stream.once('data', resolve));
    const ended = new Promise<void>((resolve) => stream.on('end', resolve));
    stream.resume();
    await forwarder.close();
    await ended;
    await new Promise((resolve) => stream.on('close', resolve));
    expect(stream.rstCode).toBe(http2.constants.NGHTTP2_NO_ERROR);
  });
});

describe('Expect: 100-continue (RFC 9110 §10.1.1)', () => {
  async function setup(breakerOpen: boolean) {
    const eu = await startUpstream('eu');
    const forwarder = createForwarder({
      regions: [eu.region()],
      ...(breakerOpen && { breakers: { get: () => ({ tryAcquire: () => undefined }) }, panicFraction: 0 }),
    });
    const server = http.createServer(forwarder.handler);
    server.on('checkContinue', forwarder.checkContinue);
    const port = await listen(server);
    cleanup.push(async () => {
      await closeServer(server);
      await forwarder.close();
      await eu.close();
    });
    return { eu, port };
  }

  function expectContinue(port: number): { received: () => string; waitFor(pattern: RegExp): Promise<string>; write(text: string): void } {
    const socket = connect(port, '127.0.0.1');
    cleanup.push(() => {
      socket.destroy();
    });
    let received = '';
    const waiters: Array<() => void> = [];
    socket.on('data', (chunk: Buffer) => {
      received += chunk.toString('latin1');
      for (const wake of waiters.splice(0)) wake();
    });
    socket.write('POST /upload HTTP/1.1\r\nHost: shop.example\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n');
    return {
      received: () => received,
      write: (text) => socket.write(text),
      async waitFor(pattern) {
        while (!pattern.test(received)) await new Promise<void>((resolve) => waiters.push(resolve));
        return received;
      },
    };
  }

  it('answers 100 Continue once an upstream takes the body, and forwards the body without Expect', async () => {
    const { eu, port } = await setup(false);
    const client = expectContinue(port);
    expect(await client.waitFor(/^HTTP\/1\.1 100 Continue\r\n\r\n/)).toBe('HTTP/1.1 100 Continue\r\n\r\n');
    client.write('hello');
    const answer = await client.waitFor(/HTTP\/1\.1 200 OK[\s\S]*\r\n\r\n/);
    expect(answer).toMatch(/^HTTP\/1\.1 100 Continue\r\n\r\nHTTP\/1\.1 200 OK/);
    expect(eu.received[0]!.body).toBe('hello');
    expect(eu.received[0]!.headers.expect).toBeUndefined();
  });

  it('answers a request it cannot forward without 100 Continue, so the client never sends the body', async () => {
    const { eu, port } = await setup(true);
    const client = expectContinue(port);
    const answer = await client.waitFor(/HTTP\/1\.1 \d{3}/);
    expect(answer).toMatch(/^HTTP\/1\.1 503 /);
    expect(answer).not.toMatch(/100 Continue/);
    expect(eu.received).toEqual([]);
  });
});
