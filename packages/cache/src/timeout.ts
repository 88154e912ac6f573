import type { Clock, ClockTimer } from '@edgekit/core';
import { CacheError } from './errors.js';

/** Settles like `promise`, or rejects with an `ETIMEDOUT` {@link CacheError} after `ms` on `clock`. */
export function withTimeout<T>(promise: Promise<T>, ms: number, clock: Clock, operation: string, key?: string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    let done = false;
    const timer: ClockTimer = clock.setTimeout(() => {
      if (done) return;
      done = true;
      reject(new CacheError('ETIMEDOUT', `store ${operation} did not answer within ${ms} ms`, { operation, ...(key === undefined ? {} : { key }) }));
    }, ms);
    promise.then(
      (value) => {
        if (done) return;
        done = true;
        clock.clearTimeout(timer);
        resolve(value);
      },
      (error: unknown) => {
        if (done) return;
        done = true;
        clock.clearTimeout(timer);
        reject(
          error instanceof CacheError
            ? error
            : new CacheError('ECACHESTORE', `store ${operation} failed: ${error instanceof Error ? error.message : String(error)}`, {
                operation,
                ...(key === undefined ? {} : { key }),
                cause: error,
              }),
        );
      },
    );
  });
}
