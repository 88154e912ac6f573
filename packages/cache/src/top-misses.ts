/** One counted key of {@link TopMisses}. */
export interface MissCount {
  /** The cache key (or whatever was counted). */
  key: string;
  /** Estimated count; overestimated by at most `error`. */
  count: number;
  /** Upper bound of the overestimate. */
  error: number;
  /** Data kept with the key (the URL and host to warm it again). */
  data: unknown;
}

interface Counter {
  key: string;
  count: number;
  error: number;
  data: unknown;
}

/**
 * The most frequent keys in a stream with bounded memory: the Space-Saving algorithm (Metwally,
 * Agrawal, El Abbadi). `capacity` counters are kept; a new key replaces the smallest counter and
 * inherits its count as the error bound. Any key seen more than `total / capacity` times is kept.
 */
export class TopMisses {
  readonly #capacity: number;
  readonly #counters = new Map<string, Counter>();
  #total = 0;

  constructor(capacity: number) {
    this.#capacity = capacity;
  }

  /** Counts one occurrence of `key`, keeping `data` with it. */
  add(key: string, data: unknown): void {
    this.#total++;
    const counter = this.#counters.get(key);
    if (counter) {
      counter.count++;
      counter.data = data;
      return;
    }
    if (this.#counters.size < this.#capacity) {
      this.#counters.set(key, { key, count: 1, error: 0, data });
      return;
    }
    let min: Counter | undefined;
    for (const c of this.#counters.values()) if (min === undefined || c.count < min.count) min = c;
    if (!min) return;
    this.#counters.delete(min.key);
    this.#counters.set(key, { key, count: min.count + 1, error: min.count, data });
  }

  /** The `n` keys with the highest counts, highest first. */
  top(n: number): MissCount[] {
    return [...this.#counters.values()]
      .sort((a, b) => b.count - a.count || a.key.localeCompare(b.key))
      .slice(0, Math.max(0, n))
      .map((c) => ({ key: c.key, count: c.count, error: c.error, data: c.data }));
  }

  /** Forgets `key` (after it was warmed). */
  delete(key: string): void {
    this.#counters.delete(key);
  }

  /** Occurrences counted since creation or the last reset. */
  get total(): number {
    return this.#total;
  }

  /** Number of counters in use. */
  get size(): number {
    return this.#counters.size;
  }

  reset(): void {
    this.#counters.clear();
    this.#total = 0;
  }
}
