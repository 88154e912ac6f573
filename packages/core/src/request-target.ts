import { EdgekitError } from './errors.js';
import type { ProblemDetails } from './http.js';

/** Why a request target was refused; `RequestTargetError.reason`. */
export type RequestTargetRefusal =
  /** Empty, or neither origin-form, absolute-form (http/https), `*` (OPTIONS) nor authority-form (CONNECT). */
  | 'form'
  /** A `%` not followed by two hex digits. */
  | 'malformed-percent'
  /** `%2F`: a slash inside a segment, which origins split or keep as they please. */
  | 'encoded-slash'
  /** `%5C` or a raw `\`: a separator on some origins, a character on others. */
  | 'backslash'
  /** A raw or percent-encoded control byte (`%00`-`%1F`, `%7F`). */
  | 'control'
  /** Overlong UTF-8: `%C0` / `%C1` (`%C0%AE` for `.`), `%E0` before `%80`-`%9F`, `%F0` before `%80`-`%8F`. */
  | 'overlong'
  /** A character whose compatibility form (Unicode NFKC) adds `.`, `/` or `\` (fullwidth `%EF%BC%8E` is `.`), which origins that normalise read as path syntax. */
  | 'compatibility-form'
  /** A `#` in a request target (RFC 9112 §3.2 has no fragment). */
  | 'fragment'
  /** A dot segment with parameters (`..;x`), which some origins resolve as `..`. */
  | 'dot-segment-parameter'
  /** A `;` path parameter while `pathParameters` is `refuse`. */
  | 'path-parameter';

/** A request target that cannot be given one meaning: answer 400. */
export class RequestTargetError extends EdgekitError {
  declare readonly code: 'EBADTARGET';
  /** What was wrong with the target. */
  readonly reason: RequestTargetRefusal;

  constructor(reason: RequestTargetRefusal, message: string) {
    super('EBADTARGET', message);
    this.reason = reason;
  }

  /** The RFC 9457 body of the 400 answer (it names the reason, never echoes the target). */
  get problem(): ProblemDetails {
    return { title: 'Bad Request', status: 400, detail: `the request target is refused: ${this.message}`, reason: this.reason };
  }
}

/** A request target reduced to the one path every rule matches and the upstream receives. */
export interface CanonicalRequestTarget {
  /** How the client wrote it. `asterisk` and `authority` targets have no path rules apply to. */
  readonly form: 'origin' | 'absolute' | 'asterisk' | 'authority';
  /** The canonical path (`/api/admin`), or `*` / the authority for the two special forms. */
  readonly path: string;
  /** The query with its `?`, unchanged, or `''`. */
  readonly query: string;
  /** `path + query`: what `req.url` becomes and what is forwarded. */
  readonly target: string;
  /**
   * True when the path differs from the one the client sent: a hop that routed on the raw path
   * may have seen another request. Reducing absolute-form alone does not count.
   */
  readonly changed: boolean;
}

/** Options of {@link canonicalizeRequestTarget}. */
export interface CanonicalizeOptions {
  /** The request method: `*` is accepted only for OPTIONS, authority-form only (and always) for CONNECT. */
  method?: string;
  /**
   * `;` parameters inside path segments: `keep` them as part of the segment (RFC 3986 §3.3), or
   * `refuse` the request, because some origins (servlet containers) strip them before routing,
   * so `/api;x/admin` reaches their `/api/admin`. Dot segments with parameters are always refused.
   * Default: `keep`.
   */
  pathParameters?: 'keep' | 'refuse';
}

// Character classes of request-target code units (RFC 3986 §3.3 pchar, plus the separators).
const PLAIN = 0; // unreserved, sub-delims but ";", ":" and "@"
const PERCENT = 1;
const DOT = 2;
const SLASH = 3;
const SEMICOLON = 4;
const BACKSLASH = 5;
const CONTROL = 6;
const HASH = 7;
const ENCODE = 8; // not allowed raw in a path: sent percent-encoded
const QUESTION = 9;

const CLASS = new Uint8Array(256).fill(ENCODE);
for (let c = 0; c < 0x20; c++) CLASS[c] = CONTROL;
CLASS[0x7f] = CONTROL;
for (const ch of "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_~!$&'()*+,=:@") CLASS[ch.charCodeAt(0)] = PLAIN;
CLASS[0x25] = PERCENT;
CLASS[0x2e] = DOT;
CLASS[0x2f] = SLASH;
CLASS[0x3b] = SEMICOLON;
CLASS[0x5c] = BACKSLASH;
CLASS[0x23] = HASH;
CLASS[0x3f] = QUESTION;

// RFC 3986 §2.3: only these are decoded; every other escape keeps its meaning and gets upper-case hex.
const UNRESERVED = new Uint8Array(256);
for (const ch of 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~') UNRESERVED[ch.charCodeAt(0)] = 1;

const HEX = '0123456789ABCDEF';
const ABSOLUTE = /^https?:\/\//i;

function hexValue(code: number): number {
  if (code >= 0x30 && code <= 0x39) return code - 0x30;
  const lower = code | 0x20;
  if (lower >= 0x61 && lower <= 0x66) return lower - 0x61 + 10;
  return -1;
}

function refuse(reason: RequestTargetRefusal, message: string): never {
  throw new RequestTargetError(reason, message);
}

/** The byte at `i`: a `%XY` escape or a raw code unit below 256; -1 otherwise (or at the end). */
function byteAt(path: string, i: number): number {
  const code = path.charCodeAt(i);
  if (code === 0x25) {
    const high = hexValue(path.charCodeAt(i + 1));
    const low = hexValue(path.charCodeAt(i + 2));
    return high < 0 || low < 0 ? -1 : high * 16 + low;
  }
  return code < 256 ? code : -1;
}

/** Whether `lead` followed by `next` starts an overlong UTF-8 sequence (RFC 3629 §3: never valid). */
function isOverlong(lead: number, next: number): boolean {
  if (lead === 0xc0 || lead === 0xc1) return true;
  if (lead === 0xe0) return next >= 0x80 && next < 0xa0;
  if (lead === 0xf0) return next >= 0x80 && next < 0x90;
  return false;
}

const PATH_SYNTAX = /[./\\]/g;

/**
 * Whether the path's decoded characters gain `.`, `/` or `\` under Unicode NFKC (`．` U+FF0E is `.`,
 * `‥` U+2025 is `..`, `／` U+FF0F is `/`): an origin that normalises would see other segments.
 * Paths that are not UTF-8 have no such form.
 */
function hasCompatibilitySyntax(path: string): boolean {
  if (!/%[C-F][0-9A-F]/.test(path)) return false;
  let decoded: string;
  try {
    decoded = decodeURIComponent(path);
  } catch {
    return false;
  }
  const normal = decoded.normalize('NFKC');
  return normal !== decoded && (normal.match(PATH_SYNTAX)?.length ?? 0) !== (decoded.match(PATH_SYNTAX)?.length ?? 0);
}

function escapeByte(byte: number): string {
  return `%${HEX[byte >> 4]}${HEX[byte & 15]}`;
}

/** The path with escapes normalised (RFC 3986 §6.2.2.1-2) and disallowed raw characters encoded. */
function normalizeEscapes(path: string): string {
  let out = '';
  let from = 0;
  for (let i = 0; i < path.length; i++) {
    const code = path.charCodeAt(i);
    const kind = code < 256 ? CLASS[code]! : ENCODE;
    if (kind === PLAIN || kind === DOT || kind === SLASH || kind === SEMICOLON) continue;
    out += path.slice(from, i);
    if (kind === PERCENT) {
      const high = hexValue(path.charCodeAt(i + 1));
      const low = hexValue(path.charCodeAt(i + 2));
      if (high < 0 || low < 0) refuse('malformed-percent', 'a "%" is not followed by two hex digits');
      const byte = high * 16 + low;
      if (byte === 0x2f) refuse('encoded-slash', 'an encoded "/" (%2F) in the path');
      if (byte === 0x5c) refuse('backslash', 'an encoded "\\" (%5C) in the path');
      if (byte < 0x20 || byte === 0x7f) refuse('control', 'an encoded control byte in the path');
      if (isOverlong(byte, byteAt(path, i + 3))) refuse('overlong', 'an overlong UTF-8 sequence in the path');
      out += UNRESERVED[byte] === 1 ? String.fromCharCode(byte) : escapeByte(byte);
      i += 2;
    } else if (kind === BACKSLASH) {
      refuse('backslash', 'a "\\" in the path');
    } else if (kind === CONTROL) {
      refuse('control', 'a control character in the path');
    } else if (kind === HASH) {
      refuse('fragment', 'a "#" in the request target');
    } else if (code < 256) {
      // Node hands the request line over as latin1: one code unit per byte.
      if (isOverlong(code, byteAt(path, i + 1))) refuse('overlong', 'an overlong UTF-8 sequence in the path');
      out += escapeByte(code);
    } else {
      const bytes = Buffer.from(path.slice(i, i + (code >= 0xd800 && code <= 0xdbff ? 2 : 1)), 'utf8');
      for (const byte of bytes) out += escapeByte(byte);
      if (code >= 0xd800 && code <= 0xdbff) i++;
    }
    from = i + 1;
  }
  const normalized = from === 0 ? path : out + path.slice(from);
  if (hasCompatibilitySyntax(normalized)) refuse('compatibility-form', 'a character whose compatibility form (NFKC) is ".", "/" or "\\" in the path');
  return normalized;
}

/**
 * RFC 3986 §5.2.4 dot-segment removal over `/`-separated segments, also merging runs of `/`
 * (`//admin` is `/admin` on most origins). Climbing above the root stays at the root.
 */
function removeDotSegments(path: string, pathParameters: 'keep' | 'refuse'): string {
  const segments = path.split('/');
  const out: string[] = [];
  let trailingSlash = false;
  for (let i = 1; i < segments.length; i++) {
    const segment = segments[i]!;
    const last = i === segments.length - 1;
    const semicolon = segment.indexOf(';');
    if (semicolon !== -1) {
      const name = segment.slice(0, semicolon);
      if (name === '.' || name === '..') refuse('dot-segment-parameter', 'a dot segment with ";" parameters');
      if (pathParameters === 'refuse') refuse('path-parameter', 'a ";" parameter in the path');
    }
    if (segment === '' || segment === '.') {
      trailingSlash = last;
    } else if (segment === '..') {
      out.pop();
      trailingSlash = last;
    } else {
      out.push(segment);
      trailingSlash = false;
    }
  }
  return `/${out.join('/')}${trailingSlash && out.length > 0 ? '/' : ''}`;
}

/** True when `path` needs neither escape normalisation nor dot-segment removal (the common case). */
function isPlainPath(path: string, pathParameters: 'keep' | 'refuse'): boolean {
  let previous = 0;
  for (let i = 0; i < path.length; i++) {
    const code = path.charCodeAt(i);
    const kind = code < 256 ? CLASS[code]! : ENCODE;
    if (kind === PLAIN) {
      previous = code;
      continue;
    }
    if (kind === SLASH) {
      if (previous === 0x2f) return false; // "//"
    } else if (kind === DOT) {
      if (previous === 0x2f) return false; // a segment starting with "." (maybe a dot segment)
    } else if (kind !== SEMICOLON || pathParameters === 'refuse') {
      return false;
    }
    previous = code;
  }
  return true;
}

function checkQuery(query: string): void {
  for (let i = 0; i < query.length; i++) {
    const code = query.charCodeAt(i);
    if (code < 0x20 || code === 0x7f) refuse('control', 'a control character in the query');
    if (code === 0x23) refuse('fragment', 'a "#" in the request target');
  }
}

/**
 * Reduces a request target (`req.url`) to its one canonical form, or throws a
 * {@link RequestTargetError} (answer 400) when it cannot be given one meaning.
 *
 * - origin-form is kept; absolute-form (RFC 9112 §3.2.2, http/https only) is reduced to its path
 *   and query: its authority is ignored, the `Host` header stays authoritative;
 * - escapes of unreserved characters are decoded, every other escape gets upper-case hex, raw
 *   characters a path may not hold are encoded;
 * - dot segments are removed (RFC 3986 §5.2.4), after decoding, so `%2e%2e` climbs like `..`;
 *   runs of `/` become one;
 * - refused: `%2F`, `%5C`, raw `\`, control bytes (raw or encoded), overlong UTF-8, characters
 *   whose NFKC form is `.`, `/` or `\` (fullwidth `．`), `#`, dot segments
 *   with `;` parameters (and every `;` parameter when `pathParameters` is `refuse`), `*` except for
 *   OPTIONS, anything but authority-form for CONNECT;
 * - case is kept (paths are case-sensitive) and the query is not rewritten.
 *
 * The result is a fixed point: canonicalising `target` again returns it unchanged.
 *
 * @example
 * canonicalizeRequestTarget('http://x/api/./v1/%2e%2E/admin?a=1').target; // '/api/admin?a=1'
 */
export function canonicalizeRequestTarget(target: string, options: CanonicalizeOptions = {}): CanonicalRequestTarget {
  const method = options.method;
  const pathParameters = options.pathParameters ?? 'keep';
  if (method === 'CONNECT') {
    // RFC 9112 §3.2.3: host ":" port, nothing else.
    if (!/^[^\s/?#@\\]+:\d{1,5}$/.test(target)) refuse('form', 'CONNECT needs an authority-form target (host:port)');
    return { form: 'authority', path: target, query: '', target, changed: false };
  }
  if (target === '*') {
    if (method !== undefined && method !== 'OPTIONS') refuse('form', 'the asterisk-form target is only valid for OPTIONS');
    return { form: 'asterisk', path: '*', query: '', target, changed: false };
  }
  let form: 'origin' | 'absolute' = 'origin';
  let start = 0;
  if (target.charCodeAt(0) !== 0x2f) {
    const scheme = ABSOLUTE.exec(target);
    if (scheme === null) refuse('form', 'the request target is neither a path nor an absolute http(s) URL');
    form = 'absolute';
    // The authority ends at the first "/", "?" or "#" (RFC 3986 §3.2).
    let end = scheme[0].length;
    while (end < target.length) {
      const code = target.charCodeAt(end);
      if (code === 0x2f || code === 0x3f || code === 0x23) break;
      if (code === 0x5c) refuse('backslash', 'a "\\" in the authority');
      if (code <= 0x20 || code === 0x7f) refuse('control', 'a control character in the authority');
      end++;
    }
    start = end;
  }
  const queryAt = target.indexOf('?', start);
  const rawPath = queryAt === -1 ? target.slice(start) : target.slice(start, queryAt);
  const query = queryAt === -1 ? '' : target.slice(queryAt);
  if (query !== '') checkQuery(query);
  let path: string;
  if (rawPath === '') path = '/';
  else if (rawPath.charCodeAt(0) !== 0x2f) refuse('form', 'the path of the request target does not start with "/"');
  else path = isPlainPath(rawPath, pathParameters) ? rawPath : removeDotSegments(normalizeEscapes(rawPath), pathParameters);
  const changed = path !== rawPath;
  return { form, path, query, target: changed || form === 'absolute' ? path + query : target, changed };
}
