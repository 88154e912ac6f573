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
import { compileExpectation } from './expect.js';
import { HttpProber, checkHeaders } from './http-probe.js';
import { type HealthState, type ThresholdCounters, applyProbeResult } from './state.js';
import {
  HEALTH_CHECKER_DEFAULTS,
  type HealthChecker,
  type HealthCheckerEvents,
  type HealthCheckerOptions,
  type TargetHealth,
} from './health-checker.js';
import { type HealthProbe, type HealthTarget, type ResolvedTarget, checkPath, resolveTargets, runCustomProbe, toProbeError } from './targets.js';

const SCOPE = '@edgekit/health';

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
    this.#interval = optionalNumber(SCOPE, 'interval', opts.interval, HEALTH_CHECKER_DEFAULTS.interval, { min: 0, exclusiveMin: true });
    this.#timeout = optionalNumber(SCOPE, 'timeout', opts.timeout, HEALTH_CHECKER_DEFAULTS.timeout, { min: 0, exclusiveMin: true });
    this.#jitter = optionalNumber(SCOPE, 'jitter', opts.jitter, HEALTH_CHECKER_DEFAULTS.jitter, duration);
    this.#initialJitter = optionalNumber(SCOPE, 'initialJitter', opts.initialJitter, HEALTH_CHECKER_DEFAULTS.initialJitter, duration);
    this.#healthyThreshold = optionalNumber(SCOPE, 'healthyThreshold', opts.healthyThreshold, HEALTH_CHECKER_DEFAULTS.healthyThreshold, counting);
    this.#unhealthyThreshold = optionalNumber(SCOPE, 'unhealthyThreshold', opts.unhealthyThreshold, HEALTH_CHECKER_DEFAULTS.unhealthyThreshold, counting);
    this.#path = opts.path === undefined ? HEALTH_CHECKER_DEFAULTS.path : checkPath(SCOPE, 'path', opts.path);
    this.#probe = optionalFunction<HealthProbe, undefined>(SCOPE, 'probe', opts.probe, undefined);
    this.#unknownIsHealthy = optionalBoolean(SCOPE, 'unknownIsHealthy', opts.unknownIsHealthy, HEALTH_CHECKER_DEFAULTS.unknownIsHealthy);
    this.#http = new HttpProber({
      method: optionalOneOf(SCOPE, 'method', opts.method, ['GET', 'HEAD'], HEALTH_CHECKER_DEFAULTS.method),
      headers: checkHeaders(SCOPE, opts.headers),
      expectation: compileExpectation(SCOPE, opts.expect),
      maxBodyBytes: optionalNumber(SCOPE, 'maxBodyBytes', opts.maxBodyBytes, HEALTH_CHECKER_DEFAULTS.maxBodyBytes, counting),
      keepAliveTimeout: optionalNumber(SCOPE, 'keepAliveTimeout', opts.keepAliveTimeout, HEALTH_CHECKER_DEFAULTS.keepAliveTimeout, { min: 1 }),
      connections: optionalNumber(SCOPE, 'connections', opts.connections, HEALTH_CHECKER_DEFAULTS.connections, counting),
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
    if (this.#closing !== undefined) throw new HealthCheckError('ECLOSED', `${SCOPE}: checkNow() after close()`, { target: '*' });
    const runs: Array<Promise<void>> = [];
    for (const record of this.#targets.values()) runs.push(this.#run(record));
    await Promise.all(runs);
    return this.snapshot();
  }

  setTargets(targets: readonly HealthTarget[]): void {
    if (this.#closing !== undefined) throw new HealthCheckError('ECLOSED', `${SCOPE}: setTargets() after close()`, { target: '*' });
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
    record.controller?.abort(new HealthCheckError('ECLOSED', `${record.config.name}: probe aborted, target ${why}`, { target: record.config.name }));
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
      controller.abort(new HealthCheckError('ETIMEDOUT', `${name}: no probe result within ${timeout} ms`, { target: name }));
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
  return a.url === b.url && a.path === b.path && a.probe === b.probe && a.http?.tlsKey === b.http?.tlsKey;
}

function passReason(previous: HealthState, successes: number): string {
  return previous === 'unknown' ? 'first probe passed' : `${successes} consecutive probes passed`;
}

function failReason(error: HealthCheckError | undefined, failures: number): string {
  const message = error?.message ?? 'probe failed';
  return failures === 1 ? message : `${message} (${failures} consecutive failures)`;
}
