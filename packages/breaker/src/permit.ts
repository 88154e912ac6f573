import type { TimedEntry } from './deadlines.js';

/**
 * Permission for one call, from `breaker.tryAcquire()`, for callers that run the call themselves
 * and decide its outcome (a streaming proxy calls `success()` once response headers look good).
 * Settle it exactly once; later calls are ignored, and so is anything after the breaker's
 * `timeout` has already counted it as a timeout.
 */
export interface BreakerPermit {
  /** The call worked: counts a success (and may close a half-open breaker). */
  success(): void;
  /** The call failed: counts a failure unless `errorFilter(error)` says otherwise. */
  failure(error?: unknown): void;
  /** Neither: the call was abandoned (the client went away). Frees the slot without counting. */
  release(): void;
  /** Aborts when the breaker's `timeout` elapses before the permit is settled. */
  readonly signal: AbortSignal;
}

/** How an {@link Attempt} ended: {@link SUCCESS}, {@link FAILURE} or {@link RELEASE}. */
export type Outcome = 0 | 1 | 2;
export const SUCCESS = 0;
export const FAILURE = 1;
export const RELEASE = 2;

/** Callbacks an {@link Attempt} reports to; implemented by the breaker that admitted it. */
export interface AttemptOwner {
  settlePermit(attempt: Attempt, outcome: Outcome, value: unknown): void;
  signalOf(attempt: Attempt): AbortSignal;
}

/**
 * One admitted call: a `fire()` (with the settle functions of its promise) or a permit. Holds what
 * its outcome needs: start time, probe epoch, timeout timer, per-call abort controller.
 */
export class Attempt implements BreakerPermit, TimedEntry {
  /** Settled, or counted as a timeout: later outcomes are ignored. */
  settled = false;
  /** Counted as a timeout. */
  timedOut = false;
  /** The timer slot timing this call. */
  batch: unknown = undefined;
  controller: AbortController | undefined = undefined;
  /** For `fire()`: the arguments, the cache key and the settle functions of the returned promise. */
  args: unknown[] = [];
  key = '';
  resolve: ((value: unknown) => void) | undefined = undefined;
  reject: ((error: unknown) => void) | undefined = undefined;

  constructor(
    readonly owner: AttemptOwner,
    /** Clock time the call started. */
    readonly start: number,
    /** The state epoch at admission when admitted as a half-open probe, else `-1`. */
    readonly probeEpoch: number,
    /** Part of the latency sample. */
    readonly sampled: boolean,
  ) {}

  success(): void {
    if (!this.settled) this.owner.settlePermit(this, SUCCESS, undefined);
  }

  failure(error?: unknown): void {
    if (!this.settled) this.owner.settlePermit(this, FAILURE, error);
  }

  release(): void {
    if (!this.settled) this.owner.settlePermit(this, RELEASE, undefined);
  }

  get signal(): AbortSignal {
    return this.owner.signalOf(this);
  }
}
