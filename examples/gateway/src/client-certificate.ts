import type { IncomingMessage, ServerResponse } from 'node:http';
import type { TLSSocket } from 'node:tls';
import { type HeaderNameSet, type ProblemDetails, sendProblem } from '@edgekit/core';
import { GRPC_STATUS, isGrpcContentType, sendGrpcStatus } from '@edgekit/proxy';
import { type CertificateSet, certificateCovers, certificateFor } from './tls.js';

/** The verified client certificate of a request's TLS connection. */
export interface ClientCertificate {
  /** Subject distinguished name, RFC 4514-like (`CN=alice,O=Example`). */
  readonly subject: string;
  readonly issuer: string;
  /** DNS, URI, email and IP names of its subjectAltName, as `DNS:alice.example`. */
  readonly subjectAltNames: readonly string[];
  /** SHA-256 of the DER certificate, lower-case hex without colons (Envoy's `Hash`). */
  readonly fingerprint256: string;
}

const VERIFIED = new WeakMap<object, ClientCertificate | null>();

function distinguishedName(fields: Record<string, string | string[]> | undefined): string {
  if (fields === undefined) return '';
  const parts: string[] = [];
  for (const [key, value] of Object.entries(fields).reverse()) {
    for (const item of Array.isArray(value) ? value : [value]) parts.push(`${key}=${item.replace(/([,+"\\<>;])/g, '\\$1')}`);
  }
  return parts.join(',');
}

/**
 * The client certificate of the request's connection when it chains to a configured CA, else
 * `undefined` (none sent, not verified, or a plain connection). Read once per connection.
 */
export function clientCertificateOf(req: IncomingMessage): ClientCertificate | undefined {
  const socket = req.socket as TLSSocket | undefined;
  if (socket?.encrypted !== true) return undefined;
  const known = VERIFIED.get(socket);
  if (known !== undefined) return known ?? undefined;
  let verified: ClientCertificate | null = null;
  if (socket.authorized) {
    const peer = socket.getPeerCertificate();
    if (peer !== null && typeof peer === 'object' && peer.fingerprint256 !== undefined) {
      verified = {
        subject: distinguishedName(peer.subject as unknown as Record<string, string | string[]>),
        issuer: distinguishedName(peer.issuer as unknown as Record<string, string | string[]>),
        subjectAltNames: peer.subjectaltname === undefined ? [] : peer.subjectaltname.split(', ').map((name) => name.replace(/^IP Address:/, 'IP:')),
        fingerprint256: peer.fingerprint256.replaceAll(':', '').toLowerCase(),
      };
    }
  }
  VERIFIED.set(socket, verified);
  return verified ?? undefined;
}

/** The request is gRPC (`content-type: application/grpc[+proto|;...]`, gRPC over HTTP/2). */
export function isGrpcRequest(req: IncomingMessage): boolean {
  const type = req.headers['content-type'];
  return isGrpcContentType(typeof type === 'string' ? type : undefined);
}

/**
 * Middleware of a route with `clientCertificate: required`: a request without a verified client
 * certificate is refused with 403 problem+json (gRPC status `UNAUTHENTICATED` for gRPC requests).
 */
export function requireClientCertificate(req: IncomingMessage, res: ServerResponse, next: () => void): void {
  if (clientCertificateOf(req) !== undefined) {
    next();
    return;
  }
  const socket = req.socket as TLSSocket | undefined;
  const reason =
    socket?.encrypted !== true
      ? 'this route needs a TLS connection with a client certificate'
      : socket.getPeerCertificate?.()?.fingerprint256 === undefined
        ? 'this route needs a client certificate'
        : `the client certificate is not trusted (${String(socket.authorizationError ?? 'unverified')})`;
  if (isGrpcRequest(req)) {
    sendGrpcStatus(res, GRPC_STATUS.UNAUTHENTICATED, reason);
    return;
  }
  const problem: ProblemDetails = { title: 'Forbidden', status: 403, detail: reason };
  sendProblem(res, problem);
}

/**
 * Envoy's `x-forwarded-client-cert` element for a verified certificate: `Hash`, `Subject` and each
 * `DNS`/`URI` name (`Subject` quoted, as Envoy writes it).
 */
export function forwardedClientCert(certificate: ClientCertificate): string {
  const parts = [`Hash=${certificate.fingerprint256}`, `Subject="${certificate.subject.replace(/["\\]/g, '\\$&')}"`];
  for (const name of certificate.subjectAltNames) {
    if (name.startsWith('DNS:')) parts.push(`DNS=${name.slice(4)}`);
    else if (name.startsWith('URI:')) parts.push(`URI=${name.slice(4)}`);
  }
  return parts.join(';');
}

/**
 * Removes request headers that claim a client certificate (a client could write any certificate
 * there) and, on a connection with a verified certificate, sets `x-forwarded-client-cert` from it,
 * as Envoy's `SANITIZE_SET` does. Requests from a trusted proxy keep theirs: it terminated TLS.
 * `fromTrustedProxy` is asked only when the request claims a certificate or its connection has one
 * (for any other request both answers leave it unchanged).
 */
export function sanitizeClientCertificateHeaders(req: IncomingMessage, names: HeaderNameSet, fromTrustedProxy: (req: IncomingMessage) => boolean): void {
  const claimed = names.firstIn(req.rawHeaders) !== undefined;
  const certificate = clientCertificateOf(req);
  if ((!claimed && certificate === undefined) || fromTrustedProxy(req)) return;
  const headers = req.headers;
  if (claimed) {
    for (const name of names.names) delete headers[name];
    const raw = req.rawHeaders;
    for (let i = raw.length - 2; i >= 0; i -= 2) {
      if (names.match(raw[i]!) === undefined) continue;
      delete headers[raw[i]!.toLowerCase()]; // an `_` spelling is its own key in req.headers
      raw.splice(i, 2);
    }
  }
  if (certificate !== undefined) {
    const value = forwardedClientCert(certificate);
    headers['x-forwarded-client-cert'] = value;
    req.rawHeaders.push('x-forwarded-client-cert', value);
  }
}

/**
 * RFC 9110 §15.5.20: a request for a host the connection's certificate does not cover is answered
 * 421 (Misdirected Request), so the client opens a connection for that host instead; connection
 * reuse for other names the same certificate covers (RFC 9113 §9.1.1) stays allowed. Only checked
 * when several certificates are served: with one, every connection gets it.
 */
export function misdirected(req: IncomingMessage, certificates: CertificateSet, res: ServerResponse): boolean {
  if (certificates.certificates.length < 2) return false;
  const socket = req.socket as TLSSocket | undefined;
  if (socket?.encrypted !== true) return false;
  const host = req.headers.host;
  if (host === undefined) return false;
  const served = certificateFor(certificates, socket.servername);
  if (certificateCovers(served, host)) return false;
  const detail = `this connection's certificate does not cover ${host}: open a new connection for it`;
  if (isGrpcRequest(req)) sendGrpcStatus(res, GRPC_STATUS.UNAVAILABLE, detail); // the client retries on another connection
  else sendProblem(res, { title: 'Misdirected Request', status: 421, detail });
  return true;
}
