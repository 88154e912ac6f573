import { type Clock, settleWithin } from '@edgekit/core';
import { CacheError } from './errors.js';

/** Settles like `promise`, or rejects with an `ETIMEDOUT` {@link CacheError} after `ms` on `clock`; other failures become `ECACHESTORE`. */
export function withTimeout<T>(promise: Promise<T>, ms: number, clock: Clock, operation: string, key?: string): Promise<T> {
  const where = key === undefined ? { operation } : { operation, key };
  return settleWithin(
    promise,
    ms,
    clock,
    () => new CacheError('ETIMEDOUT', `store ${operation} did not answer within ${ms} ms`, where),
    (error) =>
      error instanceof CacheError
        ? error
        : new CacheError('ECACHESTORE', `store ${operation} failed: ${error instanceof Error ? error.message : String(error)}`, { ...where, cause: error }),
  );
}
