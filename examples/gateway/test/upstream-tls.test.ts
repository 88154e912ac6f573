import http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { type EchoOrigin, type TestPki, createTestPki, startEchoOrigin, startGateway, tlsConfig } from './tls-world.js';

/** A TLS origin speaking HTTP/2 only (ALPN `h2`), asking for a client certificate; records ALPN and the client's CN. */
async function startH2Origin(pki: TestPki): Promise<{ url: string; seen: Array<{ alpn: string | false | null; clientCn: string | undefined }>; close(): Promise<void> }> {
  const seen: Array<{ alpn: string | false | null; clientCn: string | undefined }> = [];
  const server = http2.createSecureServer({ cert: pki.server.cert, key: pki.server.key, ca: pki.ca.cert, requestCert: true, rejectUnauthorized: false, allowHTTP1: false }, (req, res) => {
    const socket = req.socket as TLSSocket;
    const cn = socket.getPeerCertificate()?.subject?.CN;
    if (req.url !== '/health') seen.push({ alpn: socket.alpnProtocol, clientCn: cn === undefined ? undefined : String(cn) });
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.end(`h2 ${req.url}`);
  });
  const sessions = new Set<http2.ServerHttp2Session>();
  server.on('session', (session) => sessions.add(session));
  server.on('tlsClientError', () => undefined);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `https://localhost:${(server.address() as AddressInfo).port}`,
    seen,
    async close() {
      for (const session of sessions) session.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

describe('TLS to upstream endpoints and services', () => {
  let pki: TestPki;
  let origin: EchoOrigin;
  beforeAll(async () => {
    pki = createTestPki();
    origin = await startEchoOrigin({ cert: pki.server.cert, key: pki.server.key, ca: pki.ca.cert, requestCert: true });
  });
  afterAll(async () => {
    await origin?.close();
    pki?.remove();
  });

  const withEndpoints = (tls: Record<string, unknown> | undefined, extra: Record<string, unknown> = {}) => {
    const config = tlsConfig('http://us.invalid', { proxy: tls === undefined ? {} : { tls: tls as never } });
    return { ...config, regions: [{ ...config.regions![0]!, endpoints: [origin.url], outlierDetection: false as const, ...extra }] };
  };

  async function get(config: ReturnType<typeof tlsConfig>, path = '/upstream'): Promise<{ status: number; type: string | null; body: string }> {
    const gateway = await startGateway(config);
    try {
      const response = await fetch(`${gateway.url}${path}`);
      return { status: response.status, type: response.headers.get('content-type'), body: await response.text() };
    } finally {
      await gateway.close();
    }
  }

  it('verifies https endpoints against the system CAs by default: 502 problem+json, the origin not reached', async () => {
    const before = origin.seen.length;
    const answer = await get(withEndpoints(undefined));
    expect(answer.status).toBe(502);
    expect(answer.type).toContain('application/problem+json');
    expect(JSON.parse(answer.body).type).toBe('urn:edgekit:problem:upstream-failed');
    expect(origin.seen.length).toBe(before);
  });

  it('reaches https endpoints with the region\'s CA, presenting its client certificate (upstream mTLS)', async () => {
    const before = origin.seen.length;
    const config = withEndpoints(undefined, { tls: { ca: [pki.ca.certFile], cert: pki.client.certFile, key: pki.client.keyFile } });
    expect((await get(config)).status).toBe(200);
    expect(origin.seen.slice(before).map((seen) => seen.clientCn)).toEqual(['alice']);
  });

  it('takes proxy.tls for endpoints of regions without their own tls, servername included', async () => {
    const other = await startEchoOrigin({ cert: pki.other.cert, key: pki.other.key });
    try {
      const config = withEndpoints({ ca: [pki.ca.certFile], servername: 'b.test' });
      const answer = await get({ ...config, regions: [{ ...config.regions[0]!, endpoints: [other.url.replace('localhost', '127.0.0.1')] }] });
      expect(answer.status).toBe(200);
      expect(other.seen).toHaveLength(1);
    } finally {
      await other.close();
    }
  });

  it('applies a service region\'s tls to its endpoints and its URL', async () => {
    const before = origin.seen.length;
    const base = tlsConfig(origin.url);
    const tls = { ca: [pki.ca.certFile], cert: pki.client.certFile, key: pki.client.keyFile };
    const location = { lat: 39.04, lon: -77.49 };
    const config = {
      ...base,
      services: [
        { name: 'pool', match: { pathPrefix: '/pool' }, regions: [{ name: 'us', url: 'http://us.invalid', location, endpoints: [origin.url], outlierDetection: false as const, tls }] },
        { name: 'single', match: { pathPrefix: '/single' }, regions: [{ name: 'us', url: origin.url, location, tls }] },
        { name: 'unverified', match: { pathPrefix: '/unverified' }, regions: [{ name: 'us', url: 'http://us.invalid', location, endpoints: [origin.url], outlierDetection: false as const }] },
      ],
    };
    const gateway = await startGateway(config);
    try {
      const statuses = [];
      for (const path of ['/pool/a', '/single/b', '/unverified/c']) statuses.push((await fetch(`${gateway.url}${path}`)).status);
      expect(statuses).toEqual([200, 200, 502]);
      expect(origin.seen.slice(before).map((seen) => [seen.url, seen.clientCn])).toEqual([
        ['/pool/a', 'alice'],
        ['/single/b', 'alice'],
      ]);
    } finally {
      await gateway.close();
    }
  });

  it('speaks HTTP/2 over TLS (ALPN h2) to a region URL and to endpoints, verified, with the client certificate', async () => {
    const h2 = await startH2Origin(pki);
    try {
      const tls = { ca: [pki.ca.certFile], cert: pki.client.certFile, key: pki.client.keyFile };
      const single = tlsConfig(h2.url, { regionTls: tls, proxy: { http2: true } });
      expect(await get(single, '/one')).toMatchObject({ status: 200, body: 'h2 /one' });
      const pooled = withEndpoints(undefined, { tls, http2: true, endpoints: [h2.url] });
      expect(await get(pooled, '/two')).toMatchObject({ status: 200, body: 'h2 /two' });
      expect(h2.seen).toEqual([
        { alpn: 'h2', clientCn: 'alice' },
        { alpn: 'h2', clientCn: 'alice' },
      ]);
    } finally {
      await h2.close();
    }
  });

  it('probes https regions and endpoints with their TLS settings: active health checks pass where requests do', async () => {
    const probes: string[] = [];
    const count = (req: { url?: string; socket: unknown }): void => {
      if (req.url === '/health') probes.push(String((req.socket as TLSSocket).getPeerCertificate()?.subject?.CN));
    };
    origin.server.on('request', count);
    const logs: Array<{ level: string; msg: string; fields?: Record<string, unknown> }> = [];
    const tls = { ca: [pki.ca.certFile], cert: pki.client.certFile, key: pki.client.keyFile };
    const single = tlsConfig(origin.url, { regionTls: tls });
    const config = {
      ...single,
      health: { interval: 60_000, timeout: 5_000, jitter: 0, initialJitter: 0, healthyThreshold: 1, unhealthyThreshold: 1 },
      services: [{ name: 'pool', match: { pathPrefix: '/pool' }, regions: [{ name: 'us', url: 'http://us.invalid', location: { lat: 0, lon: 0 }, endpoints: [origin.url], outlierDetection: false as const, tls }] }],
    };
    const gateway = await startGateway(config, logs);
    try {
      await vi.waitFor(() => expect(probes).toHaveLength(2), { timeout: 10_000, interval: 20 });
      expect(probes).toEqual(['alice', 'alice']);
      await vi.waitFor(() => expect(logs).toContainEqual(expect.objectContaining({ msg: 'region health changed', fields: expect.objectContaining({ region: 'us', state: 'healthy' }) })), { timeout: 10_000, interval: 20 });
      expect(logs.filter((entry) => entry.msg.endsWith('health changed') && entry.fields?.healthy === false)).toEqual([]);
      expect((await fetch(`${gateway.url}/pool/x`)).status).toBe(200);
    } finally {
      origin.server.off('request', count);
      await gateway.close();
    }
  });

  it('warns at startup about a service region that skips verification', async () => {
    const logs: Array<{ level: string; msg: string }> = [];
    const base = tlsConfig(origin.url);
    const gateway = await startGateway(
      { ...base, services: [{ name: 'legacy', match: { pathPrefix: '/legacy' }, regions: [{ name: 'us', url: origin.url, location: { lat: 0, lon: 0 }, tls: { insecureSkipVerify: true } }] }] },
      logs,
    );
    await gateway.close();
    expect(logs).toContainEqual(expect.objectContaining({ level: 'warn', msg: 'upstream TLS certificates of region "us" of service "legacy" are not verified' }));
  });
});
