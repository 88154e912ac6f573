import { randomUUID } from 'node:crypto';
import type { CacheTransport } from './cache.js';
import { BreakerCallPath } from './call-path.js';
import type { BreakerAction, BreakerEvents, BreakerFallback, FireArgs } from './events.js';
import { ShutdownError, isOurError } from './errors.js';
import { type HealthCheck, startHealthCheck } from './health-check.js';
import type { BreakerJSON, BreakerStateJSON, CircuitBreakerOptions, ResolvedBreakerOptions } from './options.js';
import { createStatus, resolveBreakerOptions } from './options.js';
import { SHUTDOWN } from './state-machine.js';
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
export class CircuitBreaker<TI extends unknown[] = unknown[], TR = unknown> extends BreakerCallPath<TI> {
  /** True when `error` was raised by a breaker (open, timeout, semaphore, shutdown), not by the action. */
  static isOurError(error: unknown): boolean {
    return isOurError(error);
  }

  /** Creates a {@link Status} (rolling window), for example to start a breaker from saved counters. */
  static newStatus(options?: StatusOptions): Status {
    return new Status(options);
  }

  readonly #createdAt: number;
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
    super(name, o, createStatus(options?.status ?? options?.initialState?.status, o), typeof action === 'function' ? (action as Fn) : () => Promise.resolve(action));
    this.#createdAt = o.clock.now();
    const saved = options?.state ?? options?.initialState?.state;
    if (saved !== undefined) this.#restore(saved);
  }

  /** Calls the action with `args` under the breaker's protection; resolves with its result or the fallback's. */
  fire(...args: FireArgs<TI>): Promise<TR>;
  fire(): Promise<TR> {
    // opossum's fire(...args) is call(action, ...args): the action is its own `this`. Up to three
    // arguments travel as they came (no rest array) on the path of a closed breaker.
    const argc = arguments.length;
    if (this._leanReady(argc)) {
      return this._fireLean(
        this._action,
        argc,
        argc > 0 ? arguments[0] : undefined,
        argc > 1 ? arguments[1] : undefined,
        argc > 2 ? arguments[2] : undefined,
      ) as Promise<TR>;
    }
    const args: unknown[] = new Array(argc);
    for (let i = 0; i < argc; i++) args[i] = arguments[i];
    if (this._machine.state === SHUTDOWN) return Promise.reject(new ShutdownError(this._name));
    try {
      return this._invoke(this._action, args) as Promise<TR>;
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /** Like {@link CircuitBreaker.fire}, with `context` as the action's `this`. */
  call(context: any, ...args: FireArgs<TI>): Promise<TR> {
    if (this._machine.state === SHUTDOWN) return Promise.reject(new ShutdownError(this._name));
    try {
      return this._invoke(context, args as unknown[]) as Promise<TR>;
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /** Sets what to return instead of failing: a function `(...args, error)` or another breaker fired with the same arguments (at run time, as in opossum, `null` removes it). */
  fallback(func: BreakerFallback<TI, TR>): this {
    if (func instanceof CircuitBreaker) {
      const other = func;
      this._fallback = (...args: unknown[]) => other.fire(...args);
    } else if (typeof func === 'function') {
      this._fallback = func;
    } else if (func === null || func === undefined) {
      // opossum stores whatever it is given: a nullish fallback means none.
      this._fallback = undefined;
    } else {
      throw new TypeError(`${SCOPE}: fallback must be a function or a CircuitBreaker (got ${typeof func})`);
    }
    return this;
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
    return this._action;
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
