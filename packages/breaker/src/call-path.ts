import { type CacheTransport, MemoryCache } from './cache.js';
import { BreakerCore } from './core.js';
import type { CallTimers } from './deadlines.js';
import type { CoalesceResetEvent, ResolvedBreakerOptions } from './options.js';
import { Attempt } from './permit.js';
import { UntimedCall, UntimedCallPool, argsOf, callUpTo3, callWith } from './untimed-call.js';
import { CLOSED, REFUSE } from './state-machine.js';
import { HOT_FAILURE, HOT_FIRE, HOT_LATENCY, HOT_SUCCESS, HOT_TIMEOUT } from './emitter.js';
import type { Status } from './status.js';

type Fn = (...args: any[]) => any;

/** Listeners or a strategy that would see a timed call's latency. */
const START_WANTED = HOT_SUCCESS | HOT_FAILURE | HOT_LATENCY | HOT_TIMEOUT;
/** `HOT_FIRE` as a module-local constant, which the compiler folds (an imported binding is read each time). */
const FIRE_LISTENED = HOT_FIRE;

/**
 * opossum's call path over {@link BreakerCore}: the result cache, request coalescing, the action
 * under the breaker's timeout and capacity, and the fallback, in the order opossum runs them.
 * `CircuitBreaker` is the public face over it.
 */
export abstract class BreakerCallPath<TI extends unknown[] = unknown[]> extends BreakerCore<TI> {
  /** @internal */ protected readonly _action: Fn;
  /** @internal */ protected readonly _cache: CacheTransport | undefined;
  /** @internal */ protected readonly _coalesce: MemoryCache | undefined;
  /** @internal */ protected _fallback: Fn | undefined = undefined;
  /** @internal No cache, coalescing or appended signal: closed calls may take {@link BreakerCallPath._fireLean}. */
  protected readonly _lean: boolean;
  readonly #pool = new UntimedCallPool();

  constructor(name: string, options: ResolvedBreakerOptions<TI>, status: Status, action: Fn) {
    super(name, options, status);
    this._action = action;
    this._cache = options.cache ? (options.cacheTransport ?? new MemoryCache(options.cacheSize, options.clock)) : undefined;
    this._coalesce = options.coalesce ? new MemoryCache(options.coalesceSize, options.clock) : undefined;
    this._lean = this._cache === undefined && this._coalesce === undefined && !options.appendSignal;
  }

  /** Empties the result cache and the coalescing cache. */
  clearCache(): void {
    this._cache?.flush();
    this._coalesce?.flush();
  }

  /** @internal Runs one call in opossum's order: fire, cache, coalesce, admission, action, outcome. */
  protected _invoke(context: unknown, args: unknown[]): Promise<unknown> {
    // With a timer-driven window, the clock is read only for a timeout, a latency someone uses, or a sample.
    const status = this._status;
    let now = status.timerDriven ? Number.NaN : this._clock.now();
    this._countFire(args, now);
    if (!this._enabled) return this.#unprotected(context, args);
    const o = this._options;
    const key = this._cache !== undefined || this._coalesce !== undefined ? o.cacheGetKey.apply(this, args as TI) : '';
    const cache = this._cache;
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
    const coalesce = this._coalesce;
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

  /** A promise settled through `attempt.resolve` and `attempt.reject`. */
  #outer(attempt: Attempt): Promise<unknown> {
    // An executor written here is inlined by the optimizing compiler, and its closure elided.
    return new Promise((resolve, reject) => {
      attempt.resolve = resolve;
      attempt.reject = reject;
    });
  }

  /** The call's own promise, settled by the breaker (opossum's `new Promise` around the call). */
  #withOuter(context: unknown, attempt: Attempt): Promise<unknown> {
    const call = this.#outer(attempt);
    try {
      this.#start(context, attempt);
    } catch (error) {
      (attempt.reject as (error: unknown) => void)(error);
    }
    return call;
  }

  /**
   * @internal Whether a call of `argc` arguments can take {@link BreakerCallPath._fireLean}: closed
   * (so admitted, not as a probe), enabled, no `fire` listener, no cache, coalescing or appended
   * signal, and below `capacity`.
   */
  protected _leanReady(argc: number): boolean {
    return this._lean && argc <= 3 && this._machine.state === CLOSED && this._enabled && (this._hot & FIRE_LISTENED) === 0 && this._inFlight < this._options.capacity;
  }

  /**
   * @internal {@link BreakerCallPath._invoke} for a call that {@link BreakerCallPath._leanReady}
   * allows, with up to three arguments passed as they came: the same statistics and outcome, and
   * no arguments array unless the call fails.
   */
  protected _fireLean(context: unknown, argc: number, a0: unknown, a1: unknown, a2: unknown): Promise<unknown> {
    const status = this._status;
    let now = status.timerDriven ? Number.NaN : this._clock.now();
    if (!this._machine.detached) status.at(now).fires++;
    const sampled = status.shouldTime();
    if (this._timers !== undefined) return this.#fireLeanTimed(context, argsOf(argc, a0, a1, a2), now, sampled);
    if (now !== now && (sampled || this._latencyWanted())) now = this._clock.now();
    this._inFlight++;
    const action = this._action;
    let result: unknown;
    try {
      result = argc === 0 ? action.call(context) : argc === 1 ? action.call(context, a0) : callUpTo3(action, context, argc, a0, a1, a2);
    } catch (error) {
      this._inFlight--;
      return this.#thrown(error, this.#attempt(argsOf(argc, a0, a1, a2), '', now, -1, sampled));
    }
    const promise = result instanceof Promise ? result : Promise.resolve(result);
    const call = this.#untimedCall(promise);
    call.hold(argc, a0, a1, a2, now, sampled);
    return promise.then(call.onFulfilled, call.onRejected);
  }

  #fireLeanTimed(context: unknown, args: unknown[], now: number, sampled: boolean): Promise<unknown> {
    // The start time is read when a latency may be reported or the timer needs it (see CallTimers).
    if (now !== now && (sampled || (this._hot & START_WANTED) !== 0 || (this._timers as CallTimers<Attempt>).needsStart())) now = this._clock.now();
    return this.#withOuter(context, this.#attempt(args, '', now, -1, sampled));
  }

  /**
   * Without a timeout, only the action's outcome settles the call, so the call can be the promise
   * derived from the action's with opossum's timing: a success settles it on the same turn as
   * opossum's, and a failure is handed to a thenable whose `then` the promise machinery calls one
   * turn later, exactly when opossum's `.catch` runs. The two reactions come from a pool of
   * {@link UntimedCall}s, so a call allocates no closures.
   */
  #startUntimed(context: unknown, args: unknown[], key: string, start: number, probeEpoch: number, sampled: boolean): Promise<unknown> {
    this._inFlight++;
    let result: unknown;
    try {
      result = this._action.apply(context, this._options.appendSignal ? [...args, this._idleSignal()] : args);
    } catch (error) {
      this._inFlight--;
      return this.#thrown(error, this.#attempt(args, key, start, probeEpoch, sampled));
    }
    const promise = result instanceof Promise ? result : Promise.resolve(result);
    const call = this.#untimedCall(promise);
    call.args = args;
    call.key = key;
    call.start = start;
    call.probeEpoch = probeEpoch;
    call.sampled = sampled;
    call.promise = promise;
    return promise.then(call.onFulfilled, call.onRejected);
  }

  /** A pooled call may be reused once a reaction has run: only a native promise, whose `then` runs exactly one reaction once, may hold one. */
  #untimedCall(promise: Promise<unknown>): UntimedCall {
    return promise.constructor === Promise ? this.#pool.take(this) : new UntimedCall(this, undefined);
  }

  /** The action threw instead of returning: the call rejects (or falls back) through its own promise. */
  #thrown(error: unknown, attempt: Attempt): Promise<unknown> {
    const call = this.#outer(attempt);
    try {
      this.#handleError(error, this.#elapsed(attempt.start), attempt);
      this.#coalesceReset(attempt.key, 'error');
    } catch (listenerError) {
      (attempt.reject as (error: unknown) => void)(listenerError);
    }
    return call;
  }

  /** @internal The action of an untimed call resolved. */
  _untimedFulfilled(call: UntimedCall, value: unknown): unknown {
    try {
      this.#countSuccess(value, call.start, call.sampled);
      if (this._coalesce !== undefined) this.#coalesceReset(call.key, 'success');
    } catch (listenerError) {
      return this.#deferredFailure(this.#releaseAsAttempt(call), listenerError);
    }
    this._inFlight--;
    // Released only now: a listener above may have started a call, which must not get this one.
    if (this._cache === undefined) call.release();
    else this.#cacheResult(call);
    return value;
  }

  #cacheResult(call: UntimedCall): void {
    const key = call.key;
    const promise = call.promise as Promise<unknown>;
    call.release();
    this.#store(key, promise);
  }

  /** Keeps a successful call's promise in the result cache for `cacheTTL`. */
  #store(key: string, promise: Promise<unknown>): void {
    const ttl = this._options.cacheTTL;
    (this._cache as CacheTransport).set(key, promise, ttl > 0 ? this._clock.now() + ttl : 0);
  }

  /** Counts a success; with nobody asking for its latency beyond the sample, the clock is not read again (slow on some hosts). */
  #countSuccess(value: unknown, start: number, sampled: boolean): void {
    const now = start === start && (sampled || this._latencyWanted()) ? this._clock.now() : start;
    this._recordSuccess(value, start === start ? now - start : 0, sampled, now);
  }

  /** Time since `start`, 0 for a call that did not read its start time (`NaN`). */
  #elapsed(start: number): number {
    return start === start ? this._clock.now() - start : 0;
  }

  /** The failed call as an {@link Attempt}, the pooled call being released. */
  #releaseAsAttempt(call: UntimedCall): Attempt {
    const attempt = this.#attempt(call.argsArray(), call.key, call.start, call.probeEpoch, call.sampled);
    call.release();
    return attempt;
  }

  /** @internal The action of an untimed call rejected. */
  _untimedRejected(call: UntimedCall, error: unknown): PromiseLike<unknown> {
    return this.#deferredFailure(this.#releaseAsAttempt(call), error);
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
      result = callWith(this._action, context, args);
    } catch (error) {
      this._inFlight--;
      this.#handleError(error, this.#elapsed(attempt.start), attempt);
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
      this.#countSuccess(value, attempt.start, attempt.sampled);
      this.#coalesceReset(attempt.key, 'success');
      attempt.settled = true;
      this._inFlight--;
      (attempt.resolve as (value: unknown) => void)(value);
      if (this._cache !== undefined) this.#store(attempt.key, promise);
    } catch (listenerError) {
      queueMicrotask(() => this.#rejected(attempt, listenerError));
    }
  }

  #rejected(attempt: Attempt, error: unknown): void {
    if (attempt.settled) return;
    attempt.settled = true;
    this._inFlight--;
    try {
      this.#handleError(error, this.#elapsed(attempt.start), attempt);
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
    const now = this._clock.now();
    // A call that did not read its start time (nobody was to see its latency) reports the timeout.
    const latency = attempt.start === attempt.start ? now - attempt.start : this._options.timeout;
    this._inFlight--;
    try {
      this._countTimeout(error, latency, attempt.sampled, attempt.args, now);
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
    const fallback = this._fallback;
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
    const result: unknown = this._action.apply(context, this._options.appendSignal ? [...args, this._idleSignal()] : args);
    return result instanceof Promise ? result : Promise.resolve(result);
  }

  #count(counter: 'cacheHits' | 'cacheMisses' | 'coalesceCacheHits' | 'coalesceCacheMisses' | 'fallbacks', now: number): void {
    if (!this._machine.detached) this._status.at(now)[counter]++;
  }

  #coalesceReset(key: string, event: CoalesceResetEvent | undefined): void {
    const coalesce = this._coalesce;
    if (coalesce !== undefined && (event === undefined || this._options.coalesceResetOn.includes(event))) coalesce.delete(key);
  }
}
