import { checkOptionsObject, checkRedisClient, checkRedisPrefix, isRedisCluster, redisScanTargets, scanRedisNode, optionalNumber, type RedisClientLike } from '@edgekit/core';
import type { Cluster, Redis } from 'ioredis';
import { SWR_ENTRY_CODEC } from './codec.js';
import type { SwrEntry } from './entry.js';
import type { EntryCodec, SwrStore } from './store.js';

const SCOPE = '@edgekit/swr redis store';

/** Options of {@link createRedisStore}. */
export interface RedisStoreOptions<E = SwrEntry> {
  /** An ioredis client: standalone `Redis` or `Cluster`. The store never opens connections itself. */
  redis: RedisClientLike;
  /** Prefix of every key (`<prefix><key>`). Default: `'edgekit:swr:'`. */
  prefix?: string;
  /** How entries become bytes. Default: swr's entry codec. */
  codec?: EntryCodec<E>;
  /** Keys per `SCAN` call during pattern deletion. Default: 500. */
  scanCount?: number;
  /** Keys per `UNLINK` batch during pattern deletion. Default: 500. */
  unlinkBatch?: number;
}

/** Defaults of {@link RedisStoreOptions}. */
export const REDIS_STORE_DEFAULTS = {
  prefix: 'edgekit:swr:',
  scanCount: 500,
  unlinkBatch: 500,
} as const;

/**
 * A store on Redis (standalone or Cluster): binary values with a PX expiry under `<prefix><key>`.
 * Pattern deletion SCANs every master and UNLINKs in batches; `KEYS` is never used.
 */
export class RedisStore<E = SwrEntry> implements SwrStore<E> {
  readonly name = 'redis';
  readonly #redis: Redis | Cluster;
  readonly #prefix: string;
  readonly #codec: EntryCodec<E>;
  readonly #scanCount: number;
  readonly #unlinkBatch: number;

  constructor(options: RedisStoreOptions<E>) {
    const opts = checkOptionsObject<RedisStoreOptions<E>>(SCOPE, options);
    this.#redis = checkRedisClient<Redis | Cluster>(SCOPE, opts.redis);
    this.#prefix = checkRedisPrefix(SCOPE, opts.prefix, REDIS_STORE_DEFAULTS.prefix);
    this.#codec = (opts.codec ?? SWR_ENTRY_CODEC) as EntryCodec<E>;
    this.#scanCount = optionalNumber(SCOPE, 'scanCount', opts.scanCount, REDIS_STORE_DEFAULTS.scanCount, { min: 1, integer: true });
    this.#unlinkBatch = optionalNumber(SCOPE, 'unlinkBatch', opts.unlinkBatch, REDIS_STORE_DEFAULTS.unlinkBatch, { min: 1, integer: true });
  }

  async get(key: string): Promise<E | undefined> {
    const buffer = await this.#redis.getBuffer(this.#prefix + key);
    return buffer ? this.#codec.decode(buffer) : undefined;
  }

  async set(key: string, entry: E, ttl: number): Promise<void> {
    if (!(ttl > 0)) return;
    await this.#redis.set(this.#prefix + key, this.#codec.encode(entry), 'PX', Math.ceil(ttl));
  }

  async delete(keys: readonly string[]): Promise<number> {
    if (keys.length === 0) return 0;
    // A Cluster refuses multi-key commands across slots: one UNLINK per key there.
    if (!isRedisCluster(this.#redis)) return this.#redis.unlink(...keys.map((k) => this.#prefix + k));
    const counts = await Promise.all(keys.map((k) => this.#redis.unlink(this.#prefix + k)));
    return counts.reduce((sum, n) => sum + n, 0);
  }

  async deletePattern(pattern: string): Promise<number> {
    const match = this.#prefix + pattern;
    const counts = await Promise.all(redisScanTargets<Redis>(this.#redis).map((node) => this.#scanAndUnlink(node, match)));
    return counts.reduce((sum, n) => sum + n, 0);
  }

  async #scanAndUnlink(node: Redis, match: string): Promise<number> {
    let deleted = 0;
    let pending: string[] = [];
    const flush = async (): Promise<void> => {
      if (pending.length === 0) return;
      const batch = pending;
      pending = [];
      const pipeline = node.pipeline();
      for (const key of batch) pipeline.unlink(key);
      const results = (await pipeline.exec()) ?? [];
      for (const [error, count] of results) {
        if (error) throw error;
        deleted += Number(count);
      }
    };
    await scanRedisNode(node, match, this.#scanCount, async (keys) => {
      for (const key of keys) {
        pending.push(key);
        if (pending.length >= this.#unlinkBatch) await flush();
      }
    });
    await flush();
    return deleted;
  }

  async clear(): Promise<void> {
    await this.deletePattern('*');
  }

  close(): Promise<void> {
    return Promise.resolve();
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

/** Creates a Redis store (of swr entries, or of any entry type with its `codec`). */
export function createRedisStore<E = SwrEntry>(options: RedisStoreOptions<E>): RedisStore<E> {
  return new RedisStore<E>(options);
}
