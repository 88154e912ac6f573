import { validateHeaderName, validateHeaderValue } from 'node:http';
import { type CacheControl, MAX_DELTA_SECONDS, parseCacheControl, parseTargetedCacheControl } from './cache-control.js';
import { formatHttpDate, parseHttpDate } from './http-date.js';
import type { ResolvedPolicy } from './routes.js';

/** Response headers as origins return them: lower- or mixed-case names, repeated values as arrays. */
export type OriginHeaders = Record<string, string | string[] | number | undefined>;

// RFC 9110 §7.6.1 hop-by-hop fields, plus the legacy ones proxies still see.
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'te', 'trailer', 'upgrade', 'proxy-authenticate', 'proxy-authorization']);
// RFC 9111 §3.1: fields specific to the proxy that forwarded the request are never stored.
const PROXY_SPECIFIC = new Set(['proxy-authenticate', 'proxy-authentication-info', 'proxy-authorization']);

/** RFC 9111 §4.2.2 statuses that are heuristically cacheable and take the route's `ttl` without explicit freshness. */
export const HEURISTIC_STATUSES: ReadonlySet<number> = new Set([200, 203, 204, 300, 301, 308]);
/** Status codes RFC 9110 §15 defines: the ones a `must-understand` response may be stored with (RFC 9111 §5.2.2.3). */
const UNDERSTOOD_STATUSES: ReadonlySet<number> = new Set([
  200, 201, 202, 203, 204, 205, 206, 300, 301, 302, 303, 304, 305, 307, 308, 400, 401, 402, 403, 404, 405, 406, 407, 408, 409, 410, 411,
  412, 413, 414, 415, 416, 417, 421, 422, 426, 500, 501, 502, 503, 504, 505,
]);
/** Negative answers: cached without explicit freshness only with the route's `negativeTtl`. */
export const NEGATIVE_STATUSES: ReadonlySet<number> = new Set([404, 405, 410, 414, 501]);

/** Settings of {@link analyzeResponse} that come from the cache options. */
export interface AnalysisSettings {
  /** Statuses that may be stored without the origin's explicit freshness. */
  readonly cacheableStatuses: ReadonlySet<number>;
  /** Response headers whose space- or comma-separated values are entry tags. */
  readonly tagHeaders: readonly string[];
  /** Keep tag headers in responses sent to clients. */
  readonly exposeTagHeaders: boolean;
  /** Most tags taken from one response. */
  readonly maxTags: number;
  /** Longest tag accepted from a response header. */
  readonly maxTagLength: number;
  /** Cap on an entry's whole stored lifetime, in ms. */
  readonly maxTtl: number;
  /** Targeted cache-control headers read before `Cache-Control` (RFC 9213), lower-case. */
  readonly targetedCacheControl: readonly string[];
}

/** What the cache learns from an origin response. Durations are ms. */
export interface ResponseAnalysis {
  /** Undefined when the response may be stored; otherwise the `Cache-Status` detail saying why not. */
  notStorable: string | undefined;
  /** Headers to send to the client that caused the request (flat list, hop-by-hop removed). */
  clientHeaders: string[];
  /** Headers to store (also without `Set-Cookie` when the policy strips it). */
  storedHeaders: string[];
  /** Tags from the origin's tag headers. */
  tags: string[];
  /** Request headers the origin varies on (lower-case, sorted). */
  vary: string[];
  fresh: number;
  swr: number;
  sie: number;
  mustRevalidate: boolean;
  initialAge: number;
  etag: string | undefined;
  lastModified: number | undefined;
  /** The declared `Content-Length`, when valid. */
  contentLength: number | undefined;
}

function headerValues(value: string | string[] | number | undefined): string[] {
  if (value === undefined) return [];
  if (Array.isArray(value)) return value.map(String);
  return [String(value)];
}

function validHeader(name: string, value: string): boolean {
  try {
    validateHeaderName(name);
    validateHeaderValue(name, value);
    return true;
  } catch {
    return false;
  }
}

function parseTags(value: string, into: Set<string>, settings: AnalysisSettings): void {
  for (const raw of value.split(/[\s,]+/)) {
    if (raw.length === 0 || raw.length > settings.maxTagLength) continue;
    if (into.size >= settings.maxTags) return;
    into.add(raw);
  }
}

/**
 * The `Age` in seconds, read as RFC 9111 §5.1 says: of a list-based value (`0, 7200`, or several
 * lines) only the first member counts, and a first member that is not a non-negative integer
 * (`7200.0`, `-1`, `abc`) is ignored. Values beyond 2^31 are capped there (RFC 9111 §1.2.2).
 */
export function parseAge(values: readonly string[] | undefined): number {
  const first = values?.[0];
  if (first === undefined) return 0;
  const comma = first.indexOf(',');
  const member = (comma === -1 ? first : first.slice(0, comma)).trim();
  if (!/^\d+$/.test(member)) return 0;
  return member.length > 15 ? MAX_DELTA_SECONDS : Math.min(Number(member), MAX_DELTA_SECONDS);
}

/**
 * Reads an origin response the way a shared cache must (RFC 9111 §3 and §4.2): whether it may be
 * stored, its freshness lifetime (`s-maxage`, `max-age`, `Expires`, else the route's `ttl` for
 * heuristically cacheable statuses), its stale windows (RFC 5861), its initial age, validators and
 * tags, and the header lists to send and to store.
 */
export function analyzeResponse(
  status: number,
  rawHeaders: OriginHeaders,
  policy: ResolvedPolicy,
  settings: AnalysisSettings,
  times: { requestTime: number; responseTime: number },
): ResponseAnalysis {
  const headers: Record<string, string[]> = {};
  for (const [rawName, value] of Object.entries(rawHeaders)) {
    const name = rawName.toLowerCase();
    const values = headerValues(value);
    if (values.length === 0) continue;
    const existing = headers[name];
    if (existing) existing.push(...values);
    else headers[name] = values;
  }
  const connectionListed = new Set<string>();
  for (const v of headers.connection ?? []) for (const token of v.split(',')) connectionListed.add(token.trim().toLowerCase());

  const { requestTime, responseTime } = times;
  const first = (name: string): string | undefined => headers[name]?.[0];
  const dateValue = parseHttpDate(first('date'), responseTime);

  const tagSet = new Set<string>();
  const clientHeaders: string[] = [];
  const storedHeaders: string[] = [];
  const tagHeaderNames = new Set(settings.tagHeaders);
  for (const [name, values] of Object.entries(headers)) {
    if (HOP_BY_HOP.has(name) || connectionListed.has(name) || name === 'age' || name === 'content-length') continue;
    // An invalid Date is replaced below, not kept beside the cache's: Date is a singleton field.
    if (name === 'date' && dateValue === undefined) continue;
    if (tagHeaderNames.has(name)) {
      for (const v of values) parseTags(v, tagSet, settings);
      if (!settings.exposeTagHeaders) continue;
    }
    for (const value of values) {
      if (!validHeader(name, value)) continue;
      clientHeaders.push(name, value);
      if ((name === 'set-cookie' && policy.setCookie !== 'store') || PROXY_SPECIFIC.has(name)) continue;
      storedHeaders.push(name, value);
    }
  }
  if (dateValue === undefined) {
    // RFC 9110 §6.6.1: a cache adds Date when the origin sent none, and may replace an invalid one;
    // it must not send both (§5.3: Date is not a list).
    const date = formatHttpDate(responseTime);
    clientHeaders.push('date', date);
    storedHeaders.push('date', date);
  }
  const ageSeconds = parseAge(headers.age);
  const apparentAge = Math.max(0, responseTime - (dateValue ?? responseTime));
  const correctedAge = ageSeconds * 1000 + Math.max(0, responseTime - requestTime);
  const initialAge = Math.max(apparentAge, correctedAge);

  let cc: CacheControl | undefined;
  for (const name of settings.targetedCacheControl) {
    // RFC 9213 §2.1: the first targeted field that parses wins; an invalid one is ignored as a whole.
    cc = parseTargetedCacheControl(headers[name]);
    if (cc !== undefined) break;
  }
  cc ??= parseCacheControl(headers['cache-control']);

  const etag = first('etag');
  const lastModifiedHeader = parseHttpDate(first('last-modified'), responseTime);
  const lastModified = lastModifiedHeader ?? dateValue;
  const vary = new Set<string>();
  let varyStar = false;
  for (const v of headers.vary ?? []) {
    for (const token of v.split(',')) {
      const name = token.trim().toLowerCase();
      if (name === '*') varyStar = true;
      else if (name.length > 0) vary.add(name);
    }
  }
  const setCookie = headers['set-cookie'] !== undefined;
  const lengthHeader = first('content-length');
  const contentLength = lengthHeader !== undefined && /^\d{1,15}$/.test(lengthHeader.trim()) ? Number(lengthHeader.trim()) : undefined;

  // Freshness lifetime (RFC 9111 §4.2.1), shared-cache order.
  let fresh = 0;
  let explicit = true;
  if (policy.override) fresh = policy.ttl;
  else if (cc.sMaxAge !== undefined) fresh = cc.sMaxAge * 1000;
  else if (cc.maxAge !== undefined) fresh = cc.maxAge * 1000;
  else if (headers.expires !== undefined) {
    // An invalid Expires (such as "0", or several Expires lines) means already expired (RFC 9111 §5.3).
    const expires = parseHttpDate(headers.expires, responseTime);
    fresh = expires === undefined ? 0 : Math.max(0, expires - (dateValue ?? responseTime));
  } else {
    explicit = false;
    if (HEURISTIC_STATUSES.has(status)) fresh = policy.ttl;
    else if (NEGATIVE_STATUSES.has(status)) fresh = policy.negativeTtl;
  }
  const mustRevalidate = cc.mustRevalidate || cc.proxyRevalidate || (cc.noCache && !policy.override);
  if (cc.noCache && !policy.override) fresh = 0;
  // Origin stale windows win; the route's defaults do not apply under s-maxage (which implies proxy-revalidate).
  let swr = cc.staleWhileRevalidate !== undefined ? cc.staleWhileRevalidate * 1000 : cc.sMaxAge !== undefined ? 0 : policy.staleWhileRevalidate;
  let sie = cc.staleIfError !== undefined ? cc.staleIfError * 1000 : cc.sMaxAge !== undefined ? 0 : policy.staleIfError;
  if (mustRevalidate) {
    swr = 0;
    sie = 0;
  }
  // The origin's explicit lifetime is reported as it is (Cache-Status ttl=); `maxTtl` bounds how long
  // the entry is kept (see the store ttl), and the configured heuristic lifetime.
  if (!explicit || policy.override) fresh = Math.min(fresh, settings.maxTtl);
  swr = Math.max(0, Math.min(swr, settings.maxTtl - fresh));
  sie = Math.max(0, Math.min(sie, settings.maxTtl - fresh));

  // RFC 9111 §3: with the origin's explicit freshness any final status may be stored; without it,
  // only the configured statuses (heuristically cacheable ones, and those given a route ttl).
  const originExplicit = explicit && !policy.override;
  let notStorable: string | undefined;
  if (status === 206) notStorable = 'partial';
  else if (status < 200 || status === 304 || (!settings.cacheableStatuses.has(status) && !originExplicit)) notStorable = 'status';
  else if (cc.mustUnderstand && !UNDERSTOOD_STATUSES.has(status)) notStorable = 'must-understand';
  else if (cc.noStore && !cc.mustUnderstand) notStorable = 'no-store';
  else if (cc.private && policy.shared) notStorable = 'private';
  else if (varyStar) notStorable = 'vary-star';
  else if (setCookie && policy.setCookie === 'bypass') notStorable = 'set-cookie';
  else if (fresh + swr + sie - initialAge <= 0) {
    // Already stale: worth keeping only to revalidate, when the origin asked for that explicitly.
    const revalidatable = (explicit || cc.noCache) && (etag !== undefined || lastModifiedHeader !== undefined);
    if (!revalidatable) notStorable = explicit || cc.noCache ? 'stale' : 'no-freshness';
  }

  return {
    notStorable,
    clientHeaders,
    storedHeaders,
    tags: [...tagSet],
    vary: [...vary].sort(),
    fresh,
    swr,
    sie,
    // RFC 9111 §5.2.2.10: s-maxage incorporates proxy-revalidate for a shared cache, so nothing but
    // the origin's own stale-while-revalidate/stale-if-error windows (kept above) serves it stale.
    mustRevalidate: mustRevalidate || (cc.sMaxAge !== undefined && !policy.override),
    initialAge,
    etag,
    lastModified,
    contentLength,
  };
}

/** Drops the hop-by-hop fields of a header list bound for a client (pass-through responses). */
export function forwardHeaders(rawHeaders: OriginHeaders, settings: Pick<AnalysisSettings, 'tagHeaders' | 'exposeTagHeaders'>): string[] {
  const out: string[] = [];
  let connectionListed: Set<string> | undefined;
  const connection = rawHeaders.connection ?? rawHeaders.Connection;
  if (connection !== undefined) {
    connectionListed = new Set();
    for (const v of headerValues(connection)) for (const token of v.split(',')) connectionListed.add(token.trim().toLowerCase());
  }
  for (const [rawName, value] of Object.entries(rawHeaders)) {
    const name = rawName.toLowerCase();
    if (HOP_BY_HOP.has(name) || connectionListed?.has(name)) continue;
    if (!settings.exposeTagHeaders && settings.tagHeaders.includes(name)) continue;
    for (const v of headerValues(value)) if (validHeader(name, v)) out.push(name, v);
  }
  return out;
}
