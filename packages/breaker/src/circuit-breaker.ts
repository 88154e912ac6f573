import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { type Clock, type ClockTimer, type Disposable, TypedEmitter, checkNumber, describeValue } from '@edgekit/core';
import { type CacheTransport, MemoryCache } from './cache.js';
import { DeadlineQueue } from './deadlines.js';
import { OpenCircuitError, SemaphoreLockedError, ShutdownError, TimeoutError, isOurError } from './errors.js';
import {
  type BreakerJSON,
  type BreakerStateJSON,
  type CircuitBreakerOptions,
  type CoalesceResetEvent,
  DEFAULTS,
  type ResolvedBreakerOptions,
  resolveBreakerOptions,
} from './options.js';
import { Attempt, type AttemptOwner, type BreakerPermit, FAILURE, type Outcome, RELEASE, SUCCESS } from './permit.js';
import { type Bucket, type Stats, Status, type StatusOptions } from './status.js';

/** The three states of a breaker, as the registry and `onStateChange` report them. */
export type BreakerState = 'closed' | 'open' | 'halfOpen';

/** A state change reported by {@link CircuitBreaker.onStateChange}. */
export interface BreakerStateChange {
  from: BreakerState;
  to: BreakerState;
}

/** The function a breaker protects: any arguments, a value or a promise of one. */
export type BreakerAction<TI extends unknown[] = unknown[], TR = unknown> = (...args: TI) => TR | PromiseLike<TR>;

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
  /** Failures in a row (consecutive mode; in percentage mode it is tracked too). */
  consecutiveFailures: number;
  /** When the breaker last opened; `undefined` if it never did. */
  openedAt: number | undefined;
  /** While open: when it goes half-open. */
  nextAttemptAt: number | undefined;
}

/** Arguments of each event a breaker emits, as opossum emits them. */
export interface BreakerEvents<TI extends unknown[] = unknown[], TR = unknown> {
  /** A call was made (before any check): the arguments. Counted in `stats.fires`. */
  fire: [args: TI];
  /** The action resolved, or failed with an error `errorFilter` accepts (then the error is the result). */
  success: [result: TR, latencyMs: number];
  /** The action failed, timed out or was refused by the semaphore. */
  failure: [error: Error, latencyMs: number, args: TI];
  /** The action did not settle within `timeout` (a `failure` follows). */
  timeout: [error: Error, latencyMs: number, args: TI];
  /** A call was refused because the breaker is open or its half-open probes are in flight. */
  reject: [error: Error];
  /** The breaker opened. */
  open: [];
  /** The breaker closed. */
  close: [];
  /** `resetTimeout` elapsed: probe calls may go through. */
  halfOpen: [resetTimeout: number];
  /** The fallback ran: its return value (maybe a promise) and the error that caused it. */
  fallback: [result: unknown, error: Error];
  /** `capacity` calls were in flight (a `failure` follows). */
  semaphoreLocked: [error: Error, latencyMs: number];
  /** A `healthCheck` function failed; the breaker opens. */
  healthCheckFailed: [error: Error];
  /** `shutdown()` was called. */
  shutdown: [];
  cacheHit: [];
  cacheMiss: [];
  coalesceCacheHit: [];
  coalesceCacheMiss: [];
}

type AnyListener = (...args: any[]) => void;
type Fn = (...args: any[]) => any;

const SCOPE = '@edgekit/breaker';

// State codes; `#epoch` counts transitions so a late result can tell it belongs to an older state.
const CLOSED = 0;
const OPEN = 1;
const HALF_OPEN = 2;
const SHUTDOWN = 3;
type StateCode = typeof CLOSED | typeof OPEN | typeof HALF_OPEN | typeof SHUTDOWN;
const STATE_NAMES = ['closed', 'open', 'halfOpen', 'shutdown'] as const;

// Bits of `#listening`: which hot-path events have listeners, so payloads are only built when used.
const ON_FIRE = 1;
const ON_SUCCESS = 2;
const ON_FAILURE = 4;
const ON_TIMEOUT = 8;
const ON_REJECT = 16;
const ON_SEMAPHORE = 32;
const WANTS_LATENCY = ON_SUCCESS | ON_FAILURE | ON_TIMEOUT;

const CONSECUTIVE = 1;

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (
    value !== null && (typeof value === 'object' || typeof value === 'function') && typeof (value as PromiseLike<unknown>).then === 'function'
  );
}

interface HealthCheckHandle {
  timer: ClockTimer | undefined;
}

/**
 * A circuit breaker with opossum's API: wrap an action, call `fire(...args)`, listen to events.
 * After too many failures it opens and fails fast with `EOPENBREAKER`; after `resetTimeout` it lets
 * probe calls through (half-open) and closes again when they succeed.
 *
 * Beyond opossum: `mode: 'consecutive'`, `halfOpenMaxCalls`, an injectable `clock`, a per-call
 * `AbortSignal` (`appendSignal`), `tryAcquire()` permits and `onStateChange()`.
 *
 * @example
 * const breaker = new CircuitBreaker((id: string) => fetchUser(id), { timeout: 3000 });
 * breaker.fallback(() => null);
 * const user = await breaker.fire('42');
 */
export class CircuitBreaker<TI extends unknown[] = unknown[], TR = unknown> extends EventEmitter {
  /** True when `error` was raised by a breaker (open, timeout, semaphore, shutdown), not by the action. */
  static isOurError(error: unknown): boolean {
    return isOurError(error);
  }

  /** Creates a {@link Status} (rolling window), for example to start a breaker from saved counters. */
  static newStatus(options?: StatusOptions): Status {
    return new Status(options);
  }

  readonly #options: ResolvedBreakerOptions<TI>;
  readonly #action: Fn;
  readonly #clock: Clock;
  readonly #name: string;
  readonly #group: string;
  readonly #status: Status;
  readonly #owner: AttemptOwner;
  readonly #deadlines: DeadlineQueue<Attempt> | undefined;
  readonly #cache: CacheTransport | undefined;
  readonly #coalesce: MemoryCache | undefined;
  readonly #timeout: number;
  readonly #resetTimeout: number;
  readonly #capacity: number;
  readonly #threshold: number;
  readonly #volumeThreshold: number;
  readonly #mode: number;
  readonly #failureThreshold: number;
  readonly #halfOpenMaxCalls: number;
  readonly #appendSignal: boolean;
  readonly #errorFilter: ((error: any, ...args: any[]) => boolean) | undefined;

  #state: StateCode = CLOSED;
  #epoch = 0;
  #enabled: boolean;
  #inFlight = 0;
  #probesAdmitted = 0;
  #probeSuccesses = 0;
  #consecutiveFailures = 0;
  #openedAt: number | undefined = undefined;
  #resetTimer: ClockTimer | undefined = undefined;
  #warmingUp = false;
  #warmUpUntil = 0;
  #abortController: AbortController | undefined;
  #fallback: Fn | undefined = undefined;
  #listening = 0;
  #listenersDirty = true;
  #coalesceSkip = false;
  #idle: AbortSignal | undefined = undefined;
  #noopPermit: BreakerPermit | undefined = undefined;
  #transitions: TypedEmitter<{ change: [BreakerStateChange] }> | undefined = undefined;
  readonly #healthChecks = new Set<HealthCheckHandle>();
  #captured: ((value: unknown) => void) | undefined = undefined;
  readonly #captureResolve = (resolve: (value: TR) => void): void => {
    this.#captured = resolve as (value: unknown) => void;
  };

  /**
   * @param action the function to protect (opossum also accepts a plain value, returned by every call)
   * @param options see {@link CircuitBreakerOptions}; invalid values throw a `TypeError`/`RangeError` naming the option
   */
  constructor(action: (...args: [...TI, AbortSignal]) => TR | PromiseLike<TR>, options: CircuitBreakerOptions<TI> & { appendSignal: true });
  constructor(action: BreakerAction<TI, TR>, options?: CircuitBreakerOptions<TI>);
  constructor(action: unknown, options?: CircuitBreakerOptions<TI>) {
    super();
    if (!action) {
      throw new TypeError(`${SCOPE}: "action" is required: the function the breaker protects (got ${describeValue(action)})`);
    }
    const o = resolveBreakerOptions<TI>(options);
    this.#options = o;
    this.#action = typeof action === 'function' ? (action as Fn) : () => Promise.resolve(action);
    this.#clock = o.clock;
    this.#name = o.name ?? ((typeof action === 'function' && action.name) || randomUUID());
    this.#group = o.group ?? this.#name;
    this.#timeout = o.timeout;
    this.#resetTimeout = o.resetTimeout;
    this.#capacity = o.capacity;
    this.#threshold = o.errorThresholdPercentage;
    this.#volumeThreshold = o.volumeThreshold;
    this.#mode = o.mode === 'consecutive' ? CONSECUTIVE : 0;
    this.#failureThreshold = o.failureThreshold;
    this.#halfOpenMaxCalls = o.halfOpenMaxCalls;
    this.#appendSignal = o.appendSignal;
    this.#errorFilter = o.errorFilter;
    this.#enabled = o.enabled;
    this.#abortController = o.abortController ?? (o.autoRenewAbortController ? new AbortController() : undefined);
    this.#cache = o.cache ? (o.cacheTransport ?? new MemoryCache(o.cacheSize, this.#clock)) : undefined;
    this.#coalesce = o.coalesce ? new MemoryCache(o.coalesceSize, this.#clock) : undefined;
    this.#status = this.#createStatus(options, o);
    this.#owner = {
      settle: (attempt, outcome, value) => this.#settleAttempt(attempt, outcome, value),
      signalOf: (attempt) => this.#signalOf(attempt),
    };
    this.#deadlines =
      o.timeout > 0 ? new DeadlineQueue<Attempt>(this.#clock, o.timeout, o.timeoutResolution, (attempt) => this.#expire(attempt)) : undefined;
    if (o.allowWarmUp) this.#startWarmUp();
    const saved = options?.state ?? options?.initialState?.state;
    if (saved !== undefined) this.#restore(saved);
  }

  // ---------------------------------------------------------------- calls

  /** Calls the action with `args` under the breaker's protection; resolves with its result or the fallback's. */
  fire(...args: TI): Promise<TR> {
    try {
      return this.#invoke(this.#action, this.#action, args);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /** Like {@link CircuitBreaker.fire}, with `context` as the action's `this`. */
  call(context: any, ...args: TI): Promise<TR> {
    try {
      return this.#invoke(this.#action, context, args);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /**
   * Asks to make one call that the caller runs itself, for code that decides success on its own
   * (a streaming proxy at response-header time). Returns `undefined` (and emits `reject`) when
   * the breaker is open or its half-open probes are in flight, and when `capacity` is reached
   * (emitting `semaphoreLocked` and counting a failure, as `fire` does). Settle the permit once.
   */
  tryAcquire(): BreakerPermit | undefined {
    if (this.#state === SHUTDOWN) return undefined;
    const status = this.#status;
    if (status.sleeping) status.wake();
    status.bucket.fires++;
    const listening = this.#listenersDirty ? this.#refreshListening() : this.#listening;
    if ((listening & ON_FIRE) !== 0) this.emit('fire', []);
    if (!this.#enabled) return this.#noop();
    let probe = false;
    if (this.#state !== CLOSED) {
      if (this.#state !== HALF_OPEN || this.#probesAdmitted >= this.#halfOpenMaxCalls) {
        status.bucket.rejects++;
        if ((listening & ON_REJECT) !== 0) this.emit('reject', this.#openError());
        return undefined;
      }
      this.#probesAdmitted++;
      probe = true;
    }
    if (this.#inFlight >= this.#capacity) {
      // As for fire(): counted as a failure of the call (unless filtered), but there is no fallback to run.
      const error = this.#lockedError();
      const sampled = status.shouldTime();
      if (this.#isFiltered(error, [])) this.#recordSuccess(error, 0, sampled, probe, this.#epoch);
      else this.#recordFailure(error, 0, sampled, probe, this.#epoch, []);
      return undefined;
    }
    this.#inFlight++;
    const attempt = new Attempt(this.#owner, this.#clock.now(), probe, this.#epoch, status.shouldTime());
    this.#deadlines?.add(attempt);
    return attempt;
  }

  /** Sets what to return instead of failing: a function `(...args, error)` or another breaker fired with the same arguments. */
  fallback(func: ((...args: any[]) => any) | CircuitBreaker<any, any>): this {
    if (func instanceof CircuitBreaker) {
      const other = func;
      this.#fallback = (...args: unknown[]) => other.fire(...args);
    } else if (typeof func === 'function') {
      this.#fallback = func;
    } else {
      throw new TypeError(`${SCOPE}: fallback must be a function or a CircuitBreaker (got ${describeValue(func)})`);
    }
    return this;
  }

  /** Empties the result cache and the coalescing cache. */
  clearCache(): void {
    this.#cache?.flush();
    this.#coalesce?.flush();
  }

  // ---------------------------------------------------------------- state

  /** Opens the breaker now; it goes half-open after `resetTimeout`. No-op when already open. */
  open(): void {
    const from = this.#state;
    if (from === OPEN || from === SHUTDOWN) return;
    this.#state = OPEN;
    this.#epoch++;
    const now = this.#clock.now();
    this.#openedAt = now;
    this.#scheduleHalfOpen(this.#resetTimeout);
    this.#status.markOpen(true);
    this.#notify(from, OPEN);
    this.emit('open');
  }

  /** Closes the breaker now, letting every call through. No-op when already closed. */
  close(): void {
    const from = this.#state;
    if (from === CLOSED || from === SHUTDOWN) return;
    this.#clock.clearTimeout(this.#resetTimer);
    this.#resetTimer = undefined;
    this.#state = CLOSED;
    this.#epoch++;
    this.#consecutiveFailures = 0;
    this.#renewAbortController();
    this.#status.markOpen(false);
    this.#notify(from, CLOSED);
    this.emit('close');
  }

  /** Stops protecting: calls go straight to the action (no timeout, stats only count fires). */
  disable(): void {
    this.#enabled = false;
    this.#status.detachController();
  }

  /** Protects calls again after {@link CircuitBreaker.disable}. */
  enable(): void {
    if (this.#state === SHUTDOWN) return;
    this.#enabled = true;
    this.#status.attachController();
  }

  /**
   * Stops the breaker for good: emits `shutdown`, removes every listener, clears its timers and
   * caches; later calls reject with `ESHUTDOWN`. Calls in flight still settle (and time out).
   */
  shutdown(): void {
    if (this.#state === SHUTDOWN) return;
    this.emit('shutdown');
    this.disable();
    this.removeAllListeners();
    this.#clock.clearTimeout(this.#resetTimer);
    this.#resetTimer = undefined;
    for (const check of this.#healthChecks) this.#clock.clearTimeout(check.timer);
    this.#healthChecks.clear();
    this.#status.shutdown();
    // Calls in flight keep their timeouts; with none, the deadline timer goes too.
    if (this.#deadlines?.empty === true) this.#deadlines.clear();
    this.#state = SHUTDOWN;
    this.#epoch++;
    this.#warmingUp = false;
    this.#transitions?.removeAllListeners();
    this.clearCache();
  }

  /** Same as {@link CircuitBreaker.shutdown}, for `await using`. */
  async [Symbol.asyncDispose](): Promise<void> {
    this.shutdown();
  }

  /**
   * Runs `func` now and every `interval` ms (default 5000); when it throws or rejects the breaker
   * emits `healthCheckFailed` and opens. `this` inside `func` is the breaker.
   */
  healthCheck(func: (this: this) => unknown, interval?: number): void {
    if (typeof func !== 'function') {
      throw new TypeError(`${SCOPE}: healthCheck() needs a function (got ${describeValue(func)})`);
    }
    const ms = interval === undefined || interval === 0 ? DEFAULTS.healthCheckInterval : checkNumber(SCOPE, 'healthCheck interval', interval, { min: 1 });
    if (this.#state === SHUTDOWN) return;
    const fail = (error: unknown): void => {
      if (this.#state === SHUTDOWN) return;
      this.emit('healthCheckFailed', error);
      this.open();
    };
    const check = (): void => {
      let result: unknown;
      try {
        result = func.call(this);
      } catch (error) {
        fail(error);
        return;
      }
      Promise.resolve(result).then(undefined, fail);
    };
    const handle: HealthCheckHandle = { timer: undefined };
    const tick = (): void => {
      handle.timer = this.#clock.setTimeout(tick, ms);
      check();
    };
    this.#healthChecks.add(handle);
    handle.timer = this.#clock.setTimeout(tick, ms);
    check();
  }

  /** Calls `listener` after every change between closed, open and half-open; returns a handle that unsubscribes. */
  onStateChange(listener: (change: BreakerStateChange) => void): Disposable {
    this.#transitions ??= new TypedEmitter();
    return this.#transitions.on('change', listener);
  }

  // ---------------------------------------------------------------- getters (opossum)

  /** Same as the static {@link CircuitBreaker.isOurError}. */
  isOurError(error: unknown): boolean {
    return isOurError(error);
  }

  /** The protected action. */
  get action(): { action(...args: TI): TR | PromiseLike<TR> }['action'] {
    return this.#action;
  }

  /** Validated options with defaults (read-only; changing a breaker's options means a new breaker). */
  get options(): ResolvedBreakerOptions<TI> {
    return this.#options;
  }

  get name(): string {
    return this.#name;
  }

  get group(): string {
    return this.#group;
  }

  /** `'closed'`, `'open'`, `'halfOpen'` or `'shutdown'`. */
  get state(): BreakerState | 'shutdown' {
    return STATE_NAMES[this.#state];
  }

  get closed(): boolean {
    return this.#state === CLOSED;
  }

  get opened(): boolean {
    return this.#state === OPEN;
  }

  get halfOpen(): boolean {
    return this.#state === HALF_OPEN;
  }

  /** Half-open with a probe slot still free: the next call goes through. */
  get pendingClose(): boolean {
    return this.#state === HALF_OPEN && this.#probesAdmitted < this.#halfOpenMaxCalls;
  }

  get isShutdown(): boolean {
    return this.#state === SHUTDOWN;
  }

  get enabled(): boolean {
    return this.#enabled;
  }

  /** True during the `allowWarmUp` period, when failures do not open the breaker. */
  get warmUp(): boolean {
    if (!this.#warmingUp) return false;
    if (this.#clock.now() < this.#warmUpUntil) return true;
    this.#warmingUp = false;
    return false;
  }

  get volumeThreshold(): number {
    return this.#volumeThreshold;
  }

  /** The rolling window; listen to its `snapshot` event for periodic stats. */
  get status(): Status {
    return this.#status;
  }

  /** Totals over the rolling window (opossum's shape). */
  get stats(): Stats {
    return this.#status.stats;
  }

  /** opossum's shared `abortController` signal, if one is configured. */
  getSignal(): AbortSignal | undefined {
    return this.#abortController?.signal;
  }

  /** opossum's shared `abortController`, if one is configured (renewed by `autoRenewAbortController`). */
  getAbortController(): AbortController | undefined {
    return this.#abortController;
  }

  /** State and stats, accepted back by the `initialState` option (or `state` and `status`). */
  toJSON(): BreakerJSON {
    const state: BreakerStateJSON = {
      name: this.#name,
      enabled: this.#enabled,
      closed: this.closed,
      open: this.opened,
      halfOpen: this.halfOpen,
      warmUp: this.warmUp,
      shutdown: this.isShutdown,
      lastTimerAt: this.#openedAt,
    };
    if (this.#mode === CONSECUTIVE) state.consecutiveFailures = this.#consecutiveFailures;
    return { state, status: this.stats };
  }

  /** A compact view for dashboards and the registry (no latency sorting). */
  snapshot(): BreakerSnapshot {
    const status = this.#status;
    const fires = status.sum('fires');
    const failures = status.sum('failures');
    return {
      name: this.#name,
      state: this.state,
      enabled: this.#enabled,
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
      inFlight: this.#inFlight,
      consecutiveFailures: this.#consecutiveFailures,
      openedAt: this.#openedAt,
      nextAttemptAt: this.#state === OPEN && this.#openedAt !== undefined ? this.#openedAt + this.#resetTimeout : undefined,
    };
  }

  // ---------------------------------------------------------------- listener bookkeeping
  // Adding or removing a listener marks the hot-path flags stale; they are recomputed on the next call.

  override on(event: string | symbol, listener: AnyListener): this {
    super.on(event, listener);
    this.#listenersDirty = true;
    return this;
  }

  override addListener(event: string | symbol, listener: AnyListener): this {
    super.addListener(event, listener);
    this.#listenersDirty = true;
    return this;
  }

  override prependListener(event: string | symbol, listener: AnyListener): this {
    super.prependListener(event, listener);
    this.#listenersDirty = true;
    return this;
  }

  override removeListener(event: string | symbol, listener: AnyListener): this {
    super.removeListener(event, listener);
    this.#listenersDirty = true;
    return this;
  }

  override off(event: string | symbol, listener: AnyListener): this {
    super.off(event, listener);
    this.#listenersDirty = true;
    return this;
  }

  override removeAllListeners(event?: string | symbol): this {
    if (event === undefined) super.removeAllListeners();
    else super.removeAllListeners(event);
    this.#listenersDirty = true;
    return this;
  }

  #refreshListening(): number {
    let flags = 0;
    if (this.listenerCount('fire') > 0) flags |= ON_FIRE;
    if (this.listenerCount('success') > 0) flags |= ON_SUCCESS;
    if (this.listenerCount('failure') > 0) flags |= ON_FAILURE;
    if (this.listenerCount('timeout') > 0) flags |= ON_TIMEOUT;
    if (this.listenerCount('reject') > 0) flags |= ON_REJECT;
    if (this.listenerCount('semaphoreLocked') > 0) flags |= ON_SEMAPHORE;
    this.#listening = flags;
    this.#listenersDirty = false;
    return flags;
  }

  #listeners(): number {
    return this.#listenersDirty ? this.#refreshListening() : this.#listening;
  }

  // ---------------------------------------------------------------- hot path

  #invoke(fn: Fn, thisArg: unknown, args: unknown[]): Promise<TR> {
    if (this.#state === SHUTDOWN) return Promise.reject(new ShutdownError(this.#name));
    const status = this.#status;
    if (status.sleeping) status.wake();
    status.bucket.fires++;
    const listening = this.#listenersDirty ? this.#refreshListening() : this.#listening;
    if ((listening & ON_FIRE) !== 0) this.emit('fire', args);
    if (!this.#enabled) return this.#invokeUnprotected(fn, thisArg, args);
    if (this.#cache !== undefined || this.#coalesce !== undefined) return this.#invokeCached(fn, thisArg, args);
    return this.#invokeGuarded(fn, thisArg, args, undefined);
  }

  #invokeGuarded(fn: Fn, thisArg: unknown, args: unknown[], key: string | undefined): Promise<TR> {
    let probe = false;
    if (this.#state !== CLOSED) {
      if (this.#state !== HALF_OPEN || this.#probesAdmitted >= this.#halfOpenMaxCalls) return this.#rejectOpen(args);
      this.#probesAdmitted++;
      probe = true;
    }
    if (this.#inFlight >= this.#capacity) return this.#rejectLocked(args, probe, key) as Promise<TR>;
    this.#inFlight++;
    if (this.#deadlines !== undefined) return this.#invokeTracked(fn, thisArg, args, key, probe);
    // The clock is read only when the latency is used: by the stats sample or by a listener.
    const sampled = this.#status.shouldTime();
    const start = sampled || (this.#listening & WANTS_LATENCY) !== 0 ? this.#clock.now() : Number.NaN;
    const epoch = this.#epoch;
    let result: unknown;
    try {
      result = fn.apply(thisArg, this.#appendSignal ? [...args, this.#idleSignal()] : args);
    } catch (error) {
      return this.#afterError(error, start, sampled, probe, epoch, args, key) as Promise<TR>;
    }
    const pending = isThenable(result) ? result : Promise.resolve(result);
    // The common case (closed, untimed, uncached) shares one success handler per breaker.
    if (start !== start && !probe && key === undefined) {
      return pending.then(this.#onPlainSuccess, (error: unknown) => this.#afterError(error, start, sampled, probe, epoch, args, key) as Promise<TR>) as Promise<TR>;
    }
    // Two closures and one derived promise: measured cheaper than an async function here.
    return pending.then(
      (value) => {
        this.#inFlight--;
        this.#recordSuccess(value, start === start ? this.#clock.now() - start : 0, sampled, probe, epoch);
        if (key !== undefined) this.#cacheSuccess(key, value);
        return value as TR;
      },
      (error: unknown) => this.#afterError(error, start, sampled, probe, epoch, args, key) as Promise<TR>,
    ) as Promise<TR>;
  }

  readonly #onPlainSuccess = (value: unknown): unknown => {
    this.#inFlight--;
    this.#recordSuccess(value, 0, false, false, 0);
    return value;
  };

  /** Bookkeeping after the action threw or rejected; `start` is NaN when the call was not timed. */
  #afterError(
    error: unknown,
    start: number,
    sampled: boolean,
    probe: boolean,
    epoch: number,
    args: unknown[],
    key: string | undefined,
  ): Promise<unknown> {
    this.#inFlight--;
    return this.#handleError(error, start === start ? this.#clock.now() - start : 0, sampled, probe, epoch, args, key, 'error');
  }

  // ---------------------------------------------------------------- outcomes

  #recordSuccess(result: unknown, latency: number, sampled: boolean, probe: boolean, epoch: number): void {
    const status = this.#status;
    if (status.sleeping) status.wake();
    status.bucket.successes++;
    if (sampled) status.recordLatency(latency);
    this.#consecutiveFailures = 0;
    if (probe && epoch === this.#epoch && this.#state === HALF_OPEN && ++this.#probeSuccesses >= this.#halfOpenMaxCalls) this.close();
    if (((this.#listenersDirty ? this.#refreshListening() : this.#listening) & ON_SUCCESS) !== 0) this.emit('success', result, latency);
  }

  #recordFailure(error: unknown, latency: number, sampled: boolean, probe: boolean, epoch: number, args: unknown[]): void {
    const status = this.#status;
    if (status.sleeping) status.wake();
    status.bucket.failures++;
    if (sampled) status.recordLatency(latency);
    this.#consecutiveFailures++;
    if ((this.#listeners() & ON_FAILURE) !== 0) this.emit('failure', error, latency, args);
    const state = this.#state;
    if (state === HALF_OPEN) {
      // Only a probe admitted in this half-open period decides; a call from before is just counted.
      if (probe && epoch === this.#epoch) this.open();
      return;
    }
    if (state !== CLOSED) return;
    if (this.#mode === CONSECUTIVE) {
      if (this.#consecutiveFailures >= this.#failureThreshold && !this.warmUp) this.open();
      return;
    }
    if (this.warmUp) return;
    const fires = status.sum('fires');
    if (fires < this.#volumeThreshold) return;
    if ((status.sum('failures') / fires) * 100 > this.#threshold) this.open();
  }

  /** opossum's handleError: filtered errors count as successes; others as failures, then the fallback. */
  #handleError(
    error: unknown,
    latency: number,
    sampled: boolean,
    probe: boolean,
    epoch: number,
    args: unknown[],
    key: string | undefined,
    kind: CoalesceResetEvent | undefined,
  ): Promise<unknown> {
    if (this.#isFiltered(error, args)) {
      this.#recordSuccess(error, latency, sampled, probe, epoch);
      this.#coalesceReset(key, kind);
      return Promise.reject(error);
    }
    this.#recordFailure(error, latency, sampled, probe, epoch, args);
    const fallback = this.#runFallback(error, args);
    this.#coalesceReset(key, kind);
    return fallback ?? Promise.reject(error);
  }

  #isFiltered(error: unknown, args: unknown[]): boolean {
    const filter = this.#errorFilter;
    if (filter === undefined) return false;
    try {
      return Boolean(filter(error, ...args));
    } catch {
      // A filter that throws cannot vouch for the error: count it as a failure.
      return false;
    }
  }

  #runFallback(error: unknown, args: unknown[]): Promise<unknown> | undefined {
    const fallback = this.#fallback;
    if (fallback === undefined) return undefined;
    let result: unknown;
    try {
      result = fallback.apply(fallback, [...args, error]);
    } catch (fallbackError) {
      return Promise.reject(fallbackError);
    }
    this.#status.bucket.fallbacks++;
    this.emit('fallback', result, error);
    return Promise.resolve(result);
  }

  #rejectOpen(args: unknown[]): Promise<TR> {
    this.#status.bucket.rejects++;
    this.#coalesceSkip = true;
    const error = this.#openError();
    if ((this.#listening & ON_REJECT) !== 0) this.emit('reject', error);
    return (this.#runFallback(error, args) ?? Promise.reject(error)) as Promise<TR>;
  }

  #openError(): OpenCircuitError {
    return new OpenCircuitError(this.#name, this.#state === HALF_OPEN ? 'halfOpen' : 'open');
  }

  /** `capacity` reached: opossum counts it as a failure of the call (so a half-open probe reopens). */
  #rejectLocked(args: unknown[], probe: boolean, key: string | undefined): Promise<unknown> {
    this.#coalesceSkip = true;
    return this.#handleError(this.#lockedError(), 0, this.#status.shouldTime(), probe, this.#epoch, args, key, undefined);
  }

  #lockedError(): SemaphoreLockedError {
    this.#status.bucket.semaphoreRejections++;
    const error = new SemaphoreLockedError(this.#name, this.#capacity);
    if ((this.#listeners() & ON_SEMAPHORE) !== 0) this.emit('semaphoreLocked', error, 0);
    return error;
  }

  #invokeUnprotected(fn: Fn, thisArg: unknown, args: unknown[]): Promise<TR> {
    return Promise.resolve(fn.apply(thisArg, this.#appendSignal ? [...args, this.#idleSignal()] : args) as TR | PromiseLike<TR>);
  }

  // ---------------------------------------------------------------- timeouts and permits

  #invokeTracked(fn: Fn, thisArg: unknown, args: unknown[], key: string | undefined, probe: boolean): Promise<TR> {
    const sampled = this.#status.shouldTime();
    // The deadline queue stamps the deadline itself; the start is read only when the latency is used.
    const start = sampled || (this.#listening & WANTS_LATENCY) !== 0 ? this.#clock.now() : Number.NaN;
    const attempt = new Attempt(this.#owner, start, probe, this.#epoch, sampled);
    attempt.args = args;
    attempt.key = key;
    // One executor per breaker hands over `resolve`: no closure per call.
    const promise = new Promise<TR>(this.#captureResolve);
    attempt.resolve = this.#captured;
    this.#captured = undefined;
    (this.#deadlines as DeadlineQueue<Attempt>).add(attempt);
    let result: unknown;
    try {
      result = fn.apply(thisArg, this.#appendSignal ? [...args, this.#signalOf(attempt)] : args);
    } catch (error) {
      this.#settleAttempt(attempt, FAILURE, error);
      return promise;
    }
    (isThenable(result) ? result : Promise.resolve(result)).then(
      (value) => this.#settleAttempt(attempt, SUCCESS, value),
      (error: unknown) => this.#settleAttempt(attempt, FAILURE, error),
    );
    return promise;
  }

  /** Milliseconds since the attempt started; estimated from its deadline when the start was not read. */
  #elapsed(attempt: Attempt): number {
    const now = this.#clock.now();
    const start = attempt.start;
    return start === start ? now - start : Math.max(0, now - (attempt.deadline - this.#timeout));
  }

  #settleAttempt(attempt: Attempt, outcome: Outcome, value: unknown): void {
    if (attempt.settled) return;
    attempt.settled = true;
    this.#deadlines?.remove(attempt);
    this.#inFlight--;
    const { probe, epoch, sampled } = attempt;
    if (outcome === RELEASE) {
      if (probe && epoch === this.#epoch && this.#state === HALF_OPEN) this.#probesAdmitted--;
      return;
    }
    const listening = this.#listenersDirty ? this.#refreshListening() : this.#listening;
    const latency = sampled || (listening & WANTS_LATENCY) !== 0 ? this.#elapsed(attempt) : 0;
    const settleCall = attempt.resolve;
    if (settleCall === undefined) {
      // A permit: no fallback, no cache; errors from listeners reach the caller of success()/failure().
      if (outcome === SUCCESS) this.#recordSuccess(undefined, latency, sampled, probe, epoch);
      else {
        const error = value === undefined ? new Error('failure reported through a breaker permit') : value;
        if (this.#isFiltered(error, [])) this.#recordSuccess(error, latency, sampled, probe, epoch);
        else this.#recordFailure(error, latency, sampled, probe, epoch, []);
      }
      return;
    }
    try {
      if (outcome === SUCCESS) {
        this.#recordSuccess(value, latency, sampled, probe, epoch);
        if (attempt.key !== undefined) this.#cacheSuccess(attempt.key, value);
        settleCall(value);
      } else {
        settleCall(this.#handleError(value, latency, sampled, probe, epoch, attempt.args, attempt.key, 'error'));
      }
    } catch (listenerError) {
      // A throwing listener must not leave the caller's promise pending.
      settleCall(Promise.reject(listenerError));
    }
  }

  #expire(attempt: Attempt): void {
    if (attempt.settled) return;
    attempt.settled = true;
    this.#inFlight--;
    const latency = this.#elapsed(attempt);
    const error = new TimeoutError(this.#name, this.#timeout);
    const status = this.#status;
    if (status.sleeping) status.wake();
    status.bucket.timeouts++;
    const { probe, epoch, args, sampled } = attempt;
    if (sampled) status.recordLatency(latency);
    try {
      if ((this.#listeners() & ON_TIMEOUT) !== 0) this.emit('timeout', error, latency, args);
      if (attempt.resolve === undefined) {
        if (this.#isFiltered(error, args)) this.#recordSuccess(error, latency, sampled, probe, epoch);
        else this.#recordFailure(error, latency, sampled, probe, epoch, args);
      } else {
        attempt.resolve(this.#handleError(error, latency, sampled, probe, epoch, args, attempt.key, 'timeout'));
      }
    } catch (listenerError) {
      if (attempt.resolve !== undefined) attempt.resolve(Promise.reject(listenerError));
      else
        queueMicrotask(() => {
          throw listenerError;
        });
    } finally {
      attempt.controller?.abort(error);
      this.#abortController?.abort();
    }
  }

  #signalOf(attempt: Attempt): AbortSignal {
    if (this.#deadlines === undefined) return this.#idleSignal();
    if (attempt.controller === undefined) {
      attempt.controller = new AbortController();
      // Asked for after the timeout already hit: hand out an aborted signal.
      if (attempt.settled && !attempt.queued && this.#clock.now() >= attempt.deadline) {
        attempt.controller.abort(new TimeoutError(this.#name, this.#timeout));
      }
    }
    return attempt.controller.signal;
  }

  /** A signal that never aborts: what calls get when no timeout applies. */
  #idleSignal(): AbortSignal {
    this.#idle ??= new AbortController().signal;
    return this.#idle;
  }

  #noop(): BreakerPermit {
    const signal = this.#idleSignal();
    this.#noopPermit ??= Object.freeze({ success() {}, failure() {}, release() {}, signal });
    return this.#noopPermit;
  }

  // ---------------------------------------------------------------- cache and coalescing

  #invokeCached(fn: Fn, thisArg: unknown, args: unknown[]): Promise<TR> {
    const key = this.#options.cacheGetKey.apply(this, args as TI);
    const status = this.#status;
    const cache = this.#cache;
    if (cache !== undefined) {
      const cached = cache.get(key);
      if (cached) {
        status.bucket.cacheHits++;
        this.emit('cacheHit');
        return Promise.resolve(cached as TR);
      }
      status.bucket.cacheMisses++;
      this.emit('cacheMiss');
    }
    const coalesce = this.#coalesce;
    if (coalesce === undefined) return this.#invokeGuarded(fn, thisArg, args, key);
    const pending = coalesce.get(key);
    if (pending) {
      status.bucket.coalesceCacheHits++;
      this.emit('coalesceCacheHit');
      return pending as Promise<TR>;
    }
    status.bucket.coalesceCacheMisses++;
    this.emit('coalesceCacheMiss');
    // A call refused or finished synchronously must not be shared: its reset already happened.
    this.#coalesceSkip = false;
    const call = this.#invokeGuarded(fn, thisArg, args, key);
    if (!this.#coalesceSkip) {
      const ttl = this.#options.coalesceTTL;
      coalesce.set(key, call, ttl > 0 ? this.#clock.now() + ttl : 0);
    }
    return call;
  }

  #cacheSuccess(key: string, value: unknown): void {
    const cache = this.#cache;
    if (cache !== undefined) {
      const ttl = this.#options.cacheTTL;
      cache.set(key, Promise.resolve(value), ttl > 0 ? this.#clock.now() + ttl : 0);
    }
    this.#coalesceReset(key, 'success');
  }

  #coalesceReset(key: string | undefined, kind: CoalesceResetEvent | undefined): void {
    if (key === undefined || this.#coalesce === undefined) return;
    if (kind === undefined || this.#options.coalesceResetOn.includes(kind)) {
      this.#coalesce.delete(key);
      this.#coalesceSkip = true;
    }
  }

  // ---------------------------------------------------------------- transitions and setup

  #scheduleHalfOpen(delay: number): void {
    this.#clock.clearTimeout(this.#resetTimer);
    this.#resetTimer = this.#clock.setTimeout(this.#toHalfOpen, delay);
  }

  readonly #toHalfOpen = (): void => {
    this.#resetTimer = undefined;
    if (this.#state === OPEN) this.#enterHalfOpen();
  };

  #enterHalfOpen(): void {
    const from = this.#state;
    this.#state = HALF_OPEN;
    this.#epoch++;
    this.#probesAdmitted = 0;
    this.#probeSuccesses = 0;
    this.#renewAbortController();
    this.#notify(from, HALF_OPEN);
    this.emit('halfOpen', this.#resetTimeout);
  }

  #notify(from: StateCode, to: StateCode): void {
    if (from === SHUTDOWN || to === SHUTDOWN) return;
    this.#transitions?.emit('change', { from: STATE_NAMES[from], to: STATE_NAMES[to] });
  }

  #renewAbortController(): void {
    if (this.#options.autoRenewAbortController && this.#abortController?.signal.aborted === true) {
      this.#abortController = new AbortController();
    }
  }

  #startWarmUp(): void {
    this.#warmingUp = true;
    this.#warmUpUntil = this.#clock.now() + this.#options.rollingCountTimeout;
  }

  #createStatus(options: CircuitBreakerOptions<TI> | undefined, o: ResolvedBreakerOptions<TI>): Status {
    const given = options?.status ?? options?.initialState?.status;
    if (given instanceof Status) return given;
    let stats: Partial<Stats> | undefined;
    if (given !== undefined) {
      const foreign = (given as { stats?: unknown }).stats;
      // Another library's Status (opossum's): start from its totals.
      stats = typeof foreign === 'object' && foreign !== null ? (foreign as Partial<Stats>) : (given as Partial<Stats>);
    }
    return new Status({
      rollingCountTimeout: o.rollingCountTimeout,
      rollingCountBuckets: o.rollingCountBuckets,
      rollingPercentilesEnabled: o.rollingPercentilesEnabled,
      enableSnapshots: o.enableSnapshots,
      rotateBucketController: o.rotateBucketController,
      latencySampleSize: o.latencySampleSize,
      stats,
      clock: o.clock,
    });
  }

  /** Restores `toJSON().state` as opossum does: closed unless told otherwise; open past `resetTimeout` is half-open. */
  #restore(saved: Partial<BreakerStateJSON>): void {
    this.#enabled = saved.enabled !== false;
    if (saved.warmUp === true) this.#startWarmUp();
    if (typeof saved.consecutiveFailures === 'number' && saved.consecutiveFailures >= 0) this.#consecutiveFailures = saved.consecutiveFailures;
    if (saved.shutdown === true) {
      this.shutdown();
      return;
    }
    if (saved.closed !== false) return;
    if (saved.halfOpen === true) {
      this.#state = HALF_OPEN;
      this.#epoch++;
      return;
    }
    const now = this.#clock.now();
    const openedAt = typeof saved.lastTimerAt === 'number' && Number.isFinite(saved.lastTimerAt) ? Math.min(saved.lastTimerAt, now) : now;
    this.#openedAt = openedAt;
    this.#status.markOpen(true);
    if (now - openedAt > this.#resetTimeout) {
      this.#state = OPEN;
      this.#enterHalfOpen();
      return;
    }
    this.#state = OPEN;
    this.#epoch++;
    this.#scheduleHalfOpen(openedAt + this.#resetTimeout - now);
  }
}

/** Typed event overloads; the class's own `(event: string | symbol, listener)` signatures stay as the catch-all. */
export interface CircuitBreaker<TI extends unknown[] = unknown[], TR = unknown> {
  on<K extends keyof BreakerEvents<TI, TR>>(event: K, listener: (...args: BreakerEvents<TI, TR>[K]) => void): this;
  once<K extends keyof BreakerEvents<TI, TR>>(event: K, listener: (...args: BreakerEvents<TI, TR>[K]) => void): this;
  addListener<K extends keyof BreakerEvents<TI, TR>>(event: K, listener: (...args: BreakerEvents<TI, TR>[K]) => void): this;
  prependListener<K extends keyof BreakerEvents<TI, TR>>(event: K, listener: (...args: BreakerEvents<TI, TR>[K]) => void): this;
  prependOnceListener<K extends keyof BreakerEvents<TI, TR>>(event: K, listener: (...args: BreakerEvents<TI, TR>[K]) => void): this;
  off<K extends keyof BreakerEvents<TI, TR>>(event: K, listener: (...args: BreakerEvents<TI, TR>[K]) => void): this;
  removeListener<K extends keyof BreakerEvents<TI, TR>>(event: K, listener: (...args: BreakerEvents<TI, TR>[K]) => void): this;
}

// Distinct names, so the bundled declaration of the namespace below cannot refer to itself.
type StatusType = Status;
type StatusOptionsType = StatusOptions;
type BucketType = Bucket;
type StatsType = Stats;
type CacheTransportType = CacheTransport;

/** opossum's type names (`CircuitBreaker.Options`, `CircuitBreaker.Stats`, ...), as `@types/opossum` declares them. */
export declare namespace CircuitBreaker {
  type Options<TI extends unknown[] = unknown[]> = CircuitBreakerOptions<TI>;
  type Status = StatusType;
  type StatusOptions = StatusOptionsType;
  type Bucket = BucketType;
  type Window = BucketType[];
  type Stats = StatsType;
  type State = BreakerStateJSON;
  type CacheTransport = CacheTransportType;
  type MemoryCache = CacheTransportType;
}
