import { createHash } from 'node:crypto';
import { describeValue, redisHashTag } from '@edgekit/core';
import type { Algorithm, RateLimitPolicy } from './types.js';

/** Keys longer than this many UTF-16 code units are replaced by a SHA-256 digest. */
export const DEFAULT_MAX_KEY_LENGTH = 256;

/**
 * Returns the key a limiter stores: the key itself, or `#` plus a base64url SHA-256 digest when it
 * is longer than `maxKeyLength`, so a hostile client cannot make the limiter hold megabyte keys.
 */
export function normalizeKey(scope: string, key: string, maxKeyLength: number): string {
  if (typeof key !== 'string') throw new TypeError(`${scope}: key must be a string (got ${describeValue(key)})`);
  if (key.length <= maxKeyLength) return key;
  return `#${createHash('sha256').update(key).digest('base64url')}`;
}

/** Default prefix of every Redis key a limiter writes. */
export const DEFAULT_PREFIX = 'edgekit:rl:';

const TAGS: Record<Algorithm, string> = { 'fixed-window': 'fw', 'sliding-window': 'sw', 'token-bucket': 'tb', gcra: 'gcra' };

/**
 * Builds `<prefix><name>:<algorithm>:<hash tag of key>`; window algorithms append `:<window
 * index>`. The hash tag ({@link redisHashTag}) keeps the current and previous windows of one key in
 * one Cluster slot whatever the key holds.
 */
export function keyBase(prefix: string, policy: RateLimitPolicy, key: string): string {
  return `${prefix}${policy.name}:${TAGS[policy.algorithm]}:${redisHashTag(key)}`;
}
