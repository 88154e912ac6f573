import http from 'node:http';
import { type Socket, connect } from 'node:net';
import { createManualClock } from '@edgekit/core/testing';
import { type Forwarder, PROBLEM_TYPES, createForwarder } from '@edgekit/proxy';
import { afterEach, describe, expect, it } from 'vitest';
import { type Reply, type Upstream, send, startFront, startUpstream, waitFor } from './helpers.js';

const cleanup: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  while (cleanup.length > 0) await cleanup.pop()!();
});

async function upstream(name: string, behaviour?: Parameters<typeof startUpstream>[1]): Promise<Upstream> {
  const u = await startUpstream(name, behaviour);
  cleanup.push(() => u.close());
  return u;
}

async function front(forwarder: Forwarder): Promise<{ url: string; port: number }> {
  const f = await startFront(forwarder);
  cleanup.push(async () => {
    await f.close();
    await forwarder.close();
  });
  return f;
}

/** A raw client connection; every socket is destroyed after the test. */
function rawSocket(port: number): Socket {
  const socket = connect(port, '127.0.0.1');
  socket.on('error', () => undefined);
  cleanup.push(() => void socket.destroy());
  return socket;
}

/** Resolves with what a raw socket received once the server closed it, or `undefined` after `ms`. */
function closedWithin(socket: Socket, ms: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    let received = '';
    socket.on('data', (chunk: Buffer) => {
      received += chunk.toString('latin1');
    });
    const timer = setTimeout(() => resolve(undefined), ms);
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(received);
    });
  });
}

/** A GET from client `ip` that resolves with its status, or 0 when no answer came within `ms`. */
async function statusWithin(url: string, ip: string, ms: number): Promise<number> {
  try {
    const reply: Reply = await send(url, { headers: { 'x-forwarded-for': ip }, signal: AbortSignal.timeout(ms) });
    return reply.status;
  } catch {
    return 0;
  }
}

describe('slow clients', () => {
  it('answers others while 150 trickled POST bodies from one client time out with 408 or are capped with 429', async () => {
    const eu = await upstream('eu');
    const forwarder = createForwarder({ regions: [eu.region()], trustedProxies: ['loopback'], clientBodyTimeout: 2_000, clientBodyMinRate: 500 });
    const { url, port } = await front(forwarder);
    const trickled = Array.from({ length: 150 }, () => {
      const socket = rawSocket(port);
      const answer = closedWithin(socket, 60_000);
      socket.write('POST /upload HTTP/1.1\r\nHost: gw\r\nX-Forwarded-For: 203.0.113.7\r\nContent-Type: text/plain\r\nContent-Length: 100000\r\n\r\nx');
      // One byte every 300 ms: never idle for clientBodyTimeout, far below clientBodyMinRate.
      const timer = setInterval(() => socket.writable && socket.write('x'), 300);
      cleanup.push(() => clearInterval(timer));
      return answer;
    });
    await waitFor(() => eu.received.length >= 64, 60_000, 'the trickled uploads to reach the origin');

    const others = await Promise.all(Array.from({ length: 20 }, (_, i) => statusWithin(`${url}/page/${i}`, `198.51.100.${i + 1}`, 40_000)));
    expect(others).toEqual(Array(20).fill(200));

    const answers = await Promise.all(trickled);
    const statuses = answers.map((text) => /^HTTP\/1\.1 (\d{3})/.exec(text ?? '')?.[1] ?? (text === undefined ? 'open' : 'closed'));
    const timedOut = statuses.filter((s) => s === '408').length;
    const capped = statuses.filter((s) => s === '429').length;
    // Every upload was answered and its connection closed: 408 once it fell below the minimum rate,
    // 429 beyond the client's 64 requests in flight.
    expect(timedOut + capped).toBe(150);
    expect(timedOut).toBeGreaterThanOrEqual(64);
    expect(capped).toBeLessThanOrEqual(86);
    // The uploads never completed upstream: each was aborted there.
    expect(eu.received.filter((r) => r.url === '/upload')).toHaveLength(timedOut);
    expect(eu.received.every((r) => r.bytes < 100_000)).toBe(true);
  }, 150_000);

  it('answers others while 140 clients that never read a large response hold their connections', async () => {
    const eu = await upstream('eu', {
      kind: 'custom',
      handle: (req, res) => {
        if (req.url !== '/large') {
          res.end('small');
          return;
        }
        // An endless body, written only as fast as the proxy takes it.
        const chunk = Buffer.alloc(65_536, 97);
        res.writeHead(200, { 'content-type': 'application/octet-stream' });
        const pump = (): void => {
          while (!res.destroyed && res.write(chunk));
        };
        res.on('drain', pump);
        pump();
      },
    });
    const forwarder = createForwarder({ regions: [eu.region()], trustedProxies: ['loopback'], sendTimeout: 1_000 });
    const { url, port } = await front(forwarder);
    const aborted: string[] = [];
    forwarder.on('abort', (event) => aborted.push(event.phase));
    for (let i = 0; i < 140; i++) {
      const socket = rawSocket(port);
      // Never reads: a paused socket leaves everything in the kernel buffers.
      socket.pause();
      socket.write(`GET /large HTTP/1.1\r\nHost: gw\r\nX-Forwarded-For: 10.1.${i >> 8}.${i & 255}\r\n\r\n`);
    }
    await waitFor(() => eu.received.length >= 100, 60_000, 'the non-reading clients to take the pool');

    const others = await Promise.all(Array.from({ length: 20 }, (_, i) => statusWithin(`${url}/page/${i}`, `198.51.100.${i + 1}`, 40_000)));
    expect(others).toEqual(Array(20).fill(200));
    // Every non-reading client was disconnected once it stalled for sendTimeout, its upstream request aborted.
    await waitFor(() => aborted.length === 140, 60_000, 'every non-reading client to be cut');
    expect(aborted).toEqual(Array(140).fill('streaming'));
  }, 150_000);

  it('answers 429 beyond maxInFlightPerClient, counting clients by clientKey', async () => {
    const release: Array<() => void> = [];
    const eu = await upstream('eu', {
      kind: 'custom',
      handle: (req, res) => {
        if (req.url === '/hold') release.push(() => res.end('held'));
        else res.end('ok');
      },
    });
    cleanup.push(() => release.forEach((r) => r()));
    const forwarder = createForwarder({
      regions: [eu.region()],
      maxInFlightPerClient: 2,
      clientKey: (req, ip) => (req.headers['x-tenant'] as string | undefined) ?? ip,
    });
    const { url } = await front(forwarder);
    const held = [send(`${url}/hold`, { headers: { 'x-tenant': 'a' } }), send(`${url}/hold`, { headers: { 'x-tenant': 'a' } })];
    await waitFor(() => release.length === 2, 30_000, 'two held requests');
    const refused = await send(`${url}/x`, { headers: { 'x-tenant': 'a' } });
    expect(refused.status).toBe(429);
    expect(refused.headers['retry-after']).toBe('1');
    expect(refused.json()).toMatchObject({ type: PROBLEM_TYPES.ECLIENTLIMIT, status: 429 });
    expect((await send(`${url}/x`, { headers: { 'x-tenant': 'b' } })).status).toBe(200);
    release.forEach((r) => r());
    expect((await Promise.all(held)).map((r) => r.status)).toEqual([200, 200]);
    // The slots are free again.
    expect((await send(`${url}/x`, { headers: { 'x-tenant': 'a' } })).status).toBe(200);
  }, 60_000);
});

describe('queue timeout', () => {
  async function holdingUpstream(name: string): Promise<{ upstream: Upstream; release: () => void; peak: () => number }> {
    const waiting: http.ServerResponse[] = [];
    let peak = 0;
    const u = await upstream(name, {
      kind: 'custom',
      handle: (req, res) => {
        if (req.url !== '/hold') {
          res.end(JSON.stringify({ region: name }));
          return;
        }
        waiting.push(res);
        peak = Math.max(peak, waiting.length);
      },
    });
    const release = (): void => {
      for (const res of waiting.splice(0)) res.end('held');
    };
    cleanup.push(release);
    return { upstream: u, release, peak: () => peak };
  }

  it('fails over to the next region when no connection of the first frees within queueTimeout', async () => {
    const { upstream: eu, release } = await holdingUpstream('eu');
    const us = await upstream('us');
    const clock = createManualClock(0);
    const forwarder = createForwarder({ regions: [eu.region(), us.region()], connections: (region) => (region.name === 'eu' ? 1 : undefined), queueTimeout: 2_000, clock });
    const attempts: string[] = [];
    const failovers: string[] = [];
    forwarder.on('attempt', (e) => attempts.push(e.region));
    forwarder.on('failover', (e) => failovers.push(`${e.from}>${e.to}:${e.reason}`));
    const { url } = await front(forwarder);
    const held = send(`${url}/hold`);
    await waitFor(() => eu.received.length === 1, 30_000, 'the held request');
    const queued = send(`${url}/x`);
    await waitFor(() => attempts.length === 2, 30_000, 'the queued attempt');
    clock.advance(1_999);
    expect(us.received).toHaveLength(0);
    clock.advance(1);
    const reply = await queued;
    expect(reply.status).toBe(200);
    expect(reply.headers['x-served-by']).toBe('us');
    expect(failovers).toEqual(['eu>us:queue']);
    // The request never reached eu: it left the queue without taking a connection there.
    release();
    expect((await held).status).toBe(200);
    expect(eu.received.map((r) => r.url)).toEqual(['/hold']);
  }, 60_000);

  it('answers 503 problem+json when the only region stays busy past queueTimeout', async () => {
    const { upstream: eu } = await holdingUpstream('eu');
    const clock = createManualClock(0);
    const forwarder = createForwarder({ regions: [eu.region()], connections: 1, queueTimeout: 500, retryAfter: 3_000, clock });
    const attempts: string[] = [];
    forwarder.on('attempt', (e) => attempts.push(e.region));
    const { url } = await front(forwarder);
    void send(`${url}/hold`).catch(() => undefined);
    await waitFor(() => eu.received.length === 1, 30_000, 'the held request');
    const queued = send(`${url}/x`);
    await waitFor(() => attempts.length === 2, 30_000, 'the queued attempt');
    clock.advance(500);
    const reply = await queued;
    expect(reply.status).toBe(503);
    expect(reply.headers['content-type']).toBe('application/problem+json');
    expect(reply.headers['retry-after']).toBe('3');
    expect(reply.json()).toMatchObject({ type: PROBLEM_TYPES.EQUEUETIMEOUT, status: 503, regionsTried: ['eu'] });
  }, 60_000);

  it('gives each region its own pool size', async () => {
    const { upstream: eu, release, peak } = await holdingUpstream('eu');
    const forwarder = createForwarder({ regions: [eu.region()], connections: (region) => (region.name === 'eu' ? 3 : 1), queueTimeout: 0 });
    const { url } = await front(forwarder);
    const held = Array.from({ length: 5 }, () => send(`${url}/hold`));
    await waitFor(() => eu.received.length === 3, 30_000, 'three requests upstream');
    release();
    await waitFor(() => eu.received.length === 5, 30_000, 'the queued requests');
    release();
    expect((await Promise.all(held)).map((r) => r.status)).toEqual([200, 200, 200, 200, 200]);
    // Two waited for a connection: the pool has three.
    expect(peak()).toBe(3);
  }, 60_000);

  it('refuses a pool size that is not a positive integer, naming the region', async () => {
    const eu = await upstream('eu');
    expect(() => createForwarder({ regions: [eu.region()], connections: () => 0 })).toThrow(/connections\("eu"\).*>= 1/);
    expect(() => createForwarder({ regions: [eu.region()], queueTimeout: -1 })).toThrow(/"queueTimeout"/);
    expect(() => createForwarder({ regions: [eu.region()], clientBodyMinRate: -1 })).toThrow(/"clientBodyMinRate"/);
    expect(() => createForwarder({ regions: [eu.region()], panicFraction: 2 })).toThrow(/"panicFraction"/);
    expect(() => createForwarder({ regions: [eu.region()], routeKey: 'path' as never })).toThrow(/"routeKey"/);
  });
});
