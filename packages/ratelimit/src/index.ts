export type {
  Algorithm,
  AsyncRateLimiter,
  RateLimitMode,
  RateLimitPolicy,
  RateLimitResult,
  RateLimiter,
  SyncRateLimiter,
} from './types.js';
export { ALGORITHMS, type PolicyOptions } from './policy.js';
export { RateLimitError, type RateLimitErrorCode, isRateLimitError } from './errors.js';
export { LOCAL_DEFAULTS, type LocalLimiterOptions, type LocalRateLimiter, createLocalLimiter } from './local.js';
export {
  REDIS_DEFAULTS,
  type RedisLimiterEvents,
  type RedisLimiterOptions,
  type RedisRateLimiter,
  createRedisLimiter,
} from './strict.js';
export {
  EDGE_DEFAULTS,
  type EdgeLimiterEvents,
  type EdgeLimiterOptions,
  type EdgeRateLimiter,
  type EdgeSyncEvent,
  createEdgeLimiter,
} from './edge.js';
export type { EdgeCountsEvent } from './edge-bus.js';
export type { RateLimitBus } from './remote.js';
export {
  QUOTA_EXCEEDED_TYPE,
  type RateLimitMiddleware,
  type RateLimitMiddlewareOptions,
  createRateLimitMiddleware,
  quotaExceededProblem,
  rateLimitHeaders,
  sendRateLimited,
  setRateLimitHeaders,
} from './http.js';
