import type { EventEmitter } from 'node:events';
import {
  type Clock,
  checkNumber,
  checkOptionsObject,
  describeValue,
  optionalBoolean,
  optionalFunction,
  optionalNumber,
  optionalOneOf,
  optionalString,
  systemClock,
} from '@edgekit/core';
import type { CacheTransport } from './cache.js';
import { type Stats, Status } from './status.js';
import type { BreakerStrategyFactory } from './strategies.js';

/** How a closed breaker decides to open (the built-in {@link BreakerStrategy} to use). */
export type BreakerMode =
  /** opossum's rule: the failure rate over the rolling window exceeds `errorThresholdPercentage`. */
  | 'percentage'
  /** `failureThreshold` failures in a row. */
  | 'consecutive'
  /** The failure rate over the last `windowSize` calls exceeds `errorThresholdPercentage`. */
  | 'count'
  /** As `'count'`, or the share of calls slower than `slowCallDuration` reaches `slowCallRateThreshold`. */
  | 'slowCallRate';

/** Outcomes after which a coalesced call is forgotten (opossum's `coalesceResetOn`). */
export type CoalesceResetEvent = 'error' | 'success' | 'timeout';

/** The `state` part of {@link CircuitBreaker.toJSON}, accepted back by the `state` option. */
export interface BreakerStateJSON {
  name: string;
  enabled: boolean;
  closed: boolean;
  open: boolean;
  halfOpen: boolean;
  warmUp: boolean;
  shutdown: boolean;
  /**
   * Clock time (ms) at which the breaker last opened; `undefined` if it never did. Typed `any`
   * only because `@types/opossum` declares it a `symbol`: breakers stay assignable to its types.
   */
  lastTimerAt: any;
  /** Failures in a row so far (consecutive mode only). */
  consecutiveFailures?: number;
}

/** What {@link CircuitBreaker.toJSON} returns: enough to restore a breaker in another process. */
export interface BreakerJSON {
  state: BreakerStateJSON;
  status: Stats;
}

/**
 * Options of a {@link CircuitBreaker}. Everything opossum 9 accepts is accepted with the same
 * meaning; the last group is edgekit's. Durations are milliseconds.
 */
export interface CircuitBreakerOptions<TI extends unknown[] = unknown[]> {
  /** Time a call may take before it fails with `ETIMEDOUT`; `false` or `0` disables. Default `10000`. */
  timeout?: number | false | undefined;
  /** Time the breaker stays open before letting probe calls through (half-open). Default `30000`. */
  resetTimeout?: number | undefined;
  /** Percentage mode: open when the failure rate over the window is above this (0 to 100). Default `50`. */
  errorThresholdPercentage?: number | undefined;
  /** Percentage mode: fewest fires in the window before the breaker may open. Default `0`. */
  volumeThreshold?: number | undefined;
  /** Length of the rolling statistics window. Default `10000`. */
  rollingCountTimeout?: number | undefined;
  /** Number of slices of the rolling window. Default `10`. */
  rollingCountBuckets?: number | undefined;
  /** Keep latency samples and percentiles in `stats`. Default `true`. */
  rollingPercentilesEnabled?: boolean | undefined;
  /** Calls allowed in flight at once; more fail with `ESEMLOCKED`. Default `Number.MAX_SAFE_INTEGER`. */
  capacity?: number | undefined;
  /** Failures do not open the breaker during the first `rollingCountTimeout`. Default `false`. */
  allowWarmUp?: boolean | undefined;
  /** Returns true for errors that should count as successes (a 404, say); the call still rejects. */
  errorFilter?: ((error: any, ...args: TI) => boolean) | undefined;
  /** Start enabled; a disabled breaker calls the action without protection. Default `true`. */
  enabled?: boolean | undefined;
  /** Name used in stats and errors. Default: the action's name, else a random UUID. */
  name?: string | undefined;
  /** Group name for reporting. Default: `name`. */
  group?: string | undefined;
  /** Cache the first successful result per `cacheGetKey`. Default `false`. */
  cache?: boolean | undefined;
  /** Lifetime of a cached result; `0`: until `clearCache()`. Default `0`. */
  cacheTTL?: number | undefined;
  /** Most entries of the default in-memory cache. Default `2 ** 24 - 1`. */
  cacheSize?: number | undefined;
  /** Cache and coalesce key of a call. Default `(...args) => JSON.stringify(args)`. */
  cacheGetKey?: ((...args: TI) => string) | undefined;
  /** Where cached results live. Default: an in-memory {@link MemoryCache}. */
  cacheTransport?: CacheTransport | undefined;
  /** Concurrent calls with the same key share one action call. Default `false`. */
  coalesce?: boolean | undefined;
  /** How long a coalesced result is reused; `0`: forever. Default: `timeout` (`0` when disabled). */
  coalesceTTL?: number | undefined;
  /** Most entries of the coalescing cache. Default `2 ** 24 - 1`. */
  coalesceSize?: number | undefined;
  /** Forget a coalesced call as soon as it ends this way. Default `[]` (only `coalesceTTL`). */
  coalesceResetOn?: readonly CoalesceResetEvent[] | undefined;
  /** Aborted (opossum-style, shared by all calls) when any call times out. */
  abortController?: AbortController | undefined;
  /** Replace an aborted `abortController` when the breaker goes half-open or closed. Default `false`. */
  autoRenewAbortController?: boolean | undefined;
  /** Let `status` emit `snapshot` once per slice. Default `true`. */
  enableSnapshots?: boolean | undefined;
  /** An emitter whose `rotate` events advance the rolling window instead of the clock. */
  rotateBucketController?: EventEmitter | undefined;
  /** A `Status` to use, or counters (`toJSON().status`) to start from. */
  status?: Status | { readonly stats: Partial<Stats> } | Partial<Stats> | undefined;
  /** Initial state, as in `toJSON().state` (opossum's name). */
  state?: Partial<BreakerStateJSON> | undefined;
  /** @deprecated Ignored, as in opossum; use `errorThresholdPercentage` or `mode: 'consecutive'`. */
  maxFailures?: number | undefined;

  /** How a closed breaker decides to open. Default `'percentage'`. */
  mode?: BreakerMode | undefined;
  /** Consecutive mode: failures in a row that open the breaker. Default `5`. */
  failureThreshold?: number | undefined;
  /** `'count'` and `'slowCallRate'` modes: calls in the window. Default `100`. */
  windowSize?: number | undefined;
  /** `'count'` and `'slowCallRate'` modes: fewest calls in the window before it may open. Default `windowSize`. */
  minimumCalls?: number | undefined;
  /** `'slowCallRate'` mode: a call taking at least this long (ms) is slow. Default `60000`. */
  slowCallDuration?: number | undefined;
  /** `'slowCallRate'` mode: open when this share (percent) of the window's calls were slow. Default `100`. */
  slowCallRateThreshold?: number | undefined;
  /** A custom rule for opening, in place of `mode` (see {@link BreakerStrategy}). */
  strategy?: BreakerStrategyFactory | undefined;
  /** Probe calls let through at once in half-open; all must succeed to close. Default `1`. */
  halfOpenMaxCalls?: number | undefined;
  /** Pass a per-call `AbortSignal` to the action as an extra last argument. Default `false`. */
  appendSignal?: boolean | undefined;
  /** Most latency samples kept per slice of the window (a uniform sample beyond). Default `1000`. */
  latencySampleSize?: number | undefined;
  /** @deprecated Ignored: every call has its own exact timer, as in opossum. */
  timeoutResolution?: number | undefined;
  /** Whole `toJSON()` output of an earlier breaker: state and stats together. */
  initialState?: BreakerJSON | undefined;
  /** Time source for every time read and timer. Default `systemClock`. */
  clock?: Clock | undefined;
}

/** Defaults of {@link CircuitBreakerOptions}. */
export const BREAKER_DEFAULTS = Object.freeze({
  timeout: 10_000,
  resetTimeout: 30_000,
  errorThresholdPercentage: 50,
  volumeThreshold: 0,
  rollingCountTimeout: 10_000,
  rollingCountBuckets: 10,
  rollingPercentilesEnabled: true,
  capacity: Number.MAX_SAFE_INTEGER,
  allowWarmUp: false,
  enabled: true,
  cache: false,
  cacheTTL: 0,
  cacheSize: 2 ** 24 - 1,
  coalesce: false,
  coalesceSize: 2 ** 24 - 1,
  autoRenewAbortController: false,
  enableSnapshots: true,
  mode: 'percentage' as BreakerMode,
  failureThreshold: 5,
  windowSize: 100,
  slowCallDuration: 60_000,
  slowCallRateThreshold: 100,
  halfOpenMaxCalls: 1,
  appendSignal: false,
  latencySampleSize: 1000,
  healthCheckInterval: 5000,
});

/** Options after validation and defaults, as exposed by `breaker.options`. */
export interface ResolvedBreakerOptions<TI extends unknown[] = unknown[]> {
  /** `0` when disabled; any other number (even negative or below 1) arms a timer of at least 1 ms. */
  readonly timeout: number;
  readonly resetTimeout: number;
  readonly errorThresholdPercentage: number;
  readonly volumeThreshold: number;
  readonly rollingCountTimeout: number;
  readonly rollingCountBuckets: number;
  readonly rollingPercentilesEnabled: boolean;
  readonly capacity: number;
  readonly allowWarmUp: boolean;
  // Method signatures (not function-typed properties) keep CircuitBreaker<[string], R> assignable to CircuitBreaker.
  errorFilter?(error: any, ...args: TI): boolean;
  readonly enabled: boolean;
  readonly name: string | undefined;
  readonly group: string | undefined;
  readonly cache: boolean;
  readonly cacheTTL: number;
  readonly cacheSize: number;
  cacheGetKey(...args: TI): string;
  readonly cacheTransport: CacheTransport | undefined;
  readonly coalesce: boolean;
  readonly coalesceTTL: number;
  readonly coalesceSize: number;
  readonly coalesceResetOn: readonly CoalesceResetEvent[];
  readonly abortController: AbortController | undefined;
  readonly autoRenewAbortController: boolean;
  readonly enableSnapshots: boolean;
  readonly rotateBucketController: EventEmitter | undefined;
  readonly mode: BreakerMode;
  readonly failureThreshold: number;
  readonly windowSize: number;
  readonly minimumCalls: number;
  readonly slowCallDuration: number;
  readonly slowCallRateThreshold: number;
  readonly strategy: BreakerStrategyFactory | undefined;
  readonly halfOpenMaxCalls: number;
  readonly appendSignal: boolean;
  readonly latencySampleSize: number;
  readonly clock: Clock;
}

const SCOPE = '@edgekit/breaker';
const MODES: readonly BreakerMode[] = ['percentage', 'consecutive', 'count', 'slowCallRate'];
const RESET_EVENTS: readonly CoalesceResetEvent[] = ['error', 'success', 'timeout'];

function defaultCacheKey(...args: unknown[]): string {
  return JSON.stringify(args);
}

function checkClock(value: unknown): Clock {
  if (value === undefined) return systemClock;
  const clock = value as Partial<Clock> | null;
  if (
    typeof clock !== 'object' ||
    clock === null ||
    typeof clock.now !== 'function' ||
    typeof clock.setTimeout !== 'function' ||
    typeof clock.clearTimeout !== 'function'
  ) {
    throw new TypeError(`${SCOPE}: option "clock" must have now(), setTimeout() and clearTimeout() (got ${describeValue(value)})`);
  }
  return clock as Clock;
}

function checkTimeout(value: unknown): number {
  if (value === undefined) return BREAKER_DEFAULTS.timeout;
  // opossum arms any truthy timeout and reports it as given, `-5` or `0.5` included; the timer
  // itself waits at least 1 ms, as a Node timer does.
  if (value === false) return 0;
  return checkNumber(SCOPE, 'timeout', value);
}

/** Any number, as opossum accepts (its code gives each value a meaning); only other types are refused. */
function anyNumber(name: string, value: unknown, fallback: number): number {
  return optionalNumber(SCOPE, name, value, fallback);
}

/** opossum's `Number.isInteger(value) ? value : fallback` for a number; other types are refused. */
function integerOr(name: string, value: unknown, fallback: number): number {
  if (value === undefined) return fallback;
  const n = checkNumber(SCOPE, name, value, { allowInfinity: true });
  return Number.isInteger(n) ? n : fallback;
}

function checkCacheTransport(value: unknown): CacheTransport | undefined {
  if (value === undefined) return undefined;
  const transport = value as Partial<CacheTransport> | null;
  if (
    typeof transport !== 'object' ||
    transport === null ||
    typeof transport.get !== 'function' ||
    typeof transport.set !== 'function' ||
    typeof transport.flush !== 'function'
  ) {
    // opossum's message.
    throw new TypeError('options.cacheTransport should be an object with `get`, `set` and `flush` methods');
  }
  return transport as CacheTransport;
}

function checkResetOn(value: unknown): readonly CoalesceResetEvent[] {
  if (value === undefined) return [];
  if (!Array.isArray(value)) {
    throw new TypeError(`${SCOPE}: option "coalesceResetOn" must be an array of "error", "success", "timeout" (got ${describeValue(value)})`);
  }
  // opossum keeps the known entries and drops the rest.
  return Object.freeze([...new Set(value.filter((event) => (RESET_EVENTS as readonly unknown[]).includes(event)) as CoalesceResetEvent[])]);
}

function checkAbortController(value: unknown): AbortController | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'object' || value === null || typeof (value as AbortController).abort !== 'function') {
    // opossum's message.
    throw new TypeError('AbortController does not contain `abort()` method');
  }
  return value as AbortController;
}

function checkEmitter(value: unknown): EventEmitter | undefined {
  if (value === undefined) return undefined;
  const emitter = value as Partial<EventEmitter> | null;
  if (typeof emitter !== 'object' || emitter === null || typeof emitter.on !== 'function' || typeof emitter.removeListener !== 'function') {
    throw new TypeError(`${SCOPE}: option "rotateBucketController" must be an EventEmitter (got ${describeValue(value)})`);
  }
  return value as EventEmitter;
}

/** Validates options and fills in defaults; throws a `TypeError` or `RangeError` naming the option. */
export function resolveBreakerOptions<TI extends unknown[]>(options: unknown): ResolvedBreakerOptions<TI> {
  const o = checkOptionsObject<CircuitBreakerOptions<TI>>(SCOPE, options);
  const timeout = checkTimeout(o.timeout);
  const clock = checkClock(o.clock);
  const cache = optionalBoolean(SCOPE, 'cache', o.cache, BREAKER_DEFAULTS.cache);
  const windowSize = optionalNumber(SCOPE, 'windowSize', o.windowSize, BREAKER_DEFAULTS.windowSize, { min: 1, integer: true });
  const resolved: ResolvedBreakerOptions<TI> = {
    timeout,
    // As given, negative included: the `halfOpen` event reports it (the timer waits at least 0 ms).
    resetTimeout: anyNumber('resetTimeout', o.resetTimeout, BREAKER_DEFAULTS.resetTimeout),
    errorThresholdPercentage: anyNumber('errorThresholdPercentage', o.errorThresholdPercentage, BREAKER_DEFAULTS.errorThresholdPercentage),
    volumeThreshold: integerOr('volumeThreshold', o.volumeThreshold, BREAKER_DEFAULTS.volumeThreshold),
    rollingCountTimeout: anyNumber('rollingCountTimeout', o.rollingCountTimeout, BREAKER_DEFAULTS.rollingCountTimeout),
    rollingCountBuckets: optionalNumber(SCOPE, 'rollingCountBuckets', o.rollingCountBuckets, BREAKER_DEFAULTS.rollingCountBuckets, { min: 0, integer: true }),
    rollingPercentilesEnabled: o.rollingPercentilesEnabled !== false,
    capacity: integerOr('capacity', o.capacity, BREAKER_DEFAULTS.capacity),
    allowWarmUp: o.allowWarmUp === true,
    errorFilter: optionalFunction<(error: any, ...args: TI) => boolean, undefined>(SCOPE, 'errorFilter', o.errorFilter, undefined),
    enabled: o.enabled !== false,
    // opossum: `name || action.name || uuid`, `group || name`: an empty string means the default.
    name: o.name === '' ? undefined : optionalString(SCOPE, 'name', o.name, undefined),
    group: o.group === '' ? undefined : optionalString(SCOPE, 'group', o.group, undefined),
    cache,
    cacheTTL: anyNumber('cacheTTL', o.cacheTTL, BREAKER_DEFAULTS.cacheTTL),
    cacheSize: anyNumber('cacheSize', o.cacheSize, BREAKER_DEFAULTS.cacheSize),
    cacheGetKey: optionalFunction(SCOPE, 'cacheGetKey', o.cacheGetKey, defaultCacheKey as (...args: TI) => string),
    cacheTransport: cache ? checkCacheTransport(o.cacheTransport) : (o.cacheTransport as CacheTransport | undefined),
    coalesce: Boolean(o.coalesce),
    // opossum: `coalesceTTL ?? timeout`, where a disabled timeout means "never expires".
    coalesceTTL: anyNumber('coalesceTTL', o.coalesceTTL, timeout),
    coalesceSize: anyNumber('coalesceSize', o.coalesceSize, BREAKER_DEFAULTS.coalesceSize),
    coalesceResetOn: checkResetOn(o.coalesceResetOn),
    abortController: checkAbortController(o.abortController),
    autoRenewAbortController: Boolean(o.autoRenewAbortController),
    enableSnapshots: o.enableSnapshots !== false,
    rotateBucketController: checkEmitter(o.rotateBucketController),
    mode: optionalOneOf(SCOPE, 'mode', o.mode, MODES, BREAKER_DEFAULTS.mode),
    failureThreshold: optionalNumber(SCOPE, 'failureThreshold', o.failureThreshold, BREAKER_DEFAULTS.failureThreshold, { min: 1, integer: true }),
    windowSize,
    minimumCalls: optionalNumber(SCOPE, 'minimumCalls', o.minimumCalls, windowSize, { min: 1, integer: true }),
    slowCallDuration: optionalNumber(SCOPE, 'slowCallDuration', o.slowCallDuration, BREAKER_DEFAULTS.slowCallDuration, { min: 0 }),
    slowCallRateThreshold: optionalNumber(SCOPE, 'slowCallRateThreshold', o.slowCallRateThreshold, BREAKER_DEFAULTS.slowCallRateThreshold, {
      min: 0,
      max: 100,
    }),
    strategy: optionalFunction<BreakerStrategyFactory, undefined>(SCOPE, 'strategy', o.strategy, undefined),
    halfOpenMaxCalls: optionalNumber(SCOPE, 'halfOpenMaxCalls', o.halfOpenMaxCalls, BREAKER_DEFAULTS.halfOpenMaxCalls, { min: 1, integer: true }),
    appendSignal: optionalBoolean(SCOPE, 'appendSignal', o.appendSignal, BREAKER_DEFAULTS.appendSignal),
    latencySampleSize: optionalNumber(SCOPE, 'latencySampleSize', o.latencySampleSize, BREAKER_DEFAULTS.latencySampleSize, { min: 1, integer: true }),
    clock,
  };
  if (o.state !== undefined && (typeof o.state !== 'object' || o.state === null)) {
    throw new TypeError(`${SCOPE}: option "state" must be an object as in toJSON().state (got ${describeValue(o.state)})`);
  }
  if (o.initialState !== undefined && (typeof o.initialState !== 'object' || o.initialState === null || typeof o.initialState.state !== 'object')) {
    throw new TypeError(`${SCOPE}: option "initialState" must be the output of toJSON() (got ${describeValue(o.initialState)})`);
  }
  if (o.status !== undefined && (typeof o.status !== 'object' || o.status === null)) {
    throw new TypeError(`${SCOPE}: option "status" must be a Status or an object of counters (got ${describeValue(o.status)})`);
  }
  return Object.freeze(resolved);
}

/** @internal The window of a new breaker: the `status` option's, or one built from its options. */
export function createStatus(given: unknown, o: ResolvedBreakerOptions<any>): Status {
  if (given instanceof Status) return given;
  if (given !== undefined) {
    const foreign = (given as { stats?: unknown }).stats;
    // Another library's Status (opossum's) or saved counters; opossum gives them a default window.
    const stats = (typeof foreign === 'object' && foreign !== null ? foreign : given) as Partial<Stats>;
    return new Status({ stats, clock: o.clock });
  }
  return new Status({
    rollingCountTimeout: o.rollingCountTimeout,
    rollingCountBuckets: o.rollingCountBuckets,
    rollingPercentilesEnabled: o.rollingPercentilesEnabled,
    enableSnapshots: o.enableSnapshots,
    rotateBucketController: o.rotateBucketController,
    latencySampleSize: o.latencySampleSize,
    clock: o.clock,
  });
}
