import type { Clock, Disposable, Listener } from '@edgekit/core';
import type { HealthCheckError } from './errors.js';
import type { HealthExpectation } from './expect.js';
import type { HealthState } from './state.js';
import type { HealthProbe, HealthTarget } from './targets.js';

/** Defaults of {@link createHealthChecker}; every duration is in milliseconds. */
export const HEALTH_CHECKER_DEFAULTS = Object.freeze({
  interval: 5_000,
  timeout: 2_000,
  jitter: 500,
  initialJitter: 1_000,
  healthyThreshold: 2,
  unhealthyThreshold: 3,
  path: '/health',
  method: 'GET' as 'GET' | 'HEAD',
  maxBodyBytes: 64 * 1024,
  unknownIsHealthy: true,
  keepAliveTimeout: 30_000,
  connections: 2,
});

/** Options of {@link createHealthChecker}. */
export interface HealthCheckerOptions {
  /** What to check: `{ name, url }` for HTTP, or `{ name, probe }` for anything else. Default `[]`. */
  targets?: readonly HealthTarget[];
  /** Time between the end of one probe of a target and the start of its next one. Default `5000`. */
  interval?: number;
  /** A probe that has not finished after this long is aborted and counts as a failure (`ETIMEDOUT`). Default `2000`. */
  timeout?: number;
  /** A random extra delay in `[0, jitter)` added to every interval, per target. Default `500`. */
  jitter?: number;
  /** Each target's first probe starts after a random delay in `[0, initialJitter)`. Default `1000`. */
  initialJitter?: number;
  /** Consecutive passing probes that bring an unhealthy target back. Default `2`. */
  healthyThreshold?: number;
  /** Consecutive failing probes that mark a healthy target unhealthy. Default `3`. */
  unhealthyThreshold?: number;
  /** Path the HTTP probe requests, appended to each target's URL path. Default `'/health'`. */
  path?: string;
  /** HTTP method of the probe. Default `'GET'`. */
  method?: 'GET' | 'HEAD';
  /** Extra request headers of the HTTP probe (a `host`, an auth token). Default `{}`. */
  headers?: Record<string, string>;
  /** Accepted statuses and an optional body predicate. Default: status 200-399, body not read. */
  expect?: HealthExpectation;
  /** Largest body read for `expect.body`; a larger body fails the probe (`EBADBODY`). Default `65536`. */
  maxBodyBytes?: number;
  /** A custom probe for every target that has none of its own; replaces the HTTP probe. Default: none. */
  probe?: HealthProbe;
  /**
   * Whether `isHealthy` answers `true` for a target with no result yet (`unknown`) and for a name the
   * checker does not watch. Default `true`: no evidence against a region is not a reason to skip it.
   */
  unknownIsHealthy?: boolean;
  /** Idle keep-alive time of the probe's HTTP connections (server hints may shorten it). Default `30000`. */
  keepAliveTimeout?: number;
  /** Connections per origin of the probe's HTTP agent. Default `2`. */
  connections?: number;
  /** Source of randomness in `[0, 1)` for jitter; inject one in tests. Default `Math.random`. */
  random?: () => number;
  /** Where time comes from. Default `systemClock`. */
  clock?: Clock;
  /** Called when an event listener throws. Default: `process.emitWarning`. */
  onListenerError?: (error: unknown, event: string) => void;
}

/** The health of one target, as `snapshot()` reports it. Plain data: safe to serialise. */
export interface TargetHealth {
  name: string;
  url: string | undefined;
  state: HealthState;
  /** What `isHealthy(name)` answers. */
  healthy: boolean;
  consecutiveSuccesses: number;
  consecutiveFailures: number;
  /** Probes completed since the target was added. */
  checks: number;
  /** Failed probes since the target was added. */
  failures: number;
  /** Clock time of the last result. */
  lastCheckedAt: number | undefined;
  lastDurationMs: number | undefined;
  /** HTTP status of the last response, when there was one. */
  lastStatus: number | undefined;
  /** Message of the last failure, cleared by a passing probe. */
  lastError: string | undefined;
  /** Code of the last failure (`ETIMEDOUT`, `EBADSTATUS`, ...), cleared by a passing probe. */
  lastErrorCode: string | undefined;
  /** Clock time of the last state change. */
  changedAt: number | undefined;
}

/** Emitted on every state change of a target (including leaving `unknown`). */
export interface HealthChangeEvent {
  name: string;
  /** What `isHealthy(name)` answers from now on. */
  healthy: boolean;
  state: HealthState;
  /** The state before this change. */
  previous: HealthState;
  /** Human-readable cause: the failure message, or how many probes passed. */
  reason: string;
  consecutiveSuccesses: number;
  consecutiveFailures: number;
  /** The failure that caused the change to unhealthy. */
  error: HealthCheckError | undefined;
  /** Clock time of the change. */
  at: number;
}

/** Emitted after every probe: feed it to metrics and to a region selector's latency. */
export interface ProbeEvent {
  name: string;
  ok: boolean;
  /** Clock time from the start of the probe to its result. */
  durationMs: number;
  /** HTTP status, when a response arrived. */
  status: number | undefined;
  error: HealthCheckError | undefined;
  /** The target's state after this probe. */
  state: HealthState;
  healthy: boolean;
  /** Clock time of the result. */
  at: number;
}

/** Events of a {@link HealthChecker}. */
export type HealthCheckerEvents = {
  change: [HealthChangeEvent];
  probe: [ProbeEvent];
};

/** Active health checks of a set of targets. */
export interface HealthChecker {
  /** Whether `name` should receive traffic; synchronous and cheap (one map lookup). */
  isHealthy(name: string): boolean;
  /** The state of `name`, or `undefined` when the checker does not watch it. */
  state(name: string): HealthState | undefined;
  /** Every watched target's health. */
  snapshot(): Record<string, TargetHealth>;
  /** Names of the watched targets, in configuration order. */
  names(): string[];
  /** Adds a listener; the returned handle removes it. */
  on<K extends keyof HealthCheckerEvents>(event: K, listener: Listener<HealthCheckerEvents, K>): Disposable;
  /**
   * Probes every target now (joining a probe already in flight), then resolves with the snapshot.
   * Each target's schedule restarts from its new result.
   */
  checkNow(): Promise<Record<string, TargetHealth>>;
  /**
   * Replaces the target list (for a configuration reload). A target whose name, URL, path and probe
   * are unchanged keeps its state and schedule; a new or changed one starts `unknown`; a removed one
   * stops and its probe in flight is aborted. An invalid list throws and changes nothing.
   */
  setTargets(targets: readonly HealthTarget[]): void;
  /** Adds one target; throws when the name is taken. */
  addTarget(target: HealthTarget): void;
  /** Stops watching `name`; returns whether it was watched. */
  removeTarget(name: string): boolean;
  /** True after `close()`. */
  readonly closed: boolean;
  /** Stops every timer, aborts probes in flight and closes the HTTP agent. Idempotent. */
  close(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}
