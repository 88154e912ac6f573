export { closeServer, freePort, isPortFree, listen } from './net.js';
export { type TsChild, spawnTs, tsNodeArgs } from './process.js';
export {
  type RedisAvailability,
  type RedisClusterHandle,
  type RedisServerHandle,
  redisAvailability,
  startRedis,
  startRedisCluster,
} from './redis.js';
export { describeRedis, useRedisCluster, useRedisServer } from './vitest.js';
