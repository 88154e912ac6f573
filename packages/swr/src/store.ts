import type { SwrEntry } from './entry.js';

/**
 * Where swr keeps entries. Every method may reject; swr reports the error through its `error`
 * event and treats the key as missing. A store shared by several processes (Redis) is what lets
 * a process that waited for another's fetch read the result.
 */
export interface SwrStore {
  /** A short name for errors (`'memory'`, `'redis'`). */
  readonly name: string;
  /** The entry under `key`, or `undefined` (absent, expired or undecodable). */
  get(key: string): Promise<SwrEntry | undefined>;
  /** Stores `entry` under `key` for `ttlMs` (> 0) milliseconds. */
  set(key: string, entry: SwrEntry, ttlMs: number): Promise<void>;
  /** Deletes `key`. */
  delete(key: string): Promise<void>;
  /** Releases what the store owns (never the caller's Redis client). */
  close?(): Promise<void>;
}
