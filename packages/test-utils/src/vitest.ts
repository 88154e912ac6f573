import { afterAll, beforeAll, describe, it } from 'vitest';
import { type RedisClusterHandle, type RedisServerHandle, redisAvailability, startRedis, startRedisCluster } from './redis.js';

let warned = false;

/**
 * `describe` for suites that need Redis. Where Redis is unavailable the suite is skipped with a loud
 * warning, unless `EDGEKIT_REQUIRE_REDIS=1`, in which case it fails.
 */
export function describeRedis(name: string, body: () => void, options: { cluster?: boolean } = {}): void {
  const availability = redisAvailability();
  const usable = options.cluster ? availability.canSpawn : availability.available;
  if (usable) {
    describe(name, body);
    return;
  }
  const reason = options.cluster ? 'a Redis Cluster needs redis-server and redis-cli on the PATH' : availability.reason;
  if (availability.required) {
    describe(name, () => {
      it('has Redis available (EDGEKIT_REQUIRE_REDIS=1)', () => {
        throw new Error(`Redis is required but unavailable: ${reason}`);
      });
    });
    return;
  }
  if (!warned) {
    warned = true;
    console.warn(`\n\u001b[33m!!! SKIPPING Redis test suites: ${reason}. Install redis-server or set REDIS_URL; set EDGEKIT_REQUIRE_REDIS=1 to fail instead.\u001b[0m\n`);
  }
  describe.skip(name, body);
}

/** Starts a standalone Redis for the enclosing suite; read `.current` inside tests. */
export function useRedisServer(): { readonly current: RedisServerHandle } {
  const holder: { current?: RedisServerHandle } = {};
  beforeAll(async () => {
    holder.current = await startRedis();
  }, 30_000);
  afterAll(async () => {
    await holder.current?.stop();
  });
  return {
    get current(): RedisServerHandle {
      if (!holder.current) throw new Error('Redis server not started yet');
      return holder.current;
    },
  };
}

/** Starts a 3-master Redis Cluster for the enclosing suite; read `.current` inside tests. */
export function useRedisCluster(): { readonly current: RedisClusterHandle } {
  const holder: { current?: RedisClusterHandle } = {};
  beforeAll(async () => {
    holder.current = await startRedisCluster();
  }, 60_000);
  afterAll(async () => {
    await holder.current?.stop();
  });
  return {
    get current(): RedisClusterHandle {
      if (!holder.current) throw new Error('Redis Cluster not started yet');
      return holder.current;
    },
  };
}
