// Helpers usable outside Vitest: benchmarks and child processes import this entry.
export { type RawOrigin, type TcpRelay, closeServer, freePort, isPortFree, listen, startRawOrigin, startTcpRelay } from './net.js';
export {
  type NatsAvailability,
  type NatsServerHandle,
  type NatsSuperclusterHandle,
  natsAvailability,
  startNatsServer,
  startNatsSupercluster,
  waitForGateways,
} from './nats.js';
export { type TsChild, spawnTs, tsNodeArgs } from './process.js';
export {
  type RedisAvailability,
  type RedisClusterHandle,
  type RedisServerHandle,
  redisAvailability,
  startRedis,
  startRedisCluster,
} from './redis.js';
export { type LoadResult, type LoadSettings, type NginxHandle, cpuTimeMs, hasNginx, hasWrk, markdownTable, median, parseWrk, runWrk, startNginx } from './bench.js';
export { type IssueOptions, type TestCertificate, type TestCertificateAuthority, chromiumArgsTrusting, createTestCertificates } from './certificates.js';
export { type LatencyProxy, type LatencyProxyOptions, startLatencyProxy } from './latency-proxy.js';
export { declaredErrorCodes, raisedErrorCodes } from './error-codes.js';
export { waitFor } from './wait.js';
export { echoProtoPath } from './fixtures.js';
