import { checkOptionsObject, checkRedisClient, checkRedisPrefix, optionalNumber, type RedisClientLike } from '@edgekit/core';
import type { Cluster, Redis } from 'ioredis';
import { escapeKeyText } from './key.js';
import type { TagStore } from './store.js';

const SCOPE = '@edgekit/cache redis tag store';

/** Options of {@link createRedisTagStore}. */
export interface RedisTagStoreOptions {
  /** An ioredis client: standalone `Redis` or `Cluster`. */
  redis: RedisClientLike;
  /** Prefix of every key. Default: `'edgekit:cache:'`. */
  prefix?: string;
  /** How long a tag's generation is kept, in ms: at least the longest entry lifetime. Default: 86400000. */
  ttl?: number;
}

/** Defaults of {@link RedisTagStoreOptions}. */
export const REDIS_TAG_STORE_DEFAULTS = {
  prefix: 'edgekit:cache:',
  ttl: 86_400_000,
} as const;

// One atomic step: advance the counter, then stamp every tag with it (never lowering a stamp).
const INVALIDATE = `
local g = redis.call('INCR', KEYS[1])
for i = 2, #KEYS do
  local current = tonumber(redis.call('GET', KEYS[i]) or '0') or 0
  if g > current then redis.call('SET', KEYS[i], g, 'PX', ARGV[1]) end
end
return g`;

/**
 * Tag generations in Redis. The counter and all tag stamps share one hash tag (`{<prefix>tags}`),
 * so invalidation is one atomic script and a lookup is one `MGET`, on a Cluster too. Stamps expire
 * after `ttl`, by which time every entry older than the stamp has expired as well, so nothing grows
 * without bound.
 */
export class RedisTagStore implements TagStore {
  readonly name = 'redis';
  readonly #redis: Redis | Cluster;
  readonly #counterKey: string;
  readonly #tagPrefix: string;
  readonly #ttl: number;

  constructor(options: RedisTagStoreOptions) {
    const opts = checkOptionsObject<RedisTagStoreOptions>(SCOPE, options);
    this.#redis = checkRedisClient<Redis | Cluster>(SCOPE, opts.redis);
    const prefix = checkRedisPrefix(SCOPE, opts.prefix, REDIS_TAG_STORE_DEFAULTS.prefix);
    this.#ttl = optionalNumber(SCOPE, 'ttl', opts.ttl, REDIS_TAG_STORE_DEFAULTS.ttl, { min: 1, integer: true });
    this.#counterKey = `{${prefix}tags}:gen`;
    this.#tagPrefix = `{${prefix}tags}:t:`;
  }

  /** The Redis key holding `tag`'s generation. */
  keyOf(tag: string): string {
    return this.#tagPrefix + escapeKeyText(tag);
  }

  async generation(): Promise<number> {
    const value = await this.#redis.get(this.#counterKey);
    return value === null ? 0 : Number(value) || 0;
  }

  async invalidate(tags: readonly string[]): Promise<number> {
    const keys = [this.#counterKey, ...new Set(tags)].map((k, i) => (i === 0 ? k : this.keyOf(k)));
    const result = await this.#redis.eval(INVALIDATE, keys.length, ...keys, String(this.#ttl));
    return Number(result);
  }

  async generations(tags: readonly string[]): Promise<number[]> {
    if (tags.length === 0) return [];
    const values = await this.#redis.mget(...tags.map((t) => this.keyOf(t)));
    return values.map((v) => (v === null ? 0 : Number(v) || 0));
  }

  close(): Promise<void> {
    return Promise.resolve();
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

/** Creates a Redis-backed {@link TagStore}. */
export function createRedisTagStore(options: RedisTagStoreOptions): RedisTagStore {
  return new RedisTagStore(options);
}
