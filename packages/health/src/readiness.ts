import type { Clock } from '@edgekit/core';
import { describeValue, optionalBoolean } from '@edgekit/core';
import { raceAbort } from './abort.js';
import { HealthCheckError } from './errors.js';
import { messageOf } from './http-probe.js';
import type { LifecyclePhase } from './lifecycle.js';
import type { HealthState } from './state.js';

const SCOPE = '@edgekit/health createLifecycle';

/** What the lifecycle reads from a health checker: `createHealthChecker()` fits. */
export interface RegionHealthSource {
  snapshot(): Record<string, { state: HealthState }>;
}

/** Something readiness depends on besides regions (Redis, a config store). */
export interface ReadinessDependency {
  /** Shown in the readiness body. */
  name: string;
  /** Up unless it returns or resolves `false`, throws, rejects, or takes longer than `dependencyTimeout`. */
  check(signal: AbortSignal): Promise<unknown> | unknown;
  /** When `false`, a failure is reported but does not make the gateway unready. Default `true`. */
  required?: boolean;
}

/** One dependency in a readiness report. */
export interface DependencyStatus {
  ok: boolean;
  required: boolean;
  durationMs: number;
  error?: string;
}

/** The body of `/ready`. */
export interface ReadinessReport {
  ready: boolean;
  phase: LifecyclePhase;
  /** Why the gateway is not ready; empty when it is. */
  reasons: string[];
  regions: Record<string, { state: HealthState; ready: boolean }>;
  dependencies: Record<string, DependencyStatus>;
  inFlight: number;
}

/** A validated {@link ReadinessDependency}. */
export interface ResolvedDependency {
  name: string;
  check: ReadinessDependency['check'];
  required: boolean;
}

export function resolveDependencies(value: unknown): ResolvedDependency[] {
  if (value === undefined) return [];
  if (!Array.isArray(value)) throw new TypeError(`${SCOPE}: option "dependencies" must be an array (got ${describeValue(value)})`);
  const seen = new Set<string>();
  return value.map((dependency: unknown, i) => {
    const at = `dependencies[${i}]`;
    if (dependency === null || typeof dependency !== 'object') {
      throw new TypeError(`${SCOPE}: option "${at}" must be an object like { name, check } (got ${describeValue(dependency)})`);
    }
    const { name, check, required } = dependency as Record<string, unknown>;
    if (typeof name !== 'string' || name.length === 0 || seen.has(name)) {
      throw new TypeError(`${SCOPE}: option "${at}.name" must be a unique non-empty string (got ${describeValue(name)})`);
    }
    seen.add(name);
    if (typeof check !== 'function') throw new TypeError(`${SCOPE}: option "${at}.check" must be a function (got ${describeValue(check)})`);
    return {
      name,
      // Keeps `this` for dependencies written as objects with a method.
      check: (check as ReadinessDependency['check']).bind(dependency),
      required: optionalBoolean(SCOPE, `${at}.required`, required, true),
    };
  });
}

export function resolveRequiredRegions(value: unknown, hasChecker: boolean): 'any' | readonly string[] {
  if (value === undefined || value === 'any') return 'any';
  if (!Array.isArray(value) || value.some((name) => typeof name !== 'string' || name.length === 0)) {
    throw new TypeError(`${SCOPE}: option "requiredRegions" must be 'any' or an array of region names (got ${describeValue(value)})`);
  }
  if (value.length > 0 && !hasChecker) throw new TypeError(`${SCOPE}: option "requiredRegions" lists regions but no "checker" is given`);
  return [...(value as string[])];
}

/** Computes readiness: the required regions' health from the checker, and every dependency check under its timeout. */
export class Readiness {
  readonly #clock: Clock;
  readonly #checker: RegionHealthSource | undefined;
  readonly #requiredRegions: 'any' | readonly string[];
  readonly #dependencies: ResolvedDependency[];
  readonly #dependencyTimeout: number;
  readonly #readyWhenUnknown: boolean;

  constructor(
    clock: Clock,
    checker: RegionHealthSource | undefined,
    requiredRegions: 'any' | readonly string[],
    dependencies: ResolvedDependency[],
    dependencyTimeout: number,
    readyWhenUnknown: boolean,
  ) {
    this.#clock = clock;
    this.#checker = checker;
    this.#requiredRegions = requiredRegions;
    this.#dependencies = dependencies;
    this.#dependencyTimeout = dependencyTimeout;
    this.#readyWhenUnknown = readyWhenUnknown;
  }

  /** Readiness of a lifecycle in its current phase: regions first, then the dependencies (while serving). */
  async evaluate(lifecycle: { readonly phase: LifecyclePhase; readonly inFlight: number }): Promise<ReadinessReport> {
    const reasons: string[] = [];
    const phase = lifecycle.phase;
    if (phase !== 'serving') reasons.push(`shutting down (${phase})`);
    const regions: ReadinessReport['regions'] = {};
    if (this.#checker !== undefined) {
      let snapshot: Record<string, { state: HealthState }> = {};
      try {
        snapshot = this.#checker.snapshot();
      } catch (error) {
        reasons.push(`region health unavailable: ${messageOf(error)}`);
      }
      let anyReady = false;
      for (const [name, health] of Object.entries(snapshot)) {
        const ready = health.state === 'healthy' || (this.#readyWhenUnknown && health.state === 'unknown');
        anyReady ||= ready;
        regions[name] = { state: health.state, ready };
      }
      if (this.#requiredRegions === 'any') {
        if (!anyReady) reasons.push('no healthy region');
      } else {
        for (const name of this.#requiredRegions) {
          const region = regions[name];
          if (region === undefined) reasons.push(`required region "${name}" is not checked`);
          else if (!region.ready) reasons.push(`required region "${name}" is ${region.state}`);
        }
      }
    }
    const dependencies: ReadinessReport['dependencies'] = {};
    // While shutting down the answer is already 503: do not spend time on dependencies.
    if (phase === 'serving' && this.#dependencies.length > 0) {
      const results = await Promise.all(this.#dependencies.map((dependency) => this.#check(dependency)));
      this.#dependencies.forEach((dependency, i) => {
        const status = results[i] as DependencyStatus;
        dependencies[dependency.name] = status;
        if (!status.ok && dependency.required) reasons.push(`dependency "${dependency.name}" is down: ${status.error ?? 'check failed'}`);
      });
    }
    // A shutdown may have started while the dependencies were checked.
    if (phase === 'serving' && lifecycle.phase !== 'serving') reasons.unshift(`shutting down (${lifecycle.phase})`);
    return { ready: reasons.length === 0, phase: lifecycle.phase, reasons, regions, dependencies, inFlight: lifecycle.inFlight };
  }

  async #check(dependency: ResolvedDependency): Promise<DependencyStatus> {
    const clock = this.#clock;
    const controller = new AbortController();
    const timeout = this.#dependencyTimeout;
    const timer = clock.setTimeout(() => {
      controller.abort(new HealthCheckError('EDEPENDENCY', `${dependency.name}: no answer within ${timeout} ms`, { target: dependency.name }));
    }, timeout);
    const startedAt = clock.now();
    try {
      const result = await raceAbort(
        Promise.resolve().then(() => dependency.check(controller.signal)),
        controller.signal,
      );
      const ok = result !== false;
      const status: DependencyStatus = { ok, required: dependency.required, durationMs: clock.now() - startedAt };
      if (!ok) status.error = 'check returned false';
      return status;
    } catch (error) {
      return { ok: false, required: dependency.required, durationMs: clock.now() - startedAt, error: messageOf(error) };
    } finally {
      clock.clearTimeout(timer);
    }
  }
}
