import { createHash } from 'node:crypto';

/**
 * Cache key construction. A key is readable (`GET example.com/api/items?a=1&b=2`), stable under
 * query-parameter order and percent-encoding variants, bounded in length, and contains only
 * printable ASCII without `{`/`}` (which the Redis store uses as hash tags).
 */

const HEX = '0123456789ABCDEF';

// Characters that may stay literal in a normalised path or query (RFC 3986 unreserved, reserved
// and `%`); everything else is percent-encoded. `#` is a delimiter that never reaches a server, so
// it is encoded too. Indexed by char code.
const LITERAL_URL = new Uint8Array(128);
for (const c of "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~:/?[]@!$&'()*+,;=%") LITERAL_URL[c.charCodeAt(0)] = 1;

// RFC 3986 §2.3 unreserved characters: their percent-encoded forms are decoded.
const UNRESERVED = new Uint8Array(128);
for (const c of 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~') UNRESERVED[c.charCodeAt(0)] = 1;

function hexValue(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 65 && c <= 70) return c - 55;
  if (c >= 97 && c <= 102) return c - 87;
  return -1;
}

/** Percent-encodes the character at `text[i]`; returns the encoding and how many code units it used. */
function encodeAt(text: string, i: number): [string, number] {
  const code = text.charCodeAt(i);
  if (code < 0x100) return [`%${HEX[code >> 4]}${HEX[code & 15]}`, 1];
  // Only programmatic input has code points above 0xFF (the HTTP parser yields latin1 bytes).
  let used = 1;
  if (code >= 0xd800 && code <= 0xdbff && i + 1 < text.length) {
    const low = text.charCodeAt(i + 1);
    if (low >= 0xdc00 && low <= 0xdfff) used = 2;
  }
  // A lone surrogate has no UTF-8 form: `%u` keeps it distinct from every other input.
  if (used === 1 && code >= 0xd800 && code <= 0xdfff) return [`%u${code.toString(16).toUpperCase()}`, 1];
  let out = '';
  for (const byte of Buffer.from(text.slice(i, i + used), 'utf8')) out += `%${HEX[byte >> 4]}${HEX[byte & 15]}`;
  return [out, used];
}

/**
 * Normalises the percent-encoding of one URL component (RFC 3986 §6.2.2): encodings of unreserved
 * characters are decoded, other encodings get upper-case hex (`%2f` becomes `%2F`, never `/`),
 * and characters that may not appear literally are encoded. Malformed `%` sequences are kept.
 */
export function normalizeUrlComponent(text: string): string {
  // Fast path: nothing to change.
  let clean = true;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c >= 128 || LITERAL_URL[c] === 0 || c === 37) {
      clean = false;
      break;
    }
  }
  if (clean) return text;
  let out = '';
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 37 && i + 2 < text.length) {
      const hi = hexValue(text.charCodeAt(i + 1));
      const lo = hexValue(text.charCodeAt(i + 2));
      if (hi >= 0 && lo >= 0) {
        const byte = (hi << 4) | lo;
        if (byte < 128 && UNRESERVED[byte] === 1) out += String.fromCharCode(byte);
        else out += `%${HEX[hi]}${HEX[lo]}`;
        i += 2;
        continue;
      }
      out += '%';
      continue;
    }
    if (c < 128 && LITERAL_URL[c] === 1) out += text[i];
    else {
      const [encoded, used] = encodeAt(text, i);
      out += encoded;
      i += used - 1;
    }
  }
  return out;
}

/** Options of {@link normalizeRequestTarget}. */
export interface TargetNormalization {
  /** Query parameter names left out of the key (`*` at the end matches a prefix). */
  ignoreQueryParams?: readonly string[];
}

function ignored(name: string, rules: readonly string[] | undefined): boolean {
  if (!rules) return false;
  for (const rule of rules) {
    if (rule.endsWith('*') ? name.startsWith(rule.slice(0, -1)) : name === rule) return true;
  }
  return false;
}

function paramName(param: string): string {
  const eq = param.indexOf('=');
  return eq === -1 ? param : param.slice(0, eq);
}

function compareParams(a: string, b: string): number {
  const na = paramName(a);
  const nb = paramName(b);
  return na < nb ? -1 : na > nb ? 1 : 0;
}

/**
 * Normalises an origin-form request target (`/path?query`): path and query percent-encoding are
 * normalised, query parameters are sorted by name with a stable sort (repeated parameters keep
 * their order among themselves), empty parameters are dropped, and a fragment is removed. Dot
 * segments are kept as sent, because the origin receives exactly this target.
 */
export function normalizeRequestTarget(target: string, options: TargetNormalization = {}): { path: string; query: string } {
  const hash = target.indexOf('#');
  const withoutFragment = hash === -1 ? target : target.slice(0, hash);
  const q = withoutFragment.indexOf('?');
  const path = normalizeUrlComponent(q === -1 ? withoutFragment : withoutFragment.slice(0, q));
  if (q === -1 || q === withoutFragment.length - 1) return { path, query: '' };
  const params: string[] = [];
  for (const raw of withoutFragment.slice(q + 1).split('&')) {
    if (raw.length === 0) continue;
    const param = normalizeUrlComponent(raw);
    if (options.ignoreQueryParams && ignored(paramName(param), options.ignoreQueryParams)) continue;
    params.push(param);
  }
  if (params.length === 0) return { path, query: '' };
  if (params.length > 1) params.sort(compareParams);
  return { path, query: `?${params.join('&')}` };
}

// Host characters kept literally: RFC 3986 reg-name/IP-literal characters minus sub-delims that
// could be confused with the key's structure.
const LITERAL_HOST = new Uint8Array(128);
for (const c of 'abcdefghijklmnopqrstuvwxyz0123456789-._~:[]') LITERAL_HOST[c.charCodeAt(0)] = 1;

/** Lower-cases a `Host` value and percent-encodes anything a host name cannot contain (so `/` never appears). */
export function normalizeHost(host: string | undefined): string {
  if (host === undefined || host.length === 0) return '';
  return escapeOutside(LITERAL_HOST, host.toLowerCase());
}

/** `text` with every character outside `literal` (an ASCII table, 1 = kept) percent-encoded. */
function escapeOutside(literal: Uint8Array, text: string): string {
  let clean = true;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c >= 128 || literal[c] === 0) {
      clean = false;
      break;
    }
  }
  if (clean) return text;
  let out = '';
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 128 && literal[c] === 1) out += text[i];
    else {
      const [encoded, used] = encodeAt(text, i);
      out += encoded;
      i += used - 1;
    }
  }
  return out;
}

// Header values in keys: printable ASCII except the characters that structure the key.
const LITERAL_VALUE = new Uint8Array(128);
for (let c = 0x21; c < 0x7f; c++) LITERAL_VALUE[c] = 1;
for (const c of '%&={}') LITERAL_VALUE[c.charCodeAt(0)] = 0;

/**
 * Escapes free text (a header value, a tag, a user key) for a cache key: `%`, `&`, `=`, `{`, `}`,
 * spaces, controls and non-ASCII become `%XX`. The mapping is injective, so distinct values never
 * collide, and CR/LF never reach a Redis key name.
 */
export function escapeKeyText(text: string): string {
  return escapeOutside(LITERAL_VALUE, text);
}

/** SHA-256 of `text` in lower-case hex. */
export function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/**
 * Bounds a key: keys longer than `max` keep a readable prefix followed by `#` and the SHA-256 of
 * the whole key, so pattern invalidation on the prefix still works and distinct keys stay distinct.
 */
export function boundKey(key: string, max: number): string {
  if (key.length <= max) return key;
  return `${key.slice(0, Math.max(0, max - 65))}#${sha256(key)}`;
}

// Request headers whose values are compared case-insensitively (RFC 9110 §12.5).
const CASE_INSENSITIVE_VALUES = new Set(['accept', 'accept-encoding', 'accept-language', 'accept-charset']);
// Credentials never appear in a key in clear text.
const SECRET_HEADERS = new Set(['authorization', 'cookie', 'proxy-authorization']);

/**
 * Normalises a request header value for the key: duplicate lines joined with `,`, surrounding
 * and list whitespace removed, runs of spaces collapsed, and case folded for the `Accept*`
 * headers. Credentials are replaced by their SHA-256.
 */
export function normalizeVaryValue(name: string, value: string | readonly string[] | undefined): string {
  if (value === undefined) return '';
  const joined = typeof value === 'string' ? value : value.join(',');
  let out = '';
  let pendingSpace = false;
  for (let i = 0; i < joined.length; i++) {
    const ch = joined[i]!;
    if (ch === ' ' || ch === '\t') {
      pendingSpace = out.length > 0;
      continue;
    }
    if (ch === ',') {
      out += ',';
      pendingSpace = false;
      continue;
    }
    if (pendingSpace && out[out.length - 1] !== ',') out += ' ';
    pendingSpace = false;
    out += ch;
  }
  if (CASE_INSENSITIVE_VALUES.has(name)) out = out.toLowerCase();
  if (SECRET_HEADERS.has(name) && out.length > 0) return `sha256:${sha256(out)}`;
  return escapeKeyText(out);
}
