import https from 'node:https';
import type { TLSSocket } from 'node:tls';
import { createManualClock } from '@edgekit/core/testing';
import { type TestCertificateAuthority, closeServer, createTestCertificates, listen } from '@edgekit/test-utils';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { type HealthTarget, createHealthChecker } from '../src/index.js';

let authority: TestCertificateAuthority;
let origin: { url: string; clients: string[]; close(): Promise<void> };

beforeAll(async () => {
  authority = createTestCertificates('health test CA');
  const server = authority.issue({ commonName: 'localhost', dns: ['localhost'], ips: ['127.0.0.1'], name: 'server' });
  const clients: string[] = [];
  // Requires a client certificate from the authority: a probe without one fails the handshake.
  const listener = https.createServer({ cert: server.cert, key: server.key, ca: authority.cert, requestCert: true, rejectUnauthorized: true }, (req, res) => {
    clients.push(String((req.socket as TLSSocket).getPeerCertificate().subject?.CN));
    res.end('ok');
  });
  listener.on('tlsClientError', () => undefined);
  const port = await listen(listener as never);
  origin = { url: `https://127.0.0.1:${port}`, clients, close: () => closeServer(listener as never) };
});
afterAll(async () => {
  await origin?.close();
  authority?.remove();
});

async function verdict(target: HealthTarget): Promise<{ state: string | undefined; reason: string | undefined }> {
  const clock = createManualClock();
  const checker = createHealthChecker({ targets: [target], clock, initialJitter: 0, jitter: 0, interval: 1_000, timeout: 30_000, healthyThreshold: 1, unhealthyThreshold: 1 });
  try {
    clock.advance(0);
    await vi.waitFor(() => expect(checker.state(target.name)).not.toBe('unknown'), { timeout: 10_000, interval: 5 });
    return { state: checker.state(target.name), reason: checker.snapshot()[target.name]?.lastError };
  } finally {
    await checker.close();
  }
}

describe('HTTP probes over TLS with target settings', () => {
  it('probes an https target with its CA and client certificate (mTLS)', async () => {
    const client = authority.issue({ commonName: 'edge-prober', client: true, name: 'prober' });
    const before = origin.clients.length;
    expect((await verdict({ name: 'eu', url: origin.url, tls: { ca: authority.cert, cert: client.cert, key: client.key } })).state).toBe('healthy');
    expect(origin.clients.slice(before)).toEqual(['edge-prober']);
  });

  it('verifies by default: a target whose certificate chains to no trusted CA is unhealthy, the TLS error named', async () => {
    const result = await verdict({ name: 'eu', url: origin.url });
    expect(result.state).toBe('unhealthy');
    expect(result.reason).toMatch(/SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_VERIFY_LEAF_SIGNATURE/);
  });

  it('names the TLS setting at fault', () => {
    expect(() => createHealthChecker({ targets: [{ name: 'eu', url: origin.url, tls: { rejectUnauthorized: false } as never }] })).toThrow('option "targets[0].tls.rejectUnauthorized" is not a TLS setting');
  });
});
