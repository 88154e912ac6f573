import { type Clock, checkOptionsObject, optionalNumber, systemClock } from '@edgekit/core';

const SCOPE = '@edgekit/proxy';

/** Options of {@link createRetryBudget}. */
export interface RetryBudgetOptions {
  /** Retries allowed as a fraction of the requests seen in the window. Default: `0.2` (20 %). */
  ratio?: number;
  /** Retries allowed per second of window whatever the volume, so quiet services can still retry. Default: `10`. */
  minPerSecond?: number;
  /** Length of the sliding window, in milliseconds. Default: `10_000`. */
  window?: number;
  /** Clock the window follows. Default: `systemClock`. */
  clock?: Clock;
}

/** Defaults of {@link RetryBudgetOptions}. */
export const RETRY_BUDGET_DEFAULTS = Object.freeze({
  ratio: 0.2,
  minPerSecond: 10,
  window: 10_000,
});

/** Counters of a {@link RetryBudget} over its current window. */
export interface RetryBudgetSnapshot {
  /** Requests recorded in the window. */
  requests: number;
  /** Retries granted in the window. */
  retries: number;
  /** Retries the window allows in total: `minPerSecond * window / 1000 + ratio * requests`. */
  allowed: number;
}

/**
 * Bounds retries to a share of the traffic, as Finagle's and Envoy's retry budgets do: over a sliding
 * window, granted retries never exceed `minPerSecond * window / 1000 + ratio * requests`. An outage
 * then adds at most `ratio` to the load on the remaining regions instead of multiplying it.
 */
export interface RetryBudget {
  /** Records one original request (a deposit). */
  recordRequest(): void;
  /** Withdraws one retry; `false` when the budget is spent and the caller must not retry. */
  tryRetry(): boolean;
  /** The window's counters. */
  snapshot(): RetryBudgetSnapshot;
}

// The window is cut into this many slots; a slot's counts leave the window all at once.
const SLOTS = 10;

class SlidingRetryBudget implements RetryBudget {
  readonly #clock: Clock;
  readonly #ratio: number;
  readonly #reserve: number;
  readonly #slotMs: number;
  readonly #requests = new Float64Array(SLOTS);
  readonly #retries = new Float64Array(SLOTS);
  #slot: number;
  #requestSum = 0;
  #retrySum = 0;

  constructor(clock: Clock, ratio: number, minPerSecond: number, window: number) {
    this.#clock = clock;
    this.#ratio = ratio;
    this.#reserve = (minPerSecond * window) / 1000;
    this.#slotMs = window / SLOTS;
    this.#slot = Math.floor(clock.now() / this.#slotMs);
  }

  /** Moves the window to the current slot, dropping the counts of slots that left it. */
  #advance(): number {
    const slot = Math.floor(this.#clock.now() / this.#slotMs);
    const passed = slot - this.#slot;
    if (passed <= 0) return ((this.#slot % SLOTS) + SLOTS) % SLOTS;
    const steps = passed < SLOTS ? passed : SLOTS;
    for (let k = 1; k <= steps; k++) {
      const index = (((this.#slot + k) % SLOTS) + SLOTS) % SLOTS;
      this.#requestSum -= this.#requests[index]!;
      this.#retrySum -= this.#retries[index]!;
      this.#requests[index] = 0;
      this.#retries[index] = 0;
    }
    this.#slot = slot;
    return ((slot % SLOTS) + SLOTS) % SLOTS;
  }

  recordRequest(): void {
    const index = this.#advance();
    this.#requests[index]!++;
    this.#requestSum++;
  }

  tryRetry(): boolean {
    const index = this.#advance();
    if (this.#retrySum + 1 > this.#reserve + this.#ratio * this.#requestSum) return false;
    this.#retries[index]!++;
    this.#retrySum++;
    return true;
  }

  snapshot(): RetryBudgetSnapshot {
    this.#advance();
    return { requests: this.#requestSum, retries: this.#retrySum, allowed: this.#reserve + this.#ratio * this.#requestSum };
  }
}

/**
 * Creates a {@link RetryBudget}. With the defaults a service at 1 000 requests per second may retry
 * 200 of them per second (`0.2 × 10 000 + 100` over 10 s, about 210 per second); one at 5 requests
 * per second may still retry 10 per second.
 *
 * @example
 * const budget = createRetryBudget({ ratio: 0.1, minPerSecond: 5 });
 * budget.recordRequest();
 * if (budget.tryRetry()) retry();
 */
export function createRetryBudget(options?: RetryBudgetOptions): RetryBudget {
  const opts = checkOptionsObject<RetryBudgetOptions>(SCOPE, options);
  const ratio = optionalNumber(SCOPE, 'retryBudget.ratio', opts.ratio, RETRY_BUDGET_DEFAULTS.ratio, { min: 0 });
  const minPerSecond = optionalNumber(SCOPE, 'retryBudget.minPerSecond', opts.minPerSecond, RETRY_BUDGET_DEFAULTS.minPerSecond, { min: 0 });
  const window = optionalNumber(SCOPE, 'retryBudget.window', opts.window, RETRY_BUDGET_DEFAULTS.window, { min: 0, exclusiveMin: true });
  const clock = opts.clock ?? systemClock;
  if (typeof clock?.now !== 'function') throw new TypeError(`${SCOPE}: option "retryBudget.clock" must be a Clock`);
  return new SlidingRetryBudget(clock, ratio, minPerSecond, window);
}
