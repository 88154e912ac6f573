import { EdgekitError, brandError } from '@edgekit/core';

/** Stable codes of {@link BreakerError}; the first three are opossum's codes. */
export type BreakerErrorCode =
  /** The breaker is open (or half-open with its probes in flight) and failed fast. */
  | 'EOPENBREAKER'
  /** The action did not settle within `timeout`. */
  | 'ETIMEDOUT'
  /** `capacity` calls were already in flight. */
  | 'ESEMLOCKED'
  /** The breaker (or its registry) was shut down. */
  | 'ESHUTDOWN';

/** Base class of the errors a breaker raises itself, as opposed to errors thrown by the protected action. */
export class BreakerError extends EdgekitError {
  declare readonly code: BreakerErrorCode;
  /** Name of the breaker that raised the error. */
  readonly breaker: string;

  constructor(code: BreakerErrorCode, message: string, context: { breaker: string; cause?: unknown }) {
    super(code, message, context);
    this.breaker = context.breaker;
  }
}

/** True for a {@link BreakerError} (open, timeout, semaphore, shutdown), also one thrown by another copy of this package. */
export const isBreakerError: (value: unknown) => value is BreakerError = brandError(BreakerError, 'edgekit.breaker.error');

/** Raised (code `EOPENBREAKER`) when a call is rejected because the breaker is open or its half-open probes are used up. */
export class OpenCircuitError extends BreakerError {
  /** The state that rejected the call. */
  readonly state: 'open' | 'halfOpen';

  constructor(breaker: string, state: 'open' | 'halfOpen') {
    super('EOPENBREAKER', 'Breaker is open', { breaker });
    this.state = state;
  }
}

/** Raised (code `ETIMEDOUT`) when the action did not settle within the breaker's `timeout`. */
export class TimeoutError extends BreakerError {
  /** The timeout that elapsed, in milliseconds. */
  readonly timeout: number;

  constructor(breaker: string, timeout: number) {
    super('ETIMEDOUT', `Timed out after ${timeout}ms`, { breaker });
    this.timeout = timeout;
  }
}

/** Raised (code `ESEMLOCKED`) when `capacity` calls were already in flight. */
export class SemaphoreLockedError extends BreakerError {
  /** The breaker's `capacity`. */
  readonly capacity: number;

  constructor(breaker: string, capacity: number) {
    super('ESEMLOCKED', 'Semaphore locked', { breaker });
    this.capacity = capacity;
  }
}

/** Raised (code `ESHUTDOWN`) by calls made after `shutdown()`, or by a closed registry. */
export class ShutdownError extends BreakerError {
  constructor(breaker: string, message = 'The circuit has been shutdown.') {
    super('ESHUTDOWN', message, { breaker });
  }
}

/** True when `error` was raised by a breaker rather than by the protected action. Never throws. */
export function isOurError(error: unknown): boolean {
  return isBreakerError(error);
}
