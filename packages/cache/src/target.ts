import { createHash } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { describeValue, redisHashTag } from '@edgekit/core';
import type { CacheEntry } from './entry.js';
import { boundKey, normalizeHost, normalizeRequestTarget, normalizeVaryValue } from './key.js';
import { type ResolvedOptions, SCOPE } from './options.js';
import { type CompiledRoute, type ResolvedPolicy, RouteTable } from './routes.js';

/** A request target resolved once per distinct (host, URL): route, normalised URL and key. */
export interface Target {
  readonly route: CompiledRoute | undefined;
  readonly params: readonly string[];
  /** Route pattern, or the normalised path for unmatched requests: a low-cardinality label. */
  readonly routeName: string;
  /** Normalised origin-form target; this is what the origin receives for cacheable requests. */
  readonly url: string;
  readonly host: string;
  /** Readable primary key (`GET host/path?query`), bounded. */
  readonly primary: string;
  /** `{primary}`: the store key; the braces are the Redis Cluster hash tag of the URL's keys. */
  readonly storeKey: string;
}

const MAX_TARGETS = 10_000;
/** Longest (host + URL) kept in the memo. */
export const MAX_MEMO_KEY = 2_048;
const PER_USER_VARY = ['authorization', 'cookie'];
/** The pseudo request header that carries the principal's hash in variant keys (never a real field name). */
export const PRINCIPAL = ':principal';
// RFC 9110 §9.2.1: every other method, known or not, is unsafe.
export const SAFE_METHODS: ReadonlySet<string> = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE']);

/** Routes and keys: request targets to routes and store keys, and the variant keys of `Vary`. */
export class TargetTable {
  readonly routes: RouteTable;
  readonly #options: ResolvedOptions;
  /** Whether any request can be private (a principal function or credential headers are configured). */
  readonly perPrincipalPossible: boolean;
  // Host header → raw URL → target: two lookups and no string building per request.
  readonly #targets = new Map<string | undefined, Map<string, Target>>();
  #count = 0;

  constructor(options: ResolvedOptions) {
    this.#options = options;
    this.routes = new RouteTable(options.routes, options.pathNormalizers);
    this.perPrincipalPossible = options.principal !== undefined || options.credentialHeaders.length > 0;
  }

  /** The target of a request (memoised, bounded). */
  target(hostHeader: string | undefined, url: string): Target {
    let byUrl = this.#targets.get(hostHeader);
    let target = byUrl?.get(url);
    if (target !== undefined) return target;
    const host = normalizeHost(hostHeader);
    const { path, query } = normalizeRequestTarget(url, { ignoreQueryParams: this.#options.ignoreQueryParams });
    const match = this.routes.match(path);
    const primary = boundKey(`GET ${host}${path}${query}`, this.#options.maxKeyLength);
    target = {
      route: match?.route,
      params: match?.params ?? [],
      routeName: match ? match.route.name : boundKey(this.routes.label(path), 256),
      url: path + query,
      host,
      primary,
      storeKey: redisHashTag(primary),
    };
    // Bounded memo: hostile traffic with huge unique URLs costs recomputation, not memory.
    if (url.length + (hostHeader?.length ?? 0) <= MAX_MEMO_KEY) {
      if (this.#count >= MAX_TARGETS) {
        this.#targets.clear();
        this.#count = 0;
        byUrl = undefined;
      }
      if (byUrl === undefined) {
        byUrl = new Map();
        this.#targets.set(hostHeader, byUrl);
      }
      byUrl.set(url, target);
      this.#count++;
    }
    return target;
  }

  /**
   * Whether a request of `method` to `url` (origin-form) can involve the cache: GET and HEAD when
   * a route matches its normalised path, unsafe methods when they may invalidate entries.
   */
  matches(method: string, url: string): boolean {
    if (method === 'GET' || method === 'HEAD') {
      if (url.charCodeAt(0) !== 47) return false;
      return this.target(this.#options.host, url).route !== undefined;
    }
    return !SAFE_METHODS.has(method) && this.#options.unsafeInvalidation !== 'never';
  }

  /** `name=value&...` of the request headers a variant is selected by. */
  variantSuffix(names: readonly string[], headers: IncomingHttpHeaders): string {
    let suffix = '';
    for (let i = 0; i < names.length; i++) {
      const name = names[i]!;
      if (i > 0) suffix += '&';
      suffix += `${name}=${normalizeVaryValue(name, headers[name])}`;
    }
    return boundKey(suffix, this.#options.maxKeyLength);
  }

  variantKey(target: Target, record: CacheEntry, headers: IncomingHttpHeaders): string {
    return `${target.storeKey}v${record.token}:${this.variantSuffix(record.vary, headers)}`;
  }

  /** The single-flight key of a fetch: the variant key when the URL's vary record is known. */
  coalesceKey(target: Target, route: CompiledRoute, record: CacheEntry | undefined, headers: IncomingHttpHeaders): string {
    if (record !== undefined) return this.variantKey(target, record, headers);
    const names = this.varyNames(route.policy, []);
    return names.length === 0 ? target.storeKey : `${target.storeKey}?${this.variantSuffix(names, headers)}`;
  }

  /** The request headers that select a variant: the policy's, the origin's `Vary`, per-user and per-principal keys. */
  varyNames(policy: ResolvedPolicy, fromResponse: readonly string[]): string[] {
    const perPrincipal = this.perPrincipalPossible && (!policy.shared || policy.authenticated === 'per-principal');
    if (policy.vary.length === 0 && fromResponse.length === 0 && policy.shared && !perPrincipal) return [];
    const set = new Set([...policy.vary, ...fromResponse]);
    if (!policy.shared) for (const name of PER_USER_VARY) set.add(name);
    if (perPrincipal) set.add(PRINCIPAL);
    return [...set].sort();
  }

  /** Splits an absolute URL or a path into the host and origin-form target used for keys. */
  splitUrl(url: string, host: string | undefined): { host: string | undefined; target: string } {
    if (/^https?:\/\//i.test(url)) {
      const parsed = new URL(url);
      return { host: this.#options.host ?? parsed.host, target: `${parsed.pathname}${parsed.search}` };
    }
    if (!url.startsWith('/')) throw new TypeError(`${SCOPE}: a URL must be absolute (http://...) or start with "/" (got ${describeValue(url)})`);
    return { host: this.#options.host ?? host, target: url };
  }
}

/** A short, irreversible digest for principal keys. */
export function hashText(text: string): string {
  return createHash('sha256').update(text).digest('base64url').slice(0, 22);
}
