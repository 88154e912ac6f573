import type { Clock } from '@edgekit/core';
import type { CacheEntry } from './entry.js';
import type { CacheError } from './errors.js';
import type { MemoryStore as SwrMemoryStore } from '@edgekit/swr';
import type { CacheStore, TagStore } from './store.js';
import type { TagGenerations } from './tag-store.js';
import { withTimeout } from './timeout.js';

/** The L1 tier: swr's memory store of cache entries. */
export type MemoryStore = SwrMemoryStore<CacheEntry>;

/** Where a lookup found its entry. */
export type Tier = 'l1' | 'l2';

/** Wiring of {@link Tiers}. */
export interface TiersOptions {
  /** The in-process tier, or undefined when disabled. */
  l1: MemoryStore | undefined;
  /** The shared tier, or undefined for a single node. */
  l2: CacheStore | undefined;
  /** Tag generations; shared (Redis) when `l2` is set, else the same object as `mirror`. */
  tags: TagStore;
  /** This node's view of the generations, fed by the bus; validates L1 entries synchronously. */
  mirror: TagGenerations;
  clock: Clock;
  /** Bound on every L2 and tag store command, in ms. */
  operationTimeout: number;
  /** After an L2 failure, skip L2 for this long, in ms. */
  cooldown: number;
  /** Extra retention for entries with validators, in ms (see `keepStale`). */
  keepStale: number;
  /** Whether L1 may be used now (false while the bus may be missing invalidations). */
  l1Usable(): boolean;
  /** Reports a store error (never thrown at clients). */
  report(error: CacheError): void;
}

/**
 * The two tiers: a memory L1 in each node in front of a shared L2. Every entry read is checked
 * against the tag generations (the node's mirror for L1, the shared tag store for L2) before use.
 * L2 and tag store commands are bounded by `operationTimeout`; failures are reported and treated as
 * misses, and L2 rests for `cooldown` so a dead Redis costs one timeout, not one per request.
 */
export class Tiers {
  readonly l1: MemoryStore | undefined;
  readonly l2: CacheStore | undefined;
  readonly #tags: TagStore;
  readonly #mirror: TagGenerations;
  readonly #shared: boolean;
  readonly #clock: Clock;
  readonly #timeout: number;
  readonly #cooldown: number;
  readonly #keepStale: number;
  readonly #l1Usable: () => boolean;
  readonly #report: (error: CacheError) => void;
  #l2RestUntil = 0;

  constructor(options: TiersOptions) {
    this.l1 = options.l1;
    this.l2 = options.l2;
    this.#tags = options.tags;
    this.#mirror = options.mirror;
    this.#shared = options.l2 !== undefined;
    this.#clock = options.clock;
    this.#timeout = options.operationTimeout;
    this.#cooldown = options.cooldown;
    this.#keepStale = options.keepStale;
    this.#l1Usable = options.l1Usable;
    this.#report = options.report;
  }

  /** True when L2 is configured and not resting after a failure. */
  get l2Available(): boolean {
    return this.l2 !== undefined && this.#clock.now() >= this.#l2RestUntil;
  }

  #fail(error: CacheError): void {
    this.#l2RestUntil = this.#clock.now() + this.#cooldown;
    this.#report(error);
  }

  /** Synchronous L1 lookup, validated against the mirror; undefined when L1 is unusable. */
  peek(key: string): CacheEntry | undefined {
    const l1 = this.l1;
    if (l1 === undefined || !this.#l1Usable()) return undefined;
    const entry = l1.peek(key);
    if (entry === undefined) return undefined;
    if (entry.tags.length === 0 ? entry.gen >= this.#mirror.floor : this.#mirror.isValid(entry.gen, entry.tags)) return entry;
    l1.remove(key);
    return undefined;
  }

  /** L1, then L2 (validated against the shared tag generations, then copied into L1). */
  async get(key: string): Promise<{ entry: CacheEntry; tier: Tier } | undefined> {
    const local = this.peek(key);
    if (local) return { entry: local, tier: 'l1' };
    return this.getShared(key);
  }

  /** L2 only (another node may have refreshed what this node's L1 holds stale). */
  async getShared(key: string): Promise<{ entry: CacheEntry; tier: Tier } | undefined> {
    const l2 = this.l2;
    if (l2 === undefined || !this.l2Available) return undefined;
    let entry: CacheEntry | undefined;
    try {
      entry = await withTimeout(l2.get(key), this.#timeout, this.#clock, 'get', key);
      if (entry === undefined) return undefined;
      if (entry.tags.length > 0) {
        const generations = await withTimeout(this.#tags.generations(entry.tags), this.#timeout, this.#clock, 'generations', key);
        for (const g of generations) if (g > entry.gen) return undefined;
      }
    } catch (error) {
      this.#fail(error as CacheError);
      return undefined;
    }
    // The mirror may know of invalidations newer than the read (a message that raced it).
    if (!this.#mirror.isValid(entry.gen, entry.tags)) return undefined;
    if (this.l1 !== undefined && this.#l1Usable()) {
      const remaining = entry.remaining(this.#clock.now(), this.#keepStale);
      if (remaining > 0) this.l1.put(key, entry, remaining);
    }
    return { entry, tier: 'l2' };
  }

  /**
   * The generation to record on an entry about to be fetched, or undefined when it cannot be known
   * (the shared tag store is down), in which case nothing fetched now may be stored.
   */
  async generation(): Promise<number | undefined> {
    if (!this.#shared) return this.#mirror.current;
    if (!this.l2Available) return undefined;
    try {
      const g = await withTimeout(this.#tags.generation(), this.#timeout, this.#clock, 'generation');
      if (g < this.#mirror.current) {
        // The shared generations went backwards (Redis lost its data): nothing local can be trusted.
        this.#mirror.reset();
        this.l1?.flush();
      }
      this.#mirror.observe([], g);
      return g;
    } catch (error) {
      this.#fail(error as CacheError);
      return undefined;
    }
  }

  /** Stores in L1 (when usable) and L2; L2 failures are reported, not thrown. */
  async set(key: string, entry: CacheEntry, ttl: number): Promise<void> {
    if (!(ttl > 0)) return;
    if (this.l1 !== undefined && this.#l1Usable()) this.l1.put(key, entry, ttl);
    const l2 = this.l2;
    if (l2 === undefined || !this.l2Available) return;
    try {
      await withTimeout(l2.set(key, entry, ttl), this.#timeout, this.#clock, 'set', key);
    } catch (error) {
      this.#fail(error as CacheError);
    }
  }

  /** Deletes keys from both tiers; L2 errors propagate (an invalidation must not fail silently). */
  async delete(keys: readonly string[]): Promise<number> {
    let count = 0;
    if (this.l1) for (const key of keys) if (this.l1.remove(key)) count++;
    if (this.l2) count = Math.max(count, await withTimeout(this.l2.delete(keys), this.#timeout, this.#clock, 'delete'));
    return count;
  }

  /** Deletes by pattern from L2 (SCAN + UNLINK); L2 errors propagate. */
  async deletePatternShared(pattern: string, timeout: number): Promise<number> {
    if (!this.l2) return 0;
    return withTimeout(this.l2.deletePattern(pattern), timeout, this.#clock, 'deletePattern');
  }

  /** Advances the shared generation and stamps `tags`; errors propagate. */
  invalidateShared(tags: readonly string[]): Promise<number> {
    return withTimeout(this.#tags.invalidate(tags), this.#timeout, this.#clock, 'invalidate');
  }
}
