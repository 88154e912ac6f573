import { type Clock, checkOptionsObject, optionalNumber, systemClock } from '@edgekit/core';
import { LRUCache } from 'lru-cache';
import type { CacheEntry } from './entry.js';
import { compileGlob } from './glob.js';
import type { CacheStore } from './store.js';

const SCOPE = '@edgekit/cache memory store';

/** Options of {@link createMemoryStore}. */
export interface MemoryStoreOptions {
  /** Upper bound of the store's size in bytes (bodies, headers, tags and a fixed overhead per entry). Default: 64 MiB. */
  maxSize?: number;
  /** Entries larger than this many bytes are not kept. Default: 8 MiB. */
  maxEntrySize?: number;
  /** Time source for expiry. Default: the system clock. */
  clock?: Clock;
}

/** Defaults of {@link MemoryStoreOptions}. */
export const MEMORY_STORE_DEFAULTS = {
  maxSize: 64 * 1024 * 1024,
  maxEntrySize: 8 * 1024 * 1024,
} as const;

/** The memory store: a byte-bounded LRU (lru-cache) with per-entry expiry. Also the L1 tier. */
export class MemoryStore implements CacheStore {
  readonly name = 'memory';
  readonly #lru: LRUCache<string, CacheEntry>;

  constructor(options: MemoryStoreOptions = {}) {
    const opts = checkOptionsObject<MemoryStoreOptions>(SCOPE, options);
    const maxSize = optionalNumber(SCOPE, 'maxSize', opts.maxSize, MEMORY_STORE_DEFAULTS.maxSize, { min: 1024, integer: true });
    const maxEntrySize = optionalNumber(SCOPE, 'maxEntrySize', opts.maxEntrySize, Math.min(MEMORY_STORE_DEFAULTS.maxEntrySize, maxSize), {
      min: 1,
      max: maxSize,
      integer: true,
    });
    const clock = opts.clock ?? systemClock;
    this.#lru = new LRUCache<string, CacheEntry>({
      maxSize,
      maxEntrySize,
      sizeCalculation: (entry) => entry.size(),
      // Expiry reads the injected clock on every check (no cached "now").
      perf: { now: () => clock.now() },
      ttlResolution: 0,
      ttlAutopurge: false,
    });
  }

  /** Synchronous lookup for the hit path. */
  peek(key: string): CacheEntry | undefined {
    return this.#lru.get(key);
  }

  /** Synchronous store; `ttl` in ms. Entries over `maxEntrySize` are silently not kept. */
  put(key: string, entry: CacheEntry, ttl: number): void {
    if (!(ttl > 0)) return;
    this.#lru.set(key, entry, { ttl: Math.ceil(ttl) });
  }

  /** Synchronous delete. */
  remove(key: string): boolean {
    return this.#lru.delete(key);
  }

  /** Synchronous pattern delete. */
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

  /** Bytes used, as counted against `maxSize`. */
  get bytes(): number {
    return this.#lru.calculatedSize;
  }

  get(key: string): Promise<CacheEntry | undefined> {
    return Promise.resolve(this.#lru.get(key));
  }

  set(key: string, entry: CacheEntry, ttl: number): Promise<void> {
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

/** Creates the embedded memory store (lru-cache, bounded in bytes). */
export function createMemoryStore(options: MemoryStoreOptions = {}): MemoryStore {
  return new MemoryStore(options);
}
