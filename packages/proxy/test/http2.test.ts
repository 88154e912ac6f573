import http2 from 'node:http2';
import { createForwarder } from '@edgekit/proxy';
import { afterEach, describe, expect, it } from 'vitest';
import { startH2Front } from './grpc-helpers.js';
import { startUpstream } from './helpers.js';

const cleanup: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  while (cleanup.length > 0) await cleanup.pop()!();
});

async function h2Session(port: number): Promise<http2.ClientHttp2Session> {
  const session = http2.connect(`http://127.0.0.1:${port}`);
  cleanup.push(() => {
    session.destroy();
  });
  await new Promise<void>((resolve, reject) => session.once('connect', () => resolve()).once('error', reject));
  return session;
}

interface H2Reply {
  headers: http2.IncomingHttpHeaders;
  informational: http2.IncomingHttpHeaders[];
  trailers: http2.IncomingHttpHeaders | undefined;
  body: string;
}

function h2Request(session: http2.ClientHttp2Session, headers: http2.OutgoingHttpHeaders, body?: string): Promise<H2Reply> {
  return new Promise((resolve, reject) => {
    const stream = session.request(headers, { endStream: body === undefined });
    if (body !== undefined) stream.end(body);
    const reply: H2Reply = { headers: {}, informational: [], trailers: undefined, body: '' };
    stream.on('headers', (h) => reply.informational.push(h));
    stream.on('response', (h) => (reply.headers = h));
    stream.on('trailers', (t) => (reply.trailers = t));
    stream.setEncoding('utf8');
    stream.on('data', (chunk: string) => (reply.body += chunk));
    stream.on('error', reject);
    stream.on('close', () => resolve(reply));
  });
}

async function setup(behaviour: Parameters<typeof startUpstream>[1], options: Partial<Parameters<typeof createForwarder>[0]> = {}) {
  const eu = await startUpstream('eu', behaviour);
  const forwarder = createForwarder({ regions: [eu.region()], ...options });
  const front = await startH2Front(forwarder);
  cleanup.push(async () => {
    await front.close();
    await forwarder.close();
    await eu.close();
  });
  return { eu, forwarder, front };
}

describe('HTTP/2 clients (Node http2 compat request and response)', () => {
  it('maps :authority to the forwarded host and sends no pseudo-header or connection header upstream', async () => {
    const { eu, front } = await setup({ kind: 'ok' });
    const session = await h2Session(front.port);
    const reply = await h2Request(session, { ':method': 'GET', ':path': '/items?x=1', ':authority': 'shop.example' });
    expect(reply.headers[':status']).toBe(200);
    const received = eu.received[0]!;
    expect(received.url).toBe('/items?x=1');
    expect(received.headers['x-forwarded-host']).toBe('shop.example');
    expect(received.headers.via).toBe('2 edgekit');
    expect(received.rawHeaders.filter((_, i) => i % 2 === 0).some((name) => name.startsWith(':'))).toBe(false);
    expect(reply.headers.connection).toBeUndefined();
    expect(reply.headers['keep-alive']).toBeUndefined();
  });

  it('streams an HTTP/2 request body without content-length upstream', async () => {
    const { eu, front } = await setup({ kind: 'ok' });
    const session = await h2Session(front.port);
    const reply = await h2Request(session, { ':method': 'POST', ':path': '/upload', ':authority': 'shop.example' }, 'x'.repeat(100_000));
    expect(reply.headers[':status']).toBe(200);
    expect(eu.received[0]!.bytes).toBe(100_000);
  });

  it('relays the trailers of a chunked HTTP/1.1 upstream response to an HTTP/2 client', async () => {
    const { front } = await setup({
      kind: 'custom',
      handle: (_req, res) => {
        res.writeHead(200, { 'content-type': 'text/plain', trailer: 'x-checksum' });
        res.write('part');
        res.addTrailers({ 'x-checksum': 'c0ffee' });
        res.end();
      },
    });
    const session = await h2Session(front.port);
    const reply = await h2Request(session, { ':method': 'GET', ':path': '/t', ':authority': 'shop.example' });
    expect(reply.body).toBe('part');
    expect(reply.trailers?.['x-checksum']).toBe('c0ffee');
  });

  it('relays 103 Early Hints to an HTTP/2 client', async () => {
    const { front } = await setup({
      kind: 'custom',
      handle: (_req, res) => {
        res.writeEarlyHints({ link: '</app.css>; rel=preload; as=style' });
        res.end('page');
      },
    });
    const session = await h2Session(front.port);
    const reply = await h2Request(session, { ':method': 'GET', ':path': '/', ':authority': 'shop.example' });
    expect(reply.informational.map((h) => [h[':status'], h.link])).toEqual([[103, '</app.css>; rel=preload; as=style']]);
    expect(reply.body).toBe('page');
  });

  it('aborts the upstream request when the client resets its stream (RST_STREAM)', async () => {
    let upstreamSawAbort!: () => void;
    const aborted = new Promise<void>((resolve) => (upstreamSawAbort = resolve));
    const { front, forwarder } = await setup({
      kind: 'custom',
      handle: (req, res) => {
        res.writeHead(200, { 'content-type': 'text/plain' });
        if (req.url !== '/long') {
          res.end('short');
          return;
        }
        res.write('first');
        res.on('close', () => {
          if (!res.writableEnded) upstreamSawAbort();
        });
      },
    });
    const phases: string[] = [];
    forwarder.on('abort', (event) => phases.push(event.phase));
    const session = await h2Session(front.port);
    const stream = session.request({ ':method': 'GET', ':path': '/long', ':authority': 'shop.example' });
    await new Promise((resolve) => stream.once('data', resolve));
    stream.close(http2.constants.NGHTTP2_CANCEL);
    await aborted;
    expect(phases).toEqual(['streaming']);
    // The session stays usable for other streams.
    const reply = await h2Request(session, { ':method': 'GET', ':path': '/', ':authority': 'shop.example' });
    expect(reply.headers[':status']).toBe(200);
  });

  it('respects HTTP/2 flow control: a client that does not read holds the upstream back', async () => {
    const total = 64 * 1024 * 1024;
    let sent = 0;
    let blocked!: () => void;
    const firstBlock = new Promise<void>((resolve) => (blocked = resolve));
    const { front } = await setup({
      kind: 'custom',
      handle: (_req, res) => {
        res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': total });
        const chunk = Buffer.alloc(64 * 1024, 7);
        const pump = (): void => {
          while (sent < total) {
            sent += chunk.length;
            if (!res.write(chunk)) {
              blocked();
              res.once('drain', pump);
              return;
            }
          }
          res.end();
        };
        pump();
      },
    });
    const session = await h2Session(front.port);
    const stream = session.request({ ':method': 'GET', ':path': '/big', ':authority': 'shop.example' });
    stream.pause();
    await new Promise((resolve) => stream.once('response', resolve));
    await firstBlock;
    // Nothing can prove "no more flows" but time: give a runaway relay half a second to show itself.
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(sent).toBeLessThan(16 * 1024 * 1024);
    let received = 0;
    stream.on('data', (chunk: Buffer) => (received += chunk.length));
    stream.resume();
    await new Promise((resolve) => stream.on('end', resolve));
    expect(received).toBe(total);
  });

  it('answers a forwarder-made error to a non-gRPC HTTP/2 request as problem+json', async () => {
    const { eu, front } = await setup({ kind: 'ok' });
    await eu.kill();
    const session = await h2Session(front.port);
    const reply = await h2Request(session, { ':method': 'GET', ':path': '/', ':authority': 'shop.example' });
    expect(reply.headers[':status']).toBe(502);
    expect(reply.headers['content-type']).toBe('application/problem+json');
  });
});
