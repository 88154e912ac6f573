/** The three states of a breaker, as the registry and `onStateChange` report them. */
export type BreakerState = 'closed' | 'open' | 'halfOpen';

/** A state change reported by {@link BreakerCore.onStateChange}. */
export interface BreakerStateChange {
  from: BreakerState;
  to: BreakerState;
}

/** Counters over the rolling window, without latency work: what a dashboard or the registry needs. */
export interface BreakerStatsSummary {
  fires: number;
  successes: number;
  failures: number;
  rejects: number;
  timeouts: number;
  fallbacks: number;
  semaphoreRejections: number;
  /** `failures / fires * 100` over the window; `0` without fires. */
  errorRate: number;
}

/** A point-in-time view of one breaker. Times are on the breaker's clock. */
export interface BreakerSnapshot {
  name: string;
  state: BreakerState | 'shutdown';
  enabled: boolean;
  stats: BreakerStatsSummary;
  /** Calls admitted and not settled yet. */
  inFlight: number;
  /** When the breaker last opened; `undefined` if it never did. */
  openedAt: number | undefined;
  /** While open: when it goes half-open. */
  nextAttemptAt: number | undefined;
}
