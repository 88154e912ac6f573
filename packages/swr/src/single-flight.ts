import type { Bus } from '@edgekit/bus';
import type { Clock, Disposable, RedisClientLike } from '@edgekit/core';
import type { SwrError } from './errors.js';

/** Options of {@link createSingleFlight}. Durations are milliseconds. */
export interface SingleFlightOptions {
  /** An ioredis client (standalone or Cluster) for the cross-process lock. Default: none (in-process single flight only). */
  redis?: RedisClientLike;
  /** Carries "fetch done" notices that wake waiting processes. Default: a `createRedisBus({ redis })` owned and closed by the flight. */
  bus?: Bus;
  /** Time source for lock heartbeats, wait bounds and timeouts. Default: the system clock. */
  clock?: Clock;
  /** Lifetime of a lock; the holder extends it every `lockTtl / 3` while its fetch runs, so it only lapses when the holder dies. Default: 10000. */
  lockTtl?: number;
  /** Longest a caller waits for another process's fetch before fetching itself. Default: 10000. */
  waitTimeout?: number;
  /** Longest a Redis lock command may take before the caller fetches itself. Default: 1000. */
  operationTimeout?: number;
  /** After a lock command fails, how long callers skip the lock (in-process single flight only), so a dead Redis costs one timeout, not one per call. Default: 1000. */
  cooldown?: number;
  /** Prefix of lock keys (`<prefix>lock:<key>`). Default: `'edgekit:swr:'`. */
  prefix?: string;
  /** Bus channel of "fetch done" notices. Default: `'edgekit:swr:done'`. */
  channel?: string;
}

/** Defaults of {@link SingleFlightOptions}. */
export const SINGLE_FLIGHT_DEFAULTS = {
  lockTtl: 10_000,
  waitTimeout: 10_000,
  operationTimeout: 1_000,
  cooldown: 1_000,
  prefix: 'edgekit:swr:',
  channel: 'edgekit:swr:done',
} as const;

/** Per-call options of {@link SingleFlight.run} and {@link SingleFlight.refresh}. */
export interface FlightCallOptions<V> {
  /**
   * Reads the result another process's fetch stored; resolves `undefined` while none is usable.
   * Called after the lock is taken (a fetch that just finished is not repeated) and when a
   * waiter is woken. Without it a woken waiter fetches itself.
   */
  check?: () => Promise<V | undefined>;
  /** Whether a fetched value was stored where `check` finds it. Default: always. */
  stored?: (value: V) => boolean;
  /** Aborts this caller's wait; a fetch shared with other callers keeps running. */
  signal?: AbortSignal;
}

/** Counters of {@link SingleFlight.stats}. */
export interface SingleFlightStats {
  /** Fetches this process ran (as lock holder, without Redis, or as a fallback). */
  fetches: number;
  /** Calls that joined a fetch already running in this process. */
  joined: number;
  /** Times a caller found the lock held by another process and waited. */
  waits: number;
  /** Waits ended by a "fetch done" notice. */
  notified: number;
  /** Waits ended by the lock's expiry bound or a bus reconnect (no notice). */
  rechecks: number;
  /** Fetches made without the lock: Redis failed or is resting, the wait timed out, or the holder's fetch failed or was not stored. */
  fallbacks: number;
  /** Background refreshes skipped because another process holds the lock. */
  skipped: number;
}

/** A notice on the bus about a key: a fetch stored (or did not store, or failed), or the key changed. */
export interface FlightNotice {
  key: string;
  outcome: 'stored' | 'skipped' | 'failed' | 'changed';
  /** True when this process sent it. */
  local: boolean;
}

/** Events of a {@link SingleFlight}. */
export type SingleFlightEvents = {
  /** A lock or notification failure the flight absorbed (the caller fetched itself). */
  error: [error: SwrError];
  /** A notice from any process (this one included): what a process-local copy of the key must react to. */
  notice: [notice: FlightNotice];
  /** The bus may have missed notices (`disconnected`) or is back (`reconnected`). */
  gap: [gap: { kind: 'disconnected' | 'reconnected' }];
};

/**
 * One fetch per key: in-process callers share a promise, and with Redis, processes share a lock.
 * A process that finds the lock taken waits for the holder's "done" notice on the bus (not a poll),
 * bounded by the lock's remaining lifetime and `waitTimeout`, then reads the stored result.
 */
export interface SingleFlight {
  /** Runs `fetch` once for concurrent callers of `key` in every process; the others get what it stored (through `check`) or its result. */
  run<V>(key: string, fetch: (signal: AbortSignal) => Promise<V>, options?: FlightCallOptions<V>): Promise<V>;
  /** Runs `fetch` unless a fetch of `key` is running here or in another process; resolves `undefined` when it did not run. */
  refresh<V>(key: string, fetch: (signal: AbortSignal) => Promise<V>, options?: FlightCallOptions<V>): Promise<V | undefined>;
  /** Tells every process that `key` changed outside a fetch (deleted, written directly). */
  notify(key: string): Promise<void>;
  /** True while notices are delivered (a bus is connected); false without Redis. */
  readonly connected: boolean;
  on<K extends keyof SingleFlightEvents>(event: K, listener: (...args: SingleFlightEvents[K]) => void): Disposable;
  stats(): SingleFlightStats;
  /** Aborts running fetches, wakes waiters with `ECLOSED`, and closes the bus it created. */
  close(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}
