import { createHmac } from 'node:crypto';
import { type IncomingMessage, type Server, type ServerResponse, createServer } from 'node:http';
import { closeServer, listen } from '@edgekit/test-utils';
import { type CryptoKey, type JWK, type JWTPayload, SignJWT, exportJWK, generateKeyPair } from 'jose';
import type { AuthMiddleware, AuthRequest } from '../src/index.js';

/** Fixed test epoch (ms): 2030-01-01T00:00:00Z. Manual clocks start here. */
export const T0 = Date.UTC(2030, 0, 1);
export const ISSUER = 'https://id.test';
export const AUDIENCE = 'orders-api';

export interface TestKey {
  kid: string;
  alg: string;
  privateKey: CryptoKey;
  publicKey: CryptoKey;
  jwk: JWK;
}

export async function makeKey(alg: 'RS256' | 'ES256' | 'EdDSA' | 'PS256' | 'ES384', kid: string): Promise<TestKey> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  const jwk = { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' };
  return { kid, alg, privateKey, publicKey, jwk };
}

/** Signs a token whose times are relative to `now` (ms), with sensible valid defaults. */
export async function sign(
  key: TestKey,
  now: number,
  claims: JWTPayload = {},
  header: { kid?: string | null; alg?: string; typ?: string } = {},
): Promise<string> {
  const nowSec = Math.floor(now / 1000);
  const payload: JWTPayload = { iss: ISSUER, aud: AUDIENCE, sub: 'user-1', iat: nowSec, exp: nowSec + 300, scope: 'orders:read', ...claims };
  for (const [name, value] of Object.entries(payload)) if (value === undefined) delete payload[name];
  const protectedHeader: Record<string, unknown> = { alg: header.alg ?? key.alg, typ: header.typ ?? 'JWT' };
  if (header.kid !== null) protectedHeader.kid = header.kid ?? key.kid;
  return new SignJWT(payload).setProtectedHeader(protectedHeader as { alg: string }).sign(key.privateKey);
}

export function b64url(value: string | Buffer): string {
  return Buffer.from(value).toString('base64url');
}

/** A token with an arbitrary header and an HMAC signature keyed by `secret` (to forge algorithm confusion). */
export function hmacToken(header: Record<string, unknown>, payload: Record<string, unknown>, secret: string | Buffer): string {
  const input = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(payload))}`;
  return `${input}.${createHmac('sha256', secret).update(input).digest('base64url')}`;
}

export interface TestServer {
  url: string;
  server: Server;
  close(): Promise<void>;
}

/** A real HTTP server on loopback running `middlewares` in order, then answering 200 with `req.auth`. */
export async function serve(...middlewares: AuthMiddleware[]): Promise<TestServer> {
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const request = req as IncomingMessage & AuthRequest;
    let index = 0;
    const next = (): void => {
      const middleware = middlewares[index++];
      if (middleware) {
        middleware(request, res, next);
        return;
      }
      const auth = request.auth;
      const body = JSON.stringify(auth ? { scheme: auth.scheme, subject: auth.subject, scopes: auth.scopes } : null);
      res.writeHead(200, { 'content-type': 'application/json' }).end(body);
    };
    next();
  });
  const port = await listen(server);
  return { url: `http://127.0.0.1:${port}`, server, close: () => closeServer(server) };
}

export interface Answer {
  status: number;
  body: string;
  challenge: string | null;
  contentType: string | null;
}

export async function call(url: string, headers: Record<string, string> = {}, method = 'GET'): Promise<Answer> {
  const response = await fetch(url, { headers, method });
  return { status: response.status, body: await response.text(), challenge: response.headers.get('www-authenticate'), contentType: response.headers.get('content-type') };
}

export { waitFor } from '@edgekit/test-utils/node';

export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[index] as number;
}

export interface RawAnswer {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** Sends a hand-written HTTP/1.1 request (duplicated or binary headers that fetch refuses to send). */
export async function rawRequest(url: string, headerLines: Array<string | Buffer>): Promise<RawAnswer> {
  const { port } = new URL(url);
  const { connect } = await import('node:net');
  return new Promise<RawAnswer>((resolve, reject) => {
    const socket = connect(Number(port), '127.0.0.1');
    const chunks: Buffer[] = [];
    socket.on('data', (chunk) => chunks.push(chunk));
    socket.on('error', reject);
    socket.on('end', () => {
      const text = Buffer.concat(chunks).toString('latin1');
      const [head = '', ...rest] = text.split('\r\n\r\n');
      const [statusLine = '', ...lines] = head.split('\r\n');
      const headers: Record<string, string> = {};
      for (const line of lines) {
        const i = line.indexOf(':');
        headers[line.slice(0, i).toLowerCase()] = line.slice(i + 1).trim();
      }
      resolve({ status: Number(statusLine.split(' ')[1]), headers, body: rest.join('\r\n\r\n') });
    });
    const parts: Buffer[] = [Buffer.from('GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n')];
    for (const line of headerLines) parts.push(Buffer.isBuffer(line) ? line : Buffer.from(line, 'latin1'), Buffer.from('\r\n'));
    parts.push(Buffer.from('\r\n'));
    socket.write(Buffer.concat(parts));
  });
}
