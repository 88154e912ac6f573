import type { TLSSocket } from 'node:tls';
import { describe, expect, it, vi } from 'vitest';
import { type TestPki, startEchoOrigin, startGateway, startH2Origin, tlsConfig, useMtlsEchoOrigin } from './tls-world.js';

/** A TLS origin speaking HTTP/2 only (ALPN `h2`), asking for a client certificate; records ALPN and the client's CN. */
async function startMtlsH2Origin(pki: TestPki): Promise<{ url: string; seen: Array<{ alpn: string | false | null; clientCn: string | undefined }>; close(): Promise<void> }> {
  const seen: Array<{ alpn: string | false | null; clientCn: string | undefined }> = [];
  const origin = await startH2Origin(
    (stream, headers) => {
      const socket = stream.session!.socket as TLSSocket;
      const cn = socket.getPeerCertificate()?.subject?.CN;
      seen.push({ alpn: socket.alpnProtocol, clientCn: cn === undefined ? undefined : String(cn) });
      stream.respond({ ':status': 200, 'content-type': 'text/plain' });
      stream.end(`h2 ${headers[':path']}`);
    },
    { cert: pki.server.cert, key: pki.server.key, ca: pki.ca.cert, requestCert: true, rejectUnauthorized: false, allowHTTP1: false },
  );
  return { ...origin, seen };
}

describe('TLS to upstream endpoints and services', () => {
  const world = useMtlsEchoOrigin();

  const withEndpoints = (tls: Record<string, unknown> | undefined, extra: Record<string, unknown> = {}) => {
    const config = tlsConfig('http://us.invalid', { proxy: tls === undefined ? {} : { tls: tls as never } });
    return { ...config, regions: [{ ...config.regions![0]!, endpoints: [world.origin.url], outlierDetection: false as const, ...extra }] };
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
    const before = world.origin.seen.length;
    const answer = await get(withEndpoints(undefined));
    expect(answer.status).toBe(502);
    expect(answer.type).toContain('application/problem+json');
    expect(JSON.parse(answer.body).type).toBe('urn:edgekit:problem:upstream-failed');
    expect(world.origin.seen.length).toBe(before);
  });

  it('reaches https endpoints with the region\'s CA, presenting its client certificate (upstream mTLS)', async () => {
    const before = world.origin.seen.length;
    const config = withEndpoints(undefined, { tls: { ca: [world.pki.ca.certFile], cert: world.pki.client.certFile, key: world.pki.client.keyFile } });
    expect((await get(config)).status).toBe(200);
    expect(world.origin.seen.slice(before).map((seen) => seen.clientCn)).toEqual(['alice']);
  });

  it('takes proxy.tls for endpoints of regions without their own tls, servername included', async () => {
    const other = await startEchoOrigin({ cert: world.pki.other.cert, key: world.pki.other.key });
    try {
      const config = withEndpoints({ ca: [world.pki.ca.certFile], servername: 'b.test' });
      const answer = await get({ ...config, regions: [{ ...config.regions[0]!, endpoints: [other.url.replace('localhost', '127.0.0.1')] }] });
      expect(answer.status).toBe(200);
      expect(other.seen).toHaveLength(1);
    } finally {
      await other.close();
    }
  });

  it('applies a service region\'s tls to its endpoints and its URL', async () => {
    const before = world.origin.seen.length;
    const base = tlsConfig(world.origin.url);
    const tls = { ca: [world.pki.ca.certFile], cert: world.pki.client.certFile, key: world.pki.client.keyFile };
    const location = { lat: 39.04, lon: -77.49 };
    const config = {
      ...base,
      services: [
        { name: 'pool', match: { pathPrefix: '/pool' }, regions: [{ name: 'us', url: 'http://us.invalid', location, endpoints: [world.origin.url], outlierDetection: false as const, tls }] },
        { name: 'single', match: { pathPrefix: '/single' }, regions: [{ name: 'us', url: world.origin.url, location, tls }] },
        { name: 'unverified', match: { pathPrefix: '/unverified' }, regions: [{ name: 'us', url: 'http://us.invalid', location, endpoints: [world.origin.url], outlierDetection: false as const }] },
      ],
    };
    const gateway = await startGateway(config);
    try {
      const statuses = [];
      for (const path of ['/pool/a', '/single/b', '/unverified/c']) statuses.push((await fetch(`${gateway.url}${path}`)).status);
      expect(statuses).toEqual([200, 200, 502]);
      expect(world.origin.seen.slice(before).map((seen) => [seen.url, seen.clientCn])).toEqual([
        ['/pool/a', 'alice'],
        ['/single/b', 'alice'],
      ]);
    } finally {
      await gateway.close();
    }
  });

  it('speaks HTTP/2 over TLS (ALPN h2) to a region URL and to endpoints, verified, with the client certificate', async () => {
    const h2 = await startMtlsH2Origin(world.pki);
    try {
      const tls = { ca: [world.pki.ca.certFile], cert: world.pki.client.certFile, key: world.pki.client.keyFile };
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
    world.origin.server.on('request', count);
    const logs: Array<{ level: string; msg: string; fields?: Record<string, unknown> }> = [];
    const tls = { ca: [world.pki.ca.certFile], cert: world.pki.client.certFile, key: world.pki.client.keyFile };
    const single = tlsConfig(world.origin.url, { regionTls: tls });
    const config = {
      ...single,
      health: { interval: 60_000, timeout: 5_000, jitter: 0, initialJitter: 0, healthyThreshold: 1, unhealthyThreshold: 1 },
      services: [{ name: 'pool', match: { pathPrefix: '/pool' }, regions: [{ name: 'us', url: 'http://us.invalid', location: { lat: 0, lon: 0 }, endpoints: [world.origin.url], outlierDetection: false as const, tls }] }],
    };
    const gateway = await startGateway(config, logs);
    try {
      await vi.waitFor(() => expect(probes).toHaveLength(2), { timeout: 10_000, interval: 20 });
      expect(probes).toEqual(['alice', 'alice']);
      await vi.waitFor(() => expect(logs).toContainEqual(expect.objectContaining({ msg: 'region health changed', fields: expect.objectContaining({ region: 'us', state: 'healthy' }) })), { timeout: 10_000, interval: 20 });
      expect(logs.filter((entry) => entry.msg.endsWith('health changed') && entry.fields?.healthy === false)).toEqual([]);
      expect((await fetch(`${gateway.url}/pool/x`)).status).toBe(200);
    } finally {
      world.origin.server.off('request', count);
      await gateway.close();
    }
  });

  it('warns at startup about a service region that skips verification', async () => {
    const logs: Array<{ level: string; msg: string }> = [];
    const base = tlsConfig(world.origin.url);
    const gateway = await startGateway(
      { ...base, services: [{ name: 'legacy', match: { pathPrefix: '/legacy' }, regions: [{ name: 'us', url: world.origin.url, location: { lat: 0, lon: 0 }, tls: { insecureSkipVerify: true } }] }] },
      logs,
    );
    await gateway.close();
    expect(logs).toContainEqual(expect.objectContaining({ level: 'warn', msg: 'upstream TLS certificates of region "us" of service "legacy" are not verified' }));
  });
});
