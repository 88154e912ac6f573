import { type Clock, type Disposable, TypedEmitter, checkOptionsObject, checkRedisClient, checkRedisPrefix, redisHashTag, describeValue, optionalNumber, rejectRenamedOptions, systemClock, type RedisClientLike } from '@edgekit/core';
import type { Cluster, Redis } from 'ioredis';
import { LRUCache } from 'lru-cache';
import { type SwrEntry, type SwrPolicy, type SwrResult, makeEntry, retention } from './entry.js';
import { SwrError } from './errors.js';
import { createSingleFlight } from './flight.js';
import { SINGLE_FLIGHT_DEFAULTS, type SingleFlight, type SingleFlightOptions, type SingleFlightStats } from './single-flight.js';
import { createMemoryStore } from './memory-store.js';
import { createRedisStore } from './redis-store.js';
import { withTimeout } from './timeout.js';
import type { SwrStore } from './store.js';

const SCOPE = '@edgekit/swr';

/**
 * Options of {@link createSwr}. Durations are milliseconds. The lock and wake-up options are those
 * of {@link SingleFlightOptions}: swr runs its fetches through a single flight built from them.
 */
export interface SwrOptions extends SingleFlightOptions {
  /** Where entries live. Default: a Redis store on `redis` when given, else a memory store (10000 entries). */
  store?: SwrStore;
  /** An ioredis client (standalone or Cluster): enables the cross-process lock, the wake-up bus and the default Redis store. Default: none. */
  redis?: RedisClientLike;
  /** Time source for freshness, lock heartbeats and timeouts. Default: the system clock. */
  clock?: Clock;
  /** Longest a store or lock operation may take before it counts as failed. Default: 1000. */
  operationTimeout?: number;
  /** Prefix of Redis keys (`<prefix>{key}` for values, `<prefix>lock:{key}` for locks). Default: `'edgekit:swr:'`. */
  prefix?: string;
  /**
   * A process-local copy of entries in front of a shared store, so fresh and stale hits cost no
   * round trip; `false` to disable. Copies are dropped when any process stores or deletes the key
   * (bus notices), bypassed while the bus is down and flushed when it reconnects. Default: on with
   * `redis` (`{ max: 10000, ttl: 60000 }`), off otherwise.
   */
  l1?: L1Options | false;
}

/** Options of the process-local tier. */
export interface L1Options {
  /** Most entries kept. Default: 10000. */
  max?: number;
  /** Longest a copy is kept, in ms (never longer than the entry itself). Default: 60000. */
  ttl?: number;
}

/** Defaults of {@link SwrOptions}. */
export const SWR_DEFAULTS = {
  ...SINGLE_FLIGHT_DEFAULTS,
  l1: { max: 10_000, ttl: 60_000 },
} as const;

/** What a fetch receives. */
export interface SwrFetchContext {
  /** Aborted when the swr instance closes. */
  signal: AbortSignal;
  /** The key being fetched. */
  key: string;
}

/** A function producing the value of a key. */
export type SwrFetch<V> = (ctx: SwrFetchContext) => Promise<V> | V;

/** Payload of the `error` event. */
export interface SwrErrorEvent {
  /** The key concerned. */
  key: string;
  /** `revalidate` (a background fetch failed), `get`/`set` (the store), or a lock operation (`acquire`, `release`, `extend`, `notify`). */
  operation: string;
  error: Error;
}

/** Events of a {@link Swr}. */
export type SwrEvents = {
  /** A background refresh, store or lock failure. Never thrown, never an unhandled rejection. */
  error: [event: SwrErrorEvent];
  /** A background refresh stored a new value. */
  revalidate: [event: { key: string; entry: SwrEntry }];
};

/** Counters of {@link Swr.stats}. */
export interface SwrStats {
  fresh: number;
  stale: number;
  miss: number;
  staleError: number;
  /** Coordination counters (fetches, waits, wake-ups). */
  flight: SingleFlightStats;
}

/** Stale-while-revalidate: call it like a function, or use `resolve` to learn how the value was obtained. */
export interface Swr {
  /** The value of `key`: fresh or stale from the store, or fetched once for every concurrent caller. */
  <V>(key: string, fetch: SwrFetch<V>, policy: SwrPolicy): Promise<V>;
  /** Like calling the swr, with the status (`fresh`, `stale`, `miss`, `stale-error`) and the entry. */
  resolve<V>(key: string, fetch: SwrFetch<V>, policy: SwrPolicy): Promise<SwrResult<V>>;
  /** Forgets `key` in the store and in every process's local copy, so the next call fetches. */
  delete(key: string): Promise<void>;
  on<K extends keyof SwrEvents>(event: K, listener: (...args: SwrEvents[K]) => void): Disposable;
  stats(): SwrStats;
  /** Aborts running fetches, stops waiting callers with `ECLOSED`, closes what swr created (the Redis client stays yours). */
  close(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

interface ResolvedPolicy {
  ttl: number;
  staleWhileRevalidate: number;
  staleIfError: number;
  signal: AbortSignal | undefined;
}

function checkPolicy(policy: unknown): ResolvedPolicy {
  if (policy === null || typeof policy !== 'object') throw new TypeError(`${SCOPE}: a policy object with "ttl" is required (got ${describeValue(policy)})`);
  const p = policy as SwrPolicy;
  const scope = `${SCOPE} policy`;
  const ttl = optionalNumber(scope, 'ttl', p.ttl, Number.NaN, { min: 0, exclusiveMin: true });
  if (Number.isNaN(ttl)) throw new TypeError(`${scope}: option "ttl" must be a number > 0 (got undefined)`);
  rejectRenamedOptions(scope, p, { staleTtl: 'staleWhileRevalidate' });
  return {
    ttl,
    staleWhileRevalidate: optionalNumber(scope, 'staleWhileRevalidate', p.staleWhileRevalidate, 0, { min: 0 }),
    staleIfError: optionalNumber(scope, 'staleIfError', p.staleIfError, 0, { min: 0 }),
    signal: p.signal,
  };
}

function checkKey(key: unknown): string {
  if (typeof key !== 'string' || key.length === 0 || key.length > 4_096) {
    throw new TypeError(`${SCOPE}: key must be a string of 1-4096 characters (got ${describeValue(key)})`);
  }
  return key;
}

function toError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}

/**
 * Creates a stale-while-revalidate function. A fresh entry is returned as is; a stale one is
 * returned at once while one background fetch (across every process sharing `redis`) refreshes
 * it; a miss waits for one fetch. Entries are stored for `ttl + max(staleWhileRevalidate, staleIfError)`.
 *
 * @example
 * const swr = createSwr({ redis });
 * const product = await swr(`product:${id}`, ({ signal }) => loadProduct(id, signal), { ttl: 30_000, staleWhileRevalidate: 300_000 });
 */
export function createSwr(options: SwrOptions = {}): Swr {
  const opts = checkOptionsObject<SwrOptions>(SCOPE, options);
  for (const [old, name] of [['storeTimeout', 'operationTimeout'], ['lockCooldown', 'cooldown']] as const) {
    if (old in opts) throw new TypeError(`${SCOPE}: option "${old}" is named "${name}" (one name across @edgekit/swr and @edgekit/cache)`);
  }
  const clock = opts.clock ?? systemClock;
  const redis = opts.redis === undefined ? undefined : checkRedisClient<Redis | Cluster>(SCOPE, opts.redis);
  const prefix = checkRedisPrefix(SCOPE, opts.prefix, SWR_DEFAULTS.prefix);
  const operationTimeout = optionalNumber(SCOPE, 'operationTimeout', opts.operationTimeout, SWR_DEFAULTS.operationTimeout, { min: 1 });
  if (opts.store !== undefined && (typeof opts.store !== 'object' || typeof opts.store.get !== 'function' || typeof opts.store.set !== 'function')) {
    throw new TypeError(`${SCOPE}: option "store" must be a SwrStore (get, set, delete) (got ${describeValue(opts.store)})`);
  }
  const ownedStore = opts.store === undefined;
  const store: SwrStore = opts.store ?? (redis ? createRedisStore({ redis, prefix }) : createMemoryStore({ clock }));
  const flight: SingleFlight = createSingleFlight({
    ...(redis ? { redis } : {}),
    ...(opts.bus ? { bus: opts.bus } : {}),
    clock,
    ...(opts.lockTtl === undefined ? {} : { lockTtl: opts.lockTtl }),
    ...(opts.waitTimeout === undefined ? {} : { waitTimeout: opts.waitTimeout }),
    operationTimeout: operationTimeout,
    ...(opts.cooldown === undefined ? {} : { cooldown: opts.cooldown }),
    prefix,
    ...(opts.channel === undefined ? {} : { channel: opts.channel }),
  });
  if (opts.l1 !== undefined && opts.l1 !== false && (opts.l1 === null || typeof opts.l1 !== 'object')) {
    throw new TypeError(`${SCOPE}: option "l1" must be { max?, ttl } or false (got ${describeValue(opts.l1)})`);
  }
  const l1Options = opts.l1 === undefined ? (redis ? SWR_DEFAULTS.l1 : false) : opts.l1;
  const l1Ttl = l1Options === false ? 0 : optionalNumber(SCOPE, 'l1.ttl', l1Options.ttl, SWR_DEFAULTS.l1.ttl, { min: 1 });
  // Keyed by the hash-tagged key, the form notices carry.
  const l1 =
    l1Options === false || redis === undefined
      ? undefined
      : new LRUCache<string, SwrEntry>({
          max: optionalNumber(SCOPE, 'l1.max', l1Options.max, SWR_DEFAULTS.l1.max, { min: 1, integer: true }),
          perf: { now: () => clock.now() },
          ttlResolution: 0,
          ttlAutopurge: false,
        });
  if (l1 !== undefined) {
    flight.on('notice', (notice) => {
      // Another process stored or changed the key: this copy may be outdated.
      if (!notice.local || notice.outcome === 'changed') l1.delete(notice.key);
    });
    flight.on('gap', () => l1.clear());
  }
  const remember = (tagged: string, entry: SwrEntry): void => {
    if (l1 === undefined || !flight.connected) return;
    const ttl = Math.min(retention(entry, clock.now()), l1Ttl);
    if (ttl > 0) l1.set(tagged, entry, { ttl });
  };
  const events = new TypedEmitter<SwrEvents>();
  const counts = { fresh: 0, stale: 0, miss: 0, staleError: 0 };
  // Entries whose store write failed: waiting processes cannot read them and must fetch themselves.
  const unstored = new WeakSet<SwrEntry>();
  let closed = false;

  const report = (key: string, operation: string, error: unknown): void => {
    events.emit('error', { key, operation, error: toError(error) });
  };
  flight.on('error', (error) => report(error.key ?? '', error.operation ?? 'lock', error));

  /** The entry of `key`: the process-local copy when usable, else the store's (then copied). */
  const read = async (key: string, tagged: string, shared = false): Promise<SwrEntry | undefined> => {
    if (!shared && l1 !== undefined && flight.connected) {
      const local = l1.get(tagged);
      if (local !== undefined) return local;
    }
    try {
      const entry = await withTimeout(store.get(tagged), operationTimeout, clock, `store ${store.name} get`, key);
      if (entry !== undefined) remember(tagged, entry);
      return entry;
    } catch (error) {
      report(key, 'get', error instanceof SwrError ? error : new SwrError('ESTORE', `store ${store.name} get failed: ${toError(error).message}`, { key, operation: 'get', cause: error }));
      return undefined;
    }
  };

  /** A usable entry newer than `seen` in the shared store: what another caller's fetch stored meanwhile. */
  const readNewer = async (key: string, tagged: string, seen: SwrEntry | undefined): Promise<SwrEntry | undefined> => {
    const entry = await read(key, tagged, true);
    if (entry === undefined || clock.now() >= entry.freshUntil) return undefined;
    return seen === undefined || entry.createdAt > seen.createdAt ? entry : undefined;
  };

  const fetchAndStore = async <V>(key: string, tagged: string, fetch: SwrFetch<V>, policy: ResolvedPolicy, signal: AbortSignal): Promise<SwrEntry<V>> => {
    const value = await fetch({ signal, key });
    const now = clock.now();
    const entry = makeEntry(value, now, policy.ttl, policy.staleWhileRevalidate, policy.staleIfError);
    if (closed) return entry;
    remember(tagged, entry);
    try {
      await withTimeout(store.set(tagged, entry, retention(entry, now)), operationTimeout, clock, `store ${store.name} set`, key);
    } catch (error) {
      unstored.add(entry);
      report(key, 'set', error instanceof SwrError ? error : new SwrError('ESTORE', `store ${store.name} set failed: ${toError(error).message}`, { key, operation: 'set', cause: error }));
    }
    return entry;
  };

  const stored = (entry: SwrEntry): boolean => !unstored.has(entry);

  const revalidate = <V>(key: string, tagged: string, fetch: SwrFetch<V>, policy: ResolvedPolicy, stale: SwrEntry): void => {
    flight
      .refresh(tagged, (signal) => fetchAndStore(key, tagged, fetch, policy, signal), { check: () => readNewer(key, tagged, stale), stored })
      .then(
        (entry) => {
          if (entry !== undefined && entry.createdAt > stale.createdAt) events.emit('revalidate', { key, entry });
        },
        (error: unknown) => {
          if (!closed) report(key, 'revalidate', error);
        },
      );
  };

  const resolve = async <V>(key: string, fetch: SwrFetch<V>, policyInput: SwrPolicy): Promise<SwrResult<V>> => {
    checkKey(key);
    if (typeof fetch !== 'function') throw new TypeError(`${SCOPE}: fetch must be a function (got ${describeValue(fetch)})`);
    const policy = checkPolicy(policyInput);
    if (closed) throw new SwrError('ECLOSED', 'the swr instance is closed', { key });
    const tagged = redisHashTag(key);
    const entry = (await read(key, tagged)) as SwrEntry<V> | undefined;
    const now = clock.now();
    if (entry !== undefined) {
      if (now < entry.freshUntil) {
        counts.fresh++;
        return { value: entry.value, status: 'fresh', entry };
      }
      if (now < entry.staleUntil) {
        counts.stale++;
        revalidate(key, tagged, fetch, policy, entry);
        return { value: entry.value, status: 'stale', entry };
      }
    }
    let fetched: SwrEntry<V>;
    try {
      fetched = (await flight.run(tagged, (signal) => fetchAndStore(key, tagged, fetch, policy, signal), {
        check: () => readNewer(key, tagged, entry),
        stored,
        ...(policy.signal ? { signal: policy.signal } : {}),
      })) as SwrEntry<V>;
    } catch (error) {
      // RFC 5861 stale-if-error: a failed fetch serves the stale value inside its window.
      if (entry !== undefined && !policy.signal?.aborted && !closed && clock.now() < entry.errorUntil) {
        counts.staleError++;
        return { value: entry.value, status: 'stale-error', entry };
      }
      throw error;
    }
    counts.miss++;
    return { value: fetched.value, status: 'miss', entry: fetched };
  };

  const swr = (<V>(key: string, fetch: SwrFetch<V>, policy: SwrPolicy): Promise<V> => resolve(key, fetch, policy).then((r) => r.value)) as Swr;
  Object.defineProperties(swr, {
    resolve: { value: resolve },
    delete: {
      value: async (key: string): Promise<void> => {
        checkKey(key);
        const tagged = redisHashTag(key);
        l1?.delete(tagged);
        await withTimeout(store.delete([tagged]), operationTimeout, clock, `store ${store.name} delete`, key);
        // Every process drops its copy.
        await flight.notify(tagged);
      },
    },
    on: { value: <K extends keyof SwrEvents>(event: K, listener: (...args: SwrEvents[K]) => void): Disposable => events.on(event, listener) },
    stats: { value: (): SwrStats => ({ ...counts, flight: flight.stats() }) },
    close: {
      value: async (): Promise<void> => {
        if (closed) return;
        closed = true;
        await flight.close();
        l1?.clear();
        if (ownedStore) await store.close();
        events.removeAllListeners();
      },
    },
    [Symbol.asyncDispose]: { value: (): Promise<void> => swr.close() },
  });
  return swr;
}
