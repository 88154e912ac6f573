import http2 from 'node:http2';
import { closeServer, listen } from '@edgekit/test-utils';
import { createForwarder } from '@edgekit/proxy';
import { afterEach, describe, expect, it } from 'vitest';
import { startH2Front } from './grpc-helpers.js';
import { rawExchange, startFront } from './helpers.js';

const cleanup: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  while (cleanup.length > 0) await cleanup.pop()!();
});

interface Received {
  body: string;
  trailers: http2.IncomingHttpHeaders | undefined;
}

/** An h2c upstream that answers once the request ended, with what it received (body and trailers). */
async function startTrailerUpstream(): Promise<{ url: string; received: Received[] }> {
  const server = http2.createServer();
  const sessions = new Set<http2.ServerHttp2Session>();
  server.on('session', (session) => sessions.add(session));
  const received: Received[] = [];
  server.on('stream', (stream) => {
    const entry: Received = { body: '', trailers: undefined };
    received.push(entry);
    stream.on('data', (chunk: Buffer) => (entry.body += chunk.toString()));
    stream.on('trailers', (trailers: http2.IncomingHttpHeaders) => (entry.trailers = trailers));
    stream.on('end', () => {
      stream.respond({ ':status': 200, 'content-type': 'text/plain' });
      stream.end(`got ${entry.body.length} bytes`);
    });
    stream.on('error', () => undefined);
  });
  const port = await listen(server as never);
  cleanup.push(async () => {
    for (const session of sessions) session.destroy();
    await closeServer(server as never);
  });
  return { url: `http://127.0.0.1:${port}`, received };
}

function forwarderTo(url: string) {
  const forwarder = createForwarder({ regions: [{ name: 'eu', url, location: { lat: 50.11, lon: 8.68 } }], http2: true, retryBudget: false });
  cleanup.push(() => forwarder.close());
  return forwarder;
}

/** Plain trailer fields as received, without Node's pseudo and symbol keys. */
const fields = (trailers: http2.IncomingHttpHeaders | undefined): Record<string, unknown> | undefined =>
  trailers === undefined ? undefined : Object.fromEntries(Object.entries(trailers).filter(([name]) => !name.startsWith(':')));

describe('request trailers to HTTP/2 upstreams', () => {
  it('forwards an HTTP/2 client\'s request trailers, dropping the fields RFC 9110 §6.5.1 keeps out of trailers and forwarding ones', async () => {
    const upstream = await startTrailerUpstream();
    const front = await startH2Front(forwarderTo(upstream.url));
    cleanup.push(() => front.close());
    const client = http2.connect(`http://127.0.0.1:${front.port}`);
    cleanup.push(() => void client.destroy());
    const stream = client.request({ ':method': 'POST', ':path': '/upload', 'content-type': 'application/octet-stream' }, { waitForTrailers: true });
    stream.on('wantTrailers', () => stream.sendTrailers({ 'x-checksum': 'sha256=abc', 'x-forwarded-for': '6.6.6.6', authorization: 'Bearer smuggled', 'x-part': ['1', '2'] }));
    stream.end('payload bytes');
    const status = await new Promise<number>((resolve) => stream.on('response', (headers) => resolve(Number(headers[':status']))));
    let body = '';
    stream.on('data', (chunk: Buffer) => (body += chunk.toString()));
    await new Promise((resolve) => stream.on('end', resolve));
    expect([status, body]).toEqual([200, 'got 13 bytes']);
    expect(upstream.received).toHaveLength(1);
    expect(upstream.received[0]!.body).toBe('payload bytes');
    expect(fields(upstream.received[0]!.trailers)).toEqual({ 'x-checksum': 'sha256=abc', 'x-part': '1, 2' });
  });

  it('forwards the trailers of a chunked HTTP/1.1 request (raw bytes)', async () => {
    const upstream = await startTrailerUpstream();
    const front = await startFront(forwarderTo(upstream.url));
    cleanup.push(() => front.close());
    const answer = await rawExchange(
      front.port,
      'POST /upload HTTP/1.1\r\nHost: edge.test\r\nTransfer-Encoding: chunked\r\nTrailer: x-checksum\r\nConnection: close\r\n\r\n' +
        '5\r\nhello\r\n6\r\n world\r\n0\r\nX-Checksum: crc32=3610a686\r\nX-Real-IP: 10.0.0.1\r\nCookie: session=smuggled\r\n\r\n',
    );
    expect(answer).toMatch(/^HTTP\/1\.1 200 /);
    expect(answer).toContain('got 11 bytes');
    expect(upstream.received[0]!.body).toBe('hello world');
    expect(fields(upstream.received[0]!.trailers)).toEqual({ 'x-checksum': 'crc32=3610a686' });
  });

  it('ends a streamed request without trailers as before: the body reaches the upstream, no trailers appear', async () => {
    const upstream = await startTrailerUpstream();
    const front = await startFront(forwarderTo(upstream.url));
    cleanup.push(() => front.close());
    const answer = await rawExchange(front.port, 'POST /upload HTTP/1.1\r\nHost: edge.test\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n3\r\nabc\r\n0\r\n\r\n');
    expect(answer).toContain('got 3 bytes');
    expect(upstream.received[0]).toEqual({ body: 'abc', trailers: undefined });
  });
});
