export { type Forwarder, type HandleOptions, createForwarder } from './forwarder.js';
export { type ForwardOptions, type ForwardResponse } from './forward.js';
export {
  type BreakerLike,
  type BreakerPermitLike,
  type BreakerSource,
  type DispatcherDefaults,
  FORWARDER_DEFAULTS,
  type ForwarderOptions,
  type HealthSource,
  type HedgeOptions,
  REGION_BREAKER_DEFAULTS,
  type RegionSelectorLike,
} from './options.js';
export { type EndpointRegion, REGION_ENDPOINTS_DEFAULTS } from './region-endpoints.js';
export type { UpstreamTlsOptions } from '@edgekit/core';
export { RETRY_POLICY_DEFAULTS, type RetryBackoffOptions } from './retry-policy.js';
export { ForwardError, type ForwardErrorCode, type ForwardErrorContext, PROBLEM_TYPES, ProxyError, type ProxyErrorCode, isForwardError, isProxyError } from './errors.js';
export type {
  AbortEvent,
  AttemptEvent,
  BudgetExhaustedEvent,
  DecisionEvent,
  ErrorEvent,
  FailoverEvent,
  FailureKind,
  ForwarderEvents,
  HedgeEvent,
  ResponseEvent,
  SkipEvent,
  SkipReason,
} from './events.js';
export type { AttemptEnd, AttemptObserver, AttemptStart, RequestEnd, RequestObserver, RequestObserverFactory } from './observer.js';
export type { EndpointChoice } from './endpoint-dispatcher.js';
export { RETRY_BUDGET_DEFAULTS, type RetryBudget, type RetryBudgetOptions, type RetryBudgetSnapshot, createRetryBudget } from './retry-budget.js';
export { HOP_BY_HOP_HEADERS } from './hop-by-hop.js';
export { GRPC_STATUS, isGrpcContentType, sendGrpcStatus } from './grpc.js';
