import { describeValue } from '@edgekit/core';
import type { Cluster, Redis } from 'ioredis';

/** Checks the `redis` option: an ioredis client. */
export function checkRedis(scope: string, value: unknown): Redis | Cluster {
  if (!value || typeof value !== 'object' || typeof (value as Redis).get !== 'function' || typeof (value as Redis).scan !== 'function') {
    throw new TypeError(`${scope}: option "redis" must be an ioredis Redis or Cluster client (got ${describeValue(value)})`);
  }
  return value as Redis | Cluster;
}

/** Checks a key prefix: printable ASCII without braces (the stores add their own hash tags). */
export function checkPrefix(scope: string, value: unknown, fallback: string): string {
  if (value === undefined) return fallback;
  if (typeof value !== 'string' || value.length === 0 || value.length > 128 || !/^[\x21-\x7a|~]+$/.test(value)) {
    throw new TypeError(`${scope}: option "prefix" must be 1-128 printable ASCII characters without spaces or braces (got ${describeValue(value)})`);
  }
  return value;
}
