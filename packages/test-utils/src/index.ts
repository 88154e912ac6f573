export * from './node.js';
export { describeNats, describeRedis, useNatsServer, useNatsSupercluster, useCleanups, useRedisCluster, useRedisServer } from './vitest.js';
export { type ErrorContract, describeErrorContract } from './error-contract.js';
