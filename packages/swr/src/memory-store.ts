import { type Clock, checkOptionsObject, optionalNumber, systemClock } from '@edgekit/core';
import { LRUCache } from 'lru-cache';
import type { SwrEntry } from './entry.js';
import type { SwrStore } from './store.js';

const SCOPE = '@edgekit/swr memory store';

/** Options of {@link createMemoryStore}. */
export interface MemoryStoreOptions {
  /** Most entries kept; the least recently used go first. Default: 10000. */
  max?: number;
  /** Time source for expiry. Default: the system clock (pass the swr's clock). */
  clock?: Clock;
}

/** Defaults of {@link MemoryStoreOptions}. */
export const MEMORY_STORE_DEFAULTS = {
  max: 10_000,
} as const;

/**
 * A process-local {@link SwrStore}: a bounded LRU (lru-cache) whose entries expire with their
 * windows. Values are kept by reference, so callers must not mutate what they get back.
 */
export function createMemoryStore(options: MemoryStoreOptions = {}): SwrStore & { readonly size: number } {
  const opts = checkOptionsObject<MemoryStoreOptions>(SCOPE, options);
  const max = optionalNumber(SCOPE, 'max', opts.max, MEMORY_STORE_DEFAULTS.max, { min: 1, integer: true });
  const clock = opts.clock ?? systemClock;
  const lru = new LRUCache<string, SwrEntry>({
    max,
    // Expiry reads the injected clock on every check.
    perf: { now: () => clock.now() },
    ttlResolution: 0,
    ttlAutopurge: false,
  });
  return {
    name: 'memory',
    get size() {
      return lru.size;
    },
    async get(key) {
      return lru.get(key);
    },
    async set(key, entry, ttlMs) {
      if (!(ttlMs > 0)) return;
      lru.set(key, entry, { ttl: Math.ceil(ttlMs) });
    },
    async delete(key) {
      lru.delete(key);
    },
    async close() {
      lru.clear();
    },
  };
}
