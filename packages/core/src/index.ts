export { type Clock, type ClockTimer, delay, settleWithin, systemClock } from './clock.js';
export { type Disposable, toDisposable } from './disposable.js';
export { EdgekitError, type EdgekitErrorContext, brandError, isEdgekitError } from './errors.js';
export { type EventMap, type Listener, TypedEmitter, type TypedEmitterOptions } from './events.js';
export { type ProblemDetails, firstHeader, responseOnSocket, sendProblem, writeInformational } from './http.js';
export { HeaderNameSet } from './header-names.js';
export {
  type CanonicalRequestTarget,
  type CanonicalizeOptions,
  RequestTargetError,
  type RequestTargetRefusal,
  canonicalizeRequestTarget,
} from './request-target.js';
export {
  type NumberRule,
  checkNumber,
  checkOptionsObject,
  describeValue,
  optionalBoolean,
  optionalFunction,
  optionalNumber,
  optionalOneOf,
  optionalString,
  rejectRenamedOptions,
} from './options.js';
export { type RedisClientLike, type RedisScanNode, checkRedisClient, checkRedisPrefix, isRedisCluster, redisHashTag, redisScanTargets, scanRedisNode } from './redis.js';
export { type UpstreamTlsOptions, resolveUpstreamTls, serverNameOf } from './upstream-tls.js';
