import { type Clock, type Disposable, TypedEmitter, checkOptionsObject, describeValue, systemClock } from '@edgekit/core';
import { CircuitBreaker } from './circuit-breaker.js';
import type { BreakerSnapshot, BreakerState } from './snapshot.js';
import { ShutdownError } from './errors.js';
import { type CircuitBreakerOptions, resolveBreakerOptions } from './options.js';

/** What a registry breaker runs: a function that receives the call's `AbortSignal` (aborted on `timeout`). */
export type BreakerTask<R = unknown> = (signal: AbortSignal) => R | PromiseLike<R>;

/**
 * A breaker from a registry. Its action passes through: `fire(task)` runs `task(signal)` under the
 * breaker, so one breaker per key protects whatever the caller does for that key.
 */
export interface RegistryBreaker extends CircuitBreaker<[task: BreakerTask], unknown> {
  /** Runs `task(signal)` under this breaker; `signal` aborts when the breaker's `timeout` elapses. */
  fire<R>(task: BreakerTask<R>): Promise<Awaited<R>>;
}

/** Options of registry breakers: every breaker option except `appendSignal` (always on). */
export type RegistryBreakerOptions = Omit<CircuitBreakerOptions<[task: BreakerTask]>, 'appendSignal'>;

/** A state change of one registry breaker. */
export interface RegistryStateChange {
  key: string;
  from: BreakerState;
  to: BreakerState;
}

/** Options of {@link createBreakerRegistry}. */
export interface BreakerRegistryOptions {
  /** Options every breaker starts from. Default `{}` (opossum's defaults). */
  defaults?: RegistryBreakerOptions | undefined;
  /** Per-key options laid over `defaults`: a record by key, or a function of the key. */
  overrides?: Readonly<Record<string, RegistryBreakerOptions>> | ((key: string) => RegistryBreakerOptions | undefined) | undefined;
  /** Clock of every breaker unless `defaults` or an override names another. Default `systemClock`. */
  clock?: Clock | undefined;
}

/** One breaker per key (a region, an upstream), created on first use. */
export interface BreakerRegistry {
  /** The breaker of `key`, created from `defaults` and the key's override on first use. */
  get(key: string): RegistryBreaker;
  /** Whether `key` has a live breaker. */
  has(key: string): boolean;
  /** Shuts down and forgets the breaker of `key`; returns whether there was one. */
  delete(key: string): boolean;
  /** Keys with a live breaker, in creation order. */
  keys(): string[];
  /** Number of live breakers. */
  readonly size: number;
  /** State and counters of every breaker, by key. */
  snapshot(): Record<string, BreakerSnapshot>;
  /** Calls `listener` on every state change of every breaker; returns a handle that unsubscribes. */
  onStateChange(listener: (change: RegistryStateChange) => void): Disposable;
  /** Shuts every breaker down; `get` throws `ESHUTDOWN` afterwards. */
  close(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

const SCOPE = '@edgekit/breaker registry';

// The pass-through action of registry breakers: `fire(task, ...args)` calls `task(...args, signal)`.
function runTask(task: (...args: any[]) => unknown, ...rest: any[]): unknown {
  return task(...rest);
}

// Rejects a non-function task before it reaches the action, so a caller's mistake is not counted as an outage.
class TaskBreaker extends CircuitBreaker<[task: BreakerTask], unknown> {
  override fire(...args: [task: BreakerTask]): Promise<unknown> {
    const task = args[0];
    if (typeof task !== 'function') {
      return Promise.reject(new TypeError(`${SCOPE}: fire(task) needs a function (got ${describeValue(task)})`));
    }
    return super.fire(...args);
  }
}

/**
 * Creates a registry of breakers keyed by name, sharing defaults.
 *
 * @example
 * const breakers = createBreakerRegistry({ defaults: { mode: 'consecutive', failureThreshold: 3, resetTimeout: 10_000 } });
 * const res = await breakers.get('eu-west').fire((signal) => fetch(url, { signal }));
 */
export function createBreakerRegistry(options: BreakerRegistryOptions = {}): BreakerRegistry {
  const opts = checkOptionsObject<BreakerRegistryOptions>(SCOPE, options);
  const clock = opts.clock ?? systemClock;
  const defaults = opts.defaults ?? {};
  if (typeof defaults !== 'object' || defaults === null) {
    throw new TypeError(`${SCOPE}: option "defaults" must be an object of breaker options (got ${describeValue(defaults)})`);
  }
  const overrides = opts.overrides;
  if (overrides !== undefined && typeof overrides !== 'function' && (typeof overrides !== 'object' || overrides === null)) {
    throw new TypeError(`${SCOPE}: option "overrides" must be an object by key or a function (got ${describeValue(overrides)})`);
  }
  // Fail at creation, not at the first request, when defaults or a listed override are invalid.
  resolveBreakerOptions({ clock, ...defaults });
  if (overrides !== undefined && typeof overrides === 'object') {
    for (const [key, value] of Object.entries(overrides)) resolveBreakerOptions({ clock, ...defaults, ...value, name: value.name ?? key });
  }

  const breakers = new Map<string, RegistryBreaker>();
  const changes = new TypedEmitter<{ change: [RegistryStateChange] }>();
  let closed = false;

  const overrideFor = (key: string): RegistryBreakerOptions | undefined => {
    if (overrides === undefined) return undefined;
    if (typeof overrides === 'function') return overrides(key);
    return Object.hasOwn(overrides, key) ? overrides[key] : undefined;
  };

  const create = (key: string): RegistryBreaker => {
    const override = overrideFor(key) ?? {};
    const breaker = new TaskBreaker(runTask, {
      clock,
      ...defaults,
      ...override,
      name: override.name ?? key,
      appendSignal: true,
    }) as RegistryBreaker;
    breaker.onStateChange(({ from, to }) => changes.emit('change', { key, from, to }));
    breakers.set(key, breaker);
    return breaker;
  };

  const live = (key: string): RegistryBreaker | undefined => {
    const breaker = breakers.get(key);
    if (breaker === undefined || !breaker.isShutdown) return breaker;
    // Shut down directly by its user: forget it, the next get() starts afresh.
    breakers.delete(key);
    return undefined;
  };

  const registry: BreakerRegistry = {
    get(key) {
      if (typeof key !== 'string' || key.length === 0) {
        throw new TypeError(`${SCOPE}: key must be a non-empty string (got ${describeValue(key)})`);
      }
      if (closed) throw new ShutdownError(key, `${SCOPE}: the registry is closed`);
      return live(key) ?? create(key);
    },
    has(key) {
      return live(key) !== undefined;
    },
    delete(key) {
      const breaker = live(key);
      if (breaker === undefined) return false;
      breakers.delete(key);
      breaker.shutdown();
      return true;
    },
    keys() {
      return [...breakers.keys()].filter((key) => live(key) !== undefined);
    },
    get size() {
      return registry.keys().length;
    },
    snapshot() {
      return Object.fromEntries(registry.keys().map((key) => [key, (breakers.get(key) as RegistryBreaker).snapshot()]));
    },
    onStateChange(listener) {
      return changes.on('change', listener);
    },
    async close() {
      if (closed) return;
      closed = true;
      for (const breaker of breakers.values()) breaker.shutdown();
      breakers.clear();
      changes.removeAllListeners();
    },
    [Symbol.asyncDispose]() {
      return registry.close();
    },
  };
  return registry;
}
