import { type Clock, checkOptionsObject, optionalNumber, systemClock } from '@edgekit/core';
import { LRUCache } from 'lru-cache';
import { SWR_ENTRY_CODEC } from './codec.js';
import type { SwrEntry } from './entry.js';
import { compileGlob } from './glob.js';
import type { EntryCodec, SwrStore } from './store.js';

const SCOPE = '@edgekit/swr memory store';

/** Options of {@link createMemoryStore}. */
export interface MemoryStoreOptions<E = SwrEntry> {
  /** Most entries kept. Default: 10000 (unbounded by count when `maxSize` is given). */
  max?: number;
  /** Upper bound in bytes, as the codec's `size` counts them. Default: none. */
  maxSize?: number;
  /** Entries larger than this many bytes are not kept. Default: `maxSize`. */
  maxEntrySize?: number;
  /** Measures entries for `maxSize`. Default: swr's entry codec. */
  codec?: EntryCodec<E>;
  /** Time source for expiry. Default: the system clock. */
  clock?: Clock;
}

/** Defaults of {@link MemoryStoreOptions}. */
export const MEMORY_STORE_DEFAULTS = {
  max: 10_000,
} as const;

/** A process-local store: lru-cache bounded by count or bytes, with per-entry expiry on the injected clock. Also a cache's L1 tier. */
export class MemoryStore<E = SwrEntry> implements SwrStore<E> {
  readonly name = 'memory';
  readonly #lru: LRUCache<string, E & {}>;

  constructor(options: MemoryStoreOptions<E> = {}) {
    const opts = checkOptionsObject<MemoryStoreOptions<E>>(SCOPE, options);
    const clock = opts.clock ?? systemClock;
    const codec = (opts.codec ?? SWR_ENTRY_CODEC) as EntryCodec<E>;
    const maxSize = opts.maxSize === undefined ? undefined : optionalNumber(SCOPE, 'maxSize', opts.maxSize, 0, { min: 1024, integer: true });
    const max = opts.max === undefined && maxSize !== undefined ? undefined : optionalNumber(SCOPE, 'max', opts.max, MEMORY_STORE_DEFAULTS.max, { min: 1, integer: true });
    const bounds: { max?: number; maxSize?: number; maxEntrySize?: number; sizeCalculation?: (entry: E) => number } = {};
    if (max !== undefined) bounds.max = max;
    if (maxSize !== undefined) {
      bounds.maxSize = maxSize;
      bounds.maxEntrySize = optionalNumber(SCOPE, 'maxEntrySize', opts.maxEntrySize, maxSize, { min: 1, max: maxSize, integer: true });
      bounds.sizeCalculation = (entry) => Math.max(1, codec.size(entry));
    }
    this.#lru = new LRUCache<string, E & {}>({
      ...bounds,
      perf: { now: () => clock.now() },
      ttlResolution: 0,
      ttlAutopurge: false,
    } as LRUCache.Options<string, E & {}, unknown>);
  }

  /** Synchronous lookup (a cache's hit path). */
  peek(key: string): E | undefined {
    return this.#lru.get(key);
  }

  /** Synchronous store; `ttl` in ms. Entries over `maxEntrySize` are silently not kept. */
  put(key: string, entry: E, ttl: number): void {
    if (!(ttl > 0)) return;
    this.#lru.set(key, entry as E & {}, { ttl: Math.ceil(ttl) });
  }

  /** Synchronous delete. */
  remove(key: string): boolean {
    return this.#lru.delete(key);
  }

  /** Synchronous pattern delete (Redis glob). */
  removePattern(pattern: string): number {
    const glob = compileGlob(pattern);
    const matched: string[] = [];
    for (const key of this.#lru.keys()) if (glob.test(key)) matched.push(key);
    for (const key of matched) this.#lru.delete(key);
    return matched.length;
  }

  /** Drops everything at once. */
  flush(): void {
    this.#lru.clear();
  }

  /** Number of entries. */
  get size(): number {
    return this.#lru.size;
  }

  /** Bytes used, as counted against `maxSize` (0 without one). */
  get bytes(): number {
    return this.#lru.calculatedSize ?? 0;
  }

  get(key: string): Promise<E | undefined> {
    return Promise.resolve(this.#lru.get(key));
  }

  set(key: string, entry: E, ttl: number): Promise<void> {
    this.put(key, entry, ttl);
    return Promise.resolve();
  }

  delete(keys: readonly string[]): Promise<number> {
    let count = 0;
    for (const key of keys) if (this.#lru.delete(key)) count++;
    return Promise.resolve(count);
  }

  deletePattern(pattern: string): Promise<number> {
    return Promise.resolve(this.removePattern(pattern));
  }

  clear(): Promise<void> {
    this.#lru.clear();
    return Promise.resolve();
  }

  close(): Promise<void> {
    this.#lru.clear();
    return Promise.resolve();
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

/** Creates a memory store (of swr entries, or of any entry type with its `codec`). */
export function createMemoryStore<E = SwrEntry>(options: MemoryStoreOptions<E> = {}): MemoryStore<E> {
  return new MemoryStore<E>(options);
}
