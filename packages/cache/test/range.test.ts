import net from 'node:net';
import { type ManualClock, createManualClock } from '@edgekit/core/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { createCache } from '../src/index.js';
import { parseByteRange } from '../src/range.js';
import { EPOCH, type Reply, type SeenRequest, get, startGateway, testOrigin } from './helpers.js';

const open: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const close of open.splice(0)) await close();
});

async function setup(answer: (req: SeenRequest, call: number) => Reply): Promise<{ base: string; port: number; calls: SeenRequest[]; clock: ManualClock }> {
  const clock = createManualClock(EPOCH);
  const { origin, calls } = testOrigin(answer);
  const cache = createCache({ clock, routes: { 'GET /files/*': { ttl: 60_000 } } });
  const gateway = await startGateway(cache, origin);
  open.push(async () => {
    await gateway.close();
    await cache.close();
  });
  return { base: gateway.base, port: Number(new URL(gateway.base).port), calls, clock };
}

/** One raw HTTP/1.1 exchange over node:net; resolves with the bytes the server sent. */
function rawExchange(port: number, request: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1', () => socket.end(request));
    const chunks: Buffer[] = [];
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('end', () => resolve(Buffer.concat(chunks).toString('latin1')));
    socket.on('error', reject);
  });
}

describe('byte ranges of stored responses (RFC 9110 §14)', () => {
  it.each([
    ['bytes=0-1', { start: 0, end: 1 }],
    ['bytes=1-', { start: 1, end: 10 }],
    ['bytes=-1', { start: 10, end: 10 }],
    ['bytes=-50', { start: 0, end: 10 }],
    ['bytes=5-500', { start: 5, end: 10 }],
    ['BYTES = 2 - 3', { start: 2, end: 3 }],
  ])('reads %s of an 11-byte body', (value, range) => {
    expect(parseByteRange(value, 11)).toEqual(range);
  });

  it.each(['bytes=11-', 'bytes=3-2', 'bytes=-0', 'bytes=-', 'bytes=0-1,3-4', 'items=0-1', 'bytes=a-b'])('ignores %s (the whole response is sent)', (value) => {
    expect(parseByteRange(value, 11)).toBeUndefined();
  });

  it('answers a range of a stored complete response with 206, Content-Range and the stored fields, without asking the origin', async () => {
    const f = await setup(() => ({ headers: { 'cache-control': 'max-age=3600', 'content-type': 'text/plain', a: '1' }, body: '01234567890' }));
    expect((await get(f.base, '/files/x')).body).toBe('01234567890');
    const raw = await rawExchange(f.port, `GET /files/x HTTP/1.1\r\nHost: 127.0.0.1:${f.port}\r\nRange: bytes=0-1\r\nConnection: close\r\n\r\n`);
    const [head, body] = raw.split('\r\n\r\n');
    expect(head).toMatch(/^HTTP\/1\.1 206 Partial Content\r\n/);
    expect(head).toMatch(/\r\ncontent-range: bytes 0-1\/11\r\n/i);
    expect(head).toMatch(/\r\ncontent-length: 2\r\n/i);
    expect(head).toMatch(/\r\na: 1\r\n/i);
    expect(head).toMatch(/\r\ncache-status: edgekit; hit; ttl=\d+\r\n/i);
    expect(head!.match(/content-length/gi)).toHaveLength(1);
    expect(body).toBe('01');
    const suffix = await get(f.base, '/files/x', { range: 'bytes=-1' });
    expect(suffix.status).toBe(206);
    expect(suffix.body).toBe('0');
    expect(f.calls).toHaveLength(1);
  });

  it('sends the whole response for an If-Range that no longer matches, a multi-range request and HEAD', async () => {
    const f = await setup(() => ({ headers: { 'cache-control': 'max-age=3600', etag: '"v1"' }, body: '0123456789' }));
    await get(f.base, '/files/y');
    const matching = await get(f.base, '/files/y', { range: 'bytes=2-3', 'if-range': '"v1"' });
    expect(matching.status).toBe(206);
    expect(matching.body).toBe('23');
    const changed = await get(f.base, '/files/y', { range: 'bytes=2-3', 'if-range': '"v0"' });
    expect(changed.status).toBe(200);
    expect(changed.body).toBe('0123456789');
    const multi = await get(f.base, '/files/y', { range: 'bytes=0-1,4-5' });
    expect(multi.status).toBe(200);
    const head = await get(f.base, '/files/y', { range: 'bytes=0-1' }, 'HEAD');
    expect(head.status).toBe(200);
    expect(head.headers['content-length']).toBe('10');
    expect(f.calls).toHaveLength(1);
  });
});
