import { IncomingMessage } from 'node:http';
import { Socket } from 'node:net';
import { HeaderNameSet } from '@edgekit/core';
import { describe, expect, it } from 'vitest';
import { sanitizeClientCertificateHeaders } from '../src/client-certificate.js';
import { clientCertificateHeaders } from '../src/config-schema/tls.js';

const NAMES = new HeaderNameSet(['x-client-cert', 'X-Forwarded-Client-Cert']);

/** A request as node:http builds it, on a plain (non-TLS) socket. */
function request(headers: Record<string, string>): IncomingMessage {
  const req = new IncomingMessage(new Socket());
  req.rawHeaders = Object.entries(headers).flat();
  req.headers = { ...headers };
  return req;
}

describe('client certificate header sanitising', () => {
  it('removes claimed certificate headers of a request that is not from a trusted proxy', () => {
    const req = request({ host: 'a', 'x-client-cert': 'CN=admin', 'X-Forwarded-Client-Cert': 'Hash=forged' });
    req.headers = { host: 'a', 'x-client-cert': 'CN=admin', 'x-forwarded-client-cert': 'Hash=forged' };
    sanitizeClientCertificateHeaders(req, NAMES, () => false);
    expect(req.headers).toEqual({ host: 'a' });
    expect(req.rawHeaders).toEqual(['host', 'a']);
  });

  it('removes the "_" spellings too, which CGI-style origins read as the "-" names', () => {
    const req = request({ host: 'a', X_Forwarded_Client_Cert: 'Hash=evil;Subject="CN=admin"', 'x-client_cert': 'CN=admin', x_other: 'kept' });
    req.headers = { host: 'a', x_forwarded_client_cert: 'Hash=evil;Subject="CN=admin"', 'x-client_cert': 'CN=admin', x_other: 'kept' };
    sanitizeClientCertificateHeaders(req, NAMES, () => false);
    expect(req.headers).toEqual({ host: 'a', x_other: 'kept' });
    expect(req.rawHeaders).toEqual(['host', 'a', 'x_other', 'kept']);
  });

  it('claims RFC 9440 and the common vendors\' certificate headers by default', () => {
    const defaults = clientCertificateHeaders.parse(undefined);
    for (const name of ['client-cert', 'client-cert-chain', 'x-forwarded-client-cert', 'x-arr-clientcert', 'x-amzn-mtls-clientcert', 'x-ssl-client-s-dn']) expect(defaults).toContain(name);
  });

  it('keeps the certificate headers a trusted proxy set', () => {
    const req = request({ host: 'a', 'x-forwarded-client-cert': 'Hash=abc' });
    sanitizeClientCertificateHeaders(req, NAMES, () => true);
    expect(req.headers['x-forwarded-client-cert']).toBe('Hash=abc');
    expect(req.rawHeaders).toEqual(['host', 'a', 'x-forwarded-client-cert', 'Hash=abc']);
  });

  it('does not ask whether the peer is trusted when nothing is claimed and the connection has no certificate', () => {
    const req = request({ host: 'a' });
    let asked = 0;
    sanitizeClientCertificateHeaders(req, NAMES, () => {
      asked++;
      return false;
    });
    expect(asked).toBe(0);
    expect(req.headers).toEqual({ host: 'a' });
  });
});
