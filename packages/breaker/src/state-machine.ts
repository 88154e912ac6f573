import type { Clock, ClockTimer } from '@edgekit/core';
import type { BreakerStrategy } from './strategies.js';

export const CLOSED = 0;
export const OPEN = 1;
export const HALF_OPEN = 2;
export const SHUTDOWN = 3;
/** State codes of a {@link BreakerStateMachine}. */
export type StateCode = typeof CLOSED | typeof OPEN | typeof HALF_OPEN | typeof SHUTDOWN;
export const STATE_NAMES = ['closed', 'open', 'halfOpen', 'shutdown'] as const;

/** What `admit()` answers: a normal call, a half-open probe, or a refusal. */
export const ADMIT = 0;
export const ADMIT_PROBE = 1;
export const REFUSE = -1;
export type Admission = typeof ADMIT | typeof ADMIT_PROBE | typeof REFUSE;

/** Transitions the machine reports, after it has changed state (the breaker emits its events here). */
export interface MachineHooks {
  opened(from: StateCode): void;
  closed(from: StateCode): void;
  halfOpened(from: StateCode): void;
}

/**
 * The states of a breaker and the rules between them, with opossum's semantics: a failure while
 * half-open reopens it, a success while half-open closes it (after `halfOpenMaxCalls` successes),
 * `resetTimeout` after opening it lets probes through, and while closed a {@link BreakerStrategy}
 * decides when to open. No events, no statistics: those are the breaker's, told through hooks.
 */
export class BreakerStateMachine {
  state: StateCode = CLOSED;
  /** Counts transitions, so a released permit can tell whether its half-open period is still on. */
  epoch = 0;
  /** Probes that may still start in this half-open period (opossum's `pendingClose`). */
  probesLeft = 0;
  /**
   * After `shutdown()`: the breaker's own bookkeeping is off (no statistics, no reset timer, no
   * automatic close), as in opossum, whose shutdown removes the listeners that do it.
   */
  detached = false;
  #probeSuccesses = 0;
  /** A hint from elsewhere (another node opened its breaker): until then, `#hintFailures` local failures open. */
  #hintUntil = 0;
  #hintFailures = 0;
  #resetTimer: ClockTimer | undefined = undefined;
  #warmUp = false;
  #warmUpTimer: ClockTimer | undefined = undefined;
  readonly #clock: Clock;
  readonly #resetTimeout: number;
  readonly #halfOpenMaxCalls: number;
  readonly #strategy: BreakerStrategy;
  readonly #hooks: MachineHooks;

  constructor(clock: Clock, resetTimeout: number, halfOpenMaxCalls: number, strategy: BreakerStrategy, hooks: MachineHooks) {
    this.#clock = clock;
    this.#resetTimeout = resetTimeout;
    this.#halfOpenMaxCalls = halfOpenMaxCalls;
    this.#strategy = strategy;
    this.#hooks = hooks;
  }

  /** True during the warm-up period, when failures do not open the breaker. */
  get warmUp(): boolean {
    return this.#warmUp;
  }

  /** Starts (or restarts) the warm-up period of `ms` milliseconds. */
  startWarmUp(ms: number): void {
    this.#warmUp = true;
    this.#clock.clearTimeout(this.#warmUpTimer);
    this.#warmUpTimer = this.#clock.setTimeout(this.#endWarmUp, ms);
  }

  readonly #endWarmUp = (): void => {
    this.#warmUpTimer = undefined;
    this.#warmUp = false;
  };

  /** Whether a call may start now; a probe uses up a half-open slot. */
  admit(): Admission {
    const state = this.state;
    if (state === CLOSED) return ADMIT;
    if (this.probesLeft <= 0) return REFUSE;
    this.probesLeft--;
    return state === HALF_OPEN ? ADMIT_PROBE : ADMIT;
  }

  /** A probe admitted at `epoch` ended without an outcome: its slot is free again. */
  release(epoch: number): void {
    if (epoch === this.epoch && this.state === HALF_OPEN) this.probesLeft++;
  }

  /**
   * Shortens detection until clock time `until`: while closed, `failures` local failures in a row
   * open the breaker, whatever the strategy says. A hint never opens it by itself, and a local
   * success ends it.
   */
  hint(until: number, failures: number): void {
    if (this.state !== CLOSED || this.detached) return;
    this.#hintUntil = Math.max(this.#hintUntil, until);
    this.#hintFailures = failures;
  }

  /** A call succeeded. */
  succeeded(latencyMs: number): void {
    if (this.detached) return;
    this.#hintUntil = 0;
    const opens = this.#strategy.success(latencyMs);
    const state = this.state;
    if (state === HALF_OPEN) {
      if (++this.#probeSuccesses >= this.#halfOpenMaxCalls) this.close();
    } else if (opens && state === CLOSED && !this.#warmUp) {
      this.open();
    }
  }

  /** A call failed or timed out. */
  failed(latencyMs: number): void {
    // Not a listener in opossum: it still runs after shutdown, on the frozen statistics.
    let opens = this.#strategy.failure(latencyMs);
    if (this.#hintUntil !== 0 && this.state === CLOSED) {
      if (this.#clock.now() >= this.#hintUntil) this.#hintUntil = 0;
      else if (--this.#hintFailures <= 0) opens = true;
    }
    if (this.#warmUp) return;
    if (this.state === HALF_OPEN || (opens && this.state !== OPEN)) this.open();
  }

  /** Opens now (no-op when open); the breaker goes half-open after `resetTimeout`. */
  open(): void {
    const from = this.state;
    if (from === OPEN) return;
    this.state = OPEN;
    this.epoch++;
    this.probesLeft = 0;
    this.#hintUntil = 0;
    if (!this.detached) {
      this.#clock.clearTimeout(this.#resetTimer);
      this.#resetTimer = this.#clock.setTimeout(this.#toHalfOpen, Math.max(0, this.#resetTimeout));
    }
    this.#hooks.opened(from);
  }

  /** Closes now (no-op when closed). */
  close(): void {
    const from = this.state;
    if (from === CLOSED) return;
    this.#clock.clearTimeout(this.#resetTimer);
    this.#resetTimer = undefined;
    this.state = CLOSED;
    this.epoch++;
    this.probesLeft = 0;
    if (!this.detached) this.#strategy.reset();
    this.#hooks.closed(from);
  }

  readonly #toHalfOpen = (): void => {
    this.#resetTimer = undefined;
    this.halfOpen();
  };

  /** Lets probes through. */
  halfOpen(): void {
    const from = this.state;
    this.state = HALF_OPEN;
    this.epoch++;
    this.probesLeft = this.#halfOpenMaxCalls;
    this.#probeSuccesses = 0;
    this.#hooks.halfOpened(from);
  }

  /** Half-open without an event, as a restored breaker starts. */
  restoreHalfOpen(): void {
    this.state = HALF_OPEN;
    this.epoch++;
    this.probesLeft = this.#halfOpenMaxCalls;
    this.#probeSuccesses = 0;
  }

  /** Stops the timers and the bookkeeping; the state becomes `SHUTDOWN`. */
  shutdown(): void {
    this.#clock.clearTimeout(this.#resetTimer);
    this.#resetTimer = undefined;
    // opossum stops the warm-up timer without ending the warm-up.
    this.#clock.clearTimeout(this.#warmUpTimer);
    this.#warmUpTimer = undefined;
    this.detached = true;
    this.state = SHUTDOWN;
    this.epoch++;
  }
}
