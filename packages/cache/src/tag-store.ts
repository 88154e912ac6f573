import { type Clock, checkOptionsObject, optionalNumber, rejectRenamedOptions, systemClock } from '@edgekit/core';
import type { TagStore } from './store.js';

const SCOPE = '@edgekit/cache memory tag store';

/** Options of {@link createMemoryTagStore}. */
export interface MemoryTagStoreOptions {
  /** Most tag records kept; beyond it the oldest is forgotten safely (see {@link TagGenerations}). Default: 100000. */
  max?: number;
  /** How long a tag record must be kept: the longest lifetime of any entry. Default: 86400000 (one day). */
  ttl?: number;
  /** Time source. Default: the system clock. */
  clock?: Clock;
}

/** Defaults of {@link MemoryTagStoreOptions}. */
export const MEMORY_TAG_STORE_DEFAULTS = {
  max: 100_000,
  ttl: 86_400_000,
} as const;

interface TagRecord {
  gen: number;
  at: number;
}

/**
 * In-process tag generations, bounded without losing invalidations: when a record must be
 * forgotten before its entries could have expired, the floor rises to its generation, so every
 * entry older than that invalidation becomes invalid (a few extra misses instead of stale data).
 * Serves as the memory {@link TagStore} and as each node's mirror of the Redis generations.
 */
export class TagGenerations implements TagStore {
  readonly name = 'memory';
  readonly #records = new Map<string, TagRecord>();
  readonly #max: number;
  readonly #ttl: number;
  readonly #clock: Clock;
  #generation = 0;
  #floor = 0;

  constructor(options: MemoryTagStoreOptions = {}) {
    const opts = checkOptionsObject<MemoryTagStoreOptions>(SCOPE, options);
    rejectRenamedOptions(SCOPE, opts, { maxTags: 'max' });
    this.#max = optionalNumber(SCOPE, 'max', opts.max, MEMORY_TAG_STORE_DEFAULTS.max, { min: 1, integer: true });
    this.#ttl = optionalNumber(SCOPE, 'ttl', opts.ttl, MEMORY_TAG_STORE_DEFAULTS.ttl, { min: 1 });
    this.#clock = opts.clock ?? systemClock;
  }

  /** The highest generation seen. */
  get current(): number {
    return this.#generation;
  }

  /** Entries whose generation is below this are invalid. */
  get floor(): number {
    return this.#floor;
  }

  /** Number of tag records held. */
  get size(): number {
    return this.#records.size;
  }

  /** Advances the generation and records it on `tags` (synchronous form of {@link invalidate}). */
  bump(tags: readonly string[]): number {
    const gen = ++this.#generation;
    this.observe(tags, gen);
    return gen;
  }

  /** Records an invalidation that happened elsewhere (generation `gen`, from Redis). */
  observe(tags: readonly string[], gen: number): void {
    if (gen > this.#generation) this.#generation = gen;
    const at = this.#clock.now();
    for (const tag of tags) {
      const record = this.#records.get(tag);
      if (record && record.gen >= gen) continue;
      this.#records.delete(tag);
      this.#records.set(tag, { gen, at });
    }
    this.#trim(at);
  }

  /** Raises the floor: every entry older than `gen` becomes invalid (a lost pattern record, a flush). */
  raiseFloor(gen: number): void {
    if (gen > this.#floor) this.#floor = gen;
    if (gen > this.#generation) this.#generation = gen;
  }

  /** Forgets everything (the generations of the backing Redis went backwards). */
  reset(): void {
    this.#records.clear();
    this.#generation = 0;
    this.#floor = 0;
  }

  #trim(now: number): void {
    for (const [tag, record] of this.#records) {
      const expired = now - record.at >= this.#ttl;
      if (!expired && this.#records.size <= this.#max) break;
      this.#records.delete(tag);
      if (!expired) this.raiseFloor(record.gen);
    }
  }

  /** True when an entry of generation `gen` with `tags` has not been invalidated since. */
  isValid(gen: number, tags: readonly string[]): boolean {
    if (gen < this.#floor) return false;
    for (let i = 0; i < tags.length; i++) {
      const record = this.#records.get(tags[i]!);
      if (record !== undefined && record.gen > gen) return false;
    }
    return true;
  }

  /** The generation recorded for `tag`, 0 when none. */
  generationOf(tag: string): number {
    return this.#records.get(tag)?.gen ?? 0;
  }

  generation(): Promise<number> {
    return Promise.resolve(this.#generation);
  }

  invalidate(tags: readonly string[]): Promise<number> {
    return Promise.resolve(this.bump(tags));
  }

  generations(tags: readonly string[]): Promise<number[]> {
    // A forgotten record is reported at the floor, which keeps older entries invalid.
    return Promise.resolve(tags.map((tag) => Math.max(this.#records.get(tag)?.gen ?? 0, this.#floor)));
  }

  close(): Promise<void> {
    this.#records.clear();
    return Promise.resolve();
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

/** Creates an in-process {@link TagStore}. */
export function createMemoryTagStore(options: MemoryTagStoreOptions = {}): TagGenerations {
  return new TagGenerations(options);
}
