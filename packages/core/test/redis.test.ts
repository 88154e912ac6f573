import { Cluster, Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { type RedisClientLike, checkRedisClient, isRedisCluster } from '../src/index.js';

describe('RedisClientLike', () => {
  it('accepts ioredis Redis and Cluster instances as they are (checked by tsc in the typecheck step) and tells them apart', async () => {
    const standalone: RedisClientLike = new Redis({ lazyConnect: true, enableOfflineQueue: false });
    const cluster: RedisClientLike = new Cluster([{ host: '127.0.0.1', port: 1 }], { lazyConnect: true });
    try {
      expect(checkRedisClient('@edgekit/core', standalone)).toBe(standalone);
      expect(checkRedisClient('@edgekit/core', cluster)).toBe(cluster);
      expect(isRedisCluster(standalone)).toBe(false);
      expect(isRedisCluster(cluster)).toBe(true);
    } finally {
      (standalone as Redis).disconnect();
      (cluster as Cluster).disconnect();
    }
  });

  it.each([undefined, null, 'redis://localhost', {}, { get() {} }, { get() {}, evalsha() {} }])('rejects %o with a TypeError naming the option', (value) => {
    expect(() => checkRedisClient('@edgekit/cache', value)).toThrow(TypeError);
    expect(() => checkRedisClient('@edgekit/cache', value)).toThrow(/@edgekit\/cache: option "redis" must be an ioredis Redis or Cluster client/);
    expect(() => checkRedisClient('@edgekit/swr', value, 'lock.redis')).toThrow(/option "lock\.redis"/);
  });
});
