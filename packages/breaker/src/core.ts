import { CallTimers } from './deadlines.js';
import { BreakerBase } from './breaker-base.js';
import { HOT_FAILURE, HOT_FIRE, HOT_LATENCY, HOT_SUCCESS } from './emitter.js';
import { OpenCircuitError, SemaphoreLockedError, TimeoutError } from './errors.js';
import type { ResolvedBreakerOptions } from './options.js';
import { Attempt, type BreakerPermit, type Outcome, RELEASE, SUCCESS } from './permit.js';
import { ADMIT_PROBE, HALF_OPEN, REFUSE, SHUTDOWN } from './state-machine.js';
import type { Status } from './status.js';

// Module-local constants, which the optimizing compiler folds (an imported binding is read each time).
const LATENCY_WANTED = HOT_SUCCESS | HOT_FAILURE | HOT_LATENCY;
const FIRE_LISTENED = HOT_FIRE;
const SUCCESS_LISTENED = HOT_SUCCESS;

/**
 * The hot path of a breaker: the statistics and the events of each outcome, and `tryAcquire()`
 * permits for callers that run calls themselves (the forwarder). `CircuitBreaker` adds opossum's
 * `fire()`, fallback, cache and coalescing on top.
 */
export class BreakerCore<TI extends unknown[] = unknown[]> extends BreakerBase<TI> {
  /** @internal Call timeouts; `undefined` when `timeout` is off. */ protected readonly _timers: CallTimers<Attempt> | undefined;
  #idle: AbortSignal | undefined = undefined;
  #noopPermit: BreakerPermit | undefined = undefined;

  constructor(name: string, options: ResolvedBreakerOptions<TI>, status: Status) {
    super(name, options, status);
    // The strategy reads latencies (a slow-call rule, or a custom one).
    if (options.strategy !== undefined || options.mode === 'slowCallRate') this._pinHot(HOT_LATENCY);
    if (options.allowWarmUp) this._machine.startWarmUp(options.rollingCountTimeout);
    this._timers = options.timeout !== 0 ? new CallTimers<Attempt>(options.clock, options.timeout, (attempt) => this._expire(attempt)) : undefined;
  }

  // ---------------------------------------------------------------- permits (the forwarder's path)

  /**
   * Asks to make one call that the caller runs itself, for code that decides success on its own
   * (a streaming proxy at response-header time). Returns `undefined` (and emits `reject`) when
   * the breaker is open or its half-open probes are in flight, and when `capacity` is reached
   * (emitting `semaphoreLocked` and counting a failure, as `fire` does). Settle the permit once.
   */
  tryAcquire(): BreakerPermit | undefined {
    const machine = this._machine;
    if (machine.state === SHUTDOWN) return undefined;
    const start = this._clock.now();
    this._countFire([], start);
    if (!this._enabled) return this.#noop();
    const admission = machine.admit();
    if (admission === REFUSE) {
      this._countReject(start);
      return undefined;
    }
    const probeEpoch = admission === ADMIT_PROBE ? machine.epoch : -1;
    if (this._inFlight >= this._options.capacity) {
      const error = this._lockedError(0, start);
      if (this._isFiltered(error, [])) this._recordSuccess(error, 0, this._status.shouldTime(), start);
      else this._recordFailure(error, 0, this._status.shouldTime(), [], start);
      return undefined;
    }
    this._inFlight++;
    const attempt = new Attempt(this, start, probeEpoch, this._status.shouldTime());
    this._timers?.add(attempt, start);
    return attempt;
  }

  /** @internal Settles a permit (from {@link Attempt}). */
  settlePermit(attempt: Attempt, outcome: Outcome, value: unknown): void {
    attempt.settled = true;
    this._timers?.remove(attempt);
    this._inFlight--;
    if (outcome === RELEASE) {
      if (attempt.probeEpoch >= 0) this._machine.release(attempt.probeEpoch);
      return;
    }
    const now = this._clock.now();
    const latency = now - attempt.start;
    if (outcome === SUCCESS) {
      this._recordSuccess(undefined, latency, attempt.sampled, now);
      return;
    }
    const error = value === undefined ? new Error('failure reported through a breaker permit') : value;
    if (this._isFiltered(error, [])) this._recordSuccess(error, latency, attempt.sampled, now);
    else this._recordFailure(error, latency, attempt.sampled, [], now);
  }

  /** @internal The signal of an attempt: aborted when its timeout elapses. */
  signalOf(attempt: Attempt): AbortSignal {
    if (this._options.timeout === 0) return this._idleSignal();
    if (attempt.controller === undefined) {
      attempt.controller = new AbortController();
      if (attempt.timedOut) attempt.controller.abort(this._timeoutError());
    }
    return attempt.controller.signal;
  }

  /** @internal A permit's timeout elapsed (the subclass settles its `fire()` calls). */
  protected _expire(attempt: Attempt): void {
    if (attempt.settled) return;
    attempt.settled = true;
    attempt.timedOut = true;
    const error = this._timeoutError();
    const now = this._clock.now();
    const latency = now - attempt.start;
    this._inFlight--;
    this._countTimeout(error, latency, attempt.sampled, attempt.args, now);
    try {
      if (this._isFiltered(error, attempt.args)) this._recordSuccess(error, latency, attempt.sampled, now);
      else this._recordFailure(error, latency, attempt.sampled, attempt.args, now);
    } finally {
      attempt.controller?.abort(error);
      this._abortController?.abort();
    }
  }

  // ---------------------------------------------------------------- outcomes (statistics, events, state)
  // Statistics first, then the state machine or the event, in the order opossum's listeners run.

  /** @internal */
  protected _countFire(args: unknown[], now: number): void {
    if (!this._machine.detached) this._status.at(now).fires++;
    if ((this._hot & FIRE_LISTENED) !== 0) this.emit('fire', args);
  }

  /** @internal */
  protected _countReject(now: number): OpenCircuitError {
    const machine = this._machine;
    if (!machine.detached) this._status.at(now).rejects++;
    const error = new OpenCircuitError(this._name, machine.state === HALF_OPEN ? 'halfOpen' : 'open');
    this.emit('reject', error);
    return error;
  }

  /** @internal */
  protected _countTimeout(error: Error, latency: number, sampled: boolean, args: unknown[], now: number): void {
    if (!this._machine.detached) {
      const status = this._status;
      status.at(now).timeouts++;
      if (sampled) status.recordLatency(latency);
    }
    this.emit('timeout', error, latency, args);
  }

  /** @internal */
  protected _recordSuccess(result: unknown, latency: number, sampled: boolean, now: number): void {
    const machine = this._machine;
    if (!machine.detached) {
      const status = this._status;
      status.at(now).successes++;
      if (sampled) status.recordLatency(latency);
    }
    machine.succeeded(latency);
    if ((this._hot & SUCCESS_LISTENED) !== 0) this.emit('success', result, latency);
  }

  /** @internal */
  protected _recordFailure(error: unknown, latency: number, sampled: boolean, args: unknown[], now: number): void {
    const machine = this._machine;
    if (!machine.detached) {
      const status = this._status;
      status.at(now).failures++;
      if (sampled) status.recordLatency(latency);
    }
    this.emit('failure', error, latency, args);
    machine.failed(latency);
  }

  /** @internal `capacity` reached: counted, and `semaphoreLocked` emitted; a failure follows. */
  protected _lockedError(latency: number, now: number): SemaphoreLockedError {
    if (!this._machine.detached) this._status.at(now).semaphoreRejections++;
    const error = new SemaphoreLockedError(this._name, this._options.capacity);
    this.emit('semaphoreLocked', error, latency);
    return error;
  }

  /** @internal opossum calls `errorFilter(error, ...args)`; a filter that throws cannot vouch for the error. */
  protected _isFiltered(error: unknown, args: unknown[]): boolean {
    const filter = this._options.errorFilter;
    if (filter === undefined) return false;
    try {
      return Boolean(filter(error, ...(args as TI)));
    } catch {
      return false;
    }
  }

  /** @internal */
  protected _timeoutError(): TimeoutError {
    return new TimeoutError(this._name, this._options.timeout);
  }

  /** @internal A signal that never aborts: what calls get when no timeout applies. */
  protected _idleSignal(): AbortSignal {
    this.#idle ??= new AbortController().signal;
    return this.#idle;
  }

  #noop(): BreakerPermit {
    const signal = this._idleSignal();
    this.#noopPermit ??= Object.freeze({ success() {}, failure() {}, release() {}, signal });
    return this.#noopPermit;
  }

  /** @internal Whether a call's latency is used beyond the statistics sample: by a listener or the strategy. */
  protected _latencyWanted(): boolean {
    return (this._hot & LATENCY_WANTED) !== 0;
  }
}
