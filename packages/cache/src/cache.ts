import type { IncomingMessage, ServerResponse } from 'node:http';
import { type Bus, createRedisBus } from '@edgekit/bus';
import { MemoryStore, RedisStore, type Swr } from '@edgekit/swr';
import { type Clock, type Disposable, describeValue, redisHashTag } from '@edgekit/core';
import type { Coalescer } from './coalesce.js';
import { CacheContext } from './context.js';
import { CACHE_ENTRY_CODEC, type CacheEntry } from './entry.js';
import { type Outcome, StorageFetcher } from './fetch.js';
import { InvalidationBus } from './invalidation.js';
import { Lookup } from './lookup.js';
import { type CacheOptions, type ResolvedOptions, SCOPE } from './options.js';
import { RedisTagStore } from './redis-tag-store.js';
import { Revalidator } from './revalidate.js';
import type { CacheStore, TagStore } from './store.js';
import { TagGenerations } from './tag-store.js';
import { TargetTable } from './target.js';
import { Tiers } from './tiers.js';
import { TopMisses } from './top-misses.js';
import type { CacheEvents, CacheStats, Origin } from './types.js';
import { type TopMiss, type WarmOptions, type WarmReport, Warmer } from './warming.js';
import { type WrapOptions, createWrapEngine, wrap } from './wrap.js';

export type { TopMiss, WarmOptions, WarmReport } from './warming.js';
export type { WrapOptions } from './wrap.js';

/** The edge cache: an RFC 9111 shared cache in front of an origin, plus a cache for any async computation. */
export interface EdgeCache {
  /** A Node `http` handler answering from the cache and asking `origin` (`@edgekit/proxy`'s `forward`) otherwise. */
  handler(origin?: Origin): (req: IncomingMessage, res: ServerResponse) => void;
  /**
   * Whether a request can involve the cache: GET and HEAD whose normalised path matches a route,
   * and unsafe methods while `unsafeInvalidation` is not `'never'`. Composers send the rest
   * straight to the origin. `url` is the origin-form request target (`/api/items?a=1`).
   */
  matches(method: string, url: string): boolean;
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

/**
 * The cache stack: tiers (L1 memory, L2 shared store, tag generations), invalidation over the bus,
 * the HTTP adapter (lookup → revalidate → respond), warming and `wrap()`, wired together here.
 */
export class EdgeCacheImpl implements EdgeCache {
  readonly #cx: CacheContext;
  readonly #l1: MemoryStore<CacheEntry> | undefined;
  readonly #ownedBus: Bus | undefined;
  readonly #lookup: Lookup;
  readonly #warmer: Warmer;
  readonly #bus: Bus | undefined;
  /** The swr engine of `wrap()`, created on first use. */
  #wrapEngine: Swr | undefined;
  #defaultOrigin: Origin | undefined;
  #closed = false;

  constructor(options: ResolvedOptions, makeCoalescer: (deps: CoalescerDeps) => Coalescer<Outcome>) {
    const cx = new CacheContext(options);
    this.#cx = cx;
    const clock = options.clock;
    this.#defaultOrigin = options.origin;
    this.#l1 = options.l1 === false ? undefined : new MemoryStore<CacheEntry>({ ...options.l1, codec: CACHE_ENTRY_CODEC, clock });
    const mirror = new TagGenerations({ ttl: options.maxTtl, clock });
    const redis = options.redis;
    const l2: CacheStore | undefined = options.store ?? (redis ? new RedisStore<CacheEntry>({ redis, prefix: `${options.prefix}e:`, codec: CACHE_ENTRY_CODEC }) : undefined);
    const tagStore: TagStore = options.tagStore ?? (redis ? new RedisTagStore({ redis, prefix: options.prefix, ttl: Math.ceil(options.maxTtl + options.keepStale) }) : mirror);
    if (l2 !== undefined && tagStore === mirror) {
      throw new TypeError(`${SCOPE}: a shared "store" needs a shared "tagStore" (or "redis"), or invalidations would not reach other nodes`);
    }
    let bus = options.bus;
    if (bus === undefined && redis !== undefined) {
      bus = createRedisBus({ redis, clock });
      this.#ownedBus = bus;
    }
    this.#bus = bus;
    cx.targets = new TargetTable(options);
    cx.misses = new TopMisses(options.missCounters);
    cx.tiers = new Tiers({
      l1: this.#l1,
      l2,
      tags: tagStore,
      mirror,
      clock,
      operationTimeout: options.operationTimeout,
      cooldown: options.cooldown,
      keepStale: options.keepStale,
      l1Usable: () => cx.invalidation.l1Usable(),
      report: (error) => cx.report(error),
    });
    const fetcher = new StorageFetcher(cx);
    this.#warmer = new Warmer(cx, fetcher, () => this.#defaultOrigin);
    cx.invalidation = new InvalidationBus({
      bus,
      channel: options.channel,
      tiers: cx.tiers,
      mirror,
      clock,
      notify: (notice) => {
        cx.counts.invalidations++;
        cx.events.emit('invalidate', notice);
      },
      onWarm: (keys) => void this.#warmer.loadIntoL1(keys),
      onGap: (kind) => cx.events.emit('gap', { kind }),
      report: (error) => cx.report(error),
      retryDelay: options.cooldown,
    });
    cx.coalescer = makeCoalescer({
      lookup: async (key) => this.#lookupForCoalescer(key),
      stored: (entry) => cx.stored.has(entry),
      report: (error) => cx.report(error),
      clock,
      redis,
      bus,
      options,
    });
    this.#lookup = new Lookup(cx, new Revalidator(cx, fetcher));
  }

  /**
   * What another process's coalesced fetch stored under a coalescing key: L1 when it is fresh there,
   * else L2. A key `{primary}?<variant>` (a route with `vary` and no vary record yet) is looked up
   * through the URL's vary record.
   */
  async #lookupForCoalescer(key: string): Promise<CacheEntry | undefined> {
    const cx = this.#cx;
    const end = key.indexOf('}');
    if (end > 0 && key.charCodeAt(end + 1) === 63) {
      const record = await this.#lookupForCoalescer(key.slice(0, end + 1));
      return record?.kind === 'vary' ? this.#lookupForCoalescer(`${key.slice(0, end + 1)}v${record.token}:${key.slice(end + 2)}`) : undefined;
    }
    const local = cx.tiers.peek(key);
    if (local !== undefined && (local.kind === 'vary' || local.age(cx.clock.now()) < local.fresh)) return local;
    return (await cx.tiers.getShared(key))?.entry;
  }

  handler(origin?: Origin): (req: IncomingMessage, res: ServerResponse) => void {
    const chosen = origin ?? this.#defaultOrigin;
    if (typeof chosen !== 'function') throw new TypeError(`${SCOPE}: handler() needs an origin function, or the "origin" option (got ${describeValue(origin)})`);
    this.#defaultOrigin ??= chosen;
    const lookup = this.#lookup;
    return (req, res) => lookup.handle(req, res, chosen);
  }

  matches(method: string, url: string): boolean {
    if (typeof method !== 'string' || typeof url !== 'string') throw new TypeError(`${SCOPE}: matches() needs a method and a URL string (got ${describeValue(method)}, ${describeValue(url)})`);
    return this.#cx.targets.matches(method, url);
  }

  wrap<T>(key: string, fn: (ctx: { signal: AbortSignal }) => Promise<T> | T, options: WrapOptions): Promise<T> {
    if (this.#closed) return Promise.reject(new TypeError(`${SCOPE}: wrap() after close()`));
    this.#wrapEngine ??= createWrapEngine(this.#cx, this.#bus);
    return wrap(this.#cx, this.#wrapEngine, key, fn, options);
  }

  keyOf(url: string, host?: string): string {
    if (typeof url !== 'string') throw new TypeError(`${SCOPE}: keyOf() needs a URL string (got ${describeValue(url)})`);
    const targets = this.#cx.targets;
    const { host: h, target } = targets.splitUrl(url, host);
    return targets.target(h, target).primary;
  }

  on<K extends keyof CacheEvents>(event: K, listener: (...args: CacheEvents[K]) => void): Disposable {
    return this.#cx.events.on(event, listener);
  }

  async invalidateTag(tags: string | readonly string[]): Promise<void> {
    const list = typeof tags === 'string' ? [tags] : tags;
    if (!Array.isArray(list) || !list.every((t) => typeof t === 'string' && t.length > 0 && t.length <= 1_024)) {
      throw new TypeError(`${SCOPE}: invalidateTag() needs tags of 1-1024 characters (got ${describeValue(tags)})`);
    }
    await this.#cx.invalidation.invalidateTags(list);
  }

  async invalidatePattern(pattern: string): Promise<number> {
    if (typeof pattern !== 'string' || pattern.length === 0 || pattern.length > 2_048) {
      throw new TypeError(`${SCOPE}: invalidatePattern() needs a glob of 1-2048 characters (got ${describeValue(pattern)})`);
    }
    return this.#cx.invalidation.invalidatePattern(`${redisHashTag(pattern)}*`, this.#cx.options.scanTimeout);
  }

  async invalidateKey(keys: string | readonly string[]): Promise<void> {
    const list = typeof keys === 'string' ? [keys] : keys;
    if (!Array.isArray(list) || !list.every((k) => typeof k === 'string' && k.length > 0)) {
      throw new TypeError(`${SCOPE}: invalidateKey() needs keys (got ${describeValue(keys)})`);
    }
    await this.#cx.invalidation.invalidateKeys(list.map((k) => redisHashTag(k)));
  }

  warm(urls: Iterable<string>, options: WarmOptions = {}): Promise<WarmReport> {
    return this.#warmer.warm(urls, options);
  }

  topMisses(n: number): TopMiss[] {
    return this.#warmer.topMisses(n);
  }

  warmTopMisses(n: number, options: WarmOptions = {}): Promise<WarmReport> {
    return this.#warmer.warmTopMisses(n, options);
  }

  stats(): CacheStats {
    const cx = this.#cx;
    return { ...cx.counts, l1: this.#l1 ? { entries: this.#l1.size, bytes: this.#l1.bytes, usable: cx.invalidation.l1Usable() } : undefined };
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const cx = this.#cx;
    this.#warmer.close();
    cx.invalidation.close();
    await cx.coalescer.close();
    await this.#wrapEngine?.close();
    if (this.#ownedBus) await this.#ownedBus.close();
    this.#l1?.flush();
    cx.events.removeAllListeners();
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

export type { CacheOptions, Outcome };
