import type { Clock } from '@edgekit/core';

/**
 * Where `cache: true` stores results (opossum's `cacheTransport` shape). `set` receives an absolute
 * expiry time on the breaker's clock, or `0` for "never expires", as opossum passes it.
 */
export interface CacheTransport {
  /** Returns the cached value, or a falsy value on a miss. */
  get(key: string): unknown;
  /** Stores `value` until `expiresAt` (clock milliseconds; `0`: no expiry). */
  set(key: string, value: unknown, expiresAt: number): void;
  /** Removes every entry. */
  flush(): void;
}

interface CacheEntry {
  readonly value: unknown;
  readonly expiresAt: number;
}

/**
 * The default in-memory {@link CacheTransport}: a `Map` that evicts the oldest inserted entry when
 * it holds `maxEntries` and a new key arrives, as opossum's does, reading expiry from the breaker's clock.
 */
export class MemoryCache implements CacheTransport {
  readonly #entries = new Map<string, CacheEntry>();
  readonly #maxEntries: number;
  readonly #clock: Clock;

  constructor(maxEntries: number, clock: Clock) {
    this.#maxEntries = maxEntries;
    this.#clock = clock;
  }

  get(key: string): unknown {
    const entry = this.#entries.get(key);
    if (entry === undefined) return undefined;
    if (entry.expiresAt > this.#clock.now() || entry.expiresAt === 0) return entry.value;
    this.#entries.delete(key);
    return undefined;
  }

  set(key: string, value: unknown, expiresAt: number): void {
    if (this.#entries.size === this.#maxEntries && this.get(key) === undefined) {
      const oldest = this.#entries.keys().next();
      if (oldest.done !== true) this.#entries.delete(oldest.value);
    }
    this.#entries.set(key, { value, expiresAt });
  }

  delete(key: string): void {
    this.#entries.delete(key);
  }

  flush(): void {
    this.#entries.clear();
  }

  /** Number of entries, expired ones included until they are read. */
  get size(): number {
    return this.#entries.size;
  }
}
