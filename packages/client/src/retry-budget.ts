import type { Clock } from './clock.js';

/** Options of the retry budget; the same names and defaults as `@edgekit/proxy`'s. */
export interface RetryBudgetOptions {
  /** Retries allowed as a fraction of the requests seen in the window. Default: `0.2`. */
  ratio?: number;
  /** Retries allowed per second of window whatever the volume. Default: `10`. */
  minPerSecond?: number;
  /** Length of the sliding window, in milliseconds. Default: `10_000`. */
  window?: number;
}

/** Bounds retries and hedges to a share of the traffic; `@edgekit/proxy`'s `createRetryBudget()` result fits. */
export interface RetryBudget {
  recordRequest(): void;
  tryRetry(): boolean;
}

const SLOTS = 10;

/**
 * A sliding-window retry budget (Finagle, Envoy): granted retries never exceed
 * `minPerSecond * window / 1000 + ratio * requests` over the window.
 */
export function createRetryBudget(clock: Clock, { ratio = 0.2, minPerSecond = 10, window = 10_000 }: RetryBudgetOptions): RetryBudget {
  const slotMs = window / SLOTS;
  const requests = new Array<number>(SLOTS).fill(0);
  const retries = new Array<number>(SLOTS).fill(0);
  let slot = Math.floor(clock.now() / slotMs);
  const advance = (): number => {
    const current = Math.floor(clock.now() / slotMs);
    for (let k = slot + 1; k <= current && k <= slot + SLOTS; k++) {
      requests[k % SLOTS] = 0;
      retries[k % SLOTS] = 0;
    }
    if (current > slot) slot = current;
    return slot % SLOTS;
  };
  const sum = (list: number[]): number => list.reduce((a, b) => a + b, 0);
  return {
    recordRequest() {
      requests[advance()]!++;
    },
    tryRetry() {
      const index = advance();
      if (sum(retries) + 1 > (minPerSecond * window) / 1000 + ratio * sum(requests)) return false;
      retries[index]!++;
      return true;
    },
  };
}
