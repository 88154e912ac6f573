import { checkOptionsObject, optionalNumber, type RedisClientLike } from '@edgekit/core';
import type { Cluster, Redis } from 'ioredis';
import { type CacheEntry, decodeEntry, encodeEntry } from './entry.js';
import { checkPrefix, checkRedis, isCluster, scanTargets } from './redis-util.js';
import type { CacheStore } from './store.js';

const SCOPE = '@edgekit/cache redis store';

/** Options of {@link createRedisStore}. */
export interface RedisStoreOptions {
  /** An ioredis client: standalone `Redis` or `Cluster`. The store never opens connections itself. */
  redis: RedisClientLike;
  /** Prefix of every key. Default: `'edgekit:cache:'`. */
  prefix?: string;
  /** Keys per `SCAN` call during pattern deletion. Default: 500. */
  scanCount?: number;
  /** Keys per `UNLINK` batch during pattern deletion. Default: 500. */
  unlinkBatch?: number;
}

/** Defaults of {@link RedisStoreOptions}. */
export const REDIS_STORE_DEFAULTS = {
  prefix: 'edgekit:cache:',
  scanCount: 500,
  unlinkBatch: 500,
} as const;

/**
 * A {@link CacheStore} on Redis (standalone or Cluster). Entries are binary strings with a PX
 * expiry under `<prefix>e:<key>`; keys of one URL share the hash tag the cache puts in them.
 * Pattern deletion SCANs every master and UNLINKs in batches; `KEYS` is never used.
 */
export class RedisStore implements CacheStore {
  readonly name = 'redis';
  readonly #redis: Redis | Cluster;
  readonly #prefix: string;
  readonly #scanCount: number;
  readonly #unlinkBatch: number;

  constructor(options: RedisStoreOptions) {
    const opts = checkOptionsObject<RedisStoreOptions>(SCOPE, options);
    this.#redis = checkRedis(SCOPE, opts.redis);
    this.#prefix = `${checkPrefix(SCOPE, opts.prefix, REDIS_STORE_DEFAULTS.prefix)}e:`;
    this.#scanCount = optionalNumber(SCOPE, 'scanCount', opts.scanCount, REDIS_STORE_DEFAULTS.scanCount, { min: 1, integer: true });
    this.#unlinkBatch = optionalNumber(SCOPE, 'unlinkBatch', opts.unlinkBatch, REDIS_STORE_DEFAULTS.unlinkBatch, { min: 1, integer: true });
  }

  async get(key: string): Promise<CacheEntry | undefined> {
    const buffer = await this.#redis.getBuffer(this.#prefix + key);
    return buffer ? decodeEntry(buffer) : undefined;
  }

  async set(key: string, entry: CacheEntry, ttl: number): Promise<void> {
    if (!(ttl > 0)) return;
    await this.#redis.set(this.#prefix + key, encodeEntry(entry), 'PX', Math.ceil(ttl));
  }

  async delete(keys: readonly string[]): Promise<number> {
    if (keys.length === 0) return 0;
    if (!isCluster(this.#redis) && keys.length > 0) return this.#redis.unlink(...keys.map((k) => this.#prefix + k));
    // On a Cluster one UNLINK per key: the keys may live in different slots.
    const counts = await Promise.all(keys.map((k) => this.#redis.unlink(this.#prefix + k)));
    return counts.reduce((sum, n) => sum + n, 0);
  }

  async deletePattern(pattern: string): Promise<number> {
    const match = this.#prefix + pattern;
    const counts = await Promise.all(scanTargets(this.#redis).map((node) => this.#scanAndUnlink(node, match)));
    return counts.reduce((sum, n) => sum + n, 0);
  }

  async #scanAndUnlink(node: Redis, match: string): Promise<number> {
    let cursor = '0';
    let deleted = 0;
    let pending: string[] = [];
    const flush = async (): Promise<void> => {
      if (pending.length === 0) return;
      const batch = pending;
      pending = [];
      // Per-key UNLINK in one pipeline: the batch may span slots of this master.
      const pipeline = node.pipeline();
      for (const key of batch) pipeline.unlink(key);
      const results = (await pipeline.exec()) ?? [];
      for (const [error, count] of results) {
        if (error) throw error;
        deleted += Number(count);
      }
    };
    do {
      const [next, keys] = await node.scan(cursor, 'MATCH', match, 'COUNT', this.#scanCount);
      cursor = next;
      for (const key of keys) {
        pending.push(key);
        if (pending.length >= this.#unlinkBatch) await flush();
      }
    } while (cursor !== '0');
    await flush();
    return deleted;
  }

  clear(): Promise<void> {
    return this.deletePattern('*').then(() => undefined);
  }

  close(): Promise<void> {
    // The client belongs to the caller.
    return Promise.resolve();
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

/** Creates a Redis-backed {@link CacheStore} (the shared L2 tier). */
export function createRedisStore(options: RedisStoreOptions): RedisStore {
  return new RedisStore(options);
}
