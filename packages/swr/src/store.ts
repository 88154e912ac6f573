import type { SwrEntry } from './entry.js';

/** How a store writes entries of one type as bytes (Redis) and measures them (memory). */
export interface EntryCodec<E> {
  encode(entry: E): Buffer;
  /** The entry, or `undefined` for bytes that are not one (stores decode untrusted data). */
  decode(bytes: Buffer): E | undefined;
  /** Bytes an entry counts for against a memory store's `maxSize`. */
  size(entry: E): number;
}

/**
 * Where entries live: the one store interface of `@edgekit/swr` and `@edgekit/cache` (whose
 * entries are `CacheEntry`). Keys are printable strings; a `{...}` hash tag groups keys in one
 * Redis Cluster slot. Every method may reject: callers report the error and treat the key as
 * missing. Implementations pass `storeConformance` from `@edgekit/swr/testing`.
 */
export interface SwrStore<E = SwrEntry> {
  /** A short name for events and errors (`'memory'`, `'redis'`). */
  readonly name: string;
  /** The entry under `key`, or `undefined` (absent, expired or undecodable). */
  get(key: string): Promise<E | undefined>;
  /** Stores `entry` under `key` for `ttl` ms; a `ttl` that is not > 0 stores nothing. */
  set(key: string, entry: E, ttl: number): Promise<void>;
  /** Deletes keys; resolves with how many existed. */
  delete(keys: readonly string[]): Promise<number>;
  /** Deletes every key matching a Redis glob pattern; resolves with how many were deleted. */
  deletePattern(pattern: string): Promise<number>;
  /** Deletes every entry of this store. */
  clear(): Promise<void>;
  /** Releases what the store owns (never the caller's Redis client). */
  close(): Promise<void>;
}
