/**
 * A bounded map that evicts its least recently used entry: the locator's address cache. A `Map`
 * keeps insertion order, so moving an entry to the end on every hit and evicting the first key
 * is an LRU. The locator needs only get, set, clear and size, which does not justify a dependency
 * (lru-cache 11.3 and later install at 3 to 4 MB, most of `@edgekit/geo`'s footprint).
 */
export class LruMap<K, V> {
  readonly #entries = new Map<K, V>();
  readonly #max: number;

  constructor(max: number) {
    this.#max = max;
  }

  get size(): number {
    return this.#entries.size;
  }

  get(key: K): V | undefined {
    const value = this.#entries.get(key);
    if (value === undefined) return undefined;
    // Most recently used moves to the end, unless it is already there.
    this.#entries.delete(key);
    this.#entries.set(key, value);
    return value;
  }

  set(key: K, value: V): void {
    const entries = this.#entries;
    if (entries.has(key)) entries.delete(key);
    else if (entries.size >= this.#max) entries.delete(entries.keys().next().value as K);
    entries.set(key, value);
  }

  clear(): void {
    this.#entries.clear();
  }
}
