import { CircuitBreaker } from './circuit-breaker.js';

export { CircuitBreaker } from './circuit-breaker.js';
export { BreakerCore } from './core.js';
export type { BreakerAction, BreakerEvents, BreakerFallback, FireArgs, WithoutSignal } from './events.js';
export type { BreakerSnapshot, BreakerState, BreakerStateChange, BreakerStatsSummary } from './snapshot.js';
export {
  type BreakerStrategy,
  type BreakerStrategyFactory,
  type CountWindowOptions,
  type SlowCallRateOptions,
  consecutiveStrategy,
  countStrategy,
  percentageStrategy,
  slowCallRateStrategy,
} from './strategies.js';
export { type CacheTransport, MemoryCache } from './cache.js';
export {
  BreakerError,
  type BreakerErrorCode,
  OpenCircuitError,
  SemaphoreLockedError,
  ShutdownError,
  TimeoutError,
  isBreakerError,
  isOurError,
} from './errors.js';
export {
  type BreakerJSON,
  type BreakerMode,
  type BreakerStateJSON,
  type CircuitBreakerOptions,
  type CoalesceResetEvent,
  BREAKER_DEFAULTS,
  type ResolvedBreakerOptions,
} from './options.js';
export type { BreakerPermit } from './permit.js';
export { type BreakerHintsOptions, HINT_DEFAULTS, type HintBus, type HintedRegistry, shareBreakerHints } from './hints.js';
export {
  type BreakerRegistry,
  type BreakerRegistryOptions,
  type BreakerTask,
  type RegistryBreaker,
  type RegistryBreakerOptions,
  type RegistryStateChange,
  createBreakerRegistry,
} from './registry.js';
export { type Bucket, type BucketCounter, STATUS_DEFAULTS, type Stats, Status, type StatusOptions } from './status.js';

/** opossum-style default export: `import CircuitBreaker from '@edgekit/breaker'`. */
export default CircuitBreaker;
