import type { AuthRequest } from './types.js';

/** Returned by the readers when the request carries the credential header more than once or empty. */
export const MALFORMED_REQUEST: unique symbol = Symbol('malformed credential header');

/** What a credential reader found: the credential, nothing (`undefined`), or a malformed request. */
export type ReadCredential = string | undefined | typeof MALFORMED_REQUEST;

/**
 * Counts occurrences of a header in Node's `rawHeaders`. Node keeps only the first `Authorization`
 * and joins other duplicates with `, `, so the parsed `headers` object cannot reveal them.
 */
function rawCount(req: AuthRequest, lowerName: string): number {
  const raw = req.rawHeaders;
  if (!Array.isArray(raw)) return 1;
  let count = 0;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i];
    if (name !== undefined && name.length === lowerName.length && name.toLowerCase() === lowerName) count++;
  }
  return count;
}

function isSpace(code: number): boolean {
  return code === 0x20 || code === 0x09;
}

/** The header value, `undefined` when absent, or {@link MALFORMED_REQUEST} when it is duplicated. */
function singleHeader(req: AuthRequest, lowerName: string): ReadCredential {
  const value = req.headers[lowerName];
  if (value === undefined) return undefined;
  if (typeof value !== 'string') return MALFORMED_REQUEST;
  if (rawCount(req, lowerName) > 1) return MALFORMED_REQUEST;
  return value;
}

function skipSpaces(value: string, from: number): number {
  let i = from;
  while (i < value.length && isSpace(value.charCodeAt(i))) i++;
  return i;
}

/**
 * Where the credential starts when `value` begins with `scheme` (lower case; compared
 * case-insensitively, RFC 9110 §11.1) followed by a space or the end; -1 for another scheme.
 */
function afterScheme(value: string, scheme: string): number {
  const start = skipSpaces(value, 0);
  let end = start;
  while (end < value.length && !isSpace(value.charCodeAt(end))) end++;
  if (end - start !== scheme.length) return -1;
  for (let i = 0; i < scheme.length; i++) {
    let code = value.charCodeAt(start + i);
    if (code >= 0x41 && code <= 0x5a) code += 0x20;
    if (code !== scheme.charCodeAt(i)) return -1;
  }
  return skipSpaces(value, end);
}

/** True when the `Authorization` header uses `scheme` (lower case), valid or not. */
export function hasAuthorizationScheme(req: AuthRequest, scheme: string): boolean {
  const value = req.headers.authorization;
  if (value === undefined) return false;
  if (typeof value !== 'string') return true;
  return afterScheme(value, scheme) !== -1;
}

/**
 * Reads the credential of `Authorization: <scheme> <credential>` (RFC 9110 §11.6.2). Returns
 * `undefined` when the header is absent or uses another scheme, and {@link MALFORMED_REQUEST} for a
 * duplicated header or an empty credential.
 */
export function readAuthorization(req: AuthRequest, scheme: string): ReadCredential {
  const value = singleHeader(req, 'authorization');
  if (typeof value !== 'string') return value;
  const start = afterScheme(value, scheme);
  if (start === -1) return undefined;
  let end = value.length;
  while (end > start && isSpace(value.charCodeAt(end - 1))) end--;
  if (end === start) return MALFORMED_REQUEST;
  return start === 0 && end === value.length ? value : value.slice(start, end);
}

/** Reads a credential sent in its own header (such as `X-API-Key`). */
export function readHeaderCredential(req: AuthRequest, lowerName: string): ReadCredential {
  const value = singleHeader(req, lowerName);
  if (typeof value !== 'string') return value;
  const start = skipSpaces(value, 0);
  let end = value.length;
  while (end > start && isSpace(value.charCodeAt(end - 1))) end--;
  if (end === start) return MALFORMED_REQUEST;
  return start === 0 && end === value.length ? value : value.slice(start, end);
}

/** The request path without its query string, for telemetry (query strings may carry secrets). */
export function requestPath(req: AuthRequest): string | undefined {
  const url = req.url;
  if (typeof url !== 'string') return undefined;
  const q = url.indexOf('?');
  const path = q === -1 ? url : url.slice(0, q);
  return path.length > 512 ? path.slice(0, 512) : path;
}
