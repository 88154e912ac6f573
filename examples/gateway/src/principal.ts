import { createHash } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { AuthRequest } from '@edgekit/auth';
import { clientCertificateOf } from './client-certificate.js';

/**
 * Who a route rule authenticated the request as, for the cache: the API key's id, or the JWT's
 * issuer and subject (the token's hash when it has no subject), else the verified client
 * certificate's SHA-256; `undefined` for a request no rule authenticated. Credentials that were only presented, not verified, give no principal: they make
 * the request private through the cache's `credentialHeaders`, but cannot invalidate anything.
 */
export function principalOf(req: IncomingMessage): string | undefined {
  const info = (req as AuthRequest).auth;
  if (info === undefined) {
    const certificate = clientCertificateOf(req);
    return certificate === undefined ? undefined : `cert:${certificate.fingerprint256}`;
  }
  if (info.scheme === 'apiKey') return `key:${info.keyId}`;
  if (info.subject !== undefined) return `jwt:${info.claims.iss ?? ''}:${info.subject}`;
  return `jwt-token:${createHash('sha256').update(info.token).digest('hex').slice(0, 32)}`;
}
