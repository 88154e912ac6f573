import { connect } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { startEchoOrigin, startGateway, startH2Origin, tlsConfig } from './tls-world.js';

const cleanup: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  while (cleanup.length > 0) await cleanup.pop()!();
});

/** An h2c origin that refuses every expectation with 401, or accepts it with 100 and counts the body. */
async function startH2cOrigin(mode: 'refuse' | 'accept'): Promise<{ url: string; seen: Array<{ expect: unknown; bytes: number }> }> {
  const seen: Array<{ expect: unknown; bytes: number }> = [];
  const origin = await startH2Origin((stream, headers) => {
    const entry = { expect: headers.expect, bytes: 0 };
    seen.push(entry);
    stream.on('data', (chunk: Buffer) => (entry.bytes += chunk.length));
    if (mode === 'refuse') {
      stream.respond({ ':status': 401, 'content-type': 'text/plain' });
      stream.end('sign in first');
      return;
    }
    stream.additionalHeaders({ ':status': 100 });
    stream.on('end', () => {
      stream.respond({ ':status': 200, 'content-type': 'text/plain' });
      stream.end(`stored ${entry.bytes}`);
    });
  });
  cleanup.push(() => origin.close());
  return { url: origin.url, seen };
}

/** Raw HTTP/1.1 with `Expect: 100-continue`: the body goes only after a `100 Continue`. */
function upload(port: number, body: string): Promise<{ sawContinue: boolean; response: string }> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    let received = '';
    let sawContinue = false;
    const timer = setTimeout(() => socket.destroy(), 15_000);
    socket.on('data', (chunk: Buffer) => {
      received += chunk.toString('latin1');
      if (!sawContinue && received.startsWith('HTTP/1.1 100 ') && received.includes('\r\n\r\n')) {
        sawContinue = true;
        received = received.slice(received.indexOf('\r\n\r\n') + 4);
        socket.write(body);
      }
    });
    socket.on('error', () => undefined);
    socket.on('close', () => {
      clearTimeout(timer);
      resolve({ sawContinue, response: received });
    });
    socket.write(`POST /upload HTTP/1.1\r\nHost: localhost\r\nContent-Length: ${body.length}\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n`);
  });
}

async function gatewayTo(url: string, http2Upstream: boolean, cache: 'off' | 'on' = 'off') {
  const config = tlsConfig(url, { proxy: { http2: http2Upstream } });
  // With the cache on, an unsafe request goes through it (to invalidate its URL), which reads the body itself.
  const gateway = await startGateway({ ...config, cache: { enabled: cache === 'on' }, health: { ...(config.health as object), openBreakers: false, unhealthyThreshold: 1_000 } });
  cleanup.push(() => gateway.close());
  return Number(new URL(gateway.url).port);
}

describe('Expect: 100-continue through the gateway', () => {
  it('relays an HTTP/2 origin\'s refusal without 100 Continue: the body is never sent', async () => {
    const origin = await startH2cOrigin('refuse');
    const { sawContinue, response } = await upload(await gatewayTo(origin.url, true), 'hello');
    expect(sawContinue).toBe(false);
    expect(response).toMatch(/^HTTP\/1\.1 401 /);
    expect(origin.seen).toEqual([{ expect: '100-continue', bytes: 0 }]);
  });

  it('relays an HTTP/2 origin\'s 100 Continue, then its answer to the body', async () => {
    const origin = await startH2cOrigin('accept');
    const { sawContinue, response } = await upload(await gatewayTo(origin.url, true), 'hello');
    expect(sawContinue).toBe(true);
    expect(response).toMatch(/^HTTP\/1\.1 200 /);
    expect(response).toContain('stored 5');
  });

  it('answers a refusal of the route rules (401 without an API key) without 100 Continue, the origin untouched', async () => {
    const origin = await startH2cOrigin('accept');
    const config = tlsConfig(origin.url, { proxy: { http2: true }, routes: [{ path: '/upload', auth: 'apiKey' }] });
    const gateway = await startGateway({ ...config, auth: { apiKeys: { keys: [{ key: 'k'.repeat(32), scopes: [] }] } }, health: { ...(config.health as object), openBreakers: false, unhealthyThreshold: 1_000 } });
    cleanup.push(() => gateway.close());
    const { sawContinue, response } = await upload(Number(new URL(gateway.url).port), 'hello');
    expect(sawContinue).toBe(false);
    expect(response).toMatch(/^HTTP\/1\.1 401 /);
    expect(origin.seen).toEqual([]);
  });

  it('sends 100 Continue before the cache takes an unsafe request\'s body, and the origin gets it', async () => {
    const origin = await startH2cOrigin('accept');
    const { sawContinue, response } = await upload(await gatewayTo(origin.url, true, 'on'), 'hello');
    expect(sawContinue).toBe(true);
    expect(response).toContain('stored 5');
  });

  it('sends its own 100 Continue to an HTTP/1.1 origin once the body is wanted', async () => {
    const origin = await startEchoOrigin();
    cleanup.push(() => origin.close());
    const { sawContinue, response } = await upload(await gatewayTo(origin.url, false), 'hello');
    expect(sawContinue).toBe(true);
    expect(response).toMatch(/^HTTP\/1\.1 200 /);
    expect(response).toContain('"bodyBytes":5');
  });
});
