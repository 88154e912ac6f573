import http2 from 'node:http2';
import https from 'node:https';
import type { TLSSocket } from 'node:tls';
import { type TestCertificateAuthority, closeServer, createTestCertificates, listen } from '@edgekit/test-utils';
import { type ForwarderOptions, createForwarder } from '@edgekit/proxy';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { send, startFront } from './helpers.js';

let authority: TestCertificateAuthority;
let stranger: TestCertificateAuthority;
let server: ReturnType<TestCertificateAuthority['issue']>;
let named: ReturnType<TestCertificateAuthority['issue']>;
let client: ReturnType<TestCertificateAuthority['issue']>;

beforeAll(() => {
  authority = createTestCertificates('upstream test CA');
  stranger = createTestCertificates('unknown CA');
  server = authority.issue({ commonName: 'localhost', dns: ['localhost'], ips: ['127.0.0.1'], name: 'server' });
  named = authority.issue({ commonName: 'api.internal.test', dns: ['api.internal.test'], name: 'named' });
  client = authority.issue({ commonName: 'edge-gateway', client: true, name: 'client' });
});
afterAll(() => {
  authority?.remove();
  stranger?.remove();
});

const cleanup: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  while (cleanup.length > 0) await cleanup.pop()!();
});

/** What a TLS upstream saw of one request. */
interface Seen {
  name: string;
  alpn: string | false | null;
  clientCn: string | undefined;
  servername: string | false | undefined;
}

/** An HTTPS upstream (HTTP/1.1, or HTTP/2 only with `h2`) that asks for a client certificate without requiring one. */
async function startTlsUpstream(name: string, certificate: { cert: string; key: string }, options: { h2?: boolean } = {}): Promise<{ url: string; seen: Seen[] }> {
  const seen: Seen[] = [];
  const tls = { cert: certificate.cert, key: certificate.key, ca: authority.cert, requestCert: true, rejectUnauthorized: false };
  const record = (socket: TLSSocket): void => {
    const peer = socket.getPeerCertificate();
    seen.push({ name, alpn: socket.alpnProtocol, clientCn: peer?.subject?.CN === undefined ? undefined : String(peer.subject.CN), servername: (socket as TLSSocket & { servername?: string | false }).servername });
  };
  const answer = (res: { writeHead(status: number, headers: Record<string, string>): unknown; end(body: string): void }): void => {
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.end(`from ${name}`);
  };
  const h2 = options.h2 === true;
  const listener = h2
    ? http2.createSecureServer({ ...tls, allowHTTP1: false }, (req, res) => {
        record(req.socket as TLSSocket);
        answer(res);
      })
    : https.createServer(tls, (req, res) => {
        record(req.socket as TLSSocket);
        answer(res);
      });
  const sessions = new Set<http2.ServerHttp2Session>();
  listener.on('session', (session: http2.ServerHttp2Session) => sessions.add(session));
  // A refused handshake (the proxy's verification failing) ends in a socket error on this side.
  listener.on('tlsClientError', () => undefined);
  const port = await listen(listener as never);
  cleanup.push(async () => {
    for (const session of sessions) session.destroy();
    if (!h2) (listener as https.Server).closeAllConnections();
    await closeServer(listener as never);
  });
  return { url: `https://127.0.0.1:${port}`, seen };
}

async function through(options: ForwarderOptions) {
  const forwarder = createForwarder({ retryBackoff: false, retryBudget: false, connectTimeout: 5_000, ...options });
  const errors: Array<{ status: number; code: string; cause: string | undefined }> = [];
  forwarder.on('error', (event) => errors.push({ status: event.status, code: event.code, cause: ((event.error as Error).cause as { code?: string } | undefined)?.code }));
  const front = await startFront(forwarder);
  cleanup.push(async () => {
    await front.close();
    await forwarder.close();
  });
  return { front, errors };
}

const region = (url: string, extra: Record<string, unknown> = {}) => ({ name: 'eu', url, location: { lat: 50.11, lon: 8.68 }, ...extra });
const endpointsRegion = (endpoints: string[], extra: Record<string, unknown> = {}) => ({ name: 'eu', url: 'http://eu.invalid', location: { lat: 50.11, lon: 8.68 }, endpoints, outlierDetection: false, ...extra });

describe('TLS to upstream endpoints', () => {
  it('verifies https endpoints by default: an endpoint whose certificate chains to no trusted CA answers 502 EUPSTREAM naming the TLS failure as cause', async () => {
    const a = await startTlsUpstream('a', server);
    const { front, errors } = await through({ regions: [endpointsRegion([a.url]) as never] });
    const reply = await send(`${front.url}/x`);
    expect(reply.status).toBe(502);
    expect(reply.headers['content-type']).toContain('application/problem+json');
    expect(reply.json().type).toBe('urn:edgekit:problem:upstream-failed');
    expect(a.seen).toEqual([]);
    expect(errors).toEqual([{ status: 502, code: 'EUPSTREAM', cause: 'SELF_SIGNED_CERT_IN_CHAIN' }]);
  });

  it('reaches endpoints whose certificate chains to the configured CA, presenting the client certificate (upstream mTLS)', async () => {
    const a = await startTlsUpstream('a', server);
    const b = await startTlsUpstream('b', server);
    const { front } = await through({ regions: [endpointsRegion([a.url, b.url], { balancer: 'round-robin' }) as never], tls: { ca: authority.cert, cert: client.cert, key: client.key } });
    const replies = await Promise.all([send(`${front.url}/x`), send(`${front.url}/x`), send(`${front.url}/x`), send(`${front.url}/x`)]);
    expect(replies.map((r) => r.status)).toEqual([200, 200, 200, 200]);
    expect(new Set(replies.map((r) => r.body))).toEqual(new Set(['from a', 'from b']));
    expect([...a.seen, ...b.seen].map((s) => s.clientCn)).toEqual(['edge-gateway', 'edge-gateway', 'edge-gateway', 'edge-gateway']);
  });

  it('checks the certificate against servername (sent by SNI) instead of the endpoint address', async () => {
    const a = await startTlsUpstream('a', named);
    const wrongName = await through({ regions: [endpointsRegion([a.url]) as never], tls: { ca: authority.cert } });
    expect((await send(`${wrongName.front.url}/x`)).status).toBe(502);
    expect(wrongName.errors[0]?.cause).toBe('ERR_TLS_CERT_ALTNAME_INVALID');
    const { front } = await through({ regions: [endpointsRegion([a.url]) as never], tls: (r) => (r.name === 'eu' ? { ca: authority.cert, servername: 'api.internal.test' } : undefined) });
    expect((await send(`${front.url}/x`)).body).toBe('from a');
    expect(a.seen.map((s) => s.servername)).toEqual(['api.internal.test']);
  });

  it('fails over to the next endpoint when one presents a certificate that does not verify', async () => {
    const bad = await startTlsUpstream('bad', stranger.issue({ commonName: 'localhost', ips: ['127.0.0.1'], name: 'stranger-server' }));
    const good = await startTlsUpstream('good', server);
    const { front } = await through({ regions: [endpointsRegion([bad.url, good.url], { balancer: 'round-robin' }) as never], tls: { ca: authority.cert } });
    const replies = [await send(`${front.url}/x`), await send(`${front.url}/x`)];
    expect(replies.map((r) => [r.status, r.body])).toEqual([
      [200, 'from good'],
      [200, 'from good'],
    ]);
    expect(bad.seen).toEqual([]);
  });

  it('skips verification only with insecureSkipVerify', async () => {
    const a = await startTlsUpstream('a', stranger.issue({ commonName: 'localhost', ips: ['127.0.0.1'], name: 'stranger-skip' }));
    const { front } = await through({ regions: [endpointsRegion([a.url]) as never], tls: { insecureSkipVerify: true } });
    expect((await send(`${front.url}/x`)).body).toBe('from a');
  });
});

describe('HTTP/2 over TLS to upstreams', () => {
  it('speaks h2 (ALPN) to an https region URL, verified against the configured CA, with the client certificate', async () => {
    const eu = await startTlsUpstream('eu', server, { h2: true });
    const { front } = await through({ regions: [region(eu.url)], http2: true, tls: { ca: authority.cert, cert: client.cert, key: client.key } });
    const replies = await Promise.all([send(`${front.url}/a`), send(`${front.url}/b`)]);
    expect(replies.map((r) => [r.status, r.body])).toEqual([
      [200, 'from eu'],
      [200, 'from eu'],
    ]);
    expect(eu.seen.map((s) => [s.alpn, s.clientCn])).toEqual([
      ['h2', 'edge-gateway'],
      ['h2', 'edge-gateway'],
    ]);
  });

  it('speaks h2 to https endpoints, and answers 502 without a hang when the certificate does not verify', async () => {
    const a = await startTlsUpstream('a', server, { h2: true });
    const verified = await through({ regions: [endpointsRegion([a.url]) as never], http2: true, tls: { ca: authority.cert } });
    expect((await send(`${verified.front.url}/x`)).body).toBe('from a');
    expect(a.seen.map((s) => s.alpn)).toEqual(['h2']);
    const refused = await through({ regions: [endpointsRegion([a.url]) as never], http2: true });
    expect((await send(`${refused.front.url}/x`)).status).toBe(502);
    expect(refused.errors[0]).toEqual({ status: 502, code: 'EUPSTREAM', cause: 'SELF_SIGNED_CERT_IN_CHAIN' });
    expect(a.seen).toHaveLength(1);
  });
});

describe('HTTP/2 over TLS to an upstream without h2', () => {
  it('answers 502 EUPSTREAM when the upstream does not offer h2 by ALPN, without sending the request', async () => {
    const eu = await startTlsUpstream('eu', server);
    const { front, errors } = await through({ regions: [region(eu.url)], http2: true, tls: { ca: authority.cert } });
    expect((await send(`${front.url}/x`)).status).toBe(502);
    expect(errors.map((e) => e.code)).toEqual(['EUPSTREAM']);
    expect(eu.seen).toEqual([]);
  });
});

describe('upstream TLS options', () => {
  it('names the TLS setting at fault', () => {
    const regions = [region('https://127.0.0.1:1')];
    expect(() => createForwarder({ regions, tls: { rejectUnauthorized: false } as never })).toThrow('option "tls.rejectUnauthorized" is not a TLS setting: verification is turned off only with "insecureSkipVerify: true"');
    expect(() => createForwarder({ regions, tls: { cert: client.cert } })).toThrow('option "tls" needs both "cert" and "key"');
    expect(() => createForwarder({ regions, tls: { ca: [] } })).toThrow('option "tls.ca" must be PEM text or a non-empty array');
    expect(() => createForwarder({ regions, tls: { insecureSkipVerify: 'yes' } as never })).toThrow('option "tls.insecureSkipVerify" must be a boolean');
    expect(() => createForwarder({ regions, tls: () => ({ servername: '' }) })).toThrow('option "tls("eu").servername" must be a non-empty string');
  });
});
