export {
  BREAKER_STATE_LABELS,
  type EdgeMetrics,
  type EdgeMetricsOptions,
  METRICS_DEFAULTS,
  METRIC_NAMES,
  type RoutingRecord,
  type TelemetryClock,
} from './edge-metrics.js';
export { createEdgeMetrics } from './metrics.js';
export { EDGE_ATTRIBUTES } from './spans.js';
export { type EdgeTracing, type EdgeTracingOptions, type ObserveForwarderOptions, TRACING_DEFAULTS, createEdgeTracing } from './tracing.js';
export { ENDPOINT_METRICS, type EndpointMetrics, type EndpointMetricsOptions, createEndpointMetrics } from './endpoint-metrics.js';
export { type EdgeTelemetry, type EdgeTelemetryOptions, createEdgeTelemetry } from './telemetry.js';
export { formatTraceparent, parseTraceparent, w3cTraceContext } from './propagation.js';
export { CONTINENTS, OTHER, type StatusLabel, UNKNOWN, statusClass } from './labels.js';
export type {
  AttemptEndLike,
  AttemptObserverLike,
  AttemptStartLike,
  BreakerRegistryLike,
  BreakerStateName,
  CacheLike,
  CacheLookupStatus,
  DecisionLike,
  DisposableLike,
  EndpointChoiceLike,
  FailoverLike,
  GeoLocationLike,
  HealthCheckerLike,
  ObservableForwarder,
  RequestEndLike,
  RequestObserverLike,
} from './sources.js';
