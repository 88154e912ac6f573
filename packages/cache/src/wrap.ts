import { describeValue, rejectRenamedOptions } from '@edgekit/core';
import { type Swr, type SwrEntry, type SwrStore, createSwr } from '@edgekit/swr';
import type { Bus } from '@edgekit/bus';
import type { CacheContext } from './context.js';
import { CacheEntry } from './entry.js';
import { boundKey } from './key.js';
import { SCOPE } from './options.js';

/** Options of {@link EdgeCache.wrap}. Durations are milliseconds; the names are `@edgekit/swr`'s. */
export interface WrapOptions {
  /** Freshness lifetime (> 0). */
  ttl: number;
  /** After `ttl`, serve the stale value for this long while one background call refreshes it. Default: 0. */
  staleWhileRevalidate?: number;
  /** After `ttl`, serve the stale value for this long when `fn` throws. Default: 0. */
  staleIfError?: number;
  /** Tags for `invalidateTag`. Default: none. */
  tags?: readonly string[];
  /** Route label in `lookup` events. Default: `'wrap'`. */
  name?: string;
}

/** What swr stores for a wrapped call: the value, its tags, and the tag generation read before `fn` ran. */
interface Wrapped {
  v: unknown;
  t: string[];
  /** `-1` when the generation could not be read (the tag store is down): such a value is not stored. */
  g: number;
}

/**
 * `@edgekit/swr`'s store interface over the cache's tiers: a wrapped value is a `'value'` cache
 * entry, so it lives in L1 and L2, is checked against tag generations on every read, and is
 * invalidated by tags, keys and patterns like HTTP entries.
 */
class TierStore implements SwrStore<SwrEntry> {
  readonly name = 'cache-tiers';
  readonly #cx: CacheContext;

  constructor(cx: CacheContext) {
    this.#cx = cx;
  }

  async get(key: string): Promise<SwrEntry | undefined> {
    const entry = (await this.#cx.tiers.get(key))?.entry;
    if (entry === undefined || entry.kind !== 'value') return undefined;
    const freshUntil = entry.createdAt + entry.fresh;
    const value: Wrapped = { v: entry.value(), t: [...entry.tags], g: entry.gen };
    return { value, createdAt: entry.createdAt, freshUntil, staleUntil: freshUntil + entry.swr, errorUntil: freshUntil + entry.sie };
  }

  async set(key: string, entry: SwrEntry, ttl: number): Promise<void> {
    const cx = this.#cx;
    const wrapped = entry.value as Wrapped;
    // A value computed before an invalidation of its key or pattern is not kept (tags are checked on read).
    if (wrapped.g < 0 || cx.invalidation.invalidatedSince(key, key, wrapped.g)) return;
    const json = JSON.stringify(wrapped.v);
    const stored = new CacheEntry({
      kind: 'value',
      status: 0,
      headers: [],
      body: json === undefined ? Buffer.alloc(0) : Buffer.from(json, 'utf8'),
      tags: wrapped.t,
      gen: wrapped.g,
      createdAt: entry.createdAt,
      initialAge: 0,
      fresh: entry.freshUntil - entry.createdAt,
      swr: entry.staleUntil - entry.freshUntil,
      sie: entry.errorUntil - entry.freshUntil,
      mustRevalidate: false,
      etag: undefined,
      lastModified: undefined,
      vary: [],
      token: '',
    });
    await cx.tiers.set(key, stored, ttl);
    cx.stored.add(stored);
    cx.counts.stores++;
    if (cx.events.hasListeners('store')) cx.events.emit('store', { key, route: 'wrap', size: stored.body.length, ttl, tags: wrapped.t });
  }

  delete(keys: readonly string[]): Promise<number> {
    return this.#cx.tiers.delete(keys);
  }

  async deletePattern(pattern: string): Promise<number> {
    return this.#cx.invalidation.invalidatePattern(pattern, this.#cx.options.scanTimeout);
  }

  async clear(): Promise<void> {}

  async close(): Promise<void> {}
}

/** Creates the swr engine behind `wrap()`: the cache's tiers as its store, its Redis and bus for the cross-process single flight. */
export function createWrapEngine(cx: CacheContext, bus: Bus | undefined): Swr {
  const { options } = cx;
  const redis = options.redis;
  const swr = createSwr({
    store: new TierStore(cx),
    clock: cx.clock,
    // The tiers are the local copy: L1, kept right by the cache's own bus.
    l1: false,
    ...(redis === undefined ? {} : { redis, ...(bus === undefined ? {} : { bus }) }),
    prefix: `${options.prefix}wrap:`,
    channel: `${options.channel}:wrap`,
    operationTimeout: options.operationTimeout,
    cooldown: options.cooldown,
    ...(options.lockTtl === undefined ? {} : { lockTtl: options.lockTtl }),
    ...(options.waitTimeout === undefined ? {} : { waitTimeout: options.waitTimeout }),
  });
  swr.on('error', (event) => cx.report(event.error));
  return swr;
}

function checkMs(scope: string, name: string, value: unknown, min: number): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min) {
    throw new RangeError(`${scope}: option "${name}" must be a number of milliseconds >= ${min} (got ${describeValue(value)})`);
  }
  return value;
}

const DETAILS = { fresh: undefined, miss: undefined, stale: 'stale-while-revalidate', 'stale-error': 'stale-if-error' } as const;
const STATUSES = { fresh: 'hit', miss: 'miss', stale: 'stale', 'stale-error': 'stale' } as const;

/**
 * Caches `fn`'s JSON-serialisable result under `key` with `@edgekit/swr` (fresh, stale while one
 * background call refreshes, stale on error; one call per key across processes), stored in the
 * cache's tiers with tags.
 */
export async function wrap<T>(cx: CacheContext, engine: Swr, key: string, fn: (ctx: { signal: AbortSignal }) => Promise<T> | T, options: WrapOptions): Promise<T> {
  if (typeof key !== 'string' || key.length === 0) throw new TypeError(`${SCOPE}: wrap() needs a non-empty string key (got ${describeValue(key)})`);
  if (typeof fn !== 'function') throw new TypeError(`${SCOPE}: wrap() needs a function (got ${describeValue(fn)})`);
  if (!options || typeof options !== 'object') throw new TypeError(`${SCOPE}: wrap() needs options with a ttl (got ${describeValue(options)})`);
  const scope = `${SCOPE}: wrap()`;
  rejectRenamedOptions(scope, options, { staleTtl: 'staleWhileRevalidate' });
  const { maxTtl } = cx.options;
  const ttl = Math.min(checkMs(scope, 'ttl', options.ttl, 1), maxTtl);
  const staleWhileRevalidate = Math.min(options.staleWhileRevalidate === undefined ? 0 : checkMs(scope, 'staleWhileRevalidate', options.staleWhileRevalidate, 0), maxTtl - ttl);
  const staleIfError = Math.min(options.staleIfError === undefined ? 0 : checkMs(scope, 'staleIfError', options.staleIfError, 0), maxTtl - ttl);
  const tags = options.tags === undefined ? [] : [...options.tags];
  if (!tags.every((t) => typeof t === 'string' && t.length > 0)) throw new TypeError(`${scope}: option "tags" must be non-empty strings (got ${describeValue(options.tags)})`);
  const label = options.name ?? 'wrap';
  // swr adds the hash-tag braces: the store key is `{<key>}`, as `invalidateKey(key)` expects.
  const swrKey = boundKey(key, cx.options.maxKeyLength);
  const result = await engine.resolve<Wrapped>(
    swrKey,
    async ({ signal }) => {
      const gen = await cx.tiers.generation();
      cx.counts.originRequests++;
      const value = await fn({ signal });
      return { v: value, t: tags, g: gen ?? -1 };
    },
    { ttl, staleWhileRevalidate, staleIfError },
  );
  cx.lookupEvent(STATUSES[result.status], label, undefined, DETAILS[result.status]);
  return result.value.v as T;
}
