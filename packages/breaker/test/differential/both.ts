/**
 * Free-form differential scenarios: `body` runs once with opossum's class and once with this
 * package's, under the same fake timers from time 0, and logs what it observes; the logs must match.
 */
import Opossum from 'opossum';
import { vi } from 'vitest';
import { CircuitBreaker } from '../../src/index.js';

export interface Run {
  /** The breaker class under test. */
  B: any;
  log(...items: unknown[]): void;
  /** Logs every event of `breaker` with the time and its arguments. */
  listen(breaker: any, events?: readonly string[]): void;
  advance(ms: number): Promise<void>;
}

function normalize(value: unknown, ours: (error: unknown) => boolean): unknown {
  if (value instanceof Error) return { error: value.message, code: (value as { code?: unknown }).code, ours: ours(value) };
  if (value instanceof Promise) return '<promise>';
  if (value === undefined) return '<undefined>';
  return JSON.parse(JSON.stringify(value));
}

const EVENTS = ['fire', 'success', 'failure', 'timeout', 'reject', 'open', 'close', 'halfOpen', 'fallback', 'semaphoreLocked', 'healthCheckFailed'];

async function runOne(library: 'opossum' | 'edgekit', body: (run: Run) => Promise<void>): Promise<unknown[]> {
  vi.useFakeTimers({ now: 0, toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'Date'] });
  const B = library === 'opossum' ? Opossum : CircuitBreaker;
  const ours = (error: unknown): boolean => (library === 'opossum' ? Opossum.isOurError(error as Error) : CircuitBreaker.isOurError(error));
  const trace: unknown[] = [];
  const run: Run = {
    B,
    log: (...items) => trace.push(items.map((item) => normalize(item, ours))),
    listen(breaker, events = EVENTS) {
      for (const event of events) breaker.on(event, (...args: unknown[]) => trace.push([event, Date.now(), ...args.map((a) => normalize(a, ours))]));
    },
    advance: async (ms) => {
      await vi.advanceTimersByTimeAsync(ms);
    },
  };
  try {
    await body(run);
    for (let i = 0; i < 4; i++) await new Promise<void>((resolve) => setImmediate(resolve));
  } finally {
    vi.clearAllTimers();
    vi.useRealTimers();
  }
  return trace;
}

/** Runs `body` against both libraries; returns both logs. */
export async function runBothFree(body: (run: Run) => Promise<void>): Promise<{ opossum: unknown[]; edgekit: unknown[] }> {
  return { opossum: await runOne('opossum', body), edgekit: await runOne('edgekit', body) };
}
