import { type IncomingHttpHeaders, type Server, createServer } from 'node:http';
import http2 from 'node:http2';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { afterAll, beforeAll } from 'vitest';
import { type TestCertificateAuthority, createTestCertificates } from '@edgekit/test-utils/node';
import { type Gateway, type GatewayConfigInput, type GatewayLogger, createGateway } from '../src/index.js';

/** What the echo origin saw of one request. */
export interface Seen {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  httpVersion: string;
  /** Subject CN of the client certificate the gateway presented (upstream mTLS). */
  clientCn?: string;
}

/** A loopback origin (HTTP, or HTTPS with the given certificate) that answers every request with what it saw, as JSON. */
export interface EchoOrigin {
  url: string;
  seen: Seen[];
  server: Server;
  close(): Promise<void>;
}

export async function startEchoOrigin(tls?: { cert: string; key: string; ca?: string; requestCert?: boolean }): Promise<EchoOrigin> {
  const seen: Seen[] = [];
  const handler = (req: import('node:http').IncomingMessage, res: import('node:http').ServerResponse): void => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const socket = req.socket as TLSSocket;
      const peer = tls?.requestCert ? socket.getPeerCertificate() : undefined;
      const entry: Seen = { method: req.method ?? '', url: req.url ?? '', headers: req.headers, httpVersion: req.httpVersion, ...(peer?.subject ? { clientCn: String(peer.subject.CN) } : {}) };
      if (req.url !== '/health') seen.push(entry);
      const delay = /[?&]delay=(\d+)/.exec(req.url ?? '')?.[1];
      const body = JSON.stringify({ ...entry, bodyBytes: Buffer.concat(chunks).length });
      const send = (): void => {
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
        res.end(body);
      };
      if (delay === undefined) send();
      else setTimeout(send, Number(delay));
    });
  };
  const server: Server =
    tls === undefined ? createServer(handler) : (createHttpsServer({ cert: tls.cert, key: tls.key, ...(tls.ca ? { ca: tls.ca } : {}), requestCert: tls.requestCert ?? false, rejectUnauthorized: tls.requestCert ?? false }, handler) as unknown as Server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `${tls === undefined ? 'http' : 'https'}://${tls === undefined ? '127.0.0.1' : 'localhost'}:${port}`,
    seen,
    server,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** A gateway with one region, `us`, in front of `originUrl`. */
export function tlsConfig(originUrl: string, extra: { server?: GatewayConfigInput['server']; routes?: GatewayConfigInput['routes']; rateLimits?: GatewayConfigInput['rateLimits']; regionTls?: NonNullable<GatewayConfigInput['regions']>[number]['tls']; proxy?: GatewayConfigInput['proxy'] } = {}): GatewayConfigInput {
  return {
    edge: { location: 'test-edge', nodeId: 'node-1' },
    server: { host: '127.0.0.1', port: 0, shutdownDelay: 0, drainTimeout: 5_000, ...extra.server },
    regions: [{ name: 'us', url: originUrl, location: { lat: 39.04, lon: -77.49 }, ...(extra.regionTls === undefined ? {} : { tls: extra.regionTls }) }],
    routing: { defaultRegion: 'us' },
    geo: { trustedProxies: [], resolver: 'none' },
    health: { interval: 60_000, timeout: 5_000, jitter: 0, initialJitter: 0 },
    proxy: { connectTimeout: 2_000, headersTimeout: 10_000, retryBudget: false, ...extra.proxy },
    routes: extra.routes ?? [],
    rateLimits: extra.rateLimits ?? {},
    telemetry: { defaultMetrics: false, tracing: false },
  };
}

/** A certificate authority with a server certificate for `localhost`/127.0.0.1 and `*.a.test`, another for `b.test`, and a client certificate. */
export interface TestPki {
  ca: TestCertificateAuthority;
  server: ReturnType<TestCertificateAuthority['issue']>;
  other: ReturnType<TestCertificateAuthority['issue']>;
  client: ReturnType<TestCertificateAuthority['issue']>;
  /** A client certificate from an authority the gateway does not trust. */
  stranger: ReturnType<TestCertificateAuthority['issue']>;
  remove(): void;
}

export function createTestPki(): TestPki {
  const ca = createTestCertificates('gateway test CA');
  const foreign = createTestCertificates('foreign CA');
  return {
    ca,
    server: ca.issue({ commonName: 'localhost', dns: ['localhost', '*.a.test'], ips: ['127.0.0.1'], name: 'server' }),
    other: ca.issue({ commonName: 'b.test', dns: ['b.test'], name: 'other' }),
    client: ca.issue({ commonName: 'alice', dns: ['alice.clients.test'], client: true, name: 'client' }),
    stranger: foreign.issue({ commonName: 'mallory', client: true, name: 'stranger' }),
    remove() {
      ca.remove();
      foreign.remove();
    },
  };
}

export async function startGateway(config: GatewayConfigInput, logs: Array<{ level: string; msg: string; fields?: Record<string, unknown> }> = []): Promise<Gateway> {
  const logger: GatewayLogger = (level, msg, fields) => logs.push({ level, msg, fields });
  const gateway = await createGateway(config, { logger, env: {}, watchDebounce: 50 });
  await gateway.listen();
  return gateway;
}

/** The port a gateway listens on. */
export const portOf = (gateway: Gateway): number => Number(new URL(gateway.url).port);

/** An answer read whole. */
export interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** One request on an HTTP/2 session, its body read as text. */
export function h2request(session: http2.ClientHttp2Session, headers: http2.OutgoingHttpHeaders): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const stream = session.request(headers, { endStream: true });
    let response: http2.IncomingHttpHeaders = {};
    let body = '';
    stream.setEncoding('utf8');
    stream.on('response', (h) => (response = h));
    stream.on('data', (chunk: string) => (body += chunk));
    stream.once('end', () => resolve({ status: Number(response[':status']), headers: response as Answer['headers'], body }));
    stream.once('error', reject);
  });
}

/** An HTTP/2 origin: h2c, or TLS with `tls`. It answers `/health` itself and hands every other stream to `onStream`. */
export async function startH2Origin(
  onStream: (stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders) => void,
  tls?: http2.SecureServerOptions,
): Promise<{ url: string; close(): Promise<void> }> {
  const server = tls === undefined ? http2.createServer() : http2.createSecureServer(tls);
  const sessions = new Set<http2.ServerHttp2Session>();
  server.on('session', (session) => sessions.add(session));
  // A client refused during the handshake is the test's subject, not the origin's failure.
  server.on('tlsClientError', () => undefined);
  server.on('stream', (stream, headers) => {
    stream.on('error', () => undefined);
    if (headers[':path'] === '/health') {
      stream.respond({ ':status': 200 });
      stream.end();
      return;
    }
    onStream(stream, headers);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: tls === undefined ? `http://127.0.0.1:${port}` : `https://localhost:${port}`,
    async close() {
      for (const session of sessions) session.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** A test PKI and an HTTPS echo origin that asks for client certificates, started once for the tests of one describe block. */
export function useMtlsEchoOrigin(): { pki: TestPki; origin: EchoOrigin } {
  const world = {} as { pki: TestPki; origin: EchoOrigin };
  beforeAll(async () => {
    world.pki = createTestPki();
    world.origin = await startEchoOrigin({ cert: world.pki.server.cert, key: world.pki.server.key, ca: world.pki.ca.cert, requestCert: true });
  });
  afterAll(async () => {
    await world.origin?.close();
    world.pki?.remove();
  });
  return world;
}
