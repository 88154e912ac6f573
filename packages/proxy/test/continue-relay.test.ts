import http2 from 'node:http2';
import { connect } from 'node:net';
import { closeServer, listen } from '@edgekit/test-utils';
import { createForwarder } from '@edgekit/proxy';
import { afterEach, describe, expect, it } from 'vitest';
import { startFront } from './helpers.js';

const cleanup: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  while (cleanup.length > 0) await cleanup.pop()!();
});

type Mode = 'refuse' | 'accept' | 'silent';

/** An h2c origin deciding on `Expect: 100-continue` requests: 401 at once, `100` then 200, or no interim answer at all. */
async function startOrigin(mode: Mode): Promise<{ url: string; seen: Array<{ expect: string | undefined; bytes: number }> }> {
  const server = http2.createServer();
  const sessions = new Set<http2.ServerHttp2Session>();
  server.on('session', (session) => sessions.add(session));
  const seen: Array<{ expect: string | undefined; bytes: number }> = [];
  server.on('stream', (stream, headers) => {
    const entry = { expect: headers.expect as string | undefined, bytes: 0 };
    seen.push(entry);
    stream.on('error', () => undefined);
    stream.on('data', (chunk: Buffer) => (entry.bytes += chunk.length));
    if (mode === 'refuse') {
      stream.respond({ ':status': 401, 'www-authenticate': 'Bearer', 'content-type': 'text/plain' });
      stream.end('credentials first');
      return;
    }
    if (mode === 'accept') stream.additionalHeaders({ ':status': 100 });
    stream.on('end', () => {
      stream.respond({ ':status': 200, 'content-type': 'text/plain' });
      stream.end(`got ${entry.bytes} bytes`);
    });
  });
  const port = await listen(server as never);
  cleanup.push(async () => {
    for (const session of sessions) session.destroy();
    await closeServer(server as never);
  });
  return { url: `http://127.0.0.1:${port}`, seen };
}

/** A raw HTTP/1.1 client that sends `Expect: 100-continue` and its body only after a `100 Continue`. */
function expectingClient(port: number, body: string): Promise<{ sawContinue: boolean; response: string }> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    let received = '';
    let sawContinue = false;
    const timer = setTimeout(() => socket.destroy(), 10_000);
    socket.on('data', (chunk: Buffer) => {
      received += chunk.toString('latin1');
      if (!sawContinue && received.startsWith('HTTP/1.1 100 ')) {
        const end = received.indexOf('\r\n\r\n');
        if (end === -1) return;
        sawContinue = true;
        received = received.slice(end + 4);
        socket.write(body);
      }
    });
    socket.on('error', () => undefined);
    socket.on('close', () => {
      clearTimeout(timer);
      resolve({ sawContinue, response: received });
    });
    socket.write(`POST /upload HTTP/1.1\r\nHost: edge.test\r\nContent-Type: text/plain\r\nContent-Length: ${body.length}\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n`);
  });
}

async function through(mode: Mode) {
  const origin = await startOrigin(mode);
  const forwarder = createForwarder({ regions: [{ name: 'eu', url: origin.url, location: { lat: 50.11, lon: 8.68 } }], http2: true, retryBudget: false });
  const front = await startFront(forwarder);
  front.server.on('checkContinue', forwarder.checkContinue);
  cleanup.push(async () => {
    await front.close();
    await forwarder.close();
  });
  return { origin, front };
}

describe('Expect: 100-continue relayed from an HTTP/2 origin', () => {
  it('answers the origin\'s final status without 100 Continue, and the body is never sent', async () => {
    const { origin, front } = await through('refuse');
    const { sawContinue, response } = await expectingClient(front.port, 'hello');
    expect(sawContinue).toBe(false);
    expect(response).toMatch(/^HTTP\/1\.1 401 /);
    expect(response).toContain('credentials first');
    expect(origin.seen).toEqual([{ expect: '100-continue', bytes: 0 }]);
  });

  it('relays the origin\'s 100 Continue: the client sends its body only then, and gets the final answer', async () => {
    const { origin, front } = await through('accept');
    const { sawContinue, response } = await expectingClient(front.port, 'hello');
    expect(sawContinue).toBe(true);
    expect(response).toMatch(/^HTTP\/1\.1 200 /);
    expect(response).toContain('got 5 bytes');
    expect(origin.seen).toEqual([{ expect: '100-continue', bytes: 5 }]);
  });

  it('sends the body anyway when the origin answers nothing to the expectation (RFC 9110 §10.1.1)', async () => {
    const { origin, front } = await through('silent');
    const { sawContinue, response } = await expectingClient(front.port, 'hello');
    expect(sawContinue).toBe(true);
    expect(response).toContain('got 5 bytes');
    expect(origin.seen).toEqual([{ expect: '100-continue', bytes: 5 }]);
  });
});
