import type { IncomingHttpHeaders } from 'node:http';
import { describeValue, firstHeader } from '@edgekit/core';

/** The parts of a request an affinity key is read from (Node's `IncomingMessage` fits). */
export interface AffinityRequest {
  readonly headers: IncomingHttpHeaders;
}

/** Where the affinity key of a request comes from. */
export type AffinitySource =
  /** A request header, such as `x-user-id` (the design's Istio `httpHeaderName`). */
  | { header: string }
  /** A cookie by name. */
  | { cookie: string }
  /**
   * The `sub` claim of the bearer JWT in `header` (default `authorization`). The token is only
   * decoded, not verified: a forged subject moves the caller's own requests, nothing more. Verify
   * tokens with `@edgekit/auth` before the forwarder when the key must be trusted.
   */
  | { jwtSubject: true | { header: string } }
  /** Any function of the request; `undefined` means "no key". */
  | { key: (request: AffinityRequest) => string | undefined };

/** Reads the affinity key of a request, `undefined` when it has none. */
export type AffinityKey = (request: AffinityRequest) => string | undefined;

function cookieValue(header: string, name: string): string | undefined {
  // RFC 6265 §5.4: `name=value` pairs separated by `; `.
  let start = 0;
  while (start < header.length) {
    let end = header.indexOf(';', start);
    if (end === -1) end = header.length;
    const eq = header.indexOf('=', start);
    if (eq !== -1 && eq < end && header.slice(start, eq).trim() === name) {
      const value = header.slice(eq + 1, end).trim();
      return value.length > 0 ? value.replace(/^"(.*)"$/, '$1') : undefined;
    }
    start = end + 1;
  }
  return undefined;
}

function jwtSubject(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  const token = value.startsWith('Bearer ') || value.startsWith('bearer ') ? value.slice(7).trim() : value.trim();
  const first = token.indexOf('.');
  const second = token.indexOf('.', first + 1);
  if (first <= 0 || second <= first) return undefined;
  try {
    const payload: unknown = JSON.parse(Buffer.from(token.slice(first + 1, second), 'base64url').toString('utf8'));
    const sub = payload !== null && typeof payload === 'object' ? (payload as { sub?: unknown }).sub : undefined;
    return typeof sub === 'string' && sub.length > 0 ? sub : undefined;
  } catch {
    return undefined;
  }
}

/** Builds the function that reads an affinity key; `where` names the option in error messages. */
export function createAffinityKey(source: AffinitySource, where = 'affinity'): AffinityKey {
  if (source === null || typeof source !== 'object') throw new TypeError(`${where} must be { header }, { cookie }, { jwtSubject } or { key } (got ${describeValue(source)})`);
  if ('header' in source) {
    if (typeof source.header !== 'string' || source.header.length === 0) throw new TypeError(`${where}.header must be a non-empty string (got ${describeValue(source.header)})`);
    const name = source.header.toLowerCase();
    return (request) => {
      const value = firstHeader(request.headers, name);
      return value === undefined || value.length === 0 ? undefined : value;
    };
  }
  if ('cookie' in source) {
    if (typeof source.cookie !== 'string' || source.cookie.length === 0) throw new TypeError(`${where}.cookie must be a non-empty string (got ${describeValue(source.cookie)})`);
    const name = source.cookie;
    return (request) => {
      const header = request.headers.cookie;
      const text = Array.isArray(header) ? header.join('; ') : header;
      return text === undefined ? undefined : cookieValue(text, name);
    };
  }
  if ('jwtSubject' in source) {
    const spec = source.jwtSubject;
    const name = spec === true ? 'authorization' : typeof spec === 'object' && spec !== null && typeof spec.header === 'string' && spec.header.length > 0 ? spec.header.toLowerCase() : undefined;
    if (name === undefined) throw new TypeError(`${where}.jwtSubject must be true or { header } (got ${describeValue(spec)})`);
    return (request) => jwtSubject(firstHeader(request.headers, name));
  }
  if ('key' in source) {
    if (typeof source.key !== 'function') throw new TypeError(`${where}.key must be a function (got ${describeValue(source.key)})`);
    return source.key;
  }
  throw new TypeError(`${where} must be { header }, { cookie }, { jwtSubject } or { key } (got ${describeValue(source)})`);
}
