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
      case 'only-if-cached':
        cc.onlyIfCached = true;
        break;
      default:
        break;
    }
  }
  return cc;
}
