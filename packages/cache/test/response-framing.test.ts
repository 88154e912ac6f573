import { connect } from 'node:net';
import { createForwarder } from '@edgekit/proxy';
import { type RawOrigin, startRawOrigin } from '@edgekit/test-utils';
import { afterEach, describe, expect, it } from 'vitest';
import { createCache } from '../src/index.js';
import { startGateway } from './helpers.js';

const cleanup: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
});

/** An origin on raw TCP answering each request head with exactly `bytes`, in one write. */
async function rawOrigin(bytes: string): Promise<RawOrigin> {
  const origin = await startRawOrigin(bytes);
  cleanup.push(() => origin.close());
  return origin;
}

/** Sends `text` and resolves with what came back once the server closes (or '' + TIMEOUT after `ms`). */
function exchange(port: number, text: string, ms = 3_000): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    let received = '';
    const timer = setTimeout(() => {
      socket.destroy();
      resolve(`${received}<TIMEOUT>`);
    }, ms);
    socket.on('data', (chunk: Buffer) => (received += chunk.toString('latin1')));
    socket.on('error', () => undefined);
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(received);
    });
    socket.write(text);
  });
}

/** The payload of a chunked body, or `null` when it is cut short. */
function dechunk(text: string): string | null {
  let out = '';
  let at = 0;
  for (;;) {
    const eol = text.indexOf('\r\n', at);
    if (eol < 0) return null;
    const size = Number.parseInt(text.slice(at, eol), 16);
    if (Number.isNaN(size)) return null;
    if (size === 0) return text.slice(eol + 2) === '\r\n' ? out : null;
    if (text.length < eol + 2 + size + 2) return null;
    out += text.slice(eol + 2, eol + 2 + size);
    at = eol + 2 + size + 2;
  }
}

describe('a cached route whose response outgrows maxBodySize', () => {
  it('ends the streamed answer when the body ended in the read that went over the limit', async () => {
    const body = 'x'.repeat(5_000);
    const origin = await rawOrigin(`HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nCache-Control: max-age=60\r\n\r\n${body.length.toString(16)}\r\n${body}\r\n0\r\n\r\n`);
    const forwarder = createForwarder({ regions: [{ name: 'eu', url: origin.url, location: { lat: 50, lon: 8 } }], maxAttempts: 1 });
    const cache = createCache({ routes: { 'GET /api/*': { ttl: 60_000 } }, maxBodySize: 1_000 });
    const gateway = await startGateway(cache, forwarder.forward);
    cleanup.push(async () => {
      await gateway.close();
      await cache.close();
      await forwarder.close();
    });
    const port = Number(new URL(gateway.base).port);
    for (let i = 1; i <= 2; i++) {
      const response = await exchange(port, 'GET /api/big HTTP/1.1\r\nHost: shop.example\r\nConnection: close\r\n\r\n');
      expect(response).toMatch(/^HTTP\/1\.1 200 OK\r\n[^]*cache-status: [^\r]*detail=too-large/);
      expect(response).toMatch(/transfer-encoding: chunked\r\n/i);
      // A complete chunked body: chunks, then the last chunk and the empty trailer section.
      expect(dechunk(response.slice(response.indexOf('\r\n\r\n') + 4))).toBe(body);
      expect(origin.requests()).toBe(i);
    }
  });
});
