import type { SwrStore } from '@edgekit/swr';
import type { CacheEntry } from './entry.js';

/**
 * Where entries live: `@edgekit/swr`'s one store interface, holding cache entries. Build one with
 * swr's `createMemoryStore` / `createRedisStore` and `codec: CACHE_ENTRY_CODEC`; any implementation
 * passes `storeConformance` from `@edgekit/swr/testing`. Keys are the cache's own (a hash tag
 * `{...}` groups the keys of one URL). Every method may reject: the cache reports the error and
 * falls back to the origin.
 */
export type CacheStore = SwrStore<CacheEntry>;

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
