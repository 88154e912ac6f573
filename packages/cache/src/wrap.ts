import { describeValue } from '@edgekit/core';
import type { CacheContext } from './context.js';
import { CacheEntry } from './entry.js';
import type { Outcome } from './fetch.js';
import { boundKey, escapeKeyText } from './key.js';
import { SCOPE } from './options.js';

/** Options of {@link EdgeCache.wrap}. Durations are milliseconds; the names are `@edgekit/swr`'s. */
export interface WrapOptions {
  /** Freshness lifetime. */
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

interface WrapPolicy {
  ttl: number;
  staleWhileRevalidate: number;
  staleIfError: number;
  tags: string[];
}

function checkMs(scope: string, name: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
    throw new RangeError(`${scope}: option "${name}" must be a number of milliseconds >= 0 (got ${describeValue(value)})`);
  }
  return value;
}

/**
 * Caches `fn`'s JSON-serialisable result under `key` in the cache's tiers, with tags, stale windows
 * and one call per key across processes (the cache's `@edgekit/swr` single flight).
 */
export async function wrap<T>(cx: CacheContext, key: string, fn: (ctx: { signal: AbortSignal }) => Promise<T> | T, options: WrapOptions): Promise<T> {
  if (typeof key !== 'string' || key.length === 0) throw new TypeError(`${SCOPE}: wrap() needs a non-empty string key (got ${describeValue(key)})`);
  if (typeof fn !== 'function') throw new TypeError(`${SCOPE}: wrap() needs a function (got ${describeValue(fn)})`);
  if (!options || typeof options !== 'object') throw new TypeError(`${SCOPE}: wrap() needs options with a ttl (got ${describeValue(options)})`);
  const scope = `${SCOPE}: wrap()`;
  if ('staleTtl' in options) throw new TypeError(`${scope}: option "staleTtl" is named "staleWhileRevalidate"`);
  const policy: WrapPolicy = {
    ttl: checkMs(scope, 'ttl', options.ttl),
    staleWhileRevalidate: options.staleWhileRevalidate === undefined ? 0 : checkMs(scope, 'staleWhileRevalidate', options.staleWhileRevalidate),
    staleIfError: options.staleIfError === undefined ? 0 : checkMs(scope, 'staleIfError', options.staleIfError),
    tags: options.tags === undefined ? [] : [...options.tags],
  };
  if (!policy.tags.every((t) => typeof t === 'string' && t.length > 0)) throw new TypeError(`${scope}: option "tags" must be non-empty strings (got ${describeValue(options.tags)})`);
  const label = options.name ?? 'wrap';
  const storeKey = `{${boundKey(escapeKeyText(key), cx.options.maxKeyLength)}}`;

  const found = await cx.tiers.get(storeKey);
  const entry = found?.entry.kind === 'value' ? found.entry : undefined;
  if (entry !== undefined) {
    const age = entry.age(cx.clock.now());
    if (age < entry.fresh) {
      cx.lookupEvent('hit', label, found!.tier, undefined);
      return entry.value() as T;
    }
    if (age - entry.fresh < entry.swr) {
      cx.lookupEvent('stale', label, found!.tier, 'stale-while-revalidate');
      cx.coalescer.refresh(
        storeKey,
        (signal) => computeValue(cx, storeKey, fn, signal, policy),
        (error) => {
          if (error !== undefined) cx.report(error);
        },
        entry.createdAt,
      );
      return entry.value() as T;
    }
  }
  let computed: Outcome;
  try {
    computed = await cx.coalescer.run(storeKey, (signal) => computeValue(cx, storeKey, fn, signal, policy), entry?.createdAt);
  } catch (error) {
    if (entry !== undefined && entry.age(cx.clock.now()) - entry.fresh < entry.sie) {
      cx.lookupEvent('stale', label, found!.tier, 'stale-if-error');
      return entry.value() as T;
    }
    throw error;
  }
  cx.lookupEvent('miss', label, undefined, undefined);
  return (computed as CacheEntry).value() as T;
}

async function computeValue<T>(cx: CacheContext, storeKey: string, fn: (ctx: { signal: AbortSignal }) => Promise<T> | T, signal: AbortSignal, policy: WrapPolicy): Promise<CacheEntry> {
  const gen = await cx.tiers.generation();
  cx.counts.originRequests++;
  const value = await fn({ signal });
  const json = JSON.stringify(value);
  const now = cx.clock.now();
  const { maxTtl } = cx.options;
  const fresh = Math.min(policy.ttl, maxTtl);
  const entry = new CacheEntry({
    kind: 'value',
    status: 0,
    headers: [],
    body: json === undefined ? Buffer.alloc(0) : Buffer.from(json, 'utf8'),
    tags: policy.tags,
    gen: gen ?? 0,
    createdAt: now,
    initialAge: 0,
    fresh,
    swr: Math.min(policy.staleWhileRevalidate, maxTtl - fresh),
    sie: Math.min(policy.staleIfError, maxTtl - fresh),
    mustRevalidate: false,
    etag: undefined,
    lastModified: undefined,
    vary: [],
    token: '',
  });
  if (gen !== undefined && !cx.invalidation.invalidatedSince(storeKey, storeKey, gen)) {
    const ttl = entry.remaining(now, 0);
    await cx.tiers.set(storeKey, entry, ttl);
    cx.stored.add(entry);
    cx.counts.stores++;
    if (cx.events.hasListeners('store')) cx.events.emit('store', { key: storeKey, route: 'wrap', size: entry.body.length, ttl, tags: policy.tags });
  }
  return entry;
}
