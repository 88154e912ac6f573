import { type Clock, describeValue, settleWithin } from '@edgekit/core';
import type { Cluster, Redis } from 'ioredis';
import { SwrError } from './errors.js';

/** Checks the `redis` option: an ioredis `Redis` or `Cluster` client. */
export function checkRedis(scope: string, value: unknown): Redis | Cluster {
  if (!value || typeof value !== 'object' || typeof (value as Redis).get !== 'function' || typeof (value as Redis).evalsha !== 'function') {
    throw new TypeError(`${scope}: option "redis" must be an ioredis Redis or Cluster client (got ${describeValue(value)})`);
  }
  return value as Redis | Cluster;
}

/** Checks a key prefix: printable ASCII without spaces or braces (swr adds its own hash tags). */
export function checkPrefix(scope: string, name: string, value: unknown, fallback: string): string {
  if (value === undefined) return fallback;
  if (typeof value !== 'string' || value.length === 0 || value.length > 128 || !/^[\x21-\x7a|~]+$/.test(value)) {
    throw new TypeError(`${scope}: option "${name}" must be 1-128 printable ASCII characters without spaces or braces (got ${describeValue(value)})`);
  }
  return value;
}

/**
 * `{key}` with braces and `%` percent-encoded: a Redis Cluster hash tag that is never empty and
 * never cut short, so every Redis key built from it (value, lock) lands in the same slot.
 */
export function hashTag(key: string): string {
  return `{${key.replace(/[%{}]/g, (c) => (c === '%' ? '%25' : c === '{' ? '%7B' : '%7D'))}}`;
}

/** Settles like `promise`, or rejects with an `ETIMEDOUT` {@link SwrError} after `ms` on `clock`. */
export function withTimeout<T>(promise: Promise<T>, ms: number, clock: Clock, operation: string, key: string | undefined): Promise<T> {
  return settleWithin(promise, ms, clock, () => new SwrError('ETIMEDOUT', `${operation} did not answer within ${ms} ms`, { operation, ...(key === undefined ? {} : { key }) }));
}

/** True for an ioredis `Cluster`. */
export function isCluster(client: Redis | Cluster): client is Cluster {
  return (client as Cluster).isCluster === true;
}

/** The masters to scan: every master of a Cluster, or the standalone client. */
export function scanTargets(client: Redis | Cluster): Redis[] {
  return isCluster(client) ? client.nodes('master') : [client];
}
