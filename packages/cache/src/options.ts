import type { Bus } from '@edgekit/bus';
import { type Clock, checkOptionsObject, checkRedisClient, checkRedisPrefix, describeValue, optionalBoolean, optionalNumber, optionalOneOf, optionalString, rejectRenamedOptions, systemClock, type RedisClientLike } from '@edgekit/core';
import type { Cluster, Redis } from 'ioredis';
import { isCacheStatusName } from './cache-status.js';
import type { PathNormalizer, RoutePolicy } from './routes.js';
import type { CacheStore, TagStore } from './store.js';
import type { Origin } from './types.js';
import type { IncomingMessage } from 'node:http';

export const SCOPE = '@edgekit/cache';

/** Options of {@link createCache}. Durations are milliseconds. */
export interface CacheOptions {
  /** Route policies: `{ 'GET /api/products/:id': { ttl: 60_000, tags: ['product:{id}'] } }`. Requests that match no route bypass the cache. Default: `{}`. */
  routes?: Readonly<Record<string, RoutePolicy>>;
  /** Segment rewrites naming unmatched paths for events, tried before the built-in numeric-id and UUID rules. Default: `[]`. */
  pathNormalizers?: readonly PathNormalizer[];
  /** An ioredis client (standalone or Cluster). Enables the shared L2 tier, shared tag generations, the Redis bus and cross-process request coalescing. Default: none (one node, memory only). */
  redis?: RedisClientLike;
  /** The shared L2 store. Default: a Redis store on `redis`, or none. */
  store?: CacheStore;
  /** Where tag generations live. Default: Redis on `redis`, else in memory. */
  tagStore?: TagStore;
  /** The bus that carries invalidations between nodes. Default: a Redis bus on `redis` (closed by `close()`), else none. */
  bus?: Bus;
  /** The in-process L1 tier (byte-bounded LRU), or `false` to disable it. Default: `{ maxSize: 64 MiB }`. */
  l1?: L1Options | false;
  /** Prefix of Redis keys. Default: `'edgekit:cache:'`. */
  prefix?: string;
  /** Bus channel of invalidations. Default: `'edgekit-cache'`. */
  channel?: string;
  /** The origin for `handler()` and `warm()` when none is passed. Default: none. */
  origin?: Origin;
  /** The cache's name in `Cache-Status`. Default: `'edgekit'`. */
  name?: string;
  /** A fixed host for keys instead of the `Host` header (single-site gateways). Default: the `Host` header. */
  host?: string;
  /** Query parameters left out of keys (`'utm_*'` matches a prefix). Default: `[]`. */
  ignoreQueryParams?: readonly string[];
  /** Largest body buffered for storage, in bytes; larger responses stream through uncached. Default: 4 MiB. */
  maxBodySize?: number;
  /** Longest readable key; longer keys keep a prefix and a SHA-256. Default: 512. */
  maxKeyLength?: number;
  /** Longest an entry is kept (fresh plus stale windows), cap on the route `ttl`, and how long tag generations are kept. An origin's longer explicit lifetime is still reported in `Cache-Status`. Default: 86400000 (one day). */
  maxTtl?: number;
  /** How long a stale entry with validators is kept after its stale windows, for conditional revalidation. Default: 300000. */
  keepStale?: number;
  /** Statuses that may be stored without the origin's explicit freshness; with it any final status may be (RFC 9111 §3). Default: `[200, 203, 204, 300, 301, 308, 404, 405, 410, 414, 501]`. */
  cacheableStatuses?: readonly number[];
  /** Response headers whose values are entry tags. Default: `['surrogate-key', 'cache-tag']`. */
  tagHeaders?: readonly string[];
  /** Send tag headers on to clients. Default: false (stripped). */
  exposeTagHeaders?: boolean;
  /** Most tags per entry taken from response headers. Default: 64. */
  maxTags?: number;
  /** Request headers removed before a cacheable request goes to the origin, because they are not in the key (cache-poisoning vectors). Default: see `UNKEYED_HEADERS`. */
  unkeyedHeaders?: readonly string[];
  /** `'ignore'`: clients cannot force revalidation (`no-cache`, `max-age`, `Pragma`), as CDNs do by default; `'honor'`: they can. `no-store` and `only-if-cached` always apply. Default: `'ignore'`. */
  requestCacheControl?: 'ignore' | 'honor';
  /** Targeted cache-control headers (RFC 9213) read in place of `Cache-Control`, first present wins. Default: `['cdn-cache-control']`. */
  targetedCacheControl?: readonly string[];
  /** Bound on each Redis command of the cache, in ms. Default: 250. */
  operationTimeout?: number;
  /** After a Redis failure, how long the cache goes straight to the origin before trying Redis again, in ms. Default: 1000. */
  cooldown?: number;
  /** Bound on a pattern invalidation's SCAN, in ms. Default: 30000. */
  scanTimeout?: number;
  /** Concurrent origin requests of `warm()`. Default: 4. */
  warmConcurrency?: number;
  /** Counters kept for `topMisses()`. Default: 1000. */
  missCounters?: number;
  /** How long a process holds the cross-process revalidation lock, in ms (passed to `@edgekit/swr`). Default: swr's. */
  lockTtl?: number;
  /** How long a request waits for another process's fetch of the same key, in ms (passed to `@edgekit/swr`). Default: swr's. */
  waitTimeout?: number;
  /**
   * Who made the request, as the gateway authenticated it (a user id, an API key's tenant), or
   * `undefined` for an anonymous request. A request with a principal is private: it is neither
   * stored nor answered from shared entries, unless its route says `authenticated: 'per-principal'`
   * (then the principal is part of the key). Default: none (only `credentialHeaders` mark a request private).
   */
  principal?: (req: IncomingMessage) => string | undefined;
  /** Request headers that make a request private when present, like a principal. Default: `['authorization']`. */
  credentialHeaders?: readonly string[];
  /**
   * Which successful requests with an unsafe method (any method but GET, HEAD, OPTIONS, TRACE)
   * invalidate the target URI and its `Location`/`Content-Location` (RFC 9111 §4.4): `'always'`,
   * `'authenticated'` (only requests whose `principal` is defined, so anonymous writes cannot evict
   * entries; what a gateway with authentication wants), or `'never'`. Default: `'always'`, as RFC 9111 §4.4 requires.
   */
  unsafeInvalidation?: 'always' | 'authenticated' | 'never';
  /** Time source. Default: the system clock. */
  clock?: Clock;
}

/** Bounds of the in-process L1 tier. */
export interface L1Options {
  /** Upper bound of the tier's size in bytes (bodies, headers, tags and a fixed overhead per entry). Default: 64 MiB. */
  maxSize?: number;
  /** Entries larger than this many bytes are not kept. Default: 8 MiB (or `maxSize` when smaller). */
  maxEntrySize?: number;
}

/** Request headers stripped from cacheable origin requests: they change responses but are not keyed. */
export const UNKEYED_HEADERS: readonly string[] = Object.freeze([
  'x-forwarded-host',
  'x-forwarded-server',
  'x-forwarded-scheme',
  'x-forwarded-prefix',
  'x-forwarded-port',
  'x-forwarded-ssl',
  'x-forwarded-protocol',
  'x-url-scheme',
  'front-end-https',
  'x-host',
  'x-original-host',
  'x-original-url',
  'x-rewrite-url',
  'x-http-method-override',
  'x-http-method',
  'x-method-override',
  'forwarded',
  // Shared entries are built for everyone: the caller's cookie must not shape them (routes with
  // `shared: false` or a `vary` on cookie keep it).
  'cookie',
]);

/** Defaults of {@link CacheOptions}. */
export const CACHE_DEFAULTS = {
  l1: { maxSize: 64 * 1024 * 1024, maxEntrySize: 8 * 1024 * 1024 },
  prefix: 'edgekit:cache:',
  channel: 'edgekit-cache',
  name: 'edgekit',
  maxBodySize: 4 * 1024 * 1024,
  maxKeyLength: 512,
  maxTtl: 86_400_000,
  keepStale: 300_000,
  cacheableStatuses: Object.freeze([200, 203, 204, 300, 301, 308, 404, 405, 410, 414, 501]),
  tagHeaders: Object.freeze(['surrogate-key', 'cache-tag']),
  exposeTagHeaders: false,
  maxTags: 64,
  unkeyedHeaders: UNKEYED_HEADERS,
  requestCacheControl: 'ignore',
  targetedCacheControl: Object.freeze(['cdn-cache-control']),
  operationTimeout: 250,
  cooldown: 1_000,
  scanTimeout: 30_000,
  warmConcurrency: 4,
  missCounters: 1_000,
  credentialHeaders: Object.freeze(['authorization']),
  unsafeInvalidation: 'always',
} as const;

/** Options after validation. */
export interface ResolvedOptions {
  routes: Readonly<Record<string, RoutePolicy>>;
  pathNormalizers: readonly PathNormalizer[];
  redis: Redis | Cluster | undefined;
  store: CacheStore | undefined;
  tagStore: TagStore | undefined;
  bus: Bus | undefined;
  l1: Required<L1Options> | false;
  prefix: string;
  channel: string;
  origin: Origin | undefined;
  name: string;
  host: string | undefined;
  ignoreQueryParams: readonly string[];
  maxBodySize: number;
  maxKeyLength: number;
  maxTtl: number;
  keepStale: number;
  cacheableStatuses: ReadonlySet<number>;
  tagHeaders: readonly string[];
  exposeTagHeaders: boolean;
  maxTags: number;
  unkeyedHeaders: readonly string[];
  requestCacheControl: 'ignore' | 'honor';
  targetedCacheControl: readonly string[];
  operationTimeout: number;
  cooldown: number;
  scanTimeout: number;
  warmConcurrency: number;
  missCounters: number;
  lockTtl: number | undefined;
  waitTimeout: number | undefined;
  principal: ((req: IncomingMessage) => string | undefined) | undefined;
  credentialHeaders: readonly string[];
  unsafeInvalidation: 'always' | 'authenticated' | 'never';
  clock: Clock;
}

function resolveL1(value: L1Options | undefined): Required<L1Options> {
  const maxSize = optionalNumber(SCOPE, 'l1.maxSize', value?.maxSize, CACHE_DEFAULTS.l1.maxSize, { min: 1024, integer: true });
  const maxEntrySize = optionalNumber(SCOPE, 'l1.maxEntrySize', value?.maxEntrySize, Math.min(CACHE_DEFAULTS.l1.maxEntrySize, maxSize), { min: 1, max: maxSize, integer: true });
  return { maxSize, maxEntrySize };
}

function headerList(name: string, value: unknown, fallback: readonly string[]): readonly string[] {
  if (value === undefined) return fallback;
  if (!Array.isArray(value) || !value.every((v) => typeof v === 'string' && /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/.test(v))) {
    throw new TypeError(`${SCOPE}: option "${name}" must be an array of header names (got ${describeValue(value)})`);
  }
  return Object.freeze(value.map((v: string) => v.toLowerCase()));
}

function checkInterface(name: string, value: unknown, methods: readonly string[]): void {
  if (value === undefined) return;
  if (!value || typeof value !== 'object' || !methods.every((m) => typeof (value as Record<string, unknown>)[m] === 'function')) {
    throw new TypeError(`${SCOPE}: option "${name}" must implement ${methods.join(', ')} (got ${describeValue(value)})`);
  }
}

// One name across @edgekit/cache and @edgekit/swr.
const RENAMED = { storeTimeout: 'operationTimeout', storeCooldown: 'cooldown' } as const;

/** Validates {@link CacheOptions} and applies {@link CACHE_DEFAULTS}. */
export function resolveOptions(options: CacheOptions | undefined): ResolvedOptions {
  const o = checkOptionsObject<CacheOptions>(SCOPE, options);
  rejectRenamedOptions(SCOPE, o, RENAMED);
  const redis = o.redis === undefined ? undefined : checkRedisClient<Redis | Cluster>(SCOPE, o.redis);
  checkInterface('store', o.store, ['get', 'set', 'delete', 'deletePattern', 'clear', 'close']);
  checkInterface('tagStore', o.tagStore, ['generation', 'invalidate', 'generations', 'close']);
  checkInterface('bus', o.bus, ['publish', 'subscribe', 'on', 'close']);
  if (o.routes !== undefined && (o.routes === null || typeof o.routes !== 'object' || Array.isArray(o.routes))) {
    throw new TypeError(`${SCOPE}: option "routes" must be an object of pattern → policy (got ${describeValue(o.routes)})`);
  }
  if (o.l1 !== undefined && o.l1 !== false && (o.l1 === null || typeof o.l1 !== 'object')) {
    throw new TypeError(`${SCOPE}: option "l1" must be memory store options or false (got ${describeValue(o.l1)})`);
  }
  if (o.principal !== undefined && typeof o.principal !== 'function') throw new TypeError(`${SCOPE}: option "principal" must be a function of the request (got ${describeValue(o.principal)})`);
  if (o.origin !== undefined && typeof o.origin !== 'function') throw new TypeError(`${SCOPE}: option "origin" must be a function (got ${describeValue(o.origin)})`);
  const name = optionalString(SCOPE, 'name', o.name, CACHE_DEFAULTS.name);
  if (!isCacheStatusName(name)) throw new TypeError(`${SCOPE}: option "name" must be a structured-field token such as "edgekit" (got ${describeValue(name)})`);
  const host = optionalString(SCOPE, 'host', o.host, undefined);
  const ignoreQueryParams = o.ignoreQueryParams ?? [];
  if (!Array.isArray(ignoreQueryParams) || !ignoreQueryParams.every((p) => typeof p === 'string' && p.length > 0)) {
    throw new TypeError(`${SCOPE}: option "ignoreQueryParams" must be an array of parameter names (got ${describeValue(o.ignoreQueryParams)})`);
  }
  const statuses = o.cacheableStatuses ?? CACHE_DEFAULTS.cacheableStatuses;
  if (!Array.isArray(statuses) || !statuses.every((s) => Number.isInteger(s) && s >= 200 && s <= 599)) {
    throw new TypeError(`${SCOPE}: option "cacheableStatuses" must be an array of final status codes (got ${describeValue(o.cacheableStatuses)})`);
  }
  const l1 = o.l1 === false ? false : resolveL1(o.l1);
  const store = o.store;
  const bus = o.bus;
  if (l1 === false && store === undefined && redis === undefined) {
    throw new TypeError(`${SCOPE}: option "l1" may be false only with a shared store ("redis" or "store")`);
  }
  const maxTtl = optionalNumber(SCOPE, 'maxTtl', o.maxTtl, CACHE_DEFAULTS.maxTtl, { min: 1_000 });
  return {
    routes: o.routes ?? {},
    pathNormalizers: o.pathNormalizers ?? [],
    redis,
    store,
    tagStore: o.tagStore,
    bus,
    l1,
    prefix: checkRedisPrefix(SCOPE, o.prefix, CACHE_DEFAULTS.prefix),
    channel: optionalString(SCOPE, 'channel', o.channel, CACHE_DEFAULTS.channel),
    origin: o.origin,
    name,
    host,
    ignoreQueryParams: Object.freeze([...ignoreQueryParams]),
    maxBodySize: optionalNumber(SCOPE, 'maxBodySize', o.maxBodySize, CACHE_DEFAULTS.maxBodySize, { min: 0, integer: true }),
    maxKeyLength: optionalNumber(SCOPE, 'maxKeyLength', o.maxKeyLength, CACHE_DEFAULTS.maxKeyLength, { min: 128, max: 16_384, integer: true }),
    maxTtl,
    keepStale: optionalNumber(SCOPE, 'keepStale', o.keepStale, CACHE_DEFAULTS.keepStale, { min: 0 }),
    cacheableStatuses: new Set(statuses),
    tagHeaders: headerList('tagHeaders', o.tagHeaders, CACHE_DEFAULTS.tagHeaders),
    exposeTagHeaders: optionalBoolean(SCOPE, 'exposeTagHeaders', o.exposeTagHeaders, CACHE_DEFAULTS.exposeTagHeaders),
    maxTags: optionalNumber(SCOPE, 'maxTags', o.maxTags, CACHE_DEFAULTS.maxTags, { min: 0, max: 1_000, integer: true }),
    unkeyedHeaders: headerList('unkeyedHeaders', o.unkeyedHeaders, CACHE_DEFAULTS.unkeyedHeaders),
    requestCacheControl: optionalOneOf(SCOPE, 'requestCacheControl', o.requestCacheControl, ['ignore', 'honor'] as const, CACHE_DEFAULTS.requestCacheControl),
    targetedCacheControl: headerList('targetedCacheControl', o.targetedCacheControl, CACHE_DEFAULTS.targetedCacheControl),
    operationTimeout: optionalNumber(SCOPE, 'operationTimeout', o.operationTimeout, CACHE_DEFAULTS.operationTimeout, { min: 1 }),
    cooldown: optionalNumber(SCOPE, 'cooldown', o.cooldown, CACHE_DEFAULTS.cooldown, { min: 0 }),
    scanTimeout: optionalNumber(SCOPE, 'scanTimeout', o.scanTimeout, CACHE_DEFAULTS.scanTimeout, { min: 1 }),
    warmConcurrency: optionalNumber(SCOPE, 'warmConcurrency', o.warmConcurrency, CACHE_DEFAULTS.warmConcurrency, { min: 1, max: 256, integer: true }),
    missCounters: optionalNumber(SCOPE, 'missCounters', o.missCounters, CACHE_DEFAULTS.missCounters, { min: 1, max: 100_000, integer: true }),
    lockTtl: o.lockTtl === undefined ? undefined : optionalNumber(SCOPE, 'lockTtl', o.lockTtl, 0, { min: 10 }),
    waitTimeout: o.waitTimeout === undefined ? undefined : optionalNumber(SCOPE, 'waitTimeout', o.waitTimeout, 0, { min: 0 }),
    principal: o.principal,
    credentialHeaders: headerList('credentialHeaders', o.credentialHeaders, CACHE_DEFAULTS.credentialHeaders),
    unsafeInvalidation: optionalOneOf(SCOPE, 'unsafeInvalidation', o.unsafeInvalidation, ['always', 'authenticated', 'never'] as const, CACHE_DEFAULTS.unsafeInvalidation),
    clock: o.clock ?? systemClock,
  };
}
