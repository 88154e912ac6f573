import type { ResolvedBreakerOptions } from './options.js';
import type { Status } from './status.js';

/**
 * Decides when a closed breaker opens, from the outcomes of its calls (cockatiel's `IBreaker`).
 * The state machine reports every counted outcome; a `true` return opens the breaker. It calls
 * `reset()` when the breaker closes, so a strategy starts afresh after an outage.
 */
export interface BreakerStrategy {
  /** A call succeeded after `latencyMs`; true opens the breaker (a slow-call rule may). */
  success(latencyMs: number): boolean;
  /** A call failed (or timed out) after `latencyMs`; true opens the breaker. */
  failure(latencyMs: number): boolean;
  /** The breaker closed: forget the outcomes that opened it. */
  reset(): void;
}

/** Builds the strategy of one breaker; it may read the breaker's rolling window. */
export type BreakerStrategyFactory = (status: Status) => BreakerStrategy;

/**
 * opossum's rule: on a failure, open when the window holds at least `volumeThreshold` fires and
 * `failures / fires × 100` is above `errorThresholdPercentage`. Fires include rejected calls and
 * cache hits, as opossum counts them.
 */
export function percentageStrategy(options: { errorThresholdPercentage: number; volumeThreshold: number }): BreakerStrategyFactory {
  const { errorThresholdPercentage, volumeThreshold } = options;
  return (status) => ({
    success: () => false,
    failure(): boolean {
      const fires = status.sum('fires');
      if (fires < volumeThreshold) return false;
      return (status.sum('failures') / fires) * 100 > errorThresholdPercentage;
    },
    reset(): void {},
  });
}

/** Opens after `failureThreshold` failures in a row; a success starts the count again. */
export function consecutiveStrategy(options: { failureThreshold: number }): BreakerStrategyFactory {
  const { failureThreshold } = options;
  return () => {
    let failures = 0;
    return {
      success(): boolean {
        failures = 0;
        return false;
      },
      failure(): boolean {
        return ++failures >= failureThreshold;
      },
      reset(): void {
        failures = 0;
      },
    };
  };
}

/** Options of {@link countStrategy} and {@link slowCallRateStrategy}: a window of the last calls, as resilience4j's `COUNT_BASED` window. */
export interface CountWindowOptions {
  /** Calls the window holds. */
  windowSize: number;
  /** Fewest calls in the window before it may open. */
  minimumCalls: number;
  /** Open when the failure rate (percent) is above this. */
  errorThresholdPercentage: number;
}

/** Options of {@link slowCallRateStrategy}. */
export interface SlowCallRateOptions extends CountWindowOptions {
  /** A call that takes at least this long (ms) is slow, whether it succeeded or failed. */
  slowCallDuration: number;
  /** Open when the share of slow calls (percent) is at least this. */
  slowCallRateThreshold: number;
}

/** Outcome flags kept per call in a count window. */
const FAILED = 1;
const SLOW = 2;

/** The last `windowSize` outcomes in a ring, with running totals. */
class CountWindow {
  readonly #ring: Uint8Array;
  #next = 0;
  #size = 0;
  failures = 0;
  slow = 0;

  constructor(windowSize: number) {
    this.#ring = new Uint8Array(windowSize);
  }

  get size(): number {
    return this.#size;
  }

  push(flags: number): void {
    const ring = this.#ring;
    if (this.#size === ring.length) {
      const old = ring[this.#next] as number;
      if ((old & FAILED) !== 0) this.failures--;
      if ((old & SLOW) !== 0) this.slow--;
    } else {
      this.#size++;
    }
    ring[this.#next] = flags;
    if ((flags & FAILED) !== 0) this.failures++;
    if ((flags & SLOW) !== 0) this.slow++;
    this.#next = (this.#next + 1) % ring.length;
  }

  clear(): void {
    this.#ring.fill(0);
    this.#next = 0;
    this.#size = 0;
    this.failures = 0;
    this.slow = 0;
  }
}

/** Opens when, over the last `windowSize` calls (at least `minimumCalls` of them), the failure rate is above `errorThresholdPercentage`. */
export function countStrategy(options: CountWindowOptions): BreakerStrategyFactory {
  return slowCallRateStrategy({ ...options, slowCallDuration: Number.POSITIVE_INFINITY, slowCallRateThreshold: Number.POSITIVE_INFINITY });
}

/**
 * resilience4j's slow-call rule on a count window: opens when, over the last `windowSize` calls
 * (at least `minimumCalls`), the share of calls slower than `slowCallDuration` reaches
 * `slowCallRateThreshold`, or the failure rate is above `errorThresholdPercentage`. An upstream
 * that answers, but too slowly, is taken out before its timeouts pile up.
 */
export function slowCallRateStrategy(options: SlowCallRateOptions): BreakerStrategyFactory {
  const { windowSize, minimumCalls, errorThresholdPercentage, slowCallDuration, slowCallRateThreshold } = options;
  return () => {
    const window = new CountWindow(windowSize);
    const record = (flags: number): boolean => {
      window.push(flags);
      const size = window.size;
      if (size < minimumCalls || size === 0) return false;
      return (window.failures / size) * 100 > errorThresholdPercentage || (window.slow / size) * 100 >= slowCallRateThreshold;
    };
    return {
      success: (latencyMs) => record(latencyMs >= slowCallDuration ? SLOW : 0),
      failure: (latencyMs) => record(latencyMs >= slowCallDuration ? FAILED | SLOW : FAILED),
      reset: () => window.clear(),
    };
  };
}

/** The strategy a breaker's options ask for: `strategy`, else the one named by `mode`. */
export function strategyOf(o: ResolvedBreakerOptions<any>): BreakerStrategyFactory {
  if (o.strategy !== undefined) return o.strategy;
  switch (o.mode) {
    case 'consecutive':
      return consecutiveStrategy(o);
    case 'count':
      return countStrategy(o);
    case 'slowCallRate':
      return slowCallRateStrategy(o);
    default:
      return percentageStrategy(o);
  }
}
