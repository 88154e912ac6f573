import type { CacheEntry } from './entry.js';

/**
 * Where entries live. Keys are the cache's own (printable ASCII, at most a few hundred
 * characters; a hash tag `{...}` groups the keys of one URL). Implementations run the shared
 * conformance suite in the package tests. Every method may reject: the cache reports the error
 * and falls back to the origin.
 */
export interface CacheStore {
  /** A short name for events and errors (`'memory'`, `'redis'`). */
  readonly name: string;
  /** The entry under `key`, or `undefined` (absent, expired or undecodable). */
  get(key: string): Promise<CacheEntry | undefined>;
  /** Stores `entry` for `ttl` ms (> 0). */
  set(key: string, entry: CacheEntry, ttl: number): Promise<void>;
  /** Deletes keys; resolves with how many existed. */
  delete(keys: readonly string[]): Promise<number>;
  /** Deletes every key matching a Redis glob pattern; resolves with how many were deleted. */
  deletePattern(pattern: string): Promise<number>;
  /** Deletes every entry of this store. */
  clear(): Promise<void>;
  close(): Promise<void>;
}

/**
 * Invalidation generations for tags. A counter grows with every invalidation; each tag remembers
 * the generation of its last invalidation. An entry records the counter read before its origin
 * request; it is valid while every one of its tags has a generation no greater than that.
 */
export interface TagStore {
  readonly name: string;
  /** The current generation (read before asking the origin). */
  generation(): Promise<number>;
  /** Advances the generation, records it on each tag, and resolves with it. With no tags it only advances. */
  invalidate(tags: readonly string[]): Promise<number>;
  /** The generation of each tag's last invalidation, 0 when it has none (or it has expired). */
  generations(tags: readonly string[]): Promise<number[]>;
  close(): Promise<void>;
}
