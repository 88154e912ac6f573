import { describeRedis, useRedisCluster, useRedisServer } from '@edgekit/test-utils';
import { Cluster, Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRedisStore as createSwrRedisStore, type RedisStoreOptions } from '@edgekit/swr';
import { storeConformance } from '@edgekit/swr/testing';
import { CACHE_ENTRY_CODEC, type CacheEntry } from '../src/index.js';
import { createRedisTagStore } from '../src/redis-tag-store.js';
import { same, sample, tagStoreConformance } from './store-conformance.js';

const createRedisStore = (options: RedisStoreOptions<CacheEntry>) => createSwrRedisStore<CacheEntry>({ ...options, codec: CACHE_ENTRY_CODEC });

async function until(check: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

let counter = 0;
const uniquePrefix = (): string => `t${process.pid}x${++counter}:`;

describeRedis('redis store (standalone)', () => {
  const server = useRedisServer();
  let redis: Redis;
  beforeAll(() => {
    redis = new Redis(server.current.url, { maxRetriesPerRequest: 1 });
  });
  afterAll(() => redis.quit().then(() => undefined));

  describe('conformance', () => {
    storeConformance(async () => {
      const prefix = uniquePrefix();
      const store = createRedisStore({ redis, prefix, scanCount: 100, unlinkBatch: 64 });
      return { store, elapse: (ms) => new Promise((resolve) => setTimeout(resolve, ms)), sample, same };
    });
  });

  describe('tag store conformance', () => {
    tagStoreConformance(async () => createRedisTagStore({ redis, prefix: uniquePrefix() }));
  });

  it('puts tag generations under one hash tag and gives them a ttl', async () => {
    const prefix = uniquePrefix();
    const tags = createRedisTagStore({ redis, prefix, ttl: 60_000 });
    await tags.invalidate(['p:1']);
    const ttl = await redis.pttl(tags.keyOf('p:1'));
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(60_000);
    expect(tags.keyOf('p:1').startsWith(`{${prefix}tags}`)).toBe(true);
  });

  it('rejects a client that is not ioredis and a prefix with braces', () => {
    expect(() => createRedisStore({ redis: {} as never })).toThrow(/"redis"/);
    expect(() => createRedisStore({ redis, prefix: 'a{b}' })).toThrow(/"prefix"/);
  });
});

describeRedis(
  'redis store (3-master cluster)',
  () => {
    const cluster = useRedisCluster();
    let redis: Cluster;
    beforeAll(async () => {
      redis = new Cluster(cluster.current.nodes, { redisOptions: { maxRetriesPerRequest: 1 } });
      await until(async () => redis.status === 'ready' && redis.nodes('master').length === 3);
    });
    afterAll(() => redis.quit().then(() => undefined));

    describe('conformance', () => {
      storeConformance(async () => {
        const store = createRedisStore({ redis, prefix: uniquePrefix(), scanCount: 100, unlinkBatch: 64 });
        return { store, elapse: (ms) => new Promise((resolve) => setTimeout(resolve, ms)), sample, same };
      });
    });

    describe('tag store conformance', () => {
      tagStoreConformance(async () => createRedisTagStore({ redis, prefix: uniquePrefix() }));
    });

    it('spreads entries over every master and pattern deletion reaches all of them', async () => {
      const prefix = uniquePrefix();
      const store = createRedisStore({ redis, prefix });
      const { entry } = await import('./store-conformance.js');
      await Promise.all(Array.from({ length: 300 }, (_, i) => store.set(`{GET a.com/spread/${i}}`, entry(), 60_000)));
      const perMaster = await Promise.all(
        redis.nodes('master').map(async (node) => (await node.scan('0', 'MATCH', `${prefix}*`, 'COUNT', 1000))[1].length),
      );
      expect(perMaster.filter((n) => n > 0).length).toBe(3);
      expect(await store.deletePattern('{GET a.com/spread/*}*')).toBe(300);
    });
  },
  { cluster: true },
);
