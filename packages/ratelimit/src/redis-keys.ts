import type { Cluster, Redis } from 'ioredis';
import { hashTag } from './keys.js';
import type { Algorithm, RateLimitPolicy } from './types.js';

/** Default prefix of every Redis key a limiter writes. */
export const DEFAULT_PREFIX = 'edgekit:rl:';

const TAGS: Record<Algorithm, string> = { 'fixed-window': 'fw', 'sliding-window': 'sw', 'token-bucket': 'tb', gcra: 'gcra' };

/**
 * Builds `<prefix><name>:<algorithm>:{<key>}`; window algorithms append `:<window index>`. The
 * hash tag keeps the current and previous windows of one key in one Cluster slot.
 */
export function keyBase(prefix: string, policy: RateLimitPolicy, key: string): string {
  return `${prefix}${policy.name}:${TAGS[policy.algorithm]}:{${hashTag(key)}}`;
}

/** Checks the `redis` option: an ioredis `Redis` or `Cluster`. */
export function checkRedis(scope: string, redis: unknown): Redis | Cluster {
  if (!redis || typeof redis !== 'object' || typeof (redis as Redis).evalsha !== 'function') {
    throw new TypeError(`${scope}: option "redis" must be an ioredis Redis or Cluster client`);
  }
  return redis as Redis | Cluster;
}

/** True for an ioredis Cluster client. */
export function isCluster(client: Redis | Cluster): client is Cluster {
  return (client as Cluster).isCluster === true;
}
