/**
 * Runs one scenario against opossum and against @edgekit/breaker under the same fake timers and
 * records what a user can observe: every event with its arguments, how each fire() settles, the
 * state flags, stats and toJSON() after each step. Two traces must be equal.
 */
import Opossum from 'opossum';
import { vi } from 'vitest';
import { CircuitBreaker } from '../../src/index.js';

/** What the action does for one call. */
export type CallKind =
  /** Resolves after `delay` ms (at once, as a promise, for 0). */
  | 'ok'
  /** Rejects after `delay` ms. */
  | 'fail'
  /** Rejects with an error that `errorFilter` accepts (when the scenario sets one). */
  | 'filtered'
  /** Never settles. */
  | 'hang'
  /** Throws synchronously. */
  | 'throw'
  /** Returns a plain value synchronously. */
  | 'value';

export type Step =
  | { op: 'fire'; kind: CallKind; delay: number; key: number }
  | { op: 'advance'; ms: number }
  | { op: 'open' | 'close' | 'disable' | 'enable' | 'shutdown' | 'clearCache' | 'restore' };

/** Scenario options: opossum options plus how the harness sets the breaker up. */
export interface ScenarioOptions {
  options: Record<string, unknown>;
  /** Set `errorFilter` accepting `filtered` errors. */
  filter?: boolean;
  /** Set a fallback: `'value'` returns one, `'reject'` returns a rejected promise, `'throw'` throws. */
  fallback?: 'value' | 'reject' | 'throw' | undefined;
}

export type Trace = unknown[];

type AnyBreaker = {
  fire(...args: unknown[]): Promise<unknown>;
  on(event: string, listener: (...args: unknown[]) => void): unknown;
  fallback(fn: (...args: unknown[]) => unknown): unknown;
  open(): void;
  close(): void;
  disable(): void;
  enable(): void;
  shutdown(): void;
  clearCache(): void;
  toJSON(): { state: unknown; status: unknown };
  readonly stats: unknown;
  readonly opened: boolean;
  readonly closed: boolean;
  readonly halfOpen: boolean;
  readonly pendingClose: boolean;
  readonly enabled: boolean;
  readonly warmUp: boolean;
  readonly isShutdown: boolean;
  readonly volumeThreshold: number;
  getSignal(): AbortSignal | undefined;
};

type Library = 'opossum' | 'edgekit';

const EVENTS = [
  'fire',
  'success',
  'failure',
  'timeout',
  'reject',
  'open',
  'close',
  'halfOpen',
  'fallback',
  'semaphoreLocked',
  'healthCheckFailed',
  'shutdown',
  'cacheHit',
  'cacheMiss',
  'coalesceCacheHit',
  'coalesceCacheMiss',
];

class FilteredError extends Error {
  readonly filtered = true;
}

/** Errors compare by class of origin, code and message; promises as a marker; the rest as JSON. */
function normalize(value: unknown, isOurError: (error: unknown) => boolean): unknown {
  if (value instanceof Error) {
    return { error: value.message, code: (value as { code?: unknown }).code, ours: isOurError(value), filtered: value instanceof FilteredError };
  }
  if (value instanceof Promise) return '<promise>';
  if (Array.isArray(value)) return value.map((v) => normalize(v, isOurError));
  if (value === undefined) return '<undefined>';
  return JSON.parse(JSON.stringify(value));
}

function action(key: number, kind: CallKind, delay: number): unknown {
  switch (kind) {
    case 'ok':
      return delay === 0 ? Promise.resolve(`ok-${key}`) : new Promise((resolve) => setTimeout(() => resolve(`ok-${key}`), delay));
    case 'fail':
      return delay === 0
        ? Promise.reject(new Error(`fail-${key}`))
        : new Promise((_, reject) => setTimeout(() => reject(new Error(`fail-${key}`)), delay));
    case 'filtered':
      return new Promise((_, reject) => setTimeout(() => reject(new FilteredError(`filtered-${key}`)), delay));
    case 'hang':
      return new Promise(() => {});
    case 'throw':
      throw new Error(`throw-${key}`);
    case 'value':
      return `value-${key}`;
  }
}

async function flush(): Promise<void> {
  for (let i = 0; i < 4; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}

function create(library: Library, scenario: ScenarioOptions, restored?: { state: unknown; status: unknown }): AnyBreaker {
  const options: Record<string, unknown> = { ...scenario.options };
  if (scenario.filter) options.errorFilter = (error: unknown) => error instanceof FilteredError;
  if (restored !== undefined) {
    options.state = structuredClone(restored.state);
    options.status = structuredClone(restored.status);
  }
  const breaker = (library === 'opossum' ? new Opossum(action as never, options) : new CircuitBreaker(action, options)) as unknown as AnyBreaker;
  const fallback = scenario.fallback;
  if (fallback === 'value') breaker.fallback((key: unknown) => `fallback-${String(key)}`);
  else if (fallback === 'reject') breaker.fallback((key: unknown) => Promise.reject(new Error(`fallback-failed-${String(key)}`)));
  else if (fallback === 'throw')
    breaker.fallback((key: unknown) => {
      throw new Error(`fallback-threw-${String(key)}`);
    });
  return breaker;
}

/** Runs `steps` against one library under fresh fake timers starting at time 0. */
export async function runScenario(library: Library, scenario: ScenarioOptions, steps: readonly Step[]): Promise<Trace> {
  vi.useFakeTimers({ now: 0, toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'Date'] });
  const isOurError = library === 'opossum' ? (e: unknown) => Opossum.isOurError(e as Error) : (e: unknown) => CircuitBreaker.isOurError(e);
  const trace: Trace = [];
  const breakers: AnyBreaker[] = [];
  const listen = (breaker: AnyBreaker): void => {
    for (const event of EVENTS) {
      breaker.on(event, (...args: unknown[]) => trace.push([event, ...args.map((a) => normalize(a, isOurError))]));
    }
  };
  const observe = (breaker: AnyBreaker): void => {
    trace.push({
      t: Date.now(),
      opened: breaker.opened,
      closed: breaker.closed,
      halfOpen: breaker.halfOpen,
      pendingClose: breaker.pendingClose,
      enabled: breaker.enabled,
      warmUp: breaker.warmUp,
      isShutdown: breaker.isShutdown,
      volumeThreshold: breaker.volumeThreshold,
      signal: breaker.getSignal() === undefined ? 'none' : breaker.getSignal()?.aborted,
      stats: normalize(breaker.stats, isOurError),
      json: normalize(breaker.toJSON(), isOurError),
    });
  };
  try {
    let breaker = create(library, scenario);
    breakers.push(breaker);
    listen(breaker);
    observe(breaker);
    let calls = 0;
    for (const step of steps) {
      trace.push(step.op);
      switch (step.op) {
        case 'fire': {
          const id = calls++;
          let promise: Promise<unknown>;
          try {
            promise = breaker.fire(step.key, step.kind, step.delay);
          } catch (error) {
            // opossum throws synchronously from a disabled breaker whose action throws; this package rejects.
            promise = Promise.reject(error);
          }
          promise.then(
            (value) => trace.push(['settled', id, 'ok', normalize(value, isOurError)]),
            (error: unknown) => trace.push(['settled', id, 'err', normalize(error, isOurError)]),
          );
          break;
        }
        case 'advance':
          await vi.advanceTimersByTimeAsync(step.ms);
          break;
        case 'restore': {
          const saved = breaker.toJSON();
          breaker = create(library, scenario, saved);
          breakers.push(breaker);
          listen(breaker);
          break;
        }
        default:
          breaker[step.op]();
      }
      await flush();
      observe(breaker);
    }
  } finally {
    for (const breaker of breakers) breaker.shutdown();
    vi.clearAllTimers();
    vi.useRealTimers();
  }
  return trace;
}

/** Runs the scenario against both libraries; returns both traces. */
export async function runBoth(scenario: ScenarioOptions, steps: readonly Step[]): Promise<{ opossum: Trace; edgekit: Trace }> {
  const opossum = await runScenario('opossum', scenario, steps);
  const edgekit = await runScenario('edgekit', scenario, steps);
  return { opossum, edgekit };
}

/** Shorthands for writing scenarios. */
export const fire = (kind: CallKind, delay = 0, key = 1): Step => ({ op: 'fire', kind, delay, key });
export const advance = (ms: number): Step => ({ op: 'advance', ms });
export const op = (name: 'open' | 'close' | 'disable' | 'enable' | 'shutdown' | 'clearCache' | 'restore'): Step => ({ op: name });
