import type { TypedEmitter } from '@edgekit/core';
import type { Region } from '@edgekit/geo';
import type { ForwarderEvents, SkipReason } from './events.js';
import type { BreakerLike, BreakerPermitLike, BreakerSource } from './options.js';

/**
 * The regions one request may go to, in order, and the breaker permits taken for them: each
 * `acquireNext()` moves to the next candidate whose breaker grants a permit (or back to a region
 * set with `again` first), leaving the choice in `nextRegion` / `nextPermit`.
 */
export class Candidates {
  regions: readonly Region[] = [];
  /** Index of the next candidate in `regions`. */
  cursor = 0;
  nextRegion: Region | undefined = undefined;
  nextPermit: BreakerPermitLike | undefined = undefined;
  skipped: Array<{ region: string; reason: SkipReason }> | undefined = undefined;
  /** Set once the decision event is out: later skips are events of their own. */
  decided = false;
  /** When the first skipped breaker lets a trial through (for `Retry-After`). */
  earliestHalfOpen = Number.POSITIVE_INFINITY;
  /** A region to try again before the next candidate: it still has endpoints this request did not try. */
  again: Region | undefined = undefined;
  #nextIsAgain = false;
  readonly #breakers: BreakerSource | undefined;
  readonly #events: TypedEmitter<ForwarderEvents>;

  constructor(breakers: BreakerSource | undefined, events: TypedEmitter<ForwarderEvents>) {
    this.#breakers = breakers;
    this.#events = events;
  }

  /** Moves to the next candidate whose breaker grants a permit; the choice lands in `nextRegion` / `nextPermit`. */
  acquireNext(): boolean {
    const breakers = this.#breakers;
    const candidates = this.regions;
    const again = this.again;
    this.again = undefined;
    this.#nextIsAgain = again !== undefined;
    while (this.#nextIsAgain || this.cursor < candidates.length) {
      const region = this.#nextIsAgain ? again! : candidates[this.cursor++]!;
      if (breakers === undefined) {
        this.nextRegion = region;
        this.nextPermit = undefined;
        return true;
      }
      let breaker: BreakerLike | undefined;
      let permit: BreakerPermitLike | undefined;
      try {
        breaker = breakers.get(region.name);
        permit = breaker.tryAcquire();
        if (permit === undefined) {
          this.#nextIsAgain = false;
          this.#skipOpen(region.name, breaker);
          continue;
        }
      } catch {
        // A breaker that cannot answer does not block traffic.
        permit = undefined;
      }
      this.nextRegion = region;
      this.nextPermit = permit;
      return true;
    }
    return false;
  }

  /**
   * Moves to the region of a retry after a failure in `from`: `from` again while it has endpoints
   * the request did not try (`untried`), except that the request's last attempt (`last`) goes to
   * another region when one is left, so a region whose every endpoint fails cannot use up the
   * attempts; `from` still takes it when no other region's breaker would.
   */
  acquireRetry(from: Region, untried: boolean, last: boolean): boolean {
    const elsewhere = untried && last && this.cursor < this.regions.length;
    if (untried && !elsewhere) this.again = from;
    if (this.acquireNext()) return true;
    if (!elsewhere) return false;
    this.again = from;
    return this.acquireNext();
  }

  #skipOpen(region: string, breaker: BreakerLike): void {
    (this.skipped ??= []).push({ region, reason: 'breaker-open' });
    try {
      const at = breaker.snapshot?.().nextAttemptAt;
      if (typeof at === 'number' && at < this.earliestHalfOpen) this.earliestHalfOpen = at;
    } catch {
      // Retry-After falls back to the configured value.
    }
    const events = this.#events;
    if (this.decided && events.hasListeners('skip')) events.emit('skip', { region, reason: 'breaker-open' });
  }

  /** Gives back a permit taken for a retry that will not happen, and the candidate with it. */
  returnNext(): void {
    const permit = this.nextPermit;
    this.nextPermit = undefined;
    this.nextRegion = undefined;
    if (this.#nextIsAgain) this.#nextIsAgain = false;
    else this.cursor--;
    try {
      permit?.release();
    } catch {
      // ignore a faulty breaker
    }
  }
}
