import { randomBytes } from 'node:crypto';
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import { type Bus, createRedisBus } from '@edgekit/bus';
import { type Clock, type Disposable, TypedEmitter, describeValue } from '@edgekit/core';
import { discardBody, readBody } from './body.js';
import { type CacheControl, parseCacheControl } from './cache-control.js';
import { type ForwardReason, forwardStatus, hitStatus } from './cache-status.js';
import type { Coalescer } from './coalesce.js';
import { notModified } from './conditional.js';
import { CacheEntry, ONE_WRITE_BODY } from './entry.js';
import { CacheError } from './errors.js';
import { escapeGlob } from './glob.js';
import { formatHttpDate, parseHttpDate } from './http-date.js';
import { InvalidationBus } from './invalidation.js';
import { boundKey, escapeKeyText, normalizeHost, normalizeRequestTarget, normalizeVaryValue } from './key.js';
import { MemoryStore } from './memory-store.js';
import { type CacheOptions, type ResolvedOptions, SCOPE, resolveOptions } from './options.js';
import { createOriginRequest } from './origin-request.js';
import { RedisStore } from './redis-store.js';
import { RedisTagStore } from './redis-tag-store.js';
import { sendBuffered, sendEntry, sendNotModified, sendOriginFailure, streamResponse } from './respond.js';
import { type CompiledRoute, type ResolvedPolicy, RouteTable } from './routes.js';
import { type AnalysisSettings, type OriginHeaders, type ResponseAnalysis, analyzeResponse, forwardHeaders } from './semantics.js';
import type { CacheStore, TagStore } from './store.js';
import { TagGenerations } from './tag-store.js';
import { Tiers } from './tiers.js';
import { TopMisses } from './top-misses.js';
import type { CacheEvents, CacheStats, LookupEvent, LookupStatus, Origin, OriginResponse } from './types.js';

/** A request target resolved once per distinct (host, URL): route, normalised URL and key. */
interface Target {
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

/** A stored response or a response that must not be stored (streamed by the request that fetched it). */
type Outcome = CacheEntry | PassThrough;

/** A response the cache will not store; only the request that caused the fetch may consume its body. */
class PassThrough {
  constructor(
    readonly owner: FetchContext,
    readonly response: OriginResponse,
    readonly prefix: readonly Buffer[],
    readonly detail: string,
  ) {}
}

/**
 * An origin answer of 5xx, thrown so coalesced requests and stale-if-error see a failure. A small,
 * cookie-free error body is buffered and shared with coalesced requests; otherwise only the owner
 * may send it (the rest of `response.body` follows `prefix`).
 */
class OriginStatusError extends Error {
  constructor(
    readonly status: number,
    readonly headers: string[],
    readonly prefix: readonly Buffer[],
    readonly complete: boolean,
    readonly shareable: boolean,
    readonly response: OriginResponse,
    readonly owner: FetchContext,
  ) {
    super(`origin answered ${status}`);
  }
}

/** One origin fetch made for storage. */
interface FetchContext {
  readonly client: IncomingMessage | undefined;
  readonly headers: IncomingHttpHeaders;
  readonly target: Target;
  readonly route: CompiledRoute;
  readonly origin: Origin;
  /** The stored entry being revalidated, whose validators go to the origin. */
  readonly stale: CacheEntry | undefined;
  /** The vary record found for the URL, if any. */
  readonly record: CacheEntry | undefined;
  /** Set when this context's fetch actually ran (it is the leader of the coalesced group). */
  ran: boolean;
  /** What the leader sends its own client (its `Set-Cookie`, the origin status). */
  leader: { headers: string[]; status: number; stored: boolean; detail: string | undefined } | undefined;
  /** Store keys written by the fetch (for warming announcements). */
  written: string[];
}

/** Options of {@link EdgeCache.warm}. */
export interface WarmOptions {
  /** The origin to ask. Default: the cache's `origin` option, or the origin of the first `handler()`. */
  origin?: Origin;
  /** Concurrent origin requests. Default: the cache's `warmConcurrency`. */
  concurrency?: number;
  /** Host for relative URLs. Default: the cache's `host` option. */
  host?: string;
  /** Request headers sent with every warming request (for `Vary`-selected variants). Default: none. */
  headers?: Record<string, string>;
  /** Fetch even when a fresh entry exists. Default: false. */
  force?: boolean;
  /** Ask every other node to copy the warmed entries from L2 into its L1. Default: true. */
  announce?: boolean;
}

/** What {@link EdgeCache.warm} did. */
export interface WarmReport {
  /** URLs now stored (fetched, or already fresh). */
  warmed: string[];
  /** URLs not stored, and why (`no-route`, `private`, `set-cookie`, ...). */
  skipped: Array<{ url: string; reason: string }>;
  /** URLs whose fetch failed. */
  failed: Array<{ url: string; error: Error }>;
}

/** Options of {@link EdgeCache.wrap}. Durations are milliseconds. */
export interface WrapOptions {
  /** Freshness lifetime. */
  ttl: number;
  /** After `ttl`, serve the stale value for this long while one background call refreshes it. Default: 0. */
  staleTtl?: number;
  /** After `ttl`, serve the stale value for this long when `fn` throws. Default: 0. */
  staleIfError?: number;
  /** Tags for `invalidateTag`. Default: none. */
  tags?: readonly string[];
  /** Route label in `lookup` events. Default: `'wrap'`. */
  name?: string;
}

/** One of {@link EdgeCache.topMisses}. */
export interface TopMiss {
  /** Readable primary key. */
  key: string;
  host: string;
  /** Normalised origin-form target. */
  url: string;
  route: string;
  /** Estimated misses (Space-Saving: overestimated by at most `error`). */
  count: number;
  error: number;
}

interface MissData {
  host: string;
  url: string;
  route: string;
  primary: string;
}

/** The edge cache: an RFC 9111 shared cache in front of an origin, plus a cache for any async computation. */
export interface EdgeCache {
  /** A Node `http` handler answering from the cache and asking `origin` (`@edgekit/proxy`'s `forward`) otherwise. */
  handler(origin?: Origin): (req: IncomingMessage, res: ServerResponse) => void;
  /** Caches `fn`'s result (JSON-serialisable) under `key`, with stale-while-revalidate and coalesced misses. */
  wrap<T>(key: string, fn: (ctx: { signal: AbortSignal }) => Promise<T> | T, options: WrapOptions): Promise<T>;
  /** Invalidates every entry carrying any of `tags`, on every node. */
  invalidateTag(tags: string | readonly string[]): Promise<void>;
  /** Deletes every entry whose primary key (`GET host/path?query`, or a `wrap` key) matches a Redis glob, on every node; resolves with the number of shared-store keys deleted. */
  invalidatePattern(pattern: string): Promise<number>;
  /** Deletes the entries (all variants) of primary keys, on every node. */
  invalidateKey(keys: string | readonly string[]): Promise<void>;
  /** The primary key of a request (`GET example.com/api/items?a=1`), for `invalidateKey` and patterns. */
  keyOf(url: string, host?: string): string;
  /** Fetches and stores `urls` (absolute, or paths with `options.host`), a few at a time, then asks other nodes to load them into L1. */
  warm(urls: Iterable<string>, options?: WarmOptions): Promise<WarmReport>;
  /** The most missed keys since start (bounded Space-Saving counters). */
  topMisses(n: number): TopMiss[];
  /** Warms the `n` most missed URLs and forgets their counts. */
  warmTopMisses(n: number, options?: WarmOptions): Promise<WarmReport>;
  /** Listens to `lookup`, `store`, `invalidate`, `gap` and `error`. */
  on<K extends keyof CacheEvents>(event: K, listener: (...args: CacheEvents[K]) => void): Disposable;
  stats(): CacheStats;
  /** Stops background work and releases what the cache created (its bus); the Redis client stays the caller's. */
  close(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

const MAX_TARGETS = 10_000;
const MAX_MEMO_KEY = 2_048;
// Request headers never copied to a fetch made for storage: hop-by-hop, body framing, and the
// client's own conditions and ranges (the cache fetches complete responses and evaluates them itself).
const FETCH_DROPPED = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'te',
  'trailer',
  'upgrade',
  'content-length',
  'expect',
  'if-none-match',
  'if-modified-since',
  'if-match',
  'if-unmodified-since',
  'if-range',
  'range',
  'cache-control',
  'pragma',
]);
const UNSAFE_METHODS = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);
const PER_USER_VARY = ['authorization', 'cookie'];

/** Internal handle so other modules (purge, warming) reach the implementation. */
export class EdgeCacheImpl implements EdgeCache {
  readonly #options: ResolvedOptions;
  readonly #clock: Clock;
  readonly #name: string;
  readonly #routes: RouteTable;
  // Host header → raw URL → target: two lookups and no string building per request.
  readonly #targets = new Map<string | undefined, Map<string, Target>>();
  #targetCount = 0;
  readonly #l1: MemoryStore | undefined;
  readonly #mirror: TagGenerations;
  readonly #tiers: Tiers;
  readonly #invalidation: InvalidationBus;
  readonly #ownedBus: Bus | undefined;
  readonly #events = new TypedEmitter<CacheEvents>();
  readonly #coalescer: Coalescer<Outcome>;
  // Entries written to the stores by this process's fetches: what another process can read after a coalesced fetch.
  readonly #stored = new WeakSet<CacheEntry>();
  readonly #settings: AnalysisSettings;
  readonly #unkeyed: ReadonlySet<string>;
  readonly #misses: TopMisses;
  readonly #honorRequest: boolean;
  #defaultOrigin: Origin | undefined;
  #closed = false;
  readonly #counts = { hits: 0, misses: 0, stale: 0, bypasses: 0, stores: 0, collapsed: 0, originRequests: 0, invalidations: 0, errors: 0 };

  constructor(options: ResolvedOptions, makeCoalescer: (deps: CoalescerDeps) => Coalescer<Outcome>) {
    this.#options = options;
    this.#clock = options.clock;
    this.#name = options.name;
    this.#routes = new RouteTable(options.routes, options.pathNormalizers);
    this.#honorRequest = options.requestCacheControl === 'honor';
    this.#defaultOrigin = options.origin;
    this.#l1 = options.l1 === false ? undefined : new MemoryStore({ ...options.l1, clock: this.#clock });
    this.#mirror = new TagGenerations({ ttl: options.maxTtl, clock: this.#clock });
    const redis = options.redis;
    const l2: CacheStore | undefined = options.store ?? (redis ? new RedisStore({ redis, prefix: options.prefix }) : undefined);
    const tagStore: TagStore =
      options.tagStore ?? (redis ? new RedisTagStore({ redis, prefix: options.prefix, ttl: Math.ceil(options.maxTtl + options.keepStale) }) : this.#mirror);
    if (l2 !== undefined && tagStore === this.#mirror) {
      throw new TypeError(`${SCOPE}: a shared "store" needs a shared "tagStore" (or "redis"), or invalidations would not reach other nodes`);
    }
    let bus = options.bus;
    if (bus === undefined && redis !== undefined) {
      bus = createRedisBus({ redis, clock: this.#clock });
      this.#ownedBus = bus;
    }
    this.#tiers = new Tiers({
      l1: this.#l1,
      l2,
      tags: tagStore,
      mirror: this.#mirror,
      clock: this.#clock,
      storeTimeout: options.storeTimeout,
      storeCooldown: options.storeCooldown,
      keepStale: options.keepStale,
      l1Usable: () => this.#invalidation.l1Usable(),
      report: (error) => this.#report(error),
    });
    this.#invalidation = new InvalidationBus({
      bus,
      channel: options.channel,
      tiers: this.#tiers,
      mirror: this.#mirror,
      clock: this.#clock,
      notify: (notice) => {
        this.#counts.invalidations++;
        this.#events.emit('invalidate', notice);
      },
      onWarm: (keys) => void this.#loadIntoL1(keys),
      onGap: (kind) => this.#events.emit('gap', { kind }),
      report: (error) => this.#report(error),
      retryDelay: options.storeCooldown,
    });
    this.#settings = {
      cacheableStatuses: options.cacheableStatuses,
      tagHeaders: options.tagHeaders,
      exposeTagHeaders: options.exposeTagHeaders,
      maxTags: options.maxTags,
      maxTagLength: 256,
      maxTtl: options.maxTtl,
      targetedCacheControl: options.targetedCacheControl,
    };
    this.#unkeyed = new Set(options.unkeyedHeaders);
    this.#misses = new TopMisses(options.missCounters);
    this.#coalescer = makeCoalescer({
      lookup: (key) => this.#lookupForCoalescer(key),
      stored: (entry) => this.#stored.has(entry),
      report: (error) => this.#report(error),
      clock: this.#clock,
      redis,
      bus,
      options,
    });
  }

  // ---------------------------------------------------------------- keys

  #target(hostHeader: string | undefined, url: string): Target {
    let byUrl = this.#targets.get(hostHeader);
    let target = byUrl?.get(url);
    if (target !== undefined) return target;
    const host = normalizeHost(hostHeader);
    const { path, query } = normalizeRequestTarget(url, { ignoreQueryParams: this.#options.ignoreQueryParams });
    const match = this.#routes.match(path);
    const primary = boundKey(`GET ${host}${path}${query}`, this.#options.maxKeyLength);
    target = {
      route: match?.route,
      params: match?.params ?? [],
      routeName: match ? match.route.name : boundKey(this.#routes.label(path), 256),
      url: path + query,
      host,
      primary,
      storeKey: `{${primary}}`,
    };
    // Bounded memo: hostile traffic with huge unique URLs costs recomputation, not memory.
    if (url.length + (hostHeader?.length ?? 0) <= MAX_MEMO_KEY) {
      if (this.#targetCount >= MAX_TARGETS) {
        this.#targets.clear();
        this.#targetCount = 0;
        byUrl = undefined;
      }
      if (byUrl === undefined) {
        byUrl = new Map();
        this.#targets.set(hostHeader, byUrl);
      }
      byUrl.set(url, target);
      this.#targetCount++;
    }
    return target;
  }

  /** `name=value&...` of the request headers a variant is selected by. */
  #variantSuffix(names: readonly string[], headers: IncomingHttpHeaders): string {
    let suffix = '';
    for (let i = 0; i < names.length; i++) {
      const name = names[i]!;
      if (i > 0) suffix += '&';
      suffix += `${name}=${normalizeVaryValue(name, headers[name])}`;
    }
    return boundKey(suffix, this.#options.maxKeyLength);
  }

  #variantKey(target: Target, record: CacheEntry, headers: IncomingHttpHeaders): string {
    return `${target.storeKey}v${record.token}:${this.#variantSuffix(record.vary, headers)}`;
  }

  keyOf(url: string, host?: string): string {
    if (typeof url !== 'string') throw new TypeError(`${SCOPE}: keyOf() needs a URL string (got ${describeValue(url)})`);
    const { host: h, target } = this.#splitUrl(url, host);
    return this.#target(h, target).primary;
  }

  #splitUrl(url: string, host: string | undefined): { host: string | undefined; target: string } {
    if (/^https?:\/\//i.test(url)) {
      const parsed = new URL(url);
      return { host: this.#options.host ?? parsed.host, target: `${parsed.pathname}${parsed.search}` };
    }
    if (!url.startsWith('/')) throw new TypeError(`${SCOPE}: a URL must be absolute (http://...) or start with "/" (got ${describeValue(url)})`);
    return { host: this.#options.host ?? host, target: url };
  }

  // ---------------------------------------------------------------- events

  #report(error: CacheError | Error): void {
    this.#counts.errors++;
    this.#events.emit('error', error);
  }

  #lookupEvent(status: LookupStatus, route: string, tier: 'l1' | 'l2' | undefined, detail: string | undefined): void {
    if (status === 'hit') this.#counts.hits++;
    else if (status === 'miss') this.#counts.misses++;
    else if (status === 'stale') this.#counts.stale++;
    else this.#counts.bypasses++;
    if (this.#events.hasListeners('lookup')) this.#events.emit('lookup', { status, route, tier, detail } satisfies LookupEvent);
  }

  on<K extends keyof CacheEvents>(event: K, listener: (...args: CacheEvents[K]) => void): Disposable {
    return this.#events.on(event, listener);
  }

  // ---------------------------------------------------------------- HTTP handler

  handler(origin?: Origin): (req: IncomingMessage, res: ServerResponse) => void {
    const chosen = origin ?? this.#defaultOrigin;
    if (typeof chosen !== 'function') throw new TypeError(`${SCOPE}: handler() needs an origin function, or the "origin" option (got ${describeValue(origin)})`);
    this.#defaultOrigin ??= chosen;
    return (req, res) => this.#handle(req, res, chosen);
  }

  #handle(req: IncomingMessage, res: ServerResponse, origin: Origin): void {
    const method = req.method;
    const head = method === 'HEAD';
    if (method !== 'GET' && !head) {
      void this.#bypass(req, res, origin, undefined, 'method', undefined);
      return;
    }
    const url = req.url;
    if (url === undefined || url.charCodeAt(0) !== 47) {
      void this.#bypass(req, res, origin, undefined, 'bypass', 'request-target');
      return;
    }
    const headers = req.headers;
    const target = this.#target(this.#options.host ?? headers.host, url);
    const route = target.route;
    if (route === undefined) {
      void this.#bypass(req, res, origin, target, 'bypass', 'no-route');
      return;
    }
    const policy = route.policy;
    if (headers.authorization !== undefined && policy.shared && !policy.shareAuthorized) {
      void this.#bypass(req, res, origin, target, 'bypass', 'authorization');
      return;
    }
    let directives: CacheControl | undefined;
    if (headers['cache-control'] !== undefined || headers.pragma !== undefined) directives = this.#requestDirectives(headers);
    if (directives === undefined || !this.#mustForward(directives)) {
      let entry = this.#tiers.peek(target.storeKey);
      if (entry !== undefined && entry.kind === 'vary') entry = this.#tiers.peek(this.#variantKey(target, entry, headers));
      if (entry !== undefined && entry.kind === 'response') {
        const age = entry.age(this.#clock.now());
        if (age < entry.fresh && (directives === undefined || this.#freshEnough(directives, entry, age))) {
          this.#sendHit(req, res, entry, age, head);
          this.#lookupEvent('hit', route.name, 'l1', undefined);
          return;
        }
      }
    }
    void this.#slow(req, res, origin, target, route, directives);
  }

  /** Request directives that matter under the configured `requestCacheControl`. */
  #requestDirectives(headers: IncomingHttpHeaders): CacheControl {
    const cc = parseCacheControl(headers['cache-control']);
    if (this.#honorRequest && cc.noCache === false && headers['cache-control'] === undefined) {
      // RFC 9111 §5.4: Pragma: no-cache only without Cache-Control.
      const pragma = headers.pragma;
      if (typeof pragma === 'string' && /(^|,)\s*no-cache\s*(,|$)/i.test(pragma)) return { ...cc, noCache: true };
    }
    return cc;
  }

  #mustForward(cc: CacheControl): boolean {
    return this.#honorRequest && (cc.noCache || cc.maxAge === 0);
  }

  /** Client freshness demands (`max-age`, `min-fresh`), honoured only in `'honor'` mode. */
  #freshEnough(cc: CacheControl, entry: CacheEntry, age: number): boolean {
    if (!this.#honorRequest) return true;
    if (cc.maxAge !== undefined && age > cc.maxAge * 1000) return false;
    if (cc.minFresh !== undefined && entry.fresh - age < cc.minFresh * 1000) return false;
    return true;
  }

  /** How far past freshness the client accepts (`max-stale`), in `'honor'` mode. */
  #staleAllowed(cc: CacheControl | undefined, staleness: number): boolean {
    if (!this.#honorRequest || cc?.maxStale === undefined) return false;
    return staleness <= cc.maxStale * 1000;
  }

  #sendHit(req: IncomingMessage, res: ServerResponse, entry: CacheEntry, age: number, head: boolean): void {
    const ageSeconds = Math.floor(age / 1000);
    const ttlSeconds = Math.floor((entry.fresh - age) / 1000);
    const headers = req.headers;
    if ((headers['if-none-match'] !== undefined || headers['if-modified-since'] !== undefined) && entry.status < 300) {
      if (this.#conditionMet(headers, entry)) {
        sendNotModified(res, entry, age, hitStatus(this.#name, entry.fresh - age));
        return;
      }
    }
    let cached = entry.sendCache as HitHeaders | undefined;
    if (cached === undefined || cached.age !== ageSeconds || cached.ttl !== ttlSeconds) {
      const list = entry.headers.slice();
      if (entry.status !== 204) list.push('content-length', String(entry.body.length));
      list.push('age', String(ageSeconds), 'cache-status', `${this.#name}; hit; ttl=${ttlSeconds}`);
      // A small body is kept as a latin1 string (a lossless copy of the bytes): node:http then sends
      // headers and body in one write instead of a writev of two buffers.
      const text = cached?.text ?? (entry.body.length <= ONE_WRITE_BODY ? entry.body.toString('latin1') : undefined);
      cached = { age: ageSeconds, ttl: ttlSeconds, headers: list, text };
      entry.sendCache = cached;
    }
    res.sendDate = false;
    res.writeHead(entry.status, cached.headers);
    if (head || entry.status === 204) res.end();
    else if (cached.text !== undefined) res.end(cached.text, 'latin1');
    else res.end(entry.body);
  }

  #conditionMet(headers: IncomingHttpHeaders, entry: CacheEntry): boolean {
    const inm = headers['if-none-match'];
    const ims = headers['if-modified-since'];
    const lastModified = entry.lastModified ?? entry.createdAt;
    return notModified(inm, ims, { etag: entry.etag, lastModified: Math.floor(lastModified / 1000) * 1000 }, parseHttpDate);
  }

  /** Sends a stored response: 304 when the client's conditions hold. */
  #sendStored(req: IncomingMessage, res: ServerResponse, entry: CacheEntry, cacheStatus: string, headers?: readonly string[]): void {
    const age = entry.age(this.#clock.now());
    if (entry.status < 300 && (req.headers['if-none-match'] !== undefined || req.headers['if-modified-since'] !== undefined) && this.#conditionMet(req.headers, entry)) {
      sendNotModified(res, entry, age, cacheStatus);
      return;
    }
    sendEntry(res, entry, age, cacheStatus, req.method === 'HEAD', headers);
  }

  async #slow(req: IncomingMessage, res: ServerResponse, origin: Origin, target: Target, route: CompiledRoute, directives: CacheControl | undefined): Promise<void> {
    try {
      let fwd: ForwardReason = 'uri-miss';
      let record: CacheEntry | undefined;
      let entry: CacheEntry | undefined;
      let tier: 'l1' | 'l2' | undefined;
      const first = await this.#tiers.get(target.storeKey);
      if (first !== undefined) {
        if (first.entry.kind === 'vary') {
          record = first.entry;
          const second = await this.#tiers.get(this.#variantKey(target, record, req.headers));
          if (second !== undefined && second.entry.kind === 'response') ({ entry, tier } = second);
          else fwd = 'vary-miss';
        } else if (first.entry.kind === 'response') ({ entry, tier } = first);
      }
      const forced = directives !== undefined && this.#mustForward(directives);
      if (entry !== undefined && tier === 'l1' && !forced && entry.age(this.#clock.now()) >= entry.fresh && this.#tiers.l2Available) {
        // Another node may already have refreshed this entry in L2.
        const shared = await this.#tiers.getShared(record ? this.#variantKey(target, record, req.headers) : target.storeKey);
        if (shared !== undefined && shared.entry.kind === 'response' && shared.entry.createdAt > entry.createdAt) ({ entry, tier } = shared);
      }
      if (entry !== undefined) {
        const age = entry.age(this.#clock.now());
        if (!forced && age < entry.fresh && (directives === undefined || this.#freshEnough(directives, entry, age))) {
          this.#sendStored(req, res, entry, hitStatus(this.#name, entry.fresh - age));
          this.#lookupEvent('hit', route.name, tier, undefined);
          return;
        }
        const staleness = age - entry.fresh;
        if (!forced && !entry.mustRevalidate && (staleness < entry.swr || this.#staleAllowed(directives, staleness))) {
          const detail = staleness < entry.swr ? 'stale-while-revalidate' : 'max-stale';
          this.#sendStored(req, res, entry, hitStatus(this.#name, entry.fresh - age, detail));
          this.#lookupEvent('stale', route.name, tier, detail);
          this.#revalidateInBackground(req, target, route, origin, entry, record);
          return;
        }
        fwd = forced ? 'request' : 'stale';
      }
      if (directives?.onlyIfCached) {
        // RFC 9111 §5.2.1.7
        sendOriginFailure(res, { status: 504, problem: { title: 'Gateway Timeout', status: 504, detail: 'only-if-cached and nothing usable is stored' } }, forwardStatus(this.#name, fwd, { detail: 'only-if-cached' }));
        this.#lookupEvent('miss', route.name, undefined, 'only-if-cached');
        return;
      }
      await this.#fetchAndRespond(req, res, origin, target, route, entry, record, fwd, directives, false);
    } catch (error) {
      this.#report(error instanceof Error ? error : new Error(String(error)));
      if (!res.headersSent) sendOriginFailure(res, error, forwardStatus(this.#name, 'miss', { detail: 'error' }));
      else res.destroy();
    }
  }

  #fetchContext(client: IncomingMessage | undefined, headers: IncomingHttpHeaders, target: Target, route: CompiledRoute, origin: Origin, stale: CacheEntry | undefined, record: CacheEntry | undefined): FetchContext {
    return { client, headers, target, route, origin, stale, record, ran: false, leader: undefined, written: [] };
  }

  #coalesceKey(target: Target, route: CompiledRoute, record: CacheEntry | undefined, headers: IncomingHttpHeaders): string {
    if (record !== undefined) return this.#variantKey(target, record, headers);
    const names = this.#varyNames(route.policy, []);
    return names.length === 0 ? target.storeKey : `${target.storeKey}?${this.#variantSuffix(names, headers)}`;
  }

  #varyNames(policy: ResolvedPolicy, fromResponse: readonly string[]): string[] {
    if (policy.vary.length === 0 && fromResponse.length === 0 && policy.shared) return [];
    const set = new Set([...policy.vary, ...fromResponse]);
    if (!policy.shared) for (const name of PER_USER_VARY) set.add(name);
    return [...set].sort();
  }

  async #fetchAndRespond(
    req: IncomingMessage,
    res: ServerResponse,
    origin: Origin,
    target: Target,
    route: CompiledRoute,
    stale: CacheEntry | undefined,
    record: CacheEntry | undefined,
    fwd: ForwardReason,
    directives: CacheControl | undefined,
    retried: boolean,
  ): Promise<void> {
    const ctx = this.#fetchContext(req, req.headers, target, route, origin, stale, record);
    if (!stale && target.url.length <= MAX_MEMO_KEY) this.#misses.add(target.storeKey, { host: target.host, url: target.url, route: route.name, primary: target.primary } satisfies MissData);
    let outcome: Outcome;
    try {
      outcome = await this.#coalescer.run(
        this.#coalesceKey(target, route, record, req.headers),
        (signal) => this.#fetchForStore(ctx, signal, directives?.noStore === true),
        stale?.createdAt,
      );
    } catch (error) {
      this.#answerFailure(req, res, origin, target, route, ctx, stale, fwd, error);
      return;
    }
    if (outcome instanceof PassThrough) {
      if (outcome.owner === ctx) {
        const headers = forwardHeaders(outcome.response.headers, this.#settings);
        headers.push('cache-status', forwardStatus(this.#name, fwd, { status: outcome.response.statusCode, detail: outcome.detail }));
        streamResponse(res, outcome.response, headers, outcome.prefix, req.method === 'HEAD');
        this.#lookupEvent('miss', route.name, undefined, outcome.detail);
      } else {
        // Another request's answer was not storable: it was streamed to that client alone.
        void this.#bypass(req, res, origin, target, fwd, 'uncacheable');
      }
      return;
    }
    const collapsed = !ctx.ran;
    if (collapsed) this.#counts.collapsed++;
    if (collapsed && outcome.vary.length > 0 && outcome.token !== this.#variantSuffix(outcome.vary, req.headers)) {
      // The shared answer is another variant; look again now that the URL's vary record exists.
      if (!retried) {
        await this.#retryVariant(req, res, origin, target, route, directives);
        return;
      }
      void this.#bypass(req, res, origin, target, 'vary-miss', 'variant');
      return;
    }
    const leader = ctx.leader;
    const status = forwardStatus(this.#name, fwd, {
      status: leader?.status ?? outcome.status,
      ttlMs: outcome.ttl(this.#clock.now()),
      stored: leader ? leader.stored : true,
      collapsed,
      detail: leader?.detail,
    });
    this.#sendStored(req, res, outcome, status, leader?.headers);
    this.#lookupEvent('miss', route.name, undefined, leader?.detail ?? (collapsed ? 'collapsed' : undefined));
  }

  async #retryVariant(req: IncomingMessage, res: ServerResponse, origin: Origin, target: Target, route: CompiledRoute, directives: CacheControl | undefined): Promise<void> {
    const first = await this.#tiers.get(target.storeKey);
    const record = first?.entry.kind === 'vary' ? first.entry : undefined;
    let entry: CacheEntry | undefined;
    if (record) {
      const found = await this.#tiers.get(this.#variantKey(target, record, req.headers));
      if (found?.entry.kind === 'response' && found.entry.age(this.#clock.now()) < found.entry.fresh) entry = found.entry;
    }
    if (entry) {
      this.#sendStored(req, res, entry, hitStatus(this.#name, entry.ttl(this.#clock.now())));
      this.#lookupEvent('hit', route.name, 'l2', undefined);
      return;
    }
    await this.#fetchAndRespond(req, res, origin, target, route, undefined, record, 'vary-miss', directives, true);
  }

  #answerFailure(
    req: IncomingMessage,
    res: ServerResponse,
    origin: Origin,
    target: Target,
    route: CompiledRoute,
    ctx: FetchContext,
    stale: CacheEntry | undefined,
    fwd: ForwardReason,
    error: unknown,
  ): void {
    const failed = error instanceof OriginStatusError ? error : undefined;
    if (stale !== undefined && !stale.mustRevalidate) {
      const age = stale.age(this.#clock.now());
      if (age - stale.fresh < stale.sie) {
        if (failed?.owner === ctx && !failed.complete) discardBody(failed.response.body);
        // RFC 5861 §4: stale-if-error.
        this.#sendStored(req, res, stale, forwardStatus(this.#name, 'stale', { status: failed?.status, ttlMs: stale.fresh - age, detail: 'stale-if-error' }));
        this.#lookupEvent('stale', route.name, undefined, 'stale-if-error');
        return;
      }
    }
    if (failed) {
      const owner = failed.owner === ctx;
      const cacheStatus = forwardStatus(this.#name, fwd, { status: failed.status, collapsed: !owner });
      const headers = [...failed.headers, 'cache-status', cacheStatus];
      if (owner && !failed.complete) streamResponse(res, failed.response, headers, failed.prefix, req.method === 'HEAD');
      else if (owner || failed.shareable) sendBuffered(res, failed.status, headers, Buffer.concat(failed.prefix), req.method === 'HEAD');
      else {
        void this.#bypass(req, res, origin, target, fwd, 'origin-error');
        return;
      }
      this.#lookupEvent('miss', route.name, undefined, 'origin-error');
      return;
    }
    this.#report(error instanceof Error ? error : new Error(String(error)));
    sendOriginFailure(res, error, forwardStatus(this.#name, fwd, { detail: 'origin-error' }));
    this.#lookupEvent('miss', route.name, undefined, 'origin-error');
  }

  /** Headers of a fetch made for storage: the client's, minus what the key does not cover. */
  #originHeaders(headers: IncomingHttpHeaders, policy: ResolvedPolicy, stale: CacheEntry | undefined): IncomingHttpHeaders {
    const out: IncomingHttpHeaders = {};
    const keyed = policy.vary;
    for (const name in headers) {
      if (FETCH_DROPPED.has(name)) continue;
      if (this.#unkeyed.has(name) && !keyed.includes(name) && !(name === 'cookie' && !policy.shared)) continue;
      out[name] = headers[name];
    }
    if (stale !== undefined) {
      // RFC 9111 §4.3.1: revalidate with the stored validators.
      if (stale.etag !== undefined) out['if-none-match'] = stale.etag;
      if (stale.lastModified !== undefined) out['if-modified-since'] = formatHttpDate(stale.lastModified);
    }
    return out;
  }

  /**
   * The single origin call of a coalesced group: fetch, analyse, buffer, store. Returns the entry
   * (stored, or shareable but unstored when the store is unavailable) or a {@link PassThrough}.
   */
  async #fetchForStore(ctx: FetchContext, signal: AbortSignal, noStore: boolean): Promise<Outcome> {
    ctx.ran = true;
    const { target, route } = ctx;
    const policy = route.policy;
    const gen = await this.#tiers.generation();
    const requestTime = this.#clock.now();
    const req = createOriginRequest({ method: 'GET', url: target.url, headers: this.#originHeaders(ctx.headers, policy, ctx.stale), from: ctx.client });
    this.#counts.originRequests++;
    const response = await ctx.origin(req, { signal });
    const responseTime = this.#clock.now();

    if (response.statusCode === 304 && ctx.stale !== undefined) {
      discardBody(response.body);
      return this.#refresh(ctx, response, gen, requestTime, responseTime, noStore);
    }
    if (response.statusCode >= 500) {
      const headers = forwardHeaders(response.headers, this.#settings);
      const buffered = await readBody(response.body, Math.min(this.#options.maxBodySize, 64 * 1024));
      const shareable = buffered.complete && !headers.includes('set-cookie');
      throw new OriginStatusError(response.statusCode, headers, buffered.chunks, buffered.complete, shareable, response, ctx);
    }
    const analysis = analyzeResponse(response.statusCode, response.headers, policy, this.#settings, { requestTime, responseTime });
    if (analysis.notStorable !== undefined) return new PassThrough(ctx, response, [], analysis.notStorable);
    if (analysis.contentLength !== undefined && analysis.contentLength > this.#options.maxBodySize) return new PassThrough(ctx, response, [], 'too-large');
    const buffered = await readBody(response.body, this.#options.maxBodySize);
    if (!buffered.complete) return new PassThrough(ctx, response, buffered.chunks, 'too-large');
    const body = buffered.chunks.length === 1 ? buffered.chunks[0]! : Buffer.concat(buffered.chunks, buffered.size);
    return this.#storeResponse(ctx, analysis, response.statusCode, body, gen, responseTime, noStore);
  }

  /** RFC 9111 §4.3.4: a 304 freshens the stored response with the headers it carries. */
  async #refresh(ctx: FetchContext, response: OriginResponse, gen: number | undefined, requestTime: number, responseTime: number, noStore: boolean): Promise<Outcome> {
    const stale = ctx.stale!;
    const merged: OriginHeaders = {};
    const stored = stale.headers;
    for (let i = 0; i < stored.length; i += 2) {
      const name = stored[i]!;
      const value = stored[i + 1]!;
      const existing = merged[name];
      merged[name] = existing === undefined ? value : Array.isArray(existing) ? [...existing, value] : [String(existing), value];
    }
    let dated = false;
    for (const [rawName, value] of Object.entries(response.headers)) {
      const name = rawName.toLowerCase();
      if (name === 'content-length' || name === 'content-encoding' || name === 'content-type' || value === undefined) continue;
      merged[name] = value;
      if (name === 'date') dated = true;
    }
    // A 304 without Date was generated now; the stored Date would make the refreshed entry look old.
    if (!dated) delete merged.date;
    const analysis = analyzeResponse(stale.status, merged, ctx.route.policy, this.#settings, { requestTime, responseTime });
    if (analysis.notStorable !== undefined) {
      // The origin no longer allows storage: answer from the validated body once, store nothing.
      const entry = this.#buildEntry(ctx, analysis, stale.status, stale.body, gen ?? 0, responseTime);
      ctx.leader = { headers: analysis.clientHeaders, status: 304, stored: false, detail: analysis.notStorable };
      return entry;
    }
    return this.#storeResponse(ctx, analysis, stale.status, stale.body, gen, responseTime, noStore, 304);
  }

  #buildEntry(ctx: FetchContext, analysis: ResponseAnalysis, status: number, body: Buffer, gen: number, responseTime: number, vary: readonly string[] = [], variant = ''): CacheEntry {
    const tags = ctx.route.tags(ctx.target.params);
    for (const tag of analysis.tags) if (!tags.includes(tag)) tags.push(tag);
    return new CacheEntry({
      kind: 'response',
      status,
      headers: analysis.storedHeaders,
      body,
      tags,
      gen,
      createdAt: responseTime,
      initialAge: analysis.initialAge,
      fresh: analysis.fresh,
      swr: analysis.swr,
      sie: analysis.sie,
      mustRevalidate: analysis.mustRevalidate,
      etag: analysis.etag,
      lastModified: analysis.lastModified,
      vary,
      token: variant,
    });
  }

  async #storeResponse(
    ctx: FetchContext,
    analysis: ResponseAnalysis,
    status: number,
    body: Buffer,
    gen: number | undefined,
    responseTime: number,
    noStore: boolean,
    originStatus = status,
  ): Promise<CacheEntry> {
    const { target, route } = ctx;
    const names = this.#varyNames(route.policy, analysis.vary);
    const variant = names.length === 0 ? '' : this.#variantSuffix(names, ctx.headers);
    const entry = this.#buildEntry(ctx, analysis, status, body, gen ?? 0, responseTime, names, variant);
    let detail: string | undefined;
    if (gen === undefined) detail = 'store-unavailable';
    else if (noStore) detail = 'request-no-store';
    else if (this.#invalidation.invalidatedSince(target.storeKey, target.storeKey, gen)) detail = 'invalidated';
    let stored = false;
    if (detail === undefined) {
      const ttl = entry.remaining(this.#clock.now(), this.#options.keepStale);
      if (ttl > 0) {
        let key = target.storeKey;
        if (names.length > 0) {
          const record = ctx.record !== undefined && sameList(ctx.record.vary, names) ? ctx.record : this.#varyRecord(names, gen!, responseTime);
          const recordTtl = Math.max(ttl, record === ctx.record ? record.remaining(this.#clock.now(), 0) : 0);
          await this.#tiers.set(target.storeKey, record, Math.min(recordTtl, this.#options.maxTtl + this.#options.keepStale));
          ctx.written.push(target.storeKey);
          key = `${target.storeKey}v${record.token}:${variant}`;
        }
        await this.#tiers.set(key, entry, ttl);
        ctx.written.push(key);
        stored = true;
        this.#stored.add(entry);
        this.#counts.stores++;
        if (this.#events.hasListeners('store')) this.#events.emit('store', { key, route: route.name, size: body.length, ttl, tags: entry.tags });
      } else detail = 'stale';
    }
    ctx.leader = { headers: analysis.clientHeaders, status: originStatus, stored, detail };
    return entry;
  }

  #varyRecord(names: readonly string[], gen: number, now: number): CacheEntry {
    return new CacheEntry({
      kind: 'vary',
      status: 0,
      headers: [],
      body: Buffer.alloc(0),
      tags: [],
      gen,
      createdAt: now,
      initialAge: 0,
      fresh: 0,
      swr: 0,
      sie: 0,
      mustRevalidate: false,
      etag: undefined,
      lastModified: undefined,
      vary: names,
      token: randomBytes(6).toString('base64url'),
    });
  }

  #revalidateInBackground(req: IncomingMessage, target: Target, route: CompiledRoute, origin: Origin, stale: CacheEntry, record: CacheEntry | undefined): void {
    // A copy of what the fetch needs: the client request may be gone by the time it runs.
    const headers = { ...req.headers };
    const ctx = this.#fetchContext(undefined, headers, target, route, origin, stale, record);
    this.#coalescer.refresh(
      this.#coalesceKey(target, route, record, headers),
      (signal) => this.#fetchForStore(ctx, signal, false),
      (error, outcome) => {
        if (outcome instanceof PassThrough) discardBody(outcome.response.body);
        if (error instanceof OriginStatusError) discardBody(error.response.body);
        else if (error !== undefined) this.#report(error instanceof Error ? error : new Error(String(error)));
      },
      stale.createdAt,
    );
  }

  /** Streams a request to the origin untouched; unsafe methods then invalidate the URL (RFC 9111 §4.4). */
  async #bypass(req: IncomingMessage, res: ServerResponse, origin: Origin, target: Target | undefined, fwd: ForwardReason, detail: string | undefined): Promise<void> {
    const route = target?.routeName ?? (req.method === 'GET' || req.method === 'HEAD' ? 'GET (other)' : `${req.method ?? 'UNKNOWN'} (other)`);
    this.#lookupEvent(fwd === 'uri-miss' || fwd === 'vary-miss' || fwd === 'stale' || fwd === 'miss' ? 'miss' : 'bypass', route, undefined, detail);
    const controller = new AbortController();
    const onClose = (): void => {
      if (!res.writableFinished) controller.abort();
    };
    res.once('close', onClose);
    let response: OriginResponse;
    try {
      this.#counts.originRequests++;
      response = await origin(req, { signal: controller.signal });
    } catch (error) {
      res.off('close', onClose);
      if (!controller.signal.aborted) this.#report(error instanceof Error ? error : new Error(String(error)));
      if (!res.headersSent && !res.destroyed) sendOriginFailure(res, error, forwardStatus(this.#name, fwd, { detail: detail ?? 'origin-error' }));
      return;
    }
    const headers = forwardHeaders(response.headers, this.#settings);
    headers.push('cache-status', forwardStatus(this.#name, fwd, { status: response.statusCode, detail }));
    streamResponse(res, response, headers, [], req.method === 'HEAD');
    if (UNSAFE_METHODS.has(req.method ?? '') && response.statusCode < 400) this.#invalidateAfterUnsafe(req, response);
  }

  #invalidateAfterUnsafe(req: IncomingMessage, response: OriginResponse): void {
    const url = req.url;
    if (url === undefined || url.charCodeAt(0) !== 47) return;
    const host = this.#options.host ?? req.headers.host;
    const keys = [this.#target(host, url).storeKey];
    for (const name of ['location', 'content-location']) {
      const value = response.headers[name];
      const text = Array.isArray(value) ? value[0] : value;
      if (typeof text !== 'string' || text.length === 0) continue;
      try {
        // RFC 9111 §4.4: only URIs with the same origin as the request.
        const base = `http://${host ?? 'localhost'}`;
        const resolved = new URL(text, `${base}${url}`);
        if (resolved.host === new URL(base).host) keys.push(this.#target(host, `${resolved.pathname}${resolved.search}`).storeKey);
      } catch {
        // An unparsable Location invalidates nothing.
      }
    }
    this.#invalidation.invalidateKeys(keys).catch((error: unknown) => this.#report(error instanceof Error ? error : new Error(String(error))));
  }

  // ---------------------------------------------------------------- coalescer support

  /**
   * What another process's coalesced fetch stored under a coalescing key: L1 when it is fresh there,
   * else L2. A key `{primary}?<variant>` (a route with `vary` and no vary record yet) is looked up
   * through the URL's vary record.
   */
  async #lookupForCoalescer(key: string): Promise<CacheEntry | undefined> {
    const end = key.indexOf('}');
    if (end > 0 && key.charCodeAt(end + 1) === 63) {
      const record = await this.#lookupForCoalescer(key.slice(0, end + 1));
      return record?.kind === 'vary' ? this.#lookupForCoalescer(`${key.slice(0, end + 1)}v${record.token}:${key.slice(end + 2)}`) : undefined;
    }
    const local = this.#tiers.peek(key);
    if (local !== undefined && (local.kind === 'vary' || local.age(this.#clock.now()) < local.fresh)) return local;
    return (await this.#tiers.getShared(key))?.entry;
  }

  // ---------------------------------------------------------------- wrap

  async wrap<T>(key: string, fn: (ctx: { signal: AbortSignal }) => Promise<T> | T, options: WrapOptions): Promise<T> {
    if (typeof key !== 'string' || key.length === 0) throw new TypeError(`${SCOPE}: wrap() needs a non-empty string key (got ${describeValue(key)})`);
    if (typeof fn !== 'function') throw new TypeError(`${SCOPE}: wrap() needs a function (got ${describeValue(fn)})`);
    if (!options || typeof options !== 'object') throw new TypeError(`${SCOPE}: wrap() needs options with a ttl (got ${describeValue(options)})`);
    const scope = `${SCOPE}: wrap()`;
    const ttl = checkMs(scope, 'ttl', options.ttl);
    const staleTtl = options.staleTtl === undefined ? 0 : checkMs(scope, 'staleTtl', options.staleTtl);
    const staleIfError = options.staleIfError === undefined ? 0 : checkMs(scope, 'staleIfError', options.staleIfError);
    const tags = options.tags === undefined ? [] : [...options.tags];
    if (!tags.every((t) => typeof t === 'string' && t.length > 0)) throw new TypeError(`${scope}: option "tags" must be non-empty strings (got ${describeValue(options.tags)})`);
    const label = options.name ?? 'wrap';
    const storeKey = `{${boundKey(escapeKeyText(key), this.#options.maxKeyLength)}}`;

    const found = await this.#tiers.get(storeKey);
    const entry = found?.entry.kind === 'value' ? found.entry : undefined;
    const now = this.#clock.now();
    if (entry !== undefined) {
      const age = entry.age(now);
      if (age < entry.fresh) {
        this.#lookupEvent('hit', label, found!.tier, undefined);
        return entry.value() as T;
      }
      if (age - entry.fresh < entry.swr) {
        this.#lookupEvent('stale', label, found!.tier, 'stale-while-revalidate');
        this.#coalescer.refresh(
          storeKey,
          (signal) => this.#computeValue(storeKey, fn, signal, ttl, staleTtl, staleIfError, tags),
          (error) => {
            if (error !== undefined) this.#report(error instanceof Error ? error : new Error(String(error)));
          },
          entry.createdAt,
        );
        return entry.value() as T;
      }
    }
    let computed: Outcome;
    try {
      computed = await this.#coalescer.run(storeKey, (signal) => this.#computeValue(storeKey, fn, signal, ttl, staleTtl, staleIfError, tags), entry?.createdAt);
    } catch (error) {
      if (entry !== undefined && entry.age(this.#clock.now()) - entry.fresh < entry.sie) {
        this.#lookupEvent('stale', label, found!.tier, 'stale-if-error');
        return entry.value() as T;
      }
      throw error;
    }
    this.#lookupEvent('miss', label, undefined, undefined);
    return (computed as CacheEntry).value() as T;
  }

  async #computeValue<T>(
    storeKey: string,
    fn: (ctx: { signal: AbortSignal }) => Promise<T> | T,
    signal: AbortSignal,
    ttl: number,
    staleTtl: number,
    staleIfError: number,
    tags: string[],
  ): Promise<CacheEntry> {
    const gen = await this.#tiers.generation();
    this.#counts.originRequests++;
    const value = await fn({ signal });
    const json = JSON.stringify(value);
    const now = this.#clock.now();
    const fresh = Math.min(ttl, this.#options.maxTtl);
    const entry = new CacheEntry({
      kind: 'value',
      status: 0,
      headers: [],
      body: json === undefined ? Buffer.alloc(0) : Buffer.from(json, 'utf8'),
      tags,
      gen: gen ?? 0,
      createdAt: now,
      initialAge: 0,
      fresh,
      swr: Math.min(staleTtl, this.#options.maxTtl - fresh),
      sie: Math.min(staleIfError, this.#options.maxTtl - fresh),
      mustRevalidate: false,
      etag: undefined,
      lastModified: undefined,
      vary: [],
      token: '',
    });
    if (gen !== undefined && !this.#invalidation.invalidatedSince(storeKey, storeKey, gen)) {
      const ttlMs = entry.remaining(now, 0);
      await this.#tiers.set(storeKey, entry, ttlMs);
      this.#stored.add(entry);
      this.#counts.stores++;
      if (this.#events.hasListeners('store')) this.#events.emit('store', { key: storeKey, route: 'wrap', size: entry.body.length, ttl: ttlMs, tags });
    }
    return entry;
  }

  // ---------------------------------------------------------------- invalidation

  async invalidateTag(tags: string | readonly string[]): Promise<void> {
    const list = typeof tags === 'string' ? [tags] : tags;
    if (!Array.isArray(list) || !list.every((t) => typeof t === 'string' && t.length > 0 && t.length <= 1_024)) {
      throw new TypeError(`${SCOPE}: invalidateTag() needs tags of 1-1024 characters (got ${describeValue(tags)})`);
    }
    await this.#invalidation.invalidateTags(list);
  }

  async invalidatePattern(pattern: string): Promise<number> {
    if (typeof pattern !== 'string' || pattern.length === 0 || pattern.length > 2_048) {
      throw new TypeError(`${SCOPE}: invalidatePattern() needs a glob of 1-2048 characters (got ${describeValue(pattern)})`);
    }
    return this.#invalidation.invalidatePattern(`{${pattern}}*`, this.#options.scanTimeout);
  }

  async invalidateKey(keys: string | readonly string[]): Promise<void> {
    const list = typeof keys === 'string' ? [keys] : keys;
    if (!Array.isArray(list) || !list.every((k) => typeof k === 'string' && k.length > 0)) {
      throw new TypeError(`${SCOPE}: invalidateKey() needs keys (got ${describeValue(keys)})`);
    }
    await this.#invalidation.invalidateKeys(list.map((k) => `{${k}}`));
  }

  // ---------------------------------------------------------------- warming

  async warm(urls: Iterable<string>, options: WarmOptions = {}): Promise<WarmReport> {
    const origin = options.origin ?? this.#defaultOrigin;
    if (typeof origin !== 'function') throw new TypeError(`${SCOPE}: warm() needs an origin (option "origin", or call handler(origin) first)`);
    const concurrency = options.concurrency ?? this.#options.warmConcurrency;
    if (!Number.isInteger(concurrency) || concurrency < 1) throw new RangeError(`${SCOPE}: warm() option "concurrency" must be an integer >= 1 (got ${describeValue(concurrency)})`);
    const list = [...urls];
    const report: WarmReport = { warmed: [], skipped: [], failed: [] };
    const written: string[] = [];
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < list.length && !this.#closed) {
        const url = list[next++]!;
        try {
          const result = await this.#warmOne(url, origin, options);
          if (result.stored) {
            report.warmed.push(url);
            written.push(...result.keys);
          } else report.skipped.push({ url, reason: result.reason });
        } catch (error) {
          report.failed.push({ url, error: error instanceof Error ? error : new Error(String(error)) });
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(concurrency, list.length) }, worker));
    if (options.announce !== false && written.length > 0) {
      try {
        await this.#invalidation.announceWarm(written);
      } catch (error) {
        this.#report(error instanceof Error ? error : new Error(String(error)));
      }
    }
    return report;
  }

  async #warmOne(url: string, origin: Origin, options: WarmOptions): Promise<{ stored: true; keys: string[] } | { stored: false; reason: string }> {
    const { host, target: path } = this.#splitUrl(url, options.host);
    const target = this.#target(host, path);
    const route = target.route;
    if (!route) return { stored: false, reason: 'no-route' };
    const headers: IncomingHttpHeaders = { ...lowerCaseKeys(options.headers ?? {}) };
    if (host !== undefined) headers.host = host;
    const first = await this.#tiers.get(target.storeKey);
    const record = first?.entry.kind === 'vary' ? first.entry : undefined;
    if (!options.force && first !== undefined) {
      const key = record ? this.#variantKey(target, record, headers) : target.storeKey;
      const found = record ? await this.#tiers.get(key) : first;
      if (found?.entry.kind === 'response' && found.entry.age(this.#clock.now()) < found.entry.fresh) {
        return { stored: true, keys: record ? [target.storeKey, key] : [key] };
      }
    }
    const ctx = this.#fetchContext(undefined, headers, target, route, origin, undefined, record);
    // A forced warm-up wants a fetch made now, not an entry stored before it began.
    const after = options.force ? this.#clock.now() - 1 : undefined;
    const outcome = await this.#coalescer.run(this.#coalesceKey(target, route, record, headers), (signal) => this.#fetchForStore(ctx, signal, false), after).catch((error: unknown) => {
      if (error instanceof OriginStatusError) {
        discardBody(error.response.body);
        throw new CacheError('ECACHESTORE', `warming ${url}: origin answered ${error.status}`, { operation: 'warm', key: target.primary, cause: error });
      }
      throw error;
    });
    if (outcome instanceof PassThrough) {
      discardBody(outcome.response.body);
      return { stored: false, reason: outcome.detail };
    }
    if (ctx.ran && ctx.leader && !ctx.leader.stored) return { stored: false, reason: ctx.leader.detail ?? 'not-stored' };
    return { stored: true, keys: ctx.written };
  }

  /** A warming announcement from another node: copy the keys from L2 into L1. */
  async #loadIntoL1(keys: readonly string[]): Promise<void> {
    if (!this.#tiers.l2 || !this.#l1) return;
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < keys.length && !this.#closed) await this.#tiers.get(keys[next++]!);
    };
    await Promise.all(Array.from({ length: Math.min(this.#options.warmConcurrency, keys.length) }, worker));
  }

  topMisses(n: number): TopMiss[] {
    if (!Number.isInteger(n) || n < 0) throw new RangeError(`${SCOPE}: topMisses() needs an integer >= 0 (got ${describeValue(n)})`);
    return this.#misses.top(n).map((m) => {
      const data = m.data as MissData;
      return { key: data.primary, host: data.host, url: data.url, route: data.route, count: m.count, error: m.error };
    });
  }

  async warmTopMisses(n: number, options: WarmOptions = {}): Promise<WarmReport> {
    const top = this.#misses.top(n);
    const byUrl = new Map<string, string>();
    const urls: string[] = [];
    for (const m of top) {
      const data = m.data as MissData;
      const url = `http://${data.host}${data.url}`;
      byUrl.set(url, m.key);
      urls.push(url);
    }
    const report = await this.warm(urls, options);
    for (const url of report.warmed) {
      const key = byUrl.get(url);
      if (key !== undefined) this.#misses.delete(key);
    }
    return report;
  }

  // ---------------------------------------------------------------- lifecycle

  stats(): CacheStats {
    return {
      ...this.#counts,
      l1: this.#l1 ? { entries: this.#l1.size, bytes: this.#l1.bytes, usable: this.#invalidation.l1Usable() } : undefined,
    };
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#invalidation.close();
    await this.#coalescer.close();
    if (this.#ownedBus) await this.#ownedBus.close();
    this.#l1?.flush();
    this.#events.removeAllListeners();
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

interface HitHeaders {
  age: number;
  ttl: number;
  headers: string[];
  /** The body as latin1, for bodies up to {@link ONE_WRITE_BODY} bytes. */
  text: string | undefined;
}

/** What a coalescer implementation may use. */
export interface CoalescerDeps {
  /** Reads the entry stored under a coalescing key (fresh or not), validated. */
  lookup(key: string): Promise<CacheEntry | undefined>;
  /** Whether this process's fetch wrote `entry` to the stores (so other processes can read it). */
  stored(entry: CacheEntry): boolean;
  /** Reports a coordination failure (the request went on without it). */
  report(error: Error): void;
  clock: Clock;
  redis: ResolvedOptions['redis'];
  /** The cache's bus, which carries the coalescer's "fetch done" notices too. */
  bus: Bus | undefined;
  options: ResolvedOptions;
}

function sameList(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

function lowerCaseKeys(headers: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) out[name.toLowerCase()] = value;
  return out;
}

function checkMs(scope: string, name: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
    throw new RangeError(`${scope}: option "${name}" must be a number of milliseconds >= 0 (got ${describeValue(value)})`);
  }
  return value;
}

export type { CacheOptions, Outcome };
