import http from 'node:http';
import type { Socket } from 'node:net';
import { createBreakerRegistry } from '@edgekit/breaker';
import { type Forwarder, createForwarder } from '@edgekit/proxy';
import { closeServer, freePort, listen } from '@edgekit/test-utils';
import { afterEach, describe, expect, it } from 'vitest';
import { waitFor } from './helpers.js';

const cleanup: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  while (cleanup.length > 0) await cleanup.pop()!();
});

interface TunnelUpstream {
  name: string;
  url: string;
  /** Request heads of the upgrade requests it received. */
  upgrades: http.IncomingHttpHeaders[];
  /** Plain requests it received. */
  requests: http.IncomingHttpHeaders[];
  sockets: Set<Socket>;
  closedTunnels: number;
  /** What it answers to an upgrade: switch and echo, or refuse with 401. */
  mode: 'echo' | 'refuse';
}

/** An upstream that switches to an echo protocol on `Upgrade: websocket`, or refuses with 401. */
async function startTunnelUpstream(name: string): Promise<TunnelUpstream> {
  const upstream: TunnelUpstream = { name, url: '', upgrades: [], requests: [], sockets: new Set(), closedTunnels: 0, mode: 'echo' };
  const server = http.createServer((req, res) => {
    upstream.requests.push(req.headers);
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.end(`plain from ${name}`);
  });
  server.on('upgrade', (req: http.IncomingMessage, socket: Socket, head: Buffer) => {
    upstream.upgrades.push(req.headers);
    upstream.sockets.add(socket);
    socket.on('close', () => {
      upstream.sockets.delete(socket);
      upstream.closedTunnels++;
    });
    socket.on('error', () => {});
    socket.on('end', () => socket.end());
    if (upstream.mode === 'refuse') {
      socket.end('HTTP/1.1 401 Unauthorized\r\ncontent-type: text/plain\r\ncontent-length: 6\r\nconnection: close\r\n\r\nnope!\n');
      return;
    }
    socket.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: accepted-by-${name}\r\n\r\n`);
    if (head.length > 0) socket.write(head);
    socket.on('data', (chunk: Buffer) => socket.write(`${name}:${chunk.toString()}`));
  });
  const port = await listen(server);
  upstream.url = `http://127.0.0.1:${port}`;
  cleanup.push(async () => {
    for (const socket of upstream.sockets) socket.destroy();
    await closeServer(server);
  });
  return upstream;
}

async function startGateway(forwarder: Forwarder): Promise<number> {
  const server = http.createServer(forwarder.handler);
  server.on('upgrade', forwarder.upgrade);
  const port = await listen(server);
  cleanup.push(async () => {
    server.closeAllConnections();
    await closeServer(server);
    await forwarder.close();
  });
  return port;
}

type UpgradeOutcome =
  | { kind: 'upgrade'; res: http.IncomingMessage; socket: Socket }
  | { kind: 'response'; res: http.IncomingMessage; body: string; socketClosed: Promise<void> };

function requestUpgrade(port: number, protocol = 'websocket', extra: Record<string, string> = {}): Promise<UpgradeOutcome> {
  return new Promise((resolve, reject) => {
    const req = http.request({
      port,
      host: '127.0.0.1',
      path: '/chat?room=1',
      agent: false,
      headers: { connection: 'Upgrade', upgrade: protocol, 'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==', 'sec-websocket-version': '13', ...extra },
    });
    req.on('upgrade', (res, socket: Socket) => {
      cleanup.push(() => void socket.destroy());
      resolve({ kind: 'upgrade', res, socket });
    });
    req.on('response', (res) => {
      const socket = res.socket;
      const socketClosed = new Promise<void>((done) => (socket.destroyed ? done() : socket.once('close', () => done())));
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ kind: 'response', res, body, socketClosed }));
    });
    req.on('error', reject);
    req.end();
  });
}

function nextData(socket: Socket): Promise<string> {
  return new Promise((resolve) => socket.once('data', (chunk: Buffer) => resolve(chunk.toString())));
}

describe('upgrade (WebSocket) tunnels', () => {
  it('switches protocols through the first region and relays bytes both ways', async () => {
    const eu = await startTunnelUpstream('eu');
    const forwarder = createForwarder({ regions: [{ name: 'eu', url: eu.url, location: { lat: 50, lon: 8 } }] });
    const responses: Array<{ region: string; status: number; attempts: number; ttfbMs: number }> = [];
    forwarder.on('response', (e) => responses.push(e));
    const port = await startGateway(forwarder);
    const outcome = await requestUpgrade(port);
    expect(outcome.kind).toBe('upgrade');
    const { res, socket } = outcome as Extract<UpgradeOutcome, { kind: 'upgrade' }>;
    expect(res.statusCode).toBe(101);
    expect(responses).toHaveLength(1);
    expect(responses[0]).toMatchObject({ region: 'eu', status: 101, attempts: 1 });
    expect(responses[0]!.ttfbMs).toBeGreaterThanOrEqual(0);
    expect(res.headers.upgrade).toBe('websocket');
    expect(res.headers.connection?.toLowerCase()).toBe('upgrade');
    expect(res.headers['sec-websocket-accept']).toBe('accepted-by-eu');
    expect(res.headers['x-served-by']).toBe('eu');
    // The upstream saw the switch asked for by this hop, the end-to-end fields, and the forwarding ones.
    const seen = eu.upgrades[0]!;
    expect(seen.upgrade).toBe('websocket');
    expect(seen.connection?.toLowerCase()).toBe('upgrade');
    expect(seen['sec-websocket-key']).toBe('dGhlIHNhbXBsZSBub25jZQ==');
    expect(seen['x-forwarded-for']).toBe('127.0.0.1');
    socket.write('ping');
    expect(await nextData(socket)).toBe('eu:ping');
    socket.write('again');
    expect(await nextData(socket)).toBe('eu:again');
  });

  it('fails over to the next region when the first refuses connections, and the breaker of the one that switched records a success', async () => {
    const us = await startTunnelUpstream('us');
    const deadPort = await freePort();
    const breakers = createBreakerRegistry({});
    const forwarder = createForwarder({
      regions: [
        { name: 'eu', url: `http://127.0.0.1:${deadPort}`, location: { lat: 50, lon: 8 } },
        { name: 'us', url: us.url, location: { lat: 39, lon: -77 } },
      ],
      breakers,
    });
    const tried: string[] = [];
    forwarder.on('attempt', (e) => tried.push(e.region));
    const port = await startGateway(forwarder);
    const outcome = await requestUpgrade(port);
    expect(outcome.kind).toBe('upgrade');
    const { res, socket } = outcome as Extract<UpgradeOutcome, { kind: 'upgrade' }>;
    expect(res.headers['x-served-by']).toBe('us');
    expect(tried).toEqual(['eu', 'us']);
    socket.write('hello');
    expect(await nextData(socket)).toBe('us:hello');
    expect(breakers.get('us').stats.successes).toBe(1);
    expect(breakers.get('eu').stats.failures).toBe(1);
  });

  it('relays an upstream refusal as a response and closes the connection', async () => {
    const eu = await startTunnelUpstream('eu');
    eu.mode = 'refuse';
    const forwarder = createForwarder({ regions: [{ name: 'eu', url: eu.url, location: { lat: 50, lon: 8 } }] });
    const port = await startGateway(forwarder);
    const outcome = await requestUpgrade(port);
    expect(outcome.kind).toBe('response');
    const { res, body, socketClosed } = outcome as Extract<UpgradeOutcome, { kind: 'response' }>;
    expect(res.statusCode).toBe(401);
    expect(body).toBe('nope!\n');
    expect(res.headers['x-served-by']).toBe('eu');
    expect(res.headers.connection).toBe('close');
    await socketClosed;
  });

  it('answers 502 problem+json naming the regions tried when no region can be reached', async () => {
    const forwarder = createForwarder({
      regions: [
        { name: 'eu', url: `http://127.0.0.1:${await freePort()}`, location: { lat: 50, lon: 8 } },
        { name: 'us', url: `http://127.0.0.1:${await freePort()}`, location: { lat: 39, lon: -77 } },
      ],
    });
    const port = await startGateway(forwarder);
    const outcome = await requestUpgrade(port);
    expect(outcome.kind).toBe('response');
    const { res, body, socketClosed } = outcome as Extract<UpgradeOutcome, { kind: 'response' }>;
    expect(res.statusCode).toBe(502);
    expect(res.headers['content-type']).toBe('application/problem+json');
    expect(JSON.parse(body)).toMatchObject({ status: 502, regionsTried: ['eu', 'us'] });
    await socketClosed;
  });

  it('closes the upstream side when the client leaves, and the client side when the upstream leaves', async () => {
    const eu = await startTunnelUpstream('eu');
    const forwarder = createForwarder({ regions: [{ name: 'eu', url: eu.url, location: { lat: 50, lon: 8 } }] });
    const port = await startGateway(forwarder);

    const first = (await requestUpgrade(port)) as Extract<UpgradeOutcome, { kind: 'upgrade' }>;
    first.socket.write('x');
    await nextData(first.socket);
    first.socket.destroy();
    await waitFor(() => eu.closedTunnels === 1, 5_000, 'upstream tunnel closed after the client left');

    const second = (await requestUpgrade(port)) as Extract<UpgradeOutcome, { kind: 'upgrade' }>;
    const clientClosed = new Promise<void>((resolve) => second.socket.once('close', () => resolve()));
    second.socket.on('error', () => {});
    second.socket.resume();
    for (const socket of eu.sockets) socket.destroy();
    await clientClosed;
  });

  it('forwards an h2c upgrade as a plain request, without the fields it named in Connection', async () => {
    const eu = await startTunnelUpstream('eu');
    const forwarder = createForwarder({ regions: [{ name: 'eu', url: eu.url, location: { lat: 50, lon: 8 } }] });
    const port = await startGateway(forwarder);
    const outcome = await requestUpgrade(port, 'h2c', { connection: 'Upgrade, HTTP2-Settings', 'http2-settings': 'AAMAAABkAAQAAP__' });
    expect(outcome.kind).toBe('response');
    const { res, body } = outcome as Extract<UpgradeOutcome, { kind: 'response' }>;
    expect(res.statusCode).toBe(200);
    expect(body).toBe('plain from eu');
    expect(eu.upgrades).toHaveLength(0);
    expect(eu.requests[0]!.upgrade).toBeUndefined();
    expect(eu.requests[0]!['http2-settings']).toBeUndefined();
  });
});
