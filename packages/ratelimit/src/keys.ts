import { createHash } from 'node:crypto';
import { describeValue } from '@edgekit/core';

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

const BRACE_OR_PERCENT = /[%}]/g;
const escapeTagChar = (c: string): string => (c === '%' ? '%25' : '%7D');

/**
 * The Redis hash tag body for `key`. Redis Cluster hashes only what lies between the first `{` and
 * the next `}`, and an empty `{}` means "hash the whole key", so `}` and `%` are percent-encoded
 * and the empty key becomes `%`: the mapping stays one-to-one and every key of one limiter key
 * (current and previous window) lands in the same slot.
 */
export function hashTag(key: string): string {
  if (key.length === 0) return '%';
  if (key.indexOf('}') === -1 && key.indexOf('%') === -1) return key;
  return key.replace(BRACE_OR_PERCENT, escapeTagChar);
}

/** Checks a Redis key prefix: braces would break the hash tag that follows it. */
export function checkPrefix(scope: string, prefix: unknown, fallback: string): string {
  if (prefix === undefined) return fallback;
  if (typeof prefix !== 'string' || prefix.includes('{') || prefix.includes('}')) {
    throw new TypeError(`${scope}: option "prefix" must be a string without "{" or "}" (got ${describeValue(prefix)})`);
  }
  return prefix;
}
