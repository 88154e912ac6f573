export {
  HEALTH_CHECKER_DEFAULTS,
  type HealthChangeEvent,
  type HealthChecker,
  type HealthCheckerEvents,
  type HealthCheckerOptions,
  type ProbeEvent,
  type TargetHealth,
} from './health-checker.js';
export { createHealthChecker } from './checker.js';
export { type HealthErrorCode, HealthCheckError, isHealthCheckError } from './errors.js';
export type { HealthExpectation, ProbeResponse, StatusMatcher } from './expect.js';
export type { HealthState } from './state.js';
export type { HealthProbe, HealthTarget, ProbeContext } from './targets.js';
export { GRPC_HEALTH_PROBE_DEFAULTS, type GrpcHealthProbeOptions, createGrpcHealthProbe } from './grpc-probe.js';
export {
  type BreakerOpener,
  type HealthEventSource,
  LINK_BREAKERS_DEFAULTS,
  type LinkBreakersOptions,
  linkBreakers,
} from './breakers.js';
export {
  type ClosableServer,
  LIFECYCLE_DEFAULTS,
  type Lifecycle,
  type LifecycleEvents,
  type LifecycleOptions,
  type LifecyclePhase,
  type LivenessReport,
  type PhaseEvent,
  type ShutdownResult,
  createLifecycle,
} from './lifecycle.js';
export type { DependencyStatus, ReadinessDependency, ReadinessReport, RegionHealthSource } from './readiness.js';
export { SIGNAL_DEFAULTS, type SignalHandlerOptions, type SignalSource, installSignalHandlers } from './signals.js';
