import { checkOptionsObject, type RedisClientLike } from '@edgekit/core';
import type { Cluster, Redis } from 'ioredis';
import { type SwrEntry, isEntry } from './entry.js';
import { checkPrefix, checkRedis, hashTag } from './redis-util.js';
import type { SwrStore } from './store.js';

const SCOPE = '@edgekit/swr redis store';

/** Options of {@link createRedisStore}. */
export interface RedisStoreOptions {
  /** An ioredis client: standalone `Redis` or `Cluster`. The store never opens connections itself. */
  redis: RedisClientLike;
  /** Prefix of every key. Must match the swr's `prefix` so the value and its lock share a slot. Default: `'edgekit:swr:'`. */
  prefix?: string;
}

/** Defaults of {@link RedisStoreOptions}. */
export const REDIS_STORE_DEFAULTS = {
  prefix: 'edgekit:swr:',
} as const;

/**
 * A {@link SwrStore} on Redis (standalone or Cluster): each entry is one JSON string under
 * `<prefix>{<key>}` with a `PX` expiry equal to its last window, so nothing outlives its use.
 * Values must survive `JSON.stringify` (`undefined` comes back as `null`).
 */
export function createRedisStore(options: RedisStoreOptions): SwrStore {
  const opts = checkOptionsObject<RedisStoreOptions>(SCOPE, options);
  const redis = checkRedis(SCOPE, opts.redis);
  const prefix = checkPrefix(SCOPE, 'prefix', opts.prefix, REDIS_STORE_DEFAULTS.prefix);
  return {
    name: 'redis',
    async get(key) {
      const text = await redis.get(prefix + hashTag(key));
      return text === null ? undefined : decode(text);
    },
    async set(key, entry, ttlMs) {
      if (!(ttlMs > 0)) return;
      await redis.set(prefix + hashTag(key), encode(entry), 'PX', Math.ceil(ttlMs));
    },
    async delete(key) {
      await redis.del(prefix + hashTag(key));
    },
  };
}

// A positional array: short, and `undefined` survives as `null` instead of dropping the field.
function encode(entry: SwrEntry): string {
  return JSON.stringify([entry.createdAt, entry.freshUntil, entry.staleUntil, entry.errorUntil, entry.value]);
}

function decode(text: string): SwrEntry | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (!Array.isArray(parsed) || parsed.length !== 5) return undefined;
  const entry = { createdAt: parsed[0], freshUntil: parsed[1], staleUntil: parsed[2], errorUntil: parsed[3], value: parsed[4] };
  return isEntry(entry) ? entry : undefined;
}
