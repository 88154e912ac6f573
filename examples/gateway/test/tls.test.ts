import { copyFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { spawnTs } from '@edgekit/test-utils/node';
import { stringify } from 'yaml';
import { request as httpsRequest } from 'node:https';
import http2 from 'node:http2';
import { type TLSSocket, connect as tlsConnect } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, type Gateway, parseConfig } from '../src/index.js';
import { waitFor } from './helpers.js';
import { type Answer, type EchoOrigin, type TestPki, createTestPki, h2request, portOf, startEchoOrigin, startGateway, tlsConfig, useMtlsEchoOrigin } from './tls-world.js';

/** The fingerprint of the certificate a new handshake presents for `servername`. */
function handshake(gateway: Gateway, pki: TestPki, servername?: string, extra: Record<string, unknown> = {}): Promise<TLSSocket> {
  return new Promise((resolve, reject) => {
    const socket = tlsConnect({ host: '127.0.0.1', port: portOf(gateway), ca: pki.ca.cert, rejectUnauthorized: false, ALPNProtocols: ['http/1.1'], ...(servername ? { servername } : {}), ...extra }, () => resolve(socket));
    socket.once('error', reject);
  });
}

async function presented(gateway: Gateway, pki: TestPki, servername?: string): Promise<string> {
  const socket = await handshake(gateway, pki, servername);
  const fingerprint = socket.getPeerCertificate().fingerprint256;
  socket.destroy();
  return fingerprint;
}

/** An HTTP/1.1 request over TLS with Node's https client. */
function get(gateway: Gateway, path: string, options: { servername?: string; host?: string; cert?: { cert: string; key: string }; ca: string; headers?: Record<string, string> }): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(
      {
        host: '127.0.0.1',
        port: portOf(gateway),
        path,
        agent: false,
        ca: options.ca,
        servername: options.servername ?? 'localhost',
        headers: { host: options.host ?? options.servername ?? 'localhost', ...options.headers },
        ...(options.cert ?? {}),
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (body += chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      },
    );
    req.once('error', reject);
    req.end();
  });
}

describe('TLS termination', () => {
  let pki: TestPki;
  let origin: EchoOrigin;
  let gateway: Gateway;
  const logs: Array<{ level: string; msg: string; fields?: Record<string, unknown> }> = [];

  beforeAll(async () => {
    pki = createTestPki();
    origin = await startEchoOrigin();
    // Copies: the reload test rewrites these files.
    copyFileSync(pki.server.certFile, `${pki.ca.dir}/served.crt`);
    copyFileSync(pki.server.keyFile, `${pki.ca.dir}/served.key`);
    gateway = await startGateway(
      tlsConfig(origin.url, {
        server: {
          tls: {
            certificates: [
              { cert: pki.other.certFile, key: pki.other.keyFile },
              { cert: `${pki.ca.dir}/served.crt`, key: `${pki.ca.dir}/served.key` },
            ],
            clientCertificates: { ca: [pki.ca.certFile] },
          },
        },
        routes: [
          { path: '/secure', clientCertificate: 'required', rateLimit: 'perCertificate' },
          { path: '/grpc.Service', clientCertificate: 'required' },
        ],
        rateLimits: { perCertificate: { limit: 2, window: 60_000, by: 'clientCertificate', algorithm: 'token-bucket' } },
      }),
      logs,
    );
  }, 60_000);
  afterAll(async () => {
    await gateway?.close();
    await origin?.close();
    pki?.remove();
  });

  it('picks the certificate by SNI: an exact name, a wildcard one label deep, else the first listed', async () => {
    expect(await presented(gateway, pki, 'b.test')).toBe(pki.other.fingerprint256);
    expect(await presented(gateway, pki, 'x.a.test')).toBe(pki.server.fingerprint256);
    expect(await presented(gateway, pki, 'LOCALHOST')).toBe(pki.server.fingerprint256);
    expect(await presented(gateway, pki, 'deep.x.a.test')).toBe(pki.other.fingerprint256);
    expect(await presented(gateway, pki)).toBe(pki.other.fingerprint256);
  });

  it('refuses TLS 1.1 and older by default', async () => {
    await expect(handshake(gateway, pki, 'localhost', { maxVersion: 'TLSv1.1', minVersion: 'TLSv1' })).rejects.toThrow();
    const socket = await handshake(gateway, pki, 'localhost');
    expect(['TLSv1.2', 'TLSv1.3']).toContain(socket.getProtocol());
    socket.destroy();
  });

  it('answers 421 to a request for a host the connection\'s certificate does not cover, over HTTP/1.1 and HTTP/2', async () => {
    const misdirected = await get(gateway, '/plain', { ca: pki.ca.cert, servername: 'b.test', host: 'api.a.test' });
    expect(misdirected.status).toBe(421);
    expect(misdirected.headers['content-type']).toBe('application/problem+json');
    expect(origin.seen.some((seen) => seen.url === '/plain')).toBe(false);
    // Another name the same certificate covers may reuse the connection (RFC 9113 §9.1.1).
    const session = http2.connect(gateway.url, { ca: pki.ca.cert, servername: 'localhost' });
    try {
      expect((await h2request(session, { ':path': '/health', ':authority': 'api.a.test' })).status).toBe(200);
      expect((await h2request(session, { ':path': '/health', ':authority': 'b.test' })).status).toBe(421);
    } finally {
      session.close();
    }
  });

  it('forwards a request with a verified client certificate on a required route, with the certificate in x-forwarded-client-cert', async () => {
    const answer = await get(gateway, '/secure/orders', { ca: pki.ca.cert, cert: pki.client, headers: { 'x-client-cert': 'CN=admin', 'x-forwarded-client-cert': 'Hash=forged' } });
    expect(answer.status).toBe(200);
    const seen = origin.seen.find((entry) => entry.url === '/secure/orders')!;
    expect(seen.headers['x-client-cert']).toBeUndefined();
    const xfcc = String(seen.headers['x-forwarded-client-cert']);
    expect(xfcc).toContain(`Hash=${pki.client.fingerprint256.replaceAll(':', '').toLowerCase()}`);
    expect(xfcc).toContain('Subject="');
    expect(xfcc).toContain('CN=alice');
    expect(xfcc).toContain('DNS=alice.clients.test');
    expect(xfcc).not.toContain('forged');
  });

  it('refuses a required route with 403 problem+json without a certificate or with one from another CA', async () => {
    const without = await get(gateway, '/secure/orders', { ca: pki.ca.cert });
    expect(without.status).toBe(403);
    expect(without.headers['content-type']).toBe('application/problem+json');
    expect(JSON.parse(without.body).detail).toMatch(/needs a client certificate/);
    const stranger = await get(gateway, '/secure/orders', { ca: pki.ca.cert, cert: pki.stranger });
    expect(stranger.status).toBe(403);
    expect(JSON.parse(stranger.body).detail).toMatch(/not trusted/);
    expect(origin.seen.filter((seen) => seen.url === '/secure/orders')).toHaveLength(1);
  });

  it('strips client-certificate headers a client sends on any route', async () => {
    await get(gateway, '/open/spoof', { ca: pki.ca.cert, headers: { 'x-client-cert': 'CN=admin', 'x-forwarded-client-cert': 'Hash=forged;Subject="CN=admin"', 'x-ssl-client-verify': 'SUCCESS' } });
    const seen = origin.seen.find((entry) => entry.url === '/open/spoof')!;
    expect(seen.headers['x-client-cert']).toBeUndefined();
    expect(seen.headers['x-forwarded-client-cert']).toBeUndefined();
    expect(seen.headers['x-ssl-client-verify']).toBeUndefined();
  });

  it('answers a gRPC request without a client certificate with grpc-status UNAUTHENTICATED', async () => {
    const session = http2.connect(gateway.url, { ca: pki.ca.cert, servername: 'localhost' });
    try {
      const answer = await h2request(session, { ':method': 'POST', ':path': '/grpc.Service/Call', 'content-type': 'application/grpc', te: 'trailers' });
      expect(answer.status).toBe(200);
      expect(answer.headers['content-type']).toBe('application/grpc');
      expect(answer.headers['grpc-status']).toBe('16');
    } finally {
      session.close();
    }
  });

  it('limits by verified client certificate', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 3; i++) statuses.push((await get(gateway, `/secure/limited-${i}`, { ca: pki.ca.cert, cert: pki.client })).status);
    // A bucket of two refilled over the minute (no window edge to cross between tests); the certificate spent one on /secure/orders already (refusals before the limit spend none).
    expect(statuses).toEqual([200, 429, 429]);
  });

  it('reloads rewritten certificate files: new handshakes get the new certificate, an open HTTP/2 connection keeps working', async () => {
    const session = http2.connect(gateway.url, { ca: pki.ca.cert, servername: 'localhost' });
    expect((await h2request(session, { ':path': '/health' })).status).toBe(200);
    const renewed = pki.ca.issue({ commonName: 'localhost', dns: ['localhost', '*.a.test'], ips: ['127.0.0.1'], name: 'renewed' });
    writeFileSync(`${pki.ca.dir}/served.key`, renewed.key);
    writeFileSync(`${pki.ca.dir}/served.crt`, renewed.cert);
    await waitFor(async () => (await presented(gateway, pki, 'localhost')) === renewed.fingerprint256, 10_000, 'the renewed certificate served');
    expect((await h2request(session, { ':path': '/health' })).status).toBe(200);
    expect((session.socket as TLSSocket).getPeerCertificate().fingerprint256).toBe(pki.server.fingerprint256);
    session.close();
    // A broken file is refused; the certificates in force stay.
    writeFileSync(`${pki.ca.dir}/served.key`, 'not a key');
    await expect(gateway.reloadCertificates()).rejects.toThrow(ConfigError);
    expect(await presented(gateway, pki, 'localhost')).toBe(renewed.fingerprint256);
    expect(logs.some((line) => line.msg === 'TLS certificates loaded')).toBe(true);
  });
});

describe('certificates and configuration reloads', () => {
  it('reads the certificate files again with every configuration reload, and rejects a reload whose files do not load', async () => {
    const pki = createTestPki();
    const origin = await startEchoOrigin();
    copyFileSync(pki.server.certFile, `${pki.ca.dir}/served.crt`);
    copyFileSync(pki.server.keyFile, `${pki.ca.dir}/served.key`);
    const config = tlsConfig(origin.url, { server: { tls: { certificates: [{ cert: `${pki.ca.dir}/served.crt`, key: `${pki.ca.dir}/served.key` }], watch: false } } });
    const gateway = await startGateway(config);
    try {
      const renewed = pki.ca.issue({ commonName: 'localhost', dns: ['localhost'], name: 'renewed-reload' });
      writeFileSync(`${pki.ca.dir}/served.key`, renewed.key);
      writeFileSync(`${pki.ca.dir}/served.crt`, renewed.cert);
      expect(await presented(gateway, pki, 'localhost')).toBe(pki.server.fingerprint256);
      await gateway.reload(config);
      expect(await presented(gateway, pki, 'localhost')).toBe(renewed.fingerprint256);
      const broken = tlsConfig(origin.url, { server: { tls: { certificates: [{ cert: `${pki.ca.dir}/served.crt`, key: pki.other.keyFile }], watch: false } } });
      await expect(gateway.reload(broken)).rejects.toThrow(/server\.tls\.certificates\[0\]\.key: does not match the certificate/);
      expect(gateway.version).toBe(2);
      expect(await presented(gateway, pki, 'localhost')).toBe(renewed.fingerprint256);
    } finally {
      await gateway.close();
      await origin.close();
      pki.remove();
    }
  });
});

describe('the gateway process on SIGHUP', () => {
  it('reads the certificate files again and serves the new certificate to new handshakes', async () => {
    const pki = createTestPki();
    const origin = await startEchoOrigin();
    copyFileSync(pki.server.certFile, `${pki.ca.dir}/served.crt`);
    copyFileSync(pki.server.keyFile, `${pki.ca.dir}/served.key`);
    const file = `${pki.ca.dir}/gateway.yaml`;
    // No file watch: only the signal can make the change seen.
    writeFileSync(file, stringify(tlsConfig(origin.url, { server: { tls: { certificates: [{ cert: `${pki.ca.dir}/served.crt`, key: `${pki.ca.dir}/served.key` }], watch: false } } })));
    const child = spawnTs(fileURLToPath(new URL('../src/main.ts', import.meta.url)), ['--', '--config', file, '--no-watch']);
    try {
      const { url } = JSON.parse(await child.waitForLine((text) => text.includes('"msg":"listening"'), 90_000)) as { url: string };
      const gateway = { url } as Gateway;
      expect(await presented(gateway, pki, 'localhost')).toBe(pki.server.fingerprint256);
      const renewed = pki.ca.issue({ commonName: 'localhost', dns: ['localhost'], name: 'renewed-hup' });
      writeFileSync(`${pki.ca.dir}/served.key`, renewed.key);
      writeFileSync(`${pki.ca.dir}/served.crt`, renewed.cert);
      child.child.kill('SIGHUP');
      await waitFor(async () => (await presented(gateway, pki, 'localhost')) === renewed.fingerprint256, 30_000, 'the renewed certificate served after SIGHUP');
      expect(child.child.exitCode).toBeNull();
    } finally {
      await child.stop();
      await origin.close();
      pki.remove();
    }
  }, 120_000);
});

describe('TLS configuration', () => {
  let pki: TestPki;
  beforeAll(() => {
    pki = createTestPki();
  });
  afterAll(() => pki?.remove());

  const issuesOf = async (run: () => Promise<unknown> | unknown): Promise<string[]> => {
    try {
      await run();
    } catch (error) {
      if (error instanceof ConfigError) return error.issues.map((issue) => `${issue.path}: ${issue.message}`);
      throw error;
    }
    return [];
  };

  it('names the certificate entry at fault: a key of another certificate, a file that cannot be read', async () => {
    const issues = await issuesOf(() =>
      startGateway(
        tlsConfig('http://127.0.0.1:9', {
          server: { tls: { certificates: [{ cert: pki.server.certFile, key: pki.other.keyFile }, { cert: `${pki.ca.dir}/missing.crt`, key: pki.other.keyFile }] } },
        }),
      ),
    );
    expect(issues).toEqual(['server.tls.certificates[0].key: does not match the certificate', 'server.tls.certificates[1].cert: cannot be read: ENOENT']);
  });

  it('validates listener and upstream TLS settings with their paths', async () => {
    const issues = await issuesOf(() =>
      parseConfig(
        {
          ...tlsConfig('https://127.0.0.1:9', { regionTls: { rejectUnauthorized: false } as never, proxy: { tls: { cert: 'client.crt' } } }),
          server: { tls: { certificates: [], minVersion: 'TLSv1.1' }, maxConcurrentStreams: 0, http2: { cleartext: 'yes' } },
          routes: [{ path: '/mtls', clientCertificate: 'required' }],
        },
        { env: {} },
      ),
    );
    expect(issues).toEqual(
      expect.arrayContaining([
        'server.tls.certificates: at least one certificate is required',
        expect.stringMatching(/^server\.tls\.minVersion: /),
        expect.stringMatching(/^server\.maxConcurrentStreams: /),
        expect.stringMatching(/^server\.http2\.cleartext: /),
        'regions[0].tls.rejectUnauthorized: verification is turned off only with "insecureSkipVerify: true"',
        'proxy.tls.key: give both "cert" and "key" for a client certificate',
        'routes[0].clientCertificate: "required" needs server.tls.clientCertificates.ca (the CAs client certificates are verified against)',
      ]),
    );
  });
});

describe('TLS to upstreams', () => {
  const world = useMtlsEchoOrigin();

  const through = async (config: Parameters<typeof tlsConfig>[1], logs: Array<{ level: string; msg: string }> = []): Promise<{ status: number; body: string }> => {
    const gateway = await startGateway(tlsConfig(world.origin.url, config), logs);
    try {
      const response = await fetch(`${gateway.url}/upstream`);
      return { status: response.status, body: await response.text() };
    } finally {
      await gateway.close();
    }
  };

  it('verifies the upstream certificate by default: an origin signed by an unknown CA is not reached', async () => {
    const answer = await through({ regionTls: { cert: world.pki.client.certFile, key: world.pki.client.keyFile } });
    expect(answer.status).toBeGreaterThanOrEqual(500);
  });

  it('reaches an origin whose certificate chains to the configured CA, presenting the client certificate (upstream mTLS)', async () => {
    const before = world.origin.seen.length;
    const answer = await through({ regionTls: { ca: [world.pki.ca.certFile], cert: world.pki.client.certFile, key: world.pki.client.keyFile } });
    expect(answer.status).toBe(200);
    expect(world.origin.seen.slice(before).map((seen) => seen.clientCn)).toEqual(['alice']);
  });

  it('takes proxy.tls for every https region, and skips verification only with insecureSkipVerify, with a warning at startup', async () => {
    const logs: Array<{ level: string; msg: string }> = [];
    const answer = await through({ proxy: { tls: { insecureSkipVerify: true, cert: world.pki.client.certFile, key: world.pki.client.keyFile } } }, logs);
    expect(answer.status).toBe(200);
    expect(logs).toContainEqual(expect.objectContaining({ level: 'warn', msg: 'upstream TLS certificates are not verified (proxy.tls.insecureSkipVerify)' }));
  });
});
