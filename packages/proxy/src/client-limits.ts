/**
 * Requests in flight per client, for `maxInFlightPerClient`. Only clients with a request in flight
 * have an entry, so the map is as large as the concurrency, whatever the number of clients.
 */
export class ClientInFlight {
  readonly #max: number;
  readonly #counts = new Map<string, number>();

  constructor(max: number) {
    this.#max = max;
  }

  /** Counts a request of `key`; `false` (and nothing counted) when the client is at its cap. */
  enter(key: string): boolean {
    const count = this.#counts.get(key) ?? 0;
    if (count >= this.#max) return false;
    this.#counts.set(key, count + 1);
    return true;
  }

  /** A request of `key` ended. */
  leave(key: string): void {
    const count = this.#counts.get(key);
    if (count === undefined) return;
    if (count <= 1) this.#counts.delete(key);
    else this.#counts.set(key, count - 1);
  }
}

/**
 * Which requests that found every breaker open still go to the primary region: a share of
 * `fraction`, deterministic (the first of a run, then one in `1 / fraction`), so the trickle is
 * bounded whatever the luck.
 */
export class PanicTrickle {
  readonly #fraction: number;
  #count = 0;

  constructor(fraction: number) {
    this.#fraction = fraction;
  }

  admit(): boolean {
    const fraction = this.#fraction;
    if (fraction === 0) return false;
    const before = Math.ceil(this.#count * fraction);
    this.#count++;
    if (this.#count >= 1e12) this.#count = 0;
    return Math.ceil(this.#count * fraction) > before;
  }
}
