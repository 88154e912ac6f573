import http2 from 'node:http2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Gateway } from '../src/index.js';
import { type TestPki, createTestPki, startGateway, startH2Origin, tlsConfig } from './tls-world.js';

interface Received {
  body: string;
  trailers: Record<string, unknown> | undefined;
}

/** An HTTP/2 origin over TLS that answers once the request ended, with what it received. */
async function startTrailerOrigin(pki: TestPki): Promise<{ url: string; received: Received[]; close(): Promise<void> }> {
  const received: Received[] = [];
  const origin = await startH2Origin(
    (stream) => {
      const entry: Received = { body: '', trailers: undefined };
      received.push(entry);
      stream.on('data', (chunk: Buffer) => (entry.body += chunk.toString()));
      stream.on('trailers', (trailers: http2.IncomingHttpHeaders) => (entry.trailers = Object.fromEntries(Object.entries(trailers).filter(([name]) => !name.startsWith(':')))));
      stream.on('end', () => {
        stream.respond({ ':status': 200 });
        stream.end('stored');
      });
    },
    { cert: pki.server.cert, key: pki.server.key },
  );
  return { ...origin, received };
}

describe('request trailers through the gateway', () => {
  let pki: TestPki;
  let origin: Awaited<ReturnType<typeof startTrailerOrigin>>;
  let gateway: Gateway;

  beforeAll(async () => {
    pki = createTestPki();
    origin = await startTrailerOrigin(pki);
    gateway = await startGateway(
      tlsConfig(origin.url, {
        server: { tls: { certificates: [{ cert: pki.server.certFile, key: pki.server.keyFile }] } },
        regionTls: { ca: [pki.ca.certFile] },
        proxy: { http2: true },
      }),
    );
  }, 60_000);
  afterAll(async () => {
    await gateway?.close();
    await origin?.close();
    pki?.remove();
  });

  it('forwards an HTTP/2 client\'s trailers to an HTTP/2 origin over TLS, without forwarding fields', async () => {
    const client = http2.connect(gateway.url, { ca: pki.ca.cert });
    try {
      const stream = client.request({ ':method': 'POST', ':path': '/upload', 'content-type': 'application/octet-stream' }, { waitForTrailers: true });
      stream.on('wantTrailers', () => stream.sendTrailers({ 'x-checksum': 'sha256=abc', 'x-forwarded-for': '6.6.6.6', 'x-forwarded-client-cert': 'Hash=forged' }));
      stream.end('chunk of data');
      const status = await new Promise<number>((resolve) => stream.on('response', (headers) => resolve(Number(headers[':status']))));
      stream.resume();
      await new Promise((resolve) => stream.on('end', resolve));
      expect(status).toBe(200);
      expect(origin.received).toEqual([{ body: 'chunk of data', trailers: { 'x-checksum': 'sha256=abc' } }]);
    } finally {
      client.close();
    }
  });
});
