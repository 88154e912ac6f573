import http2 from 'node:http2';
import { closeServer, listen } from '@edgekit/test-utils';
import { createForwarder } from '@edgekit/proxy';
import { afterEach, describe, expect, it } from 'vitest';
import { send, startFront, startUpstream } from './helpers.js';

const cleanup: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  while (cleanup.length > 0) await cleanup.pop()!();
});

/** A raw HTTP/2 (h2c) upstream: `onStream` decides what each stream gets; `streams` counts them. */
async function startH2Upstream(onStream: (stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders) => void) {
  const server = http2.createServer();
  const sessions = new Set<http2.ServerHttp2Session>();
  let sessionCount = 0;
  server.on('session', (session) => {
    sessionCount++;
    sessions.add(session);
  });
  const seen: Array<{ method: string; path: string; authority: string; body: string }> = [];
  server.on('stream', (stream, headers) => {
    const entry = { method: String(headers[':method']), path: String(headers[':path']), authority: String(headers[':authority']), body: '' };
    seen.push(entry);
    // A stream this server resets reports the code as an error on its own side too.
    stream.on('error', () => undefined);
    stream.on('data', (chunk: Buffer) => (entry.body += chunk.toString()));
    onStream(stream, headers);
  });
  const port = await listen(server as never);
  cleanup.push(async () => {
    for (const session of sessions) session.destroy();
    await closeServer(server as never);
  });
  return {
    url: `http://127.0.0.1:${port}`,
    seen,
    get sessions() {
      return sessionCount;
    },
  };
}

async function setup(eu: { url: string }, extra: Partial<Parameters<typeof createForwarder>[0]> = {}) {
  const us = await startUpstream('us');
  const forwarder = createForwarder({
    ...extra,
    regions: [
      { name: 'eu', url: eu.url, location: { lat: 50.11, lon: 8.68 } },
      { name: 'us', url: us.url, location: { lat: 39.04, lon: -77.49 } },
    ],
    http2: (region) => region.name === 'eu',
    retryBackoff: false,
  });
  const front = await startFront(forwarder);
  cleanup.push(async () => {
    await front.close();
    await forwarder.close();
    await us.close();
  });
  return { us, forwarder, front };
}

describe('HTTP/2 upstreams', () => {
  it('multiplexes requests and relays answers, with :authority from the region URL', async () => {
    const eu = await startH2Upstream((stream) => {
      stream.respond({ ':status': 200, 'content-type': 'text/plain' });
      stream.end('from eu');
    });
    const { front } = await setup(eu);
    const replies = await Promise.all(Array.from({ length: 5 }, () => send(`${front.url}/a`)));
    expect(replies.map((r) => [r.status, r.body, r.headers['x-served-by']])).toEqual(Array.from({ length: 5 }, () => [200, 'from eu', 'eu']));
    expect(eu.seen[0]!.authority).toBe(new URL(eu.url).host);
  });

  it('keeps at most connections × maxConcurrentStreams requests in flight, the rest queued', async () => {
    const open: http2.ServerHttp2Stream[] = [];
    let peak = 0;
    const eu = await startH2Upstream((stream) => {
      open.push(stream);
      peak = Math.max(peak, open.length);
      // Two streams open: hold them a moment (a third one, were it let through, would show up), then answer both.
      if (open.length < 2 && eu.seen.length < 8) return;
      setTimeout(() => {
        for (const held of open.splice(0)) {
          held.respond({ ':status': 200 });
          held.end('ok');
        }
      }, 20);
    });
    const { front } = await setup(eu, { connections: 1, maxConcurrentStreams: 2, maxInFlightPerClient: 0 });
    const replies = await Promise.all(Array.from({ length: 8 }, (_, i) => send(`${front.url}/n/${i}`)));
    expect(replies.every((r) => r.status === 200 && r.headers['x-served-by'] === 'eu')).toBe(true);
    expect(eu.seen).toHaveLength(8);
    // Multiplexed on the one connection allowed, never more than two streams at once.
    expect(peak).toBe(2);
    expect(eu.sessions).toBe(1);
  });

  it('sends a POST refused with REFUSED_STREAM to the next region: it was never processed', async () => {
    const eu = await startH2Upstream((stream) => stream.close(http2.constants.NGHTTP2_REFUSED_STREAM));
    const { us, front } = await setup(eu);
    const reply = await send(`${front.url}/orders`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'one order' });
    expect(reply.status).toBe(200);
    expect(reply.headers['x-served-by']).toBe('us');
    expect(eu.seen.map((s) => s.method)).toEqual(['POST']);
    expect(us.received.map((r) => r.body)).toEqual(['one order']);
  });

  it('never sends a POST twice when its stream is reset after the body went out', async () => {
    const eu = await startH2Upstream((stream) => {
      stream.on('end', () => stream.close(http2.constants.NGHTTP2_INTERNAL_ERROR));
      stream.resume();
    });
    const { us, front } = await setup(eu);
    const reply = await send(`${front.url}/orders`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'one order' });
    expect(reply.status).toBe(502);
    expect(eu.seen.map((s) => s.body)).toEqual(['one order']);
    expect(us.received).toEqual([]);
  });

  it('retries a GET whose stream is reset, on the next region', async () => {
    const eu = await startH2Upstream((stream) => stream.close(http2.constants.NGHTTP2_INTERNAL_ERROR));
    const { front } = await setup(eu);
    const reply = await send(`${front.url}/items`);
    expect(reply.status).toBe(200);
    expect(reply.headers['x-served-by']).toBe('us');
  });
});
