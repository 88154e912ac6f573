import {
  type Clock,
  type ClockTimer,
  type Disposable,
  type Listener,
  TypedEmitter,
  checkOptionsObject,
  describeValue,
  optionalBoolean,
  optionalFunction,
  optionalNumber,
  optionalOneOf,
  systemClock,
} from '@edgekit/core';
import { raceAbort } from './abort.js';
import { HealthCheckError } from './errors.js';
import { type HealthExpectation, compileExpectation } from './expect.js';
import { HttpProber, messageOf } from './http-probe.js';
import { type HealthState, type ThresholdCounters, applyProbeResult } from './state.js';
import { type HealthProbe, type HealthTarget, type ResolvedTarget, checkPath, resolveTargets } from './targets.js';

const SCOPE = '@edgekit/health';

/** Defaults of {@link createHealthChecker}; every duration is in milliseconds. */
export const DEFAULTS = Object.freeze({
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

interface TargetRecord extends ThresholdCounters {
  readonly config: ResolvedTarget;
  active: boolean;
  timer: ClockTimer | undefined;
  controller: AbortController | undefined;
  running: Promise<void> | undefined;
  checks: number;
  failures: number;
  lastCheckedAt: number | undefined;
  lastDurationMs: number | undefined;
  lastStatus: number | undefined;
  lastError: HealthCheckError | undefined;
  changedAt: number | undefined;
  /** Created once per target, so scheduling allocates no closure per probe. */
  readonly fire: () => void;
}

interface Outcome {
  status: number | undefined;
  error: HealthCheckError | undefined;
}

// Header names are RFC 9110 tokens; values carry no CR, LF or NUL (they would split the request).
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
const HEADER_VALUE_FORBIDDEN = /[\r\n\0]/;

function checkHeaders(value: unknown): Record<string, string> {
  if (value === undefined) return {};
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new TypeError(`${SCOPE}: option "headers" must be an object of strings (got ${describeValue(value)})`);
  }
  const headers: Record<string, string> = {};
  for (const [name, headerValue] of Object.entries(value)) {
    if (!HEADER_NAME.test(name)) throw new TypeError(`${SCOPE}: option "headers" has an invalid header name ${describeValue(name)}`);
    if (typeof headerValue !== 'string' || HEADER_VALUE_FORBIDDEN.test(headerValue)) {
      throw new TypeError(`${SCOPE}: option "headers[${JSON.stringify(name)}]" must be a string without CR, LF or NUL (got ${describeValue(headerValue)})`);
    }
    headers[name.toLowerCase()] = headerValue;
  }
  return headers;
}

const counting = { integer: true, min: 1 } as const;
const duration = { min: 0 } as const;

/**
 * Creates an active health checker: every target runs on its own jittered schedule, so one slow or
 * hanging region never delays the others; rise/fall thresholds keep a single lost probe from
 * flipping a region.
 *
 * @example
 * const health = createHealthChecker({ targets: [{ name: 'eu', url: 'https://eu.api.example.com' }] });
 * health.on('change', (e) => log.warn(`${e.name} is now ${e.state}: ${e.reason}`));
 * if (health.isHealthy('eu')) forwardTo('eu');
 */
export function createHealthChecker(options: HealthCheckerOptions = {}): HealthChecker {
  return new HealthCheckerImpl(options);
}

class HealthCheckerImpl implements HealthChecker {
  readonly #clock: Clock;
  readonly #random: () => number;
  readonly #interval: number;
  readonly #timeout: number;
  readonly #jitter: number;
  readonly #initialJitter: number;
  readonly #healthyThreshold: number;
  readonly #unhealthyThreshold: number;
  readonly #path: string;
  readonly #probe: HealthProbe | undefined;
  readonly #unknownIsHealthy: boolean;
  readonly #http: HttpProber;
  readonly #events: TypedEmitter<HealthCheckerEvents>;
  #targets = new Map<string, TargetRecord>();
  #closing: Promise<void> | undefined;

  constructor(options: HealthCheckerOptions) {
    const opts = checkOptionsObject<HealthCheckerOptions>(SCOPE, options);
    const clock = opts.clock ?? systemClock;
    if (clock === null || typeof clock !== 'object' || typeof clock.setTimeout !== 'function' || typeof clock.now !== 'function') {
      throw new TypeError(`${SCOPE}: option "clock" must be a Clock with now(), setTimeout() and clearTimeout() (got ${describeValue(clock)})`);
    }
    this.#clock = clock;
    this.#random = optionalFunction<() => number, () => number>(SCOPE, 'random', opts.random, Math.random);
    this.#interval = optionalNumber(SCOPE, 'interval', opts.interval, DEFAULTS.interval, { min: 0, exclusiveMin: true });
    this.#timeout = optionalNumber(SCOPE, 'timeout', opts.timeout, DEFAULTS.timeout, { min: 0, exclusiveMin: true });
    this.#jitter = optionalNumber(SCOPE, 'jitter', opts.jitter, DEFAULTS.jitter, duration);
    this.#initialJitter = optionalNumber(SCOPE, 'initialJitter', opts.initialJitter, DEFAULTS.initialJitter, duration);
    this.#healthyThreshold = optionalNumber(SCOPE, 'healthyThreshold', opts.healthyThreshold, DEFAULTS.healthyThreshold, counting);
    this.#unhealthyThreshold = optionalNumber(SCOPE, 'unhealthyThreshold', opts.unhealthyThreshold, DEFAULTS.unhealthyThreshold, counting);
    this.#path = opts.path === undefined ? DEFAULTS.path : checkPath(SCOPE, 'path', opts.path);
    this.#probe = optionalFunction<HealthProbe, undefined>(SCOPE, 'probe', opts.probe, undefined);
    this.#unknownIsHealthy = optionalBoolean(SCOPE, 'unknownIsHealthy', opts.unknownIsHealthy, DEFAULTS.unknownIsHealthy);
    this.#http = new HttpProber({
      method: optionalOneOf(SCOPE, 'method', opts.method, ['GET', 'HEAD'], DEFAULTS.method),
      headers: checkHeaders(opts.headers),
      expectation: compileExpectation(SCOPE, opts.expect),
      maxBodyBytes: optionalNumber(SCOPE, 'maxBodyBytes', opts.maxBodyBytes, DEFAULTS.maxBodyBytes, counting),
      keepAliveTimeout: optionalNumber(SCOPE, 'keepAliveTimeout', opts.keepAliveTimeout, DEFAULTS.keepAliveTimeout, { min: 1 }),
      connections: optionalNumber(SCOPE, 'connections', opts.connections, DEFAULTS.connections, counting),
    });
    this.#events = new TypedEmitter<HealthCheckerEvents>(
      opts.onListenerError === undefined
        ? {}
        : { onListenerError: optionalFunction<(error: unknown, event: string) => void, undefined>(SCOPE, 'onListenerError', opts.onListenerError, undefined) },
    );
    const targets = resolveTargets(SCOPE, opts.targets ?? [], this.#path, this.#probe);
    for (const config of targets) this.#targets.set(config.name, this.#startTarget(config));
  }

  get closed(): boolean {
    return this.#closing !== undefined;
  }

  isHealthy(name: string): boolean {
    const record = this.#targets.get(name);
    if (record === undefined) return this.#unknownIsHealthy;
    return record.state === 'healthy' || (record.state === 'unknown' && this.#unknownIsHealthy);
  }

  state(name: string): HealthState | undefined {
    return this.#targets.get(name)?.state;
  }

  names(): string[] {
    return [...this.#targets.keys()];
  }

  snapshot(): Record<string, TargetHealth> {
    const result: Record<string, TargetHealth> = {};
    for (const record of this.#targets.values()) result[record.config.name] = this.#health(record);
    return result;
  }

  on<K extends keyof HealthCheckerEvents>(event: K, listener: Listener<HealthCheckerEvents, K>): Disposable {
    return this.#events.on(event, listener);
  }

  async checkNow(): Promise<Record<string, TargetHealth>> {
    if (this.#closing !== undefined) throw new HealthCheckError('ECLOSED', '*', `${SCOPE}: checkNow() after close()`);
    const runs: Array<Promise<void>> = [];
    for (const record of this.#targets.values()) runs.push(this.#run(record));
    await Promise.all(runs);
    return this.snapshot();
  }

  setTargets(targets: readonly HealthTarget[]): void {
    if (this.#closing !== undefined) throw new HealthCheckError('ECLOSED', '*', `${SCOPE}: setTargets() after close()`);
    const resolved = resolveTargets(SCOPE, targets, this.#path, this.#probe);
    const previous = this.#targets;
    const next = new Map<string, TargetRecord>();
    for (const config of resolved) {
      const existing = previous.get(config.name);
      if (existing !== undefined && sameTarget(existing.config, config)) {
        next.set(config.name, existing);
        previous.delete(config.name);
      } else {
        next.set(config.name, this.#startTarget(config));
      }
    }
    this.#targets = next;
    for (const removed of previous.values()) this.#stopTarget(removed, 'removed');
  }

  addTarget(target: HealthTarget): void {
    this.setTargets([...this.#configs(), target]);
  }

  removeTarget(name: string): boolean {
    if (!this.#targets.has(name)) return false;
    this.setTargets(this.#configs().filter((config) => config.name !== name));
    return true;
  }

  close(): Promise<void> {
    this.#closing ??= this.#shutdown();
    return this.#closing;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  async #shutdown(): Promise<void> {
    const running: Array<Promise<void>> = [];
    for (const record of this.#targets.values()) {
      if (record.running !== undefined) running.push(record.running);
      this.#stopTarget(record, 'closed');
    }
    // Probes settle as soon as they are aborted (a custom probe that ignores its signal is left behind).
    await Promise.all(running);
    await this.#http.close();
    this.#events.removeAllListeners();
  }

  #configs(): HealthTarget[] {
    const configs: HealthTarget[] = [];
    for (const { config } of this.#targets.values()) {
      const target: HealthTarget = { name: config.name, path: config.path };
      if (config.url !== undefined) target.url = config.url;
      if (config.probe !== undefined && config.probe !== this.#probe) target.probe = config.probe;
      configs.push(target);
    }
    return configs;
  }

  #startTarget(config: ResolvedTarget): TargetRecord {
    const record: TargetRecord = {
      config,
      state: 'unknown',
      consecutiveSuccesses: 0,
      consecutiveFailures: 0,
      active: true,
      timer: undefined,
      controller: undefined,
      running: undefined,
      checks: 0,
      failures: 0,
      lastCheckedAt: undefined,
      lastDurationMs: undefined,
      lastStatus: undefined,
      lastError: undefined,
      changedAt: undefined,
      fire: () => {
        record.timer = undefined;
        void this.#run(record);
      },
    };
    // Per-target offset, so targets (and a fleet of gateways) do not probe in lockstep.
    record.timer = this.#clock.setTimeout(record.fire, this.#randomDelay(this.#initialJitter));
    return record;
  }

  #stopTarget(record: TargetRecord, why: 'removed' | 'closed'): void {
    record.active = false;
    this.#clock.clearTimeout(record.timer);
    record.timer = undefined;
    record.controller?.abort(new HealthCheckError('ECLOSED', record.config.name, `${record.config.name}: probe aborted, target ${why}`));
  }

  #randomDelay(spread: number): number {
    if (spread === 0) return 0;
    const r = this.#random();
    return r >= 0 && r < 1 ? r * spread : 0;
  }

  /** Starts a probe of `record` unless one is in flight; never rejects. */
  #run(record: TargetRecord): Promise<void> {
    if (record.running !== undefined) return record.running;
    const clock = this.#clock;
    clock.clearTimeout(record.timer);
    record.timer = undefined;
    const name = record.config.name;
    const controller = new AbortController();
    const timeout = this.#timeout;
    const startedAt = clock.now();
    const timer = clock.setTimeout(() => {
      controller.abort(new HealthCheckError('ETIMEDOUT', name, `${name}: no probe result within ${timeout} ms`));
    }, timeout);
    record.controller = controller;
    const running = this.#attempt(record.config, controller.signal).then((outcome) => {
      clock.clearTimeout(timer);
      record.controller = undefined;
      record.running = undefined;
      if (!record.active) return;
      const now = clock.now();
      this.#record(record, outcome, now, now - startedAt);
      record.timer = clock.setTimeout(record.fire, this.#interval + this.#randomDelay(this.#jitter));
    });
    record.running = running;
    return running;
  }

  async #attempt(config: ResolvedTarget, signal: AbortSignal): Promise<Outcome> {
    try {
      const work = config.http !== undefined ? this.#http.probe(config.http, signal) : runCustomProbe(config, signal);
      const status = await raceAbort(work, signal);
      return { status, error: undefined };
    } catch (error) {
      const probeError = toProbeError(config.name, error, signal);
      return { status: probeError.status, error: probeError };
    }
  }

  #record(record: TargetRecord, outcome: Outcome, now: number, durationMs: number): void {
    const ok = outcome.error === undefined;
    record.checks++;
    if (!ok) record.failures++;
    record.lastCheckedAt = now;
    record.lastDurationMs = durationMs;
    record.lastStatus = outcome.status;
    record.lastError = outcome.error;
    const previous = applyProbeResult(record, ok, this.#healthyThreshold, this.#unhealthyThreshold);
    const name = record.config.name;
    const events = this.#events;
    if (events.hasListeners('probe')) {
      events.emit('probe', {
        name,
        ok,
        durationMs,
        status: outcome.status,
        error: outcome.error,
        state: record.state,
        healthy: this.isHealthy(name),
        at: now,
      });
    }
    if (previous === record.state) return;
    record.changedAt = now;
    if (!events.hasListeners('change')) return;
    events.emit('change', {
      name,
      healthy: this.isHealthy(name),
      state: record.state,
      previous,
      reason: ok ? passReason(previous, record.consecutiveSuccesses) : failReason(outcome.error, record.consecutiveFailures),
      consecutiveSuccesses: record.consecutiveSuccesses,
      consecutiveFailures: record.consecutiveFailures,
      error: outcome.error,
      at: now,
    });
  }

  #health(record: TargetRecord): TargetHealth {
    return {
      name: record.config.name,
      url: record.config.url,
      state: record.state,
      healthy: this.isHealthy(record.config.name),
      consecutiveSuccesses: record.consecutiveSuccesses,
      consecutiveFailures: record.consecutiveFailures,
      checks: record.checks,
      failures: record.failures,
      lastCheckedAt: record.lastCheckedAt,
      lastDurationMs: record.lastDurationMs,
      lastStatus: record.lastStatus,
      lastError: record.lastError?.message,
      lastErrorCode: record.lastError?.code,
      changedAt: record.changedAt,
    };
  }
}

function sameTarget(a: ResolvedTarget, b: ResolvedTarget): boolean {
  return a.url === b.url && a.path === b.path && a.probe === b.probe;
}

async function runCustomProbe(config: ResolvedTarget, signal: AbortSignal): Promise<undefined> {
  const result = await (config.probe as HealthProbe)({ name: config.name, url: config.url, signal });
  if (result === false) throw new HealthCheckError('EPROBEFAILED', config.name, `${config.name}: probe returned false`);
  return undefined;
}

function toProbeError(name: string, error: unknown, signal: AbortSignal): HealthCheckError {
  // After an abort, undici reports the abort in its own words: the reason says what happened.
  if (signal.aborted && signal.reason instanceof HealthCheckError) return signal.reason;
  if (error instanceof HealthCheckError) return error;
  return new HealthCheckError('EPROBEFAILED', name, `${name}: ${messageOf(error)}`, { cause: error });
}

function passReason(previous: HealthState, successes: number): string {
  return previous === 'unknown' ? 'first probe passed' : `${successes} consecutive probes passed`;
}

function failReason(error: HealthCheckError | undefined, failures: number): string {
  const message = error?.message ?? 'probe failed';
  return failures === 1 ? message : `${message} (${failures} consecutive failures)`;
}
