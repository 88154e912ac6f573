import http from 'node:http';
import { type Server, Socket, createServer } from 'node:net';
import { createBreakerRegistry } from '@edgekit/breaker';
import { createManualClock } from '@edgekit/core/testing';
import { isEdgekitError } from '@edgekit/core';
import { ForwardError, type Forwarder, PROBLEM_TYPES, createForwarder, isForwardError } from '@edgekit/proxy';
import { closeServer, listen } from '@edgekit/test-utils';
import { afterEach, describe, expect, it } from 'vitest';
import { type Upstream, rawExchange, send, startFront, startUpstream } from './helpers.js';

const cleanup: Array<() => Promise<void>> = [];
afterEach(async () => {
  while (cleanup.length > 0) await cleanup.pop()!();
});

async function upstreams(...names: string[]): Promise<Upstream[]> {
  const list = await Promise.all(names.map((name) => startUpstream(name)));
  for (const u of list) cleanup.push(() => u.close());
  return list;
}

async function front(forwarder: Forwarder): Promise<{ url: string; port: number }> {
  const f = await startFront(forwarder);
  cleanup.push(async () => {
    await f.close();
    await forwarder.close();
  });
  return f;
}

/** An upstream that writes `response` bytes verbatim to every connection. */
async function rawUpstream(response: string | Buffer): Promise<{ url: string }> {
  const server: Server = createServer((socket) => {
    socket.once('data', () => socket.end(response));
    socket.on('error', () => undefined);
  });
  const port = await listen(server);
  cleanup.push(() => closeServer(server));
  return { url: `http://127.0.0.1:${port}` };
}

function syntheticRequest(method: string, url: string, rawHeaders: string[]): http.IncomingMessage {
  const req = new http.IncomingMessage(new Socket());
  req.method = method;
  req.url = url;
  req.rawHeaders = rawHeaders;
  req.push(null);
  return req;
}

function expectNoLeak(body: string, ports: number[]): void {
  expect(body).not.toMatch(/127\.0\.0\.1|ECONN|UND_ERR|\bat .+:\d+:\d+/);
  for (const port of ports) expect(body).not.toContain(String(port));
}

describe('problem+json answers (RFC 9457)', () => {
  it('answers 502 naming the regions tried when every region failed, without internal detail', async () => {
    const [eu, us] = await upstreams('eu', 'us');
    await eu!.kill();
    us!.behaviour = { kind: 'reset' };
    const forwarder = createForwarder({ regions: [eu!.region(), us!.region()] });
    const { url } = await front(forwarder);
    const reply = await send(`${url}/x`);
    expect(reply.status).toBe(502);
    expect(reply.headers['content-type']).toBe('application/problem+json');
    expect(reply.json()).toEqual({
      type: PROBLEM_TYPES.EUPSTREAM,
      title: 'Bad Gateway',
      status: 502,
      detail: 'no region could answer the request',
      regionsTried: ['eu', 'us'],
    });
    expectNoLeak(reply.body, [eu!.port, us!.port]);
  });

  it('answers 503 with Retry-After until the earliest breaker half-opens when every breaker is open', async () => {
    const [eu, us] = await upstreams('eu', 'us');
    const clock = createManualClock(1_000_000);
    const breakers = createBreakerRegistry({ clock, defaults: { timeout: false }, overrides: { eu: { resetTimeout: 30_000 }, us: { resetTimeout: 60_000 } } });
    cleanup.push(() => breakers.close());
    breakers.get('eu').open();
    breakers.get('us').open();
    const forwarder = createForwarder({ regions: [eu!.region(), us!.region()], breakers, clock, panicFraction: 0 });
    const { url } = await front(forwarder);
    let reply = await send(`${url}/x`);
    expect(reply.status).toBe(503);
    expect(reply.headers['retry-after']).toBe('30');
    expect(reply.json()).toMatchObject({ type: PROBLEM_TYPES.EUNAVAILABLE, status: 503, regionsTried: [], regionsSkipped: ['eu', 'us'], retryAfter: 30 });
    clock.advance(12_500);
    reply = await send(`${url}/x`);
    expect(reply.headers['retry-after']).toBe('18');
    expect(eu!.received).toHaveLength(0);
    expect(us!.received).toHaveLength(0);
  });

  it('answers 504 when the regions tried hang past headersTimeout', async () => {
    const [eu, us] = await upstreams('eu', 'us');
    eu!.behaviour = { kind: 'hang' };
    us!.behaviour = { kind: 'hang' };
    const forwarder = createForwarder({ regions: [eu!.region(), us!.region()], headersTimeout: 200 });
    const { url } = await front(forwarder);
    const reply = await send(`${url}/slow`);
    expect(reply.status).toBe(504);
    expect(reply.json()).toMatchObject({ type: PROBLEM_TYPES.ETIMEDOUT, title: 'Gateway Timeout', regionsTried: ['eu', 'us'] });
    expectNoLeak(reply.body, [eu!.port, us!.port]);
  });

  it('answers a POST that timed out with 504 after one attempt', async () => {
    const [eu, us] = await upstreams('eu', 'us');
    eu!.behaviour = { kind: 'hang' };
    const forwarder = createForwarder({ regions: [eu!.region(), us!.region()], headersTimeout: 200 });
    const { url } = await front(forwarder);
    const reply = await send(`${url}/slow`, { method: 'POST', body: 'x' });
    expect(reply.status).toBe(504);
    expect(reply.json().regionsTried).toEqual(['eu']);
    expect(us!.received).toHaveLength(0);
  });

  it('answers 502 when the upstream sends a malformed response', async () => {
    const bad = await rawUpstream('HTTP/1.1 200 OK\r\nX-Bad\x01: v\r\nContent-Length: 2\r\n\r\nok');
    const forwarder = createForwarder({ regions: [{ name: 'eu', url: bad.url, location: { lat: 0, lon: 0 } }] });
    const { url } = await front(forwarder);
    const reply = await send(`${url}/x`);
    expect(reply.status).toBe(502);
    expect(reply.json().regionsTried).toEqual(['eu']);
  });

  it('answers 502 when the upstream response headers overflow', async () => {
    const huge = await rawUpstream(`HTTP/1.1 200 OK\r\nX-Huge: ${'a'.repeat(70_000)}\r\nContent-Length: 2\r\n\r\nok`);
    const forwarder = createForwarder({ regions: [{ name: 'eu', url: huge.url, location: { lat: 0, lon: 0 } }] });
    const { url } = await front(forwarder);
    const reply = await send(`${url}/x`);
    expect(reply.status).toBe(502);
  });

  it('answers 400 for an absolute-form target it cannot parse and for CONNECT', async () => {
    const [eu] = await upstreams('eu');
    const forwarder = createForwarder({ regions: [eu!.region()] });
    const { port } = await front(forwarder);
    const connectAnswer = await rawExchange(port, 'CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n', 1_000);
    // Node closes CONNECT requests itself when no 'connect' listener exists; either way nothing reaches upstream.
    expect(connectAnswer === '' || connectAnswer.startsWith('HTTP/1.1 400')).toBe(true);
    const absolute = await rawExchange(port, 'GET http://shop.example/a?b=1 HTTP/1.1\r\nHost: shop.example\r\nConnection: close\r\n\r\n');
    expect(absolute).toMatch(/^HTTP\/1\.1 200/);
    expect(eu!.received.map((r) => r.url)).toEqual(['/a?b=1']);
  });
});

describe('hostile input', () => {
  it('survives huge, CRLF-laden, binary and duplicated headers', async () => {
    const [eu] = await upstreams('eu');
    const forwarder = createForwarder({ regions: [eu!.region()] });
    const { port, url } = await front(forwarder);
    const huge = await rawExchange(port, `GET / HTTP/1.1\r\nHost: a\r\nX-Huge: ${'a'.repeat(100_000)}\r\n\r\n`);
    expect(huge).toMatch(/^HTTP\/1\.1 431/);
    const crlf = await rawExchange(port, 'GET / HTTP/1.1\r\nHost: a\r\nX-Evil: a\rSet-Cookie: b\r\n\r\n');
    expect(crlf).toMatch(/^HTTP\/1\.1 400/);
    const binary = await rawExchange(port, Buffer.from('GET /bin HTTP/1.1\r\nHost: a\r\nX-Bin: \xe9\xff\x80\r\nConnection: close\r\n\r\n', 'latin1'));
    expect(binary).toMatch(/^HTTP\/1\.1 200/);
    expect(eu!.received.at(-1)!.headers['x-bin']).toBe('\xe9\xff\x80');
    const duplicated = await rawExchange(port, 'POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab');
    expect(duplicated).toMatch(/^HTTP\/1\.1 400/);
    const manyForwarded = await send(`${url}/ok`, { headers: { 'x-forwarded-for': Array.from({ length: 500 }, (_, i) => `10.0.${i % 250}.1`).join(', '), forwarded: 'for="[::1' } });
    expect(manyForwarded.status).toBe(200);
    expect((await send(`${url}/still-alive`)).status).toBe(200);
  });

  it('rejects a header undici refuses with 400 naming the header, without an upstream attempt', async () => {
    const [eu] = await upstreams('eu');
    const forwarder = createForwarder({ regions: [eu!.region()] });
    cleanup.push(() => forwarder.close());
    const error = await forwarder.forward(syntheticRequest('GET', '/x', ['Host', 'a', 'X-Evil', 'a\r\nInjected: 1'])).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ForwardError);
    expect((error as ForwardError).status).toBe(400);
    expect((error as ForwardError).problem.detail).toBe('the request header "x-evil" cannot be forwarded');
    expect(eu!.received).toHaveLength(0);
  });
});

describe('forward()', () => {
  it('resolves with status, headers, region and a streaming body', async () => {
    const [eu] = await upstreams('eu');
    const forwarder = createForwarder({ regions: [eu!.region()] });
    cleanup.push(() => forwarder.close());
    const response = await forwarder.forward(syntheticRequest('GET', '/item/1', ['Host', 'shop.example', 'Connection', 'x-drop', 'X-Drop', '1']));
    expect(response.statusCode).toBe(200);
    expect(response.region).toBe('eu');
    expect(response.headers['x-served-by']).toBe('eu');
    expect(response.headers['content-type']).toBe('application/json');
    let text = '';
    for await (const chunk of response.body) text += String(chunk);
    expect(JSON.parse(text)).toMatchObject({ region: 'eu', url: '/item/1' });
    expect(eu!.received[0]!.headers['x-drop']).toBeUndefined();
  });

  it('rejects with a ForwardError carrying status, code, regions tried and the problem', async () => {
    const [eu] = await upstreams('eu');
    await eu!.kill();
    const forwarder = createForwarder({ regions: [eu!.region()] });
    cleanup.push(() => forwarder.close());
    const error = (await forwarder.forward(syntheticRequest('GET', '/x', [])).catch((e: unknown) => e)) as ForwardError;
    expect(error).toBeInstanceOf(ForwardError);
    expect(error).toMatchObject({ status: 502, code: 'EUPSTREAM', regionsTried: ['eu'], retryAfter: undefined });
    expect(error.problem).toMatchObject({ status: 502, regionsTried: ['eu'] });
    expect(isForwardError(error)).toBe(true);
    expect(isEdgekitError(error)).toBe(true);
  });

  it('recognises a ForwardError from another copy of the package by its brand, not a look-alike', () => {
    class CopiedError extends Error {}
    Object.defineProperty(CopiedError.prototype, Symbol.for('edgekit.proxy.error'), { value: true });
    expect(isForwardError(new CopiedError('copy'))).toBe(true);
    expect(isForwardError(Object.assign(new Error('look-alike'), { name: 'ForwardError', code: 'EUPSTREAM', status: 502 }))).toBe(false);
    expect(isForwardError(undefined)).toBe(false);
  });

  it('rejects after close() with 503 ECLOSED', async () => {
    const [eu] = await upstreams('eu');
    const forwarder = createForwarder({ regions: [eu!.region()] });
    await forwarder.close();
    const error = (await forwarder.forward(syntheticRequest('GET', '/x', [])).catch((e: unknown) => e)) as ForwardError;
    expect(error).toMatchObject({ status: 503, code: 'ECLOSED' });
  });

  it('reports an already consumed body as a non-HTTP error', async () => {
    const [eu] = await upstreams('eu');
    const forwarder = createForwarder({ regions: [eu!.region()] });
    cleanup.push(() => forwarder.close());
    const req = syntheticRequest('POST', '/x', ['Content-Length', '3']);
    req.resume();
    await new Promise((resolve) => req.once('end', resolve));
    const error = (await forwarder.forward(req).catch((e: unknown) => e)) as { code: string };
    expect(error).not.toBeInstanceOf(ForwardError);
    expect(error.code).toBe('EBODYCONSUMED');
  });
});
