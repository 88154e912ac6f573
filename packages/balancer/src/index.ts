export { type AffinityKey, type AffinityRequest, type AffinitySource, createAffinityKey } from './affinity.js';
export type { Balancer, BalancerBaseOptions, PickRequest, RequestOutcome } from './balancer.js';
export { DNS_ENDPOINTS_DEFAULTS, type DnsEndpointsOptions, type DnsRecordType, type DnsResolver, createDnsEndpoints } from './dns-endpoints.js';
export { type Endpoint, type EndpointInput, toEndpoint, toEndpoints } from './endpoint.js';
export { type EndpointSet, type EndpointSetEvents, type StaticEndpointSet, createStaticEndpoints, isEndpointSet } from './endpoint-set.js';
export { BalancerError, type BalancerErrorCode, isBalancerError } from './errors.js';
export { hash32 } from './hash.js';
export { BALANCER_KINDS, type BalancerChoice, type BalancerKind, createBalancer } from './kinds.js';
export { type LeastRequestBalancerOptions, createLeastRequestBalancer } from './least-request.js';
export { MAGLEV_DEFAULTS, type MaglevBalancerOptions, createMaglevBalancer } from './maglev.js';
export {
  type EjectionReason,
  type EndpointOutlierState,
  OUTLIER_DEFAULTS,
  type OutlierDetectionOptions,
  type OutlierDetector,
  type OutlierEvents,
  type OutlierOutcome,
  createOutlierDetector,
} from './outlier.js';
export { PEAK_EWMA_DEFAULTS, type PeakEwmaBalancerOptions, createPeakEwmaBalancer } from './peak-ewma.js';
export {
  type EndpointOutcome,
  type EndpointStatus,
  REGION_BALANCER_DEFAULTS,
  type RegionBalancer,
  type RegionBalancerEvents,
  type RegionBalancerOptions,
  type RegionBalancerStatus,
  createRegionBalancer,
} from './region-balancer.js';
export { RING_HASH_DEFAULTS, type RingHashBalancerOptions, createRingHashBalancer } from './ring-hash.js';
export { createRoundRobinBalancer } from './round-robin.js';
export { type SplitVariant, type TrafficSplit, type TrafficSplitOptions, createTrafficSplit } from './split.js';
