import http2 from 'node:http2';
import { createForwarder } from '@edgekit/proxy';
import { type RawOrigin, closeServer, listen, startRawOrigin } from '@edgekit/test-utils';
import { afterEach, describe, expect, it } from 'vitest';
import { rawExchange, startFront } from './helpers.js';

const cleanup: Array<() => Promise<void>> = [];
afterEach(async () => {
  while (cleanup.length > 0) await cleanup.pop()!();
});

/** An origin on raw TCP answering each request head with exactly `bytes`; with `close`, it ends the connection 50 ms later. */
async function rawOrigin(bytes: string, close = false): Promise<RawOrigin> {
  const origin = await startRawOrigin(bytes, close ? { closeAfter: 50 } : {});
  cleanup.push(() => origin.close());
  return origin;
}

async function front(bytes: string) {
  const origin = await rawOrigin(bytes);
  const forwarder = createForwarder({ regions: [{ name: 'eu', url: origin.url, location: { lat: 50, lon: 8 } }], maxAttempts: 1 });
  const server = await startFront(forwarder);
  cleanup.push(async () => {
    await server.close();
    await forwarder.close();
  });
  return server;
}

const TWO_REQUESTS = 'GET /a HTTP/1.1\r\nHost: shop.example\r\n\r\nGET /b HTTP/1.1\r\nHost: shop.example\r\nConnection: close\r\n\r\n';

describe('responses that end with their header section (RFC 9112 §6.3)', () => {
  it('relays a 304 with the Content-Length of the selected representation (RFC 9110 §8.6)', async () => {
    const { port } = await front('HTTP/1.1 304 Not Modified\r\nETag: "v1"\r\nContent-Length: 5\r\n\r\n');
    const response = await rawExchange(port, TWO_REQUESTS);
    const answers = response.match(/HTTP\/1\.1 \d{3}[^\r]*\r\n/g);
    expect(answers).toEqual(['HTTP/1.1 304 Not Modified\r\n', 'HTTP/1.1 304 Not Modified\r\n']);
    expect(response).toMatch(/^HTTP\/1\.1 304 Not Modified\r\n[^]*content-length: 5\r\n[^]*etag: "v1"\r\n/);
  });

  it('relays a 204 whose origin sent Content-Length and body bytes, without either', async () => {
    const { port } = await front('HTTP/1.1 204 No Content\r\nX-Kept: 1\r\nContent-Length: 5\r\n\r\nhello');
    const response = await rawExchange(port, TWO_REQUESTS);
    const answers = response.split(/(?=HTTP\/1\.1 )/);
    expect(answers).toHaveLength(2);
    for (const answer of answers) {
      expect(answer).toMatch(/^HTTP\/1\.1 204 No Content\r\n[^]*x-kept: 1\r\n[^]*\r\n\r\n$/);
      expect(answer.toLowerCase()).not.toContain('content-length');
      expect(answer).not.toContain('hello');
    }
  });
});

describe('an upstream body cut short', () => {
  it('resets the HTTP/2 stream with an error code, never NO_ERROR (a clean end to curl and Node)', async () => {
    const origin = await rawOrigin('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n', true);
    const forwarder = createForwarder({ regions: [{ name: 'eu', url: origin.url, location: { lat: 50, lon: 8 } }], maxAttempts: 1 });
    const server = http2.createServer(forwarder.handler);
    const port = await listen(server);
    const session = http2.connect(`http://127.0.0.1:${port}`);
    session.on('error', () => undefined);
    cleanup.push(async () => {
      session.destroy();
      await closeServer(server);
      await forwarder.close();
    });
    const outcome = await new Promise<{ status: unknown; body: string; ended: boolean; rstCode: number | undefined }>((resolve) => {
      const stream = session.request({ ':path': '/cut' });
      let status: unknown;
      let body = '';
      let ended = false;
      stream.on('response', (headers) => (status = headers[':status']));
      stream.on('data', (chunk: Buffer) => (body += chunk.toString('latin1')));
      stream.on('end', () => (ended = true));
      stream.on('error', () => undefined);
      stream.on('close', () => resolve({ status, body, ended, rstCode: stream.rstCode }));
    });
    expect(outcome.status).toBe(200);
    expect(outcome.body).toBe('hello');
    expect(outcome.ended).toBe(false);
    expect(outcome.rstCode).toBe(http2.constants.NGHTTP2_INTERNAL_ERROR);
  });
});
