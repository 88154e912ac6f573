import { afterAll, afterEach, beforeAll, describe, it } from 'vitest';
import { type NatsServerHandle, type NatsSuperclusterHandle, natsAvailability, startNatsServer, startNatsSupercluster } from './nats.js';
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

let warnedNats = false;

/**
 * `describe` for suites that need `nats-server`. Where it is missing the suite is skipped with a loud
 * warning, unless `EDGEKIT_REQUIRE_NATS=1`, in which case it fails.
 */
export function describeNats(name: string, body: () => void): void {
  const availability = natsAvailability();
  if (availability.available) {
    describe(name, body);
    return;
  }
  if (availability.required) {
    describe(name, () => {
      it('has nats-server available (EDGEKIT_REQUIRE_NATS=1)', () => {
        throw new Error(`NATS is required but unavailable: ${availability.reason}`);
      });
    });
    return;
  }
  if (!warnedNats) {
    warnedNats = true;
    console.warn(`\n\u001b[33m!!! SKIPPING NATS test suites: ${availability.reason}. Install nats-server; set EDGEKIT_REQUIRE_NATS=1 to fail instead.\u001b[0m\n`);
  }
  describe.skip(name, body);
}

/** Starts a standalone `nats-server` with JetStream for the enclosing suite; read `.current` inside tests. */
export function useNatsServer(): { readonly current: NatsServerHandle } {
  const holder: { current?: NatsServerHandle } = {};
  beforeAll(async () => {
    holder.current = await startNatsServer();
  }, 60_000);
  afterAll(async () => {
    await holder.current?.stop();
  });
  return {
    get current(): NatsServerHandle {
      if (!holder.current) throw new Error('nats-server not started yet');
      return holder.current;
    },
  };
}

/** Starts a NATS supercluster (servers per cluster) for the enclosing suite; read `.current` inside tests. */
export function useNatsSupercluster(clusters: Record<string, number>): { readonly current: NatsSuperclusterHandle } {
  const holder: { current?: NatsSuperclusterHandle } = {};
  beforeAll(async () => {
    holder.current = await startNatsSupercluster(clusters);
  }, 120_000);
  afterAll(async () => {
    await holder.current?.stop();
  });
  return {
    get current(): NatsSuperclusterHandle {
      if (!holder.current) throw new Error('NATS supercluster not started yet');
      return holder.current;
    },
  };
}

/**
 * Cleanups for the tests of the calling file: register one with the returned function while a test
 * runs; after each test they run, last registered first.
 *
 * @example
 * const onCleanup = useCleanups();
 * const server = await start();
 * onCleanup(() => server.close());
 */
export function useCleanups(): (cleanup: () => Promise<unknown> | unknown) => void {
  const cleanups: Array<() => Promise<unknown> | unknown> = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });
  return (cleanup) => {
    cleanups.push(cleanup);
  };
}
