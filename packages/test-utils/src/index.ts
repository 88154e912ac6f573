export * from './node.js';
export { describeRedis, useRedisCluster, useRedisServer } from './vitest.js';
