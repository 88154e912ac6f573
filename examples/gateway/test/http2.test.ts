import { execFile } from 'node:child_process';
import http2 from 'node:http2';
import { connect as netConnect } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { promisify } from 'node:util';
import { Agent, fetch as undiciFetch } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Gateway } from '../src/index.js';
import { waitFor } from './helpers.js';
import { type EchoOrigin, type TestPki, createTestPki, h2request, portOf, startEchoOrigin, startGateway, tlsConfig } from './tls-world.js';

const run = promisify(execFile);

/** curl's answer: the HTTP version it spoke, the status and the body. */
async function curl(args: string[]): Promise<{ version: string; status: number; body: string }> {
  const { stdout } = await run('curl', ['-sS', '--max-time', '20', '-w', '\n%{http_version} %{http_code}', ...args], { timeout: 30_000 });
  const cut = stdout.lastIndexOf('\n');
  const [version, status] = stdout.slice(cut + 1).split(' ');
  return { version: version!, status: Number(status), body: stdout.slice(0, cut) };
}

describe('HTTP/2 over TLS', () => {
  let pki: TestPki;
  let origin: EchoOrigin;
  let gateway: Gateway;

  beforeAll(async () => {
    pki = createTestPki();
    origin = await startEchoOrigin();
    gateway = await startGateway(
      tlsConfig(origin.url, {
        server: { tls: { certificates: [{ cert: pki.server.certFile, key: pki.server.keyFile }] }, maxConcurrentStreams: 7, pathParameters: 'refuse' },
      }),
    );
  }, 60_000);
  afterAll(async () => {
    await gateway?.close();
    await origin?.close();
    pki?.remove();
  });

  it('negotiates h2 by ALPN with curl --http2 and forwards to the HTTP/1.1 origin', async () => {
    const answer = await curl(['--http2', '--cacert', pki.ca.certFile, `https://localhost:${portOf(gateway)}/api/h2?x=1`]);
    expect(answer.version).toBe('2');
    expect(answer.status).toBe(200);
    const seen = JSON.parse(answer.body) as { url: string; httpVersion: string; headers: Record<string, string> };
    expect(seen.url).toBe('/api/h2?x=1');
    expect(seen.httpVersion).toBe('1.1');
    expect(seen.headers['x-forwarded-proto']).toBe('https');
    expect(Object.keys(seen.headers).some((name) => name.startsWith(':'))).toBe(false);
  });

  it('serves HTTP/1.1 on the same port to clients that do not offer h2', async () => {
    const answer = await curl(['--http1.1', '--cacert', pki.ca.certFile, `https://localhost:${portOf(gateway)}/api/h1`]);
    expect(answer.version).toBe('1.1');
    expect(answer.status).toBe(200);
    // Node's fetch (undici) speaks HTTP/1.1 unless allowed h2; with allowH2 it takes h2 from ALPN.
    for (const allowH2 of [false, true]) {
      const dispatcher = new Agent({ connect: { ca: pki.ca.cert }, allowH2 });
      try {
        const response = await undiciFetch(`https://localhost:${portOf(gateway)}/api/undici-${allowH2}`, { dispatcher });
        expect(response.status).toBe(200);
        expect(((await response.json()) as { url: string }).url).toBe(`/api/undici-${allowH2}`);
      } finally {
        await dispatcher.close();
      }
    }
  });

  it('announces server.maxConcurrentStreams in its SETTINGS and serves concurrent streams on one connection', async () => {
    const session = http2.connect(gateway.url, { ca: pki.ca.cert, servername: 'localhost' });
    try {
      await new Promise<void>((resolve) => session.once('remoteSettings', () => resolve()));
      expect(session.remoteSettings.maxConcurrentStreams).toBe(7);
      const answers = await Promise.all(Array.from({ length: 5 }, (_, i) => h2request(session, { ':path': `/api/concurrent/${i}?delay=50` })));
      expect(answers.map((answer) => answer.status)).toEqual([200, 200, 200, 200, 200]);
    } finally {
      session.close();
    }
  });

  it('applies ingress rules to HTTP/2 requests: canonical paths, refused methods, a Host that contradicts :authority', async () => {
    const session = http2.connect(gateway.url, { ca: pki.ca.cert, servername: 'localhost' });
    try {
      // Dot segments are resolved before any rule: this is the liveness endpoint.
      expect((await h2request(session, { ':path': '/api/../health' })).status).toBe(200);
      expect((await h2request(session, { ':path': '/api;jsessionid=1/x' })).status).toBe(400);
      expect((await h2request(session, { ':method': 'TRACE', ':path': '/api/x' })).status).toBe(501);
      expect((await h2request(session, { ':path': '/health', ':authority': 'localhost', host: 'evil.test' })).status).toBe(400);
      expect(origin.seen.some((seen) => seen.url.includes('jsessionid') || seen.method === 'TRACE')).toBe(false);
    } finally {
      session.close();
    }
  });

  it('caps connections per client on the TLS port', async () => {
    const capped = await startGateway(
      tlsConfig(origin.url, { server: { tls: { certificates: [{ cert: pki.server.certFile, key: pki.server.keyFile }] }, maxConnectionsPerClient: 1 } }),
    );
    try {
      const port = portOf(capped);
      const first = await new Promise<import('node:tls').TLSSocket>((resolve, reject) => {
        const socket = tlsConnect({ host: '127.0.0.1', port, servername: 'localhost', ca: pki.ca.cert }, () => resolve(socket));
        socket.once('error', reject);
      });
      const second = await new Promise<string>((resolve) => {
        const socket = tlsConnect({ host: '127.0.0.1', port, servername: 'localhost', ca: pki.ca.cert }, () => resolve('connected'));
        socket.once('error', () => resolve('refused'));
        socket.once('close', () => resolve('refused'));
      });
      expect(second).toBe('refused');
      first.destroy();
    } finally {
      await capped.close();
    }
  });
});

describe('h2c (HTTP/2 with prior knowledge) beside HTTP/1.1 on a plain port', () => {
  let origin: EchoOrigin;
  let gateway: Gateway;
  beforeAll(async () => {
    origin = await startEchoOrigin();
    gateway = await startGateway(tlsConfig(origin.url, { server: { http2: { cleartext: true } } }));
  }, 60_000);
  afterAll(async () => {
    await gateway?.close();
    await origin?.close();
  });

  it('speaks h2c to curl --http2-prior-knowledge and HTTP/1.1 to curl on the same port', async () => {
    const h2c = await curl(['--http2-prior-knowledge', `${gateway.url}/api/h2c`]);
    expect(h2c.version).toBe('2');
    expect(h2c.status).toBe(200);
    expect(JSON.parse(h2c.body).url).toBe('/api/h2c');
    const h1 = await curl([`${gateway.url}/api/h1`]);
    expect(h1.version).toBe('1.1');
    expect(h1.status).toBe(200);
    expect(JSON.parse(h1.body).url).toBe('/api/h1');
  });

  it('keeps pipelined HTTP/1.1 requests whole when the first bytes arrive one at a time', async () => {
    const socket = netConnect(portOf(gateway), '127.0.0.1');
    const request = 'GET /health HTTP/1.1\r\nhost: localhost\r\n\r\nGET /health HTTP/1.1\r\nhost: localhost\r\nconnection: close\r\n\r\n';
    let received = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => (received += chunk));
    const closed = new Promise((resolve) => socket.once('close', resolve));
    // "P" could start the HTTP/2 preface ("PRI * ..."): the listener waits for more before deciding.
    for (const byte of request.slice(0, 3)) {
      socket.write(byte);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    socket.end(request.slice(3));
    await closed;
    expect(received.match(/HTTP\/1\.1 200 OK/g)).toHaveLength(2);
  });

  it('serves Node http2 clients on the plain port', async () => {
    const session = http2.connect(gateway.url);
    try {
      const answer = await h2request(session, { ':path': '/api/node-h2c' });
      expect(answer.status).toBe(200);
      expect(JSON.parse(answer.body).url).toBe('/api/node-h2c');
    } finally {
      session.close();
    }
  });

  it('does not forward HTTP/2 methods with lower-case letters, which rules compare exactly and some origins do not', async () => {
    const session = http2.connect(gateway.url);
    try {
      const before = origin.seen.length;
      for (const method of ['post', 'Delete', 'trace']) {
        const answer = await h2request(session, { ':method': method, ':path': `/api/lower-${method}` });
        expect(answer.status).toBe(501);
        expect(JSON.parse(answer.body).detail).toMatch(/lower-case/);
      }
      // The same session still forwards an upper-case method.
      expect((await h2request(session, { ':method': 'GET', ':path': '/api/upper' })).status).toBe(200);
      expect(origin.seen.slice(before).map((request) => request.url)).toEqual(['/api/upper']);
    } finally {
      session.close();
    }
  });

  it('keeps answering HTTP/2 requests while readiness fails during the shutdown delay, without a Connection header', async () => {
    const draining = await startGateway(tlsConfig(origin.url, { server: { http2: { cleartext: true }, shutdownDelay: 2_000 } }));
    const warnings: Error[] = [];
    const onWarning = (warning: Error): void => void warnings.push(warning);
    process.on('warning', onWarning);
    const session = http2.connect(draining.url);
    session.on('error', () => {});
    try {
      const shutdown = draining.shutdown();
      await new Promise((resolve) => setImmediate(resolve));
      expect(draining.lifecycle.phase).toBe('draining');
      expect((await h2request(session, { ':path': '/ready' })).status).toBe(503);
      const answer = await h2request(session, { ':path': '/api/during-drain' });
      expect(answer.status).toBe(200);
      // HTTP/2 has no Connection header (RFC 9113 §8.2.2); Node warns when one is set on a response.
      expect(warnings.filter((warning) => warning.name === 'UnsupportedWarning')).toEqual([]);
      session.destroy();
      await shutdown;
    } finally {
      process.off('warning', onWarning);
      session.destroy();
      await draining.close();
    }
  });

  it('on shutdown lets an HTTP/2 request in flight finish and sends GOAWAY, refusing new streams', async () => {
    const drained = await startGateway(tlsConfig(origin.url, { server: { http2: { cleartext: true }, drainTimeout: 10_000 } }));
    const session = http2.connect(drained.url);
    session.on('error', () => {});
    try {
      const goaway = new Promise<number>((resolve) => session.once('goaway', (code: number) => resolve(code)));
      const slow = h2request(session, { ':path': '/api/slow?delay=400' });
      // Shut down once the request is at the origin, so it is in flight however slow the machine.
      await waitFor(() => origin.seen.some((seen) => seen.url === '/api/slow?delay=400'), 10_000, 'the slow request at the origin');
      const shutdown = drained.shutdown();
      expect(await goaway).toBe(http2.constants.NGHTTP2_NO_ERROR);
      const answer = await slow;
      expect(answer.status).toBe(200);
      expect(JSON.parse(answer.body).url).toBe('/api/slow?delay=400');
      const result = await shutdown;
      expect(result.drained).toBe(true);
    } finally {
      session.destroy();
      await drained.close();
    }
  });
});
