import { type Clock, type Disposable, TypedEmitter } from '@edgekit/core';
import { CallTimers } from './deadlines.js';
import { HotEmitter } from './emitter.js';
import { OpenCircuitError, SemaphoreLockedError, TimeoutError } from './errors.js';
import type { ResolvedBreakerOptions } from './options.js';
import { Attempt, type BreakerPermit, type Outcome, RELEASE, SUCCESS } from './permit.js';
import { ADMIT_PROBE, BreakerStateMachine, CLOSED, HALF_OPEN, OPEN, REFUSE, SHUTDOWN, STATE_NAMES, type StateCode } from './state-machine.js';
import type { BreakerSnapshot, BreakerState, BreakerStateChange } from './snapshot.js';
import type { Stats, Status } from './status.js';
import { strategyOf } from './strategies.js';

/**
 * The hot path of a breaker: the state machine, the statistics and the events of each outcome, and
 * `tryAcquire()` permits for callers that run calls themselves (the forwarder). `CircuitBreaker`
 * adds opossum's `fire()`, fallback, cache and coalescing on top.
 */
export class BreakerCore<TI extends unknown[] = unknown[]> extends HotEmitter {
  /** @internal */ protected readonly _options: ResolvedBreakerOptions<TI>;
  /** @internal */ protected readonly _clock: Clock;
  /** @internal */ protected readonly _name: string;
  /** @internal */ protected readonly _status: Status;
  /** @internal */ protected readonly _machine: BreakerStateMachine;
  /** @internal */ protected _enabled: boolean;
  /** @internal */ protected _inFlight = 0;
  /** @internal */ protected _abortController: AbortController | undefined;
  /** @internal The strategy reads latencies (a slow-call rule, or a custom one). */ protected readonly _latencyStrategy: boolean;
  /** @internal Call timeouts; `undefined` when `timeout` is off. */ protected readonly _timers: CallTimers<Attempt> | undefined;
  readonly #group: string;
  #openedAt: number | undefined = undefined;
  #idle: AbortSignal | undefined = undefined;
  #noopPermit: BreakerPermit | undefined = undefined;
  #transitions: TypedEmitter<{ change: [BreakerStateChange] }> | undefined = undefined;

  constructor(name: string, options: ResolvedBreakerOptions<TI>, status: Status) {
    super();
    this._options = options;
    this._clock = options.clock;
    this._name = name;
    this.#group = options.group ?? name;
    this._status = status;
    this._enabled = options.enabled;
    this._abortController = options.abortController ?? (options.autoRenewAbortController ? new AbortController() : undefined);
    this._machine = new BreakerStateMachine(options.clock, options.resetTimeout, options.halfOpenMaxCalls, strategyOf(options)(status), {
      opened: (from) => this.#opened(from),
      closed: (from) => this.#closed(from),
      halfOpened: (from) => this.#halfOpened(from),
    });
    this._latencyStrategy = options.strategy !== undefined || options.mode === 'slowCallRate';
    if (options.allowWarmUp) this._machine.startWarmUp(options.rollingCountTimeout);
    this._timers = options.timeout > 0 ? new CallTimers<Attempt>(options.clock, options.timeout, (attempt) => this._expire(attempt)) : undefined;
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
    if (this._options.timeout <= 0) return this._idleSignal();
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
    if (this._listening('fire')) this.emit('fire', args);
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
    if (this._listening('success')) this.emit('success', result, latency);
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
    return this._latencyStrategy || this._listening('success') || this._listening('failure');
  }

  // ---------------------------------------------------------------- transitions

  #opened(from: StateCode): void {
    this.#openedAt = this._clock.now();
    if (!this._machine.detached) this._status.markOpen(true);
    this.#notify(from, OPEN);
    this.emit('open');
  }

  #closed(from: StateCode): void {
    this.#renewAbortController();
    if (!this._machine.detached) this._status.markOpen(false);
    this.#notify(from, CLOSED);
    this.emit('close');
  }

  #halfOpened(from: StateCode): void {
    this.#renewAbortController();
    this.#notify(from, HALF_OPEN);
    this.emit('halfOpen', this._options.resetTimeout);
  }

  #notify(from: StateCode, to: StateCode): void {
    if (from === SHUTDOWN || to === SHUTDOWN || from === to) return;
    this.#transitions?.emit('change', { from: STATE_NAMES[from], to: STATE_NAMES[to] });
  }

  #renewAbortController(): void {
    if (this._options.autoRenewAbortController && this._abortController?.signal.aborted === true) {
      this._abortController = new AbortController();
    }
  }

  // ---------------------------------------------------------------- state (opossum's methods and getters)

  /** Opens the breaker now; it goes half-open after `resetTimeout`. No-op when already open. */
  open(): void {
    this._machine.open();
  }

  /** Closes the breaker now, letting every call through. No-op when already closed. */
  close(): void {
    this._machine.close();
  }

  /**
   * Takes a hint that this breaker's target is failing elsewhere (another node opened its own
   * breaker for it): for `ttlMs`, `failures` local failures in a row open it. Only local failures
   * ever open it; a local success ends the hint. See `shareBreakerHints`.
   */
  hint(ttlMs: number, failures = 1): void {
    this._machine.hint(this._clock.now() + ttlMs, failures);
  }

  /** Stops protecting: calls go straight to the action (no timeout, stats only count fires). */
  disable(): void {
    this._enabled = false;
    this._status.detachController();
  }

  /** Protects calls again after {@link BreakerCore.disable}. */
  enable(): void {
    this._enabled = true;
    this._status.attachController();
  }

  /**
   * Stops the breaker: emits `shutdown`, removes every listener, clears its timers; later calls
   * reject with `ESHUTDOWN`. Calls in flight still settle (and time out), uncounted, as in opossum.
   */
  shutdown(): void {
    this.emit('shutdown');
    this.disable();
    this.removeAllListeners();
    this._machine.shutdown();
    this._status.shutdown();
    this.#transitions?.removeAllListeners();
  }

  /** Same as {@link BreakerCore.shutdown}, for `await using`. */
  async [Symbol.asyncDispose](): Promise<void> {
    this.shutdown();
  }

  /** Calls `listener` after every change between closed, open and half-open; returns a handle that unsubscribes. */
  onStateChange(listener: (change: BreakerStateChange) => void): Disposable {
    this.#transitions ??= new TypedEmitter();
    return this.#transitions.on('change', listener);
  }

  get name(): string {
    return this._name;
  }

  get group(): string {
    return this.#group;
  }

  /** `'closed'`, `'open'`, `'halfOpen'` or `'shutdown'`. */
  get state(): BreakerState | 'shutdown' {
    return STATE_NAMES[this._machine.state];
  }

  get closed(): boolean {
    return this._machine.state === CLOSED;
  }

  get opened(): boolean {
    return this._machine.state === OPEN;
  }

  get halfOpen(): boolean {
    return this._machine.state === HALF_OPEN;
  }

  /** Half-open with a probe slot still free: the next call goes through. */
  get pendingClose(): boolean {
    return this._machine.probesLeft > 0;
  }

  get isShutdown(): boolean {
    return this._machine.state === SHUTDOWN;
  }

  get enabled(): boolean {
    return this._enabled;
  }

  /** True during the `allowWarmUp` period, when failures do not open the breaker. */
  get warmUp(): boolean {
    return this._machine.warmUp;
  }

  get volumeThreshold(): number {
    return this._options.volumeThreshold;
  }

  /** The rolling window; listen to its `snapshot` event for periodic stats. */
  get status(): Status {
    return this._status;
  }

  /** Totals over the rolling window (opossum's shape). */
  get stats(): Stats {
    return this._status.stats;
  }

  /** opossum's shared `abortController` signal, if one is configured. */
  getSignal(): AbortSignal | undefined {
    return this._abortController?.signal;
  }

  /** opossum's shared `abortController`, if one is configured (renewed by `autoRenewAbortController`). */
  getAbortController(): AbortController | undefined {
    return this._abortController;
  }

  /** A compact view for dashboards and the registry (no latency sorting). */
  snapshot(): BreakerSnapshot {
    const status = this._status;
    const fires = status.sum('fires');
    const failures = status.sum('failures');
    const state = this._machine.state;
    return {
      name: this._name,
      state: STATE_NAMES[state],
      enabled: this._enabled,
      stats: {
        fires,
        successes: status.sum('successes'),
        failures,
        rejects: status.sum('rejects'),
        timeouts: status.sum('timeouts'),
        fallbacks: status.sum('fallbacks'),
        semaphoreRejections: status.sum('semaphoreRejections'),
        errorRate: fires > 0 ? (failures / fires) * 100 : 0,
      },
      inFlight: this._inFlight,
      openedAt: this.#openedAt,
      nextAttemptAt: state === OPEN && this.#openedAt !== undefined ? this.#openedAt + this._options.resetTimeout : undefined,
    };
  }
}

