import { randomUUID } from 'node:crypto';
import { type CacheTransport, MemoryCache } from './cache.js';
import { BreakerCore } from './core.js';
import type { BreakerAction, BreakerEvents, BreakerFallback, FireArgs } from './events.js';
import { ShutdownError, isOurError } from './errors.js';
import { type HealthCheck, startHealthCheck } from './health-check.js';
import type { BreakerJSON, BreakerStateJSON, CircuitBreakerOptions, CoalesceResetEvent, ResolvedBreakerOptions } from './options.js';
import { createStatus, resolveBreakerOptions } from './options.js';
import { Attempt } from './permit.js';
import { REFUSE, SHUTDOWN } from './state-machine.js';
import { type Bucket, type Stats, Status, type StatusOptions } from './status.js';

type Fn = (...args: any[]) => any;

const SCOPE = '@edgekit/breaker';

/**
 * A circuit breaker with opossum's API and behaviour: wrap an action, call `fire(...args)`, listen
 * to events. After too many failures it opens and fails fast with `EOPENBREAKER`; after
 * `resetTimeout` it lets one probe call through (half-open) and closes again when it succeeds.
 *
 * @example
 * const breaker = new CircuitBreaker((id: string) => fetchUser(id), { timeout: 3000 });
 * breaker.fallback(() => null);
 * const user = await breaker.fire('42');
 */
export class CircuitBreaker<TI extends unknown[] = unknown[], TR = unknown> extends BreakerCore<TI> {
  /** True when `error` was raised by a breaker (open, timeout, semaphore, shutdown), not by the action. */
  static isOurError(error: unknown): boolean {
    return isOurError(error);
  }

  /** Creates a {@link Status} (rolling window), for example to start a breaker from saved counters. */
  static newStatus(options?: StatusOptions): Status {
    return new Status(options);
  }

  readonly #action: Fn;
  readonly #cache: CacheTransport | undefined;
  readonly #coalesce: MemoryCache | undefined;
  readonly #createdAt: number;
  readonly #captured: [((value: unknown) => void) | undefined, ((error: unknown) => void) | undefined] = [undefined, undefined];
  readonly #capture = (resolve: (value: unknown) => void, reject: (error: unknown) => void): void => {
    this.#captured[0] = resolve;
    this.#captured[1] = reject;
  };
  #fallback: Fn | undefined = undefined;
  #healthChecks: HealthCheck[] = [];

  /**
   * @param action the function to protect (opossum also accepts a plain value, returned by every call)
   * @param options see {@link CircuitBreakerOptions}; values opossum refuses, or of the wrong type, throw
   */
  constructor(action: (...args: [...TI, AbortSignal]) => TR | PromiseLike<TR>, options: CircuitBreakerOptions<TI> & { appendSignal: true });
  constructor(action: BreakerAction<TI, TR>, options?: CircuitBreakerOptions<TI>);
  constructor(action: unknown, options?: CircuitBreakerOptions<TI>) {
    if (!action) throw new TypeError('No action provided. Cannot construct a CircuitBreaker without an invocable action.');
    const o = resolveBreakerOptions<TI>(options);
    const name = o.name ?? ((typeof action === 'function' && action.name) || randomUUID());
    super(name, o, createStatus(options?.status ?? options?.initialState?.status, o));
    this.#action = typeof action === 'function' ? (action as Fn) : () => Promise.resolve(action);
    this.#createdAt = o.clock.now();
    this.#cache = o.cache ? (o.cacheTransport ?? new MemoryCache(o.cacheSize, o.clock)) : undefined;
    this.#coalesce = o.coalesce ? new MemoryCache(o.coalesceSize, o.clock) : undefined;
    const saved = options?.state ?? options?.initialState?.state;
    if (saved !== undefined) this.#restore(saved);
  }

  /** Calls the action with `args` under the breaker's protection; resolves with its result or the fallback's. */
  fire(...args: FireArgs<TI>): Promise<TR> {
    // opossum's fire(...args) is call(action, ...args): the action is its own `this`.
    if (this._machine.state === SHUTDOWN) return Promise.reject(new ShutdownError(this._name));
    try {
      return this.#invoke(this.#action, args as unknown[]) as Promise<TR>;
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /** Like {@link CircuitBreaker.fire}, with `context` as the action's `this`. */
  call(context: any, ...args: FireArgs<TI>): Promise<TR> {
    if (this._machine.state === SHUTDOWN) return Promise.reject(new ShutdownError(this._name));
    try {
      return this.#invoke(context, args as unknown[]) as Promise<TR>;
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /** Sets what to return instead of failing: a function `(...args, error)` or another breaker fired with the same arguments. */
  fallback(func: BreakerFallback<TI, TR>): this {
    if (func instanceof CircuitBreaker) {
      const other = func;
      this.#fallback = (...args: unknown[]) => other.fire(...args);
    } else if (typeof func === 'function') {
      this.#fallback = func;
    } else {
      throw new TypeError(`${SCOPE}: fallback must be a function or a CircuitBreaker (got ${typeof func})`);
    }
    return this;
  }

  /** Empties the result cache and the coalescing cache. */
  clearCache(): void {
    this.#cache?.flush();
    this.#coalesce?.flush();
  }

  override shutdown(): void {
    super.shutdown();
    for (const check of this.#healthChecks) check.stop();
    this.#healthChecks = [];
    this.clearCache();
  }

  /**
   * Runs `func` now and every `interval` ms (default 5000); when it rejects the breaker emits
   * `healthCheckFailed` and opens. `this` inside `func` is the breaker.
   */
  healthCheck(func: (this: this) => unknown, interval?: number): void {
    this.#healthChecks.push(startHealthCheck(this, this._clock, func, interval));
  }


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
    return this._options;
  }

  /** State and stats, accepted back by the `state` and `status` options (or `initialState`). */
  toJSON(): BreakerJSON {
    return {
      state: {
        name: this._name,
        enabled: this._enabled,
        closed: this.closed,
        open: this.opened,
        halfOpen: this.halfOpen,
        warmUp: this.warmUp,
        shutdown: this.isShutdown,
        lastTimerAt: this.#createdAt,
      },
      status: this.stats,
    };
  }

  // ---------------------------------------------------------------- the call path, in opossum's order

  #invoke(context: unknown, args: unknown[]): Promise<unknown> {
    // With a timer-driven window, the clock is read only for a timeout, a latency someone uses, or a sample.
    const status = this._status;
    let now = status.timerDriven ? Number.NaN : this._clock.now();
    this._countFire(args, now);
    if (!this._enabled) return this.#unprotected(context, args);
    const o = this._options;
    const key = this.#cache !== undefined || this.#coalesce !== undefined ? o.cacheGetKey.apply(this, args as TI) : '';
    const cache = this.#cache;
    if (cache !== undefined) {
      const cached = cache.get(key);
      if (cached) {
        this.#count('cacheHits', now);
        this.emit('cacheHit');
        return cached as Promise<unknown>;
      }
      this.#count('cacheMisses', now);
      this.emit('cacheMiss');
    }
    const coalesce = this.#coalesce;
    if (coalesce !== undefined) {
      const pending = coalesce.get(key);
      if (pending) {
        this.#count('coalesceCacheHits', now);
        this.emit('coalesceCacheHit');
        return pending as Promise<unknown>;
      }
      this.#count('coalesceCacheMisses', now);
      this.emit('coalesceCacheMiss');
    }
    const machine = this._machine;
    const admission = machine.admit();
    if (admission === REFUSE) {
      const error = this._countReject(now);
      return this.#runFallback(error, args, now) ?? Promise.reject(error);
    }
    const probeEpoch = admission === 1 ? machine.epoch : -1;
    const sampled = status.shouldTime();
    if (now !== now && (sampled || this._timers !== undefined || this._inFlight >= o.capacity || this._latencyWanted())) now = this._clock.now();
    const call =
      this._timers === undefined && this._inFlight < o.capacity
        ? this.#startUntimed(context, args, key, now, probeEpoch, sampled)
        : this.#withOuter(context, this.#attempt(args, key, now, probeEpoch, sampled));
    if (coalesce !== undefined) {
      const ttl = o.coalesceTTL;
      coalesce.set(key, call, ttl > 0 ? this._clock.now() + ttl : 0);
    }
    return call;
  }

  #attempt(args: unknown[], key: string, start: number, probeEpoch: number, sampled: boolean): Attempt {
    const attempt = new Attempt(this, start, probeEpoch, sampled);
    attempt.args = args;
    attempt.key = key;
    return attempt;
  }

  /** The call's own promise, settled by the breaker (opossum's `new Promise` around the call). */
  #withOuter(context: unknown, attempt: Attempt): Promise<unknown> {
    // One executor per breaker hands over the settle functions: no closure per call.
    const call = new Promise(this.#capture);
    attempt.resolve = this.#captured[0];
    attempt.reject = this.#captured[1];
    try {
      this.#start(context, attempt);
    } catch (error) {
      (attempt.reject as (error: unknown) => void)(error);
    }
    return call;
  }

  /**
   * Without a timeout, only the action's outcome settles the call, so the call can be the promise
   * derived from the action's with opossum's timing: a success settles it on the same turn as
   * opossum's, and a failure is handed to a thenable whose `then` the promise machinery calls one
   * turn later, exactly when opossum's `.catch` runs.
   */
  #startUntimed(context: unknown, args: unknown[], key: string, start: number, probeEpoch: number, sampled: boolean): Promise<unknown> {
    this._inFlight++;
    let result: unknown;
    try {
      result = this.#action.apply(context, this._options.appendSignal ? [...args, this._idleSignal()] : args);
    } catch (error) {
      this._inFlight--;
      const attempt = this.#attempt(args, key, start, probeEpoch, sampled);
      const call = new Promise(this.#capture);
      attempt.resolve = this.#captured[0];
      attempt.reject = this.#captured[1];
      try {
        this.#handleError(error, start === start ? this._clock.now() - start : 0, attempt);
        this.#coalesceReset(key, 'error');
      } catch (listenerError) {
        (attempt.reject as (error: unknown) => void)(listenerError);
      }
      return call;
    }
    const promise = result instanceof Promise ? result : Promise.resolve(result);
    // The success path allocates no Attempt: the two reactions share one closure context.
    return promise.then(
      (value) => {
        try {
          // Beyond the latency sample, with nobody asking for the latency, the clock is not read
          // again (it is slow on some hosts): the success is counted in the slice the call started in.
          const now = start === start && (sampled || this._latencyWanted()) ? this._clock.now() : start;
          this._recordSuccess(value, start === start ? now - start : 0, sampled, now);
          this.#coalesceReset(key, 'success');
        } catch (listenerError) {
          return this.#deferredFailure(this.#attempt(args, key, start, probeEpoch, sampled), listenerError);
        }
        this._inFlight--;
        const cache = this.#cache;
        if (cache !== undefined) {
          const ttl = this._options.cacheTTL;
          cache.set(key, promise, ttl > 0 ? this._clock.now() + ttl : 0);
        }
        return value;
      },
      (error: unknown) => this.#deferredFailure(this.#attempt(args, key, start, probeEpoch, sampled), error),
    );
  }

  #deferredFailure(attempt: Attempt, error: unknown): PromiseLike<unknown> {
    return {
      then: (resolve: (value: unknown) => void, reject: (error: unknown) => void) => {
        attempt.resolve = resolve;
        attempt.reject = reject;
        this.#rejected(attempt, error);
      },
    } as PromiseLike<unknown>;
  }

  #start(context: unknown, attempt: Attempt): void {
    const o = this._options;
    if (this._inFlight >= o.capacity) {
      const latency = this._clock.now() - attempt.start;
      this.#handleError(this._lockedError(latency, attempt.start + latency), latency, attempt);
      this.#coalesceReset(attempt.key, undefined);
      return;
    }
    this._inFlight++;
    this._timers?.add(attempt, attempt.start);
    let args = attempt.args;
    if (o.appendSignal) args = [...args, this.signalOf(attempt)];
    let result: unknown;
    try {
      result = this.#action.apply(context, args);
    } catch (error) {
      this._inFlight--;
      this.#handleError(error, this._clock.now() - attempt.start, attempt);
      this.#coalesceReset(attempt.key, 'error');
      return;
    }
    const promise = result instanceof Promise ? result : Promise.resolve(result);
    // opossum chains `.then(success).catch(error)`: its error path runs one turn later (the rejection
    // passes through the `then` first), and also catches a throwing `success` listener. One
    // `then` with the error path deferred by a microtask keeps that timing, one promise cheaper.
    promise.then(
      (value) => this.#fulfilled(attempt, value, promise),
      (error: unknown) => queueMicrotask(() => this.#rejected(attempt, error)),
    );
  }

  #fulfilled(attempt: Attempt, value: unknown, promise: Promise<unknown>): void {
    if (attempt.settled) return;
    try {
      this._timers?.remove(attempt);
      const now = attempt.sampled || this._latencyWanted() ? this._clock.now() : attempt.start;
      this._recordSuccess(value, now - attempt.start, attempt.sampled, now);
      this.#coalesceReset(attempt.key, 'success');
      attempt.settled = true;
      this._inFlight--;
      (attempt.resolve as (value: unknown) => void)(value);
      const cache = this.#cache;
      if (cache !== undefined) {
        const ttl = this._options.cacheTTL;
        cache.set(attempt.key, promise, ttl > 0 ? this._clock.now() + ttl : 0);
      }
    } catch (listenerError) {
      queueMicrotask(() => this.#rejected(attempt, listenerError));
    }
  }

  #rejected(attempt: Attempt, error: unknown): void {
    if (attempt.settled) return;
    attempt.settled = true;
    this._inFlight--;
    try {
      this.#handleError(error, attempt.start === attempt.start ? this._clock.now() - attempt.start : 0, attempt);
      this.#coalesceReset(attempt.key, 'error');
    } catch (listenerError) {
      // A throwing `failure` listener: the call rejects with its error rather than never settling.
      (attempt.reject as (error: unknown) => void)(listenerError);
    }
  }

  /** @internal A call's timeout elapsed. */
  protected override _expire(attempt: Attempt): void {
    if (attempt.resolve === undefined) {
      super._expire(attempt);
      return;
    }
    if (attempt.settled) return;
    attempt.settled = true;
    attempt.timedOut = true;
    const error = this._timeoutError();
    const latency = this._clock.now() - attempt.start;
    this._inFlight--;
    try {
      this._countTimeout(error, latency, attempt.sampled, attempt.args, attempt.start + latency);
      this.#handleError(error, latency, attempt);
      this.#coalesceReset(attempt.key, 'timeout');
    } catch (listenerError) {
      (attempt.reject as (error: unknown) => void)(listenerError);
    } finally {
      attempt.controller?.abort(error);
      this._abortController?.abort();
    }
  }

  /** opossum's handleError: a filtered error counts as a success and rejects; others fail, then the fallback may answer. */
  #handleError(error: unknown, latency: number, attempt: Attempt): void {
    this._timers?.remove(attempt);
    const args = attempt.args;
    const now = attempt.start + latency;
    if (this._isFiltered(error, args)) {
      this._recordSuccess(error, latency, attempt.sampled, now);
    } else {
      this._recordFailure(error, latency, attempt.sampled, args, now);
      const fallback = this.#runFallback(error, args, now);
      if (fallback !== undefined) {
        (attempt.resolve as (value: unknown) => void)(fallback);
        return;
      }
    }
    (attempt.reject as (error: unknown) => void)(error);
  }

  #runFallback(error: unknown, args: unknown[], now: number): Promise<unknown> | undefined {
    const fallback = this.#fallback;
    if (fallback === undefined) return undefined;
    let result: unknown;
    try {
      result = fallback.apply(fallback, [...args, error]);
    } catch (fallbackError) {
      return Promise.reject(fallbackError);
    }
    this.#count('fallbacks', now);
    this.emit('fallback', result, error);
    return result instanceof Promise ? result : Promise.resolve(result);
  }

  #unprotected(context: unknown, args: unknown[]): Promise<unknown> {
    const result: unknown = this.#action.apply(context, this._options.appendSignal ? [...args, this._idleSignal()] : args);
    return result instanceof Promise ? result : Promise.resolve(result);
  }

  #count(counter: 'cacheHits' | 'cacheMisses' | 'coalesceCacheHits' | 'coalesceCacheMisses' | 'fallbacks', now: number): void {
    if (!this._machine.detached) this._status.at(now)[counter]++;
  }

  #coalesceReset(key: string, event: CoalesceResetEvent | undefined): void {
    const coalesce = this.#coalesce;
    if (coalesce !== undefined && (event === undefined || this._options.coalesceResetOn.includes(event))) coalesce.delete(key);
  }

  /** Restores `toJSON().state` as opossum does: closed unless told otherwise; open past `resetTimeout` (since `lastTimerAt`) is half-open. */
  #restore(saved: Partial<BreakerStateJSON>): void {
    this._enabled = saved.enabled !== false;
    if (saved.warmUp === true && !this._machine.warmUp) this._machine.startWarmUp(this._options.rollingCountTimeout);
    if (saved.shutdown === true) {
      this.shutdown();
      return;
    }
    if (saved.closed !== false) return;
    if (saved.halfOpen === true) {
      this._machine.restoreHalfOpen();
      return;
    }
    const at = saved.lastTimerAt;
    if (at !== undefined && this._clock.now() - at > this._options.resetTimeout) this._machine.halfOpen();
    else this.open();
  }
}

/** Typed event overloads; the class's own `(event: string | symbol, listener)` signatures stay as the catch-all. */
export interface CircuitBreaker<TI extends unknown[] = unknown[], TR = unknown> {
  on<K extends keyof BreakerEvents<TI, TR>>(event: K, listener: (...args: BreakerEvents<TI, TR>[K]) => void): this;
  on(event: string | symbol, listener: (...args: any[]) => void): this;
  once<K extends keyof BreakerEvents<TI, TR>>(event: K, listener: (...args: BreakerEvents<TI, TR>[K]) => void): this;
  once(event: string | symbol, listener: (...args: any[]) => void): this;
  addListener<K extends keyof BreakerEvents<TI, TR>>(event: K, listener: (...args: BreakerEvents<TI, TR>[K]) => void): this;
  addListener(event: string | symbol, listener: (...args: any[]) => void): this;
  prependListener<K extends keyof BreakerEvents<TI, TR>>(event: K, listener: (...args: BreakerEvents<TI, TR>[K]) => void): this;
  prependListener(event: string | symbol, listener: (...args: any[]) => void): this;
  prependOnceListener<K extends keyof BreakerEvents<TI, TR>>(event: K, listener: (...args: BreakerEvents<TI, TR>[K]) => void): this;
  prependOnceListener(event: string | symbol, listener: (...args: any[]) => void): this;
  off<K extends keyof BreakerEvents<TI, TR>>(event: K, listener: (...args: BreakerEvents<TI, TR>[K]) => void): this;
  off(event: string | symbol, listener: (...args: any[]) => void): this;
  removeListener<K extends keyof BreakerEvents<TI, TR>>(event: K, listener: (...args: BreakerEvents<TI, TR>[K]) => void): this;
  removeListener(event: string | symbol, listener: (...args: any[]) => void): this;
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
