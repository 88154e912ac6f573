/**
 * Parsed `Cache-Control` directives (RFC 9111 §5.2) plus the RFC 5861 extensions. Delta-seconds
 * are kept in seconds, as on the wire; `undefined` means the directive is absent.
 */
export interface CacheControl {
  maxAge: number | undefined;
  sMaxAge: number | undefined;
  staleWhileRevalidate: number | undefined;
  staleIfError: number | undefined;
  /** Request only: `max-stale` without a value is `Infinity`. */
  maxStale: number | undefined;
  /** Request only. */
  minFresh: number | undefined;
  noStore: boolean;
  noCache: boolean;
  private: boolean;
  public: boolean;
  mustRevalidate: boolean;
  proxyRevalidate: boolean;
  immutable: boolean;
  /** RFC 9111 §5.2.2.3: store only when the status code is understood, and then ignore `no-store`. */
  mustUnderstand: boolean;
  /** Request only. */
  onlyIfCached: boolean;
}

/** RFC 9111 §1.2.2: delta-seconds larger than this are taken as this. */
export const MAX_DELTA_SECONDS = 2_147_483_648;

const EMPTY: CacheControl = Object.freeze({
  maxAge: undefined,
  sMaxAge: undefined,
  staleWhileRevalidate: undefined,
  staleIfError: undefined,
  maxStale: undefined,
  minFresh: undefined,
  noStore: false,
  noCache: false,
  private: false,
  public: false,
  mustRevalidate: false,
  proxyRevalidate: false,
  immutable: false,
  mustUnderstand: false,
  onlyIfCached: false,
});

/** Directives with no `Cache-Control` header at all. */
export function emptyCacheControl(): CacheControl {
  return EMPTY;
}

/**
 * Parses delta-seconds (RFC 9111 §1.2.2). Anything that is not a run of digits is invalid and
 * returns 0, so a malformed `max-age` makes the response stale rather than fresh forever.
 */
function deltaSeconds(value: string | undefined): number {
  if (value === undefined || value.length === 0) return 0;
  let n = 0;
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c < 48 || c > 57) return 0;
    n = n * 10 + (c - 48);
    if (n > MAX_DELTA_SECONDS) return MAX_DELTA_SECONDS;
  }
  return n;
}

const isSpace = (c: number): boolean => c === 32 || c === 9;

/**
 * Parses a `Cache-Control` value (or the joined values of several header lines). Unknown
 * directives are ignored; for a repeated directive the first occurrence wins (RFC 9111 §4.2.1).
 * Qualified `no-cache="..."` and `private="..."` are treated as their unqualified forms, which is
 * the conservative reading the RFC allows.
 */
export function parseCacheControl(header: string | readonly string[] | undefined): CacheControl {
  if (header === undefined) return EMPTY;
  const text = typeof header === 'string' ? header : header.join(',');
  if (text.length === 0) return EMPTY;
  const cc: CacheControl = { ...EMPTY };
  const seen = new Set<string>();
  const length = text.length;
  let i = 0;
  while (i < length) {
    while (i < length && (isSpace(text.charCodeAt(i)) || text.charCodeAt(i) === 44)) i++;
    const nameStart = i;
    while (i < length) {
      const c = text.charCodeAt(i);
      if (c === 61 || c === 44 || isSpace(c)) break;
      i++;
    }
    const name = text.slice(nameStart, i).toLowerCase();
    while (i < length && isSpace(text.charCodeAt(i))) i++;
    let value: string | undefined;
    if (i < length && text.charCodeAt(i) === 61) {
      i++;
      while (i < length && isSpace(text.charCodeAt(i))) i++;
      if (i < length && text.charCodeAt(i) === 34) {
        // quoted-string (RFC 9110 §5.6.4), with backslash escapes
        i++;
        let quoted = '';
        while (i < length && text.charCodeAt(i) !== 34) {
          if (text.charCodeAt(i) === 92 && i + 1 < length) i++;
          quoted += text[i];
          i++;
        }
        i++;
        value = quoted;
      } else {
        const valueStart = i;
        while (i < length && text.charCodeAt(i) !== 44 && !isSpace(text.charCodeAt(i))) i++;
        value = text.slice(valueStart, i);
      }
    }
    // Skip anything up to the next comma (garbage after a value).
    while (i < length && text.charCodeAt(i) !== 44) i++;
    if (name.length === 0 || seen.has(name)) continue;
    seen.add(name);
    switch (name) {
      case 'max-age':
        cc.maxAge = deltaSeconds(value);
        break;
      case 's-maxage':
        cc.sMaxAge = deltaSeconds(value);
        break;
      case 'stale-while-revalidate':
        cc.staleWhileRevalidate = deltaSeconds(value);
        break;
      case 'stale-if-error':
        cc.staleIfError = deltaSeconds(value);
        break;
      case 'max-stale':
        cc.maxStale = value === undefined ? Number.POSITIVE_INFINITY : deltaSeconds(value);
        break;
      case 'min-fresh':
        cc.minFresh = deltaSeconds(value);
        break;
      case 'no-store':
        cc.noStore = true;
        break;
      case 'no-cache':
        cc.noCache = true;
        break;
      case 'private':
        cc.private = true;
        break;
      case 'public':
        cc.public = true;
        break;
      case 'must-revalidate':
        cc.mustRevalidate = true;
        break;
      case 'proxy-revalidate':
        cc.proxyRevalidate = true;
        break;
      case 'immutable':
        cc.immutable = true;
        break;
      case 'must-understand':
        cc.mustUnderstand = true;
        break;
      case 'only-if-cached':
        cc.onlyIfCached = true;
        break;
      default:
        break;
    }
  }
  return cc;
}

type BareItem = number | string | boolean | { token: string } | { bytes: string };

/** A structured-field Dictionary (RFC 8941 §3.2, parsed as §4.2 says), members' parameters dropped; `undefined` when the value is not one. */
export function parseSfDictionary(input: string): Map<string, BareItem> | undefined {
  const out = new Map<string, BareItem>();
  const text = input.replace(/^ +| +$/g, '');
  let i = 0;
  const n = text.length;
  if (n === 0) return undefined;
  const key = (): string | undefined => {
    const c = text.charCodeAt(i);
    if (!((c >= 97 && c <= 122) || c === 42)) return undefined;
    const start = i++;
    while (i < n && /[a-z0-9_\-.*]/.test(text[i]!)) i++;
    return text.slice(start, i);
  };
  const bareItem = (): BareItem | undefined => {
    const ch = text[i];
    if (ch === undefined) return undefined;
    if (ch === '-' || (ch >= '0' && ch <= '9')) {
      const m = /^-?(\d{1,15})(\.\d{1,3})?/.exec(text.slice(i));
      if (m === null || (m[2] === undefined ? false : m[1]!.length > 12)) return undefined;
      i += m[0].length;
      return Number(m[0]);
    }
    if (ch === '"') {
      let value = '';
      i++;
      while (i < n) {
        const c = text[i++]!;
        if (c === '\\') {
          const next = text[i++];
          if (next !== '"' && next !== '\\') return undefined;
          value += next;
        } else if (c === '"') return value;
        else if (c < ' ' || c > '~') return undefined;
        else value += c;
      }
      return undefined;
    }
    if (ch === '*' || /[A-Za-z]/.test(ch)) {
      const m = /^[A-Za-z*][!#$%&'*+\-.^_`|~0-9A-Za-z:/]*/.exec(text.slice(i))!;
      i += m[0].length;
      return { token: m[0] };
    }
    if (ch === ':') {
      const end = text.indexOf(':', i + 1);
      if (end === -1 || !/^[A-Za-z0-9+/=]*$/.test(text.slice(i + 1, end))) return undefined;
      const bytes = text.slice(i + 1, end);
      i = end + 1;
      return { bytes };
    }
    if (ch === '?') {
      const b = text[i + 1];
      if (b !== '0' && b !== '1') return undefined;
      i += 2;
      return b === '1';
    }
    return undefined;
  };
  const parameters = (): boolean => {
    while (text[i] === ';') {
      i++;
      while (text[i] === ' ') i++;
      if (key() === undefined) return false;
      if (text[i] === '=') {
        i++;
        if (bareItem() === undefined) return false;
      }
    }
    return true;
  };
  while (i < n) {
    const name = key();
    if (name === undefined) return undefined;
    let value: BareItem = true;
    if (text[i] === '=') {
      i++;
      // Inner lists are valid dictionary values; none of the cache directives takes one.
      if (text[i] === '(') return undefined;
      const item = bareItem();
      if (item === undefined) return undefined;
      value = item;
    }
    if (!parameters()) return undefined;
    out.set(name, value);
    while (text[i] === ' ' || text[i] === '\t') i++;
    if (i >= n) return out;
    if (text[i] !== ',') return undefined;
    i++;
    while (text[i] === ' ' || text[i] === '\t') i++;
    if (i >= n) return undefined;
  }
  return out;
}

const SF_DELTA: Record<string, 'maxAge' | 'sMaxAge' | 'staleWhileRevalidate' | 'staleIfError'> = {
  'max-age': 'maxAge',
  's-maxage': 'sMaxAge',
  'stale-while-revalidate': 'staleWhileRevalidate',
  'stale-if-error': 'staleIfError',
};
const SF_FLAG: Record<string, 'noStore' | 'noCache' | 'private' | 'public' | 'mustRevalidate' | 'proxyRevalidate' | 'immutable' | 'mustUnderstand'> = {
  'no-store': 'noStore',
  'no-cache': 'noCache',
  private: 'private',
  public: 'public',
  'must-revalidate': 'mustRevalidate',
  'proxy-revalidate': 'proxyRevalidate',
  immutable: 'immutable',
  'must-understand': 'mustUnderstand',
};

/**
 * Parses a targeted cache-control field such as `CDN-Cache-Control` (RFC 9213 §2.1): a
 * structured-field Dictionary. A value that is not one, or a known directive of the wrong type
 * (`max-age="60"`), makes the whole field ignored: the result is `undefined` and `Cache-Control`
 * applies instead.
 */
export function parseTargetedCacheControl(header: string | readonly string[] | undefined): CacheControl | undefined {
  if (header === undefined) return undefined;
  const dictionary = parseSfDictionary(typeof header === 'string' ? header : header.join(', '));
  if (dictionary === undefined) return undefined;
  const cc: CacheControl = { ...EMPTY };
  for (const [name, value] of dictionary) {
    const delta = SF_DELTA[name];
    if (delta !== undefined) {
      if (typeof value !== 'number' || !Number.isInteger(value) || value < 0) return undefined;
      cc[delta] = Math.min(value, MAX_DELTA_SECONDS);
      continue;
    }
    const flag = SF_FLAG[name];
    // `private` and `no-cache` may carry a string of field names; they are read unqualified.
    if (flag !== undefined && value !== false) cc[flag] = true;
  }
  return cc;
}
