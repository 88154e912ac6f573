import type { CircuitBreaker } from './circuit-breaker.js';

/** The function a breaker protects: any arguments, a value or a promise of one. */
export type BreakerAction<TI extends unknown[] = unknown[], TR = unknown> = (...args: TI) => TR | PromiseLike<TR>;

/** `fire()` arguments: the action's, or, when the action ends with an `AbortSignal` (`appendSignal`), the ones before it. */
export type FireArgs<TI extends unknown[]> = TI | WithoutSignal<TI>;
/** `TI` without a trailing `AbortSignal` parameter. */
export type WithoutSignal<TI extends unknown[]> = TI extends [...infer Head, AbortSignal]
  ? Head
  : TI extends [...infer Head, (AbortSignal | undefined)?]
    ? Head
    : TI;

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
  /** A call was refused because the breaker is open or its half-open probe is in flight. */
  reject: [error: Error];
  open: [];
  close: [];
  /** `resetTimeout` elapsed: a probe call may go through. */
  halfOpen: [resetTimeout: number];
  /** The fallback ran: its return value (maybe a promise) and the error that caused it. */
  fallback: [result: unknown, error: Error];
  /** `capacity` calls were in flight (a `failure` follows). */
  semaphoreLocked: [error: Error, latencyMs: number];
  /** A `healthCheck` function failed; the breaker opens. */
  healthCheckFailed: [error: Error];
  shutdown: [];
  cacheHit: [];
  cacheMiss: [];
  coalesceCacheHit: [];
  coalesceCacheMiss: [];
}

/** What a fallback may be: a function of the call's arguments and error returning the action's type, or another breaker. */
export type BreakerFallback<TI extends unknown[], TR> =
  | ((...args: [...TI, error: any]) => FallbackResult<TR> | PromiseLike<FallbackResult<TR>>)
  | CircuitBreaker<any, FallbackResult<TR>>;
/** An action that never returns (`never`) leaves the fallback free to return anything. */
type FallbackResult<TR> = [TR] extends [never] ? unknown : TR;
