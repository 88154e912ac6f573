import type { EventEmitter } from 'node:events';
import { waitFor as waitUntil } from '@edgekit/test-utils/node';

/** Every event a breaker can emit, in a fixed order (for recording sequences). */
export const BREAKER_EVENTS = [
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
] as const;

/** Records the names of the events `emitter` emits, in order. */
export function recordEvents(emitter: EventEmitter, names: readonly string[] = BREAKER_EVENTS): string[] {
  const log: string[] = [];
  for (const name of names) emitter.on(name, () => log.push(name));
  return log;
}

/** A promise with its settle functions exposed: lets a test decide when an action finishes. */
export interface Deferred<T> {
  promise: Promise<T>;
  resolve(value: T): void;
  reject(error: unknown): void;
}

export function deferred<T = unknown>(): Deferred<T> {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** Lets pending promise callbacks run (a few turns of the event loop). */
export async function flush(): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}

/** Settles `promise` into a comparable string: `ok:<value>` or `err:<code or message>`. */
export async function outcome(promise: Promise<unknown>): Promise<string> {
  try {
    return `ok:${String(await promise)}`;
  } catch (error) {
    const e = error as { code?: string; message?: string };
    return `err:${e.code ?? e.message ?? String(error)}`;
  }
}

/** `waitFor` of `@edgekit/test-utils` with this suite's default timeout (5 s). */
export const waitFor = (condition: () => boolean, timeoutMs = 5_000, what = 'condition'): Promise<void> => waitUntil(condition, timeoutMs, what);
