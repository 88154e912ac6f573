import { type IncomingMessage, createServer, request } from 'node:http';
import type { Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { closeServer, listen } from '@edgekit/test-utils';
import { firstHeader, responseOnSocket, sendProblem } from '../src/index.js';

const servers: Array<ReturnType<typeof createServer>> = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map(closeServer));
});

describe('sendProblem', () => {
  it('answers with an RFC 9457 body, content type and extra headers', async () => {
    const server = createServer((_req, res) =>
      sendProblem(res, { status: 503, title: 'Service Unavailable', detail: 'every breaker is open', regionsTried: ['eu'] }, { 'retry-after': 7 }),
    );
    servers.push(server);
    const port = await listen(server);
    const response = await fetch(`http://127.0.0.1:${port}/`);
    expect(response.status).toBe(503);
    expect(response.headers.get('content-type')).toBe('application/problem+json');
    expect(response.headers.get('retry-after')).toBe('7');
    expect(await response.json()).toEqual({
      type: 'about:blank',
      title: 'Service Unavailable',
      status: 503,
      detail: 'every breaker is open',
      regionsTried: ['eu'],
    });
  });
});

describe('header helpers', () => {
  it('reads the first value of string and array headers', () => {
    const headers = { 'x-a': ['1', '2'], 'x-b': 'z' };
    expect(firstHeader(headers, 'x-a')).toBe('1');
    expect(firstHeader(headers, 'x-b')).toBe('z');
    expect(firstHeader(headers, 'missing')).toBeUndefined();
  });
});

/** Sends an upgrade request; resolves with the answer, its body, and when the connection closed. */
function upgradeRequest(port: number): Promise<{ kind: 'response' | 'upgrade'; res: IncomingMessage; body: string; socket: Socket; closed: Promise<void> }> {
  return new Promise((resolve, reject) => {
    const req = request({ port, host: '127.0.0.1', agent: false, headers: { connection: 'Upgrade', upgrade: 'echo' } });
    const closedOf = (socket: Socket) => new Promise<void>((done) => (socket.destroyed ? done() : socket.once('close', () => done())));
    req.on('response', (res) => {
      const closed = closedOf(res.socket);
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ kind: 'response', res, body, socket: res.socket, closed }));
    });
    req.on('upgrade', (res, socket: Socket) => resolve({ kind: 'upgrade', res, body: '', socket, closed: closedOf(socket) }));
    req.on('error', reject);
    req.end();
  });
}

describe('responseOnSocket', () => {
  it("answers an upgrade request on the event's socket and closes the connection after it", async () => {
    const server = createServer();
    server.on('upgrade', (req, socket) => sendProblem(responseOnSocket(req, socket), { status: 401, title: 'Unauthorized' }));
    servers.push(server);
    const port = await listen(server);
    const outcome = await upgradeRequest(port);
    expect(outcome.kind).toBe('response');
    expect(outcome.res.statusCode).toBe(401);
    expect(outcome.res.headers.connection).toBe('close');
    expect(JSON.parse(outcome.body)).toMatchObject({ status: 401, title: 'Unauthorized' });
    await outcome.closed;
  });

  it('gives the socket back with detachSocket, for a switch written by hand', async () => {
    const server = createServer();
    server.on('upgrade', (req, socket: Socket) => {
      const res = responseOnSocket(req, socket);
      res.detachSocket(socket);
      socket.write('HTTP/1.1 101 Switching Protocols\r\nupgrade: echo\r\nconnection: upgrade\r\n\r\n');
      socket.on('data', (chunk: Buffer) => socket.write(chunk));
      socket.on('end', () => socket.end());
    });
    servers.push(server);
    const port = await listen(server);
    const outcome = await upgradeRequest(port);
    expect(outcome.kind).toBe('upgrade');
    const echoed = new Promise<string>((resolve) => outcome.socket.once('data', (chunk: Buffer) => resolve(chunk.toString())));
    outcome.socket.write('ping');
    expect(await echoed).toBe('ping');
    outcome.socket.destroy();
  });
});
