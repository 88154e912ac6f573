import { type Clock, settleWithin } from '@edgekit/core';
import { SwrError } from './errors.js';

/** Settles like `promise`, or rejects with an `ETIMEDOUT` {@link SwrError} after `ms` on `clock`. */
export function withTimeout<T>(promise: Promise<T>, ms: number, clock: Clock, operation: string, key: string | undefined): Promise<T> {
  return settleWithin(promise, ms, clock, () => new SwrError('ETIMEDOUT', `${operation} did not answer within ${ms} ms`, { operation, ...(key === undefined ? {} : { key }) }));
}
