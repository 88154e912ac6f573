import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Disposable } from '@edgekit/core';
import type { Registry } from 'prom-client';
import { CONTINENTS } from './labels.js';
import type {
  BreakerRegistryLike,
  BreakerStateName,
  CacheLike,
  CacheLookupStatus,
  GeoLocationLike,
  HealthCheckerLike,
  ObservableForwarder,
} from './sources.js';

/** A source of time in milliseconds; only differences matter. `@edgekit/core`'s `Clock` fits. */
export interface TelemetryClock {
  now(): number;
}

/** Options of {@link createEdgeMetrics}. */
export interface EdgeMetricsOptions {
  /** The prom-client `Registry` to register on. Required: the global registry is never used. */
  registry: Registry;
  /** This gateway's location, the `location`/`edge_location` label (`'eu-west'`). Required. */
  location: string;
  /** The configured regions (names, or objects with a `name`); any other region is labelled `other`. Required. */
  regions: ReadonlyArray<string | { name: string }>;
  /** Prefix of every metric name (`'myapp_'` gives `myapp_edge_routing_requests_total`). Default: `''`. */
  prefix?: string;
  /** The `client_region` of a client location. Default: its continent code (`EU`), `unknown` when not located. */
  clientRegion?: (location: GeoLocationLike | null) => string;
  /** Every value `clientRegion` may give; others are recorded as `other`. Default: the continent codes. */
  clientRegions?: readonly string[];
  /** Buckets of `edge_gateway_request_duration_seconds`, in seconds. Default: {@link METRICS_DEFAULTS}`.requestBuckets`. */
  requestBuckets?: readonly number[];
  /** Buckets of `edge_to_backend_duration_seconds`, in seconds. Default: {@link METRICS_DEFAULTS}`.backendBuckets`. */
  backendBuckets?: readonly number[];
  /** Time source for gateway request durations, in milliseconds. Default: `performance.now()`. */
  clock?: TelemetryClock;
}

/** Defaults of {@link EdgeMetricsOptions}. */
export const METRICS_DEFAULTS = Object.freeze({
  prefix: '',
  clientRegions: CONTINENTS,
  requestBuckets: Object.freeze([0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]) as readonly number[],
  backendBuckets: Object.freeze([0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]) as readonly number[],
});

/** Metric names without a prefix. */
export const METRIC_NAMES = Object.freeze({
  routingRequests: 'edge_routing_requests_total',
  routingFailovers: 'edge_routing_failovers_total',
  gatewayRequestDuration: 'edge_gateway_request_duration_seconds',
  backendDuration: 'edge_to_backend_duration_seconds',
  cacheRequests: 'edge_cache_requests_total',
  cacheHits: 'edge_cache_hits_total',
  breakerState: 'edge_breaker_state',
  regionHealthy: 'edge_region_healthy',
});

/** The `state` label values of `edge_breaker_state`. */
export const BREAKER_STATE_LABELS = Object.freeze(['closed', 'open', 'half_open'] as const);

/** One routed request, for {@link EdgeMetrics.recordRouting}. */
export interface RoutingRecord {
  /** The region that answered, or the last one tried. */
  targetRegion: string | undefined;
  /** The client's region (a continent code by default), `undefined` when not located. */
  clientRegion: string | undefined;
  /** The HTTP status answered, or `'aborted'` when the client went away first. */
  status: number | 'aborted';
}

/** Prometheus metrics of an edge gateway. Create it with {@link createEdgeMetrics}. */
export interface EdgeMetrics {
  /** The `location` label of this gateway. */
  readonly location: string;
  /** The registered metric names, prefix included. */
  readonly names: Readonly<Record<keyof typeof METRIC_NAMES, string>>;
  /** Counts a routed request in `edge_routing_requests_total`. */
  recordRouting(record: RoutingRecord): void;
  /** Counts a failover in `edge_routing_failovers_total`. */
  recordFailover(from: string, to: string): void;
  /** Observes a gateway request's duration (milliseconds) in `edge_gateway_request_duration_seconds`. */
  recordGatewayRequest(durationMs: number): void;
  /** Observes a backend's time to response headers (milliseconds) in `edge_to_backend_duration_seconds`. */
  recordBackend(region: string, durationMs: number): void;
  /** Counts a cache lookup: `hit` and `stale` (served from cache) count as hits. */
  recordCacheLookup(status: CacheLookupStatus): void;
  /** Sets `edge_breaker_state{region,state}`: 1 for `state`, 0 for the others. Unconfigured regions are ignored. */
  setBreakerState(region: string, state: BreakerStateName | string): void;
  /** Sets `edge_region_healthy{region}` to 1 or 0. Unconfigured regions are ignored. */
  setRegionHealthy(region: string, healthy: boolean): void;
  /**
   * Replaces the configured region list (a configuration reload) without resetting any counter:
   * later events use the new list; gauge series of regions no longer listed are removed.
   */
  setRegions(regions: ReadonlyArray<string | { name: string }>): void;
  /** The label `clientRegion` gives a location, bounded to `clientRegions` (else `other`). */
  clientRegionOf(location: GeoLocationLike | null | undefined): string;
  /**
   * Wraps a request handler (Node `http`, or Express-style with more arguments) so each request's
   * duration, until the response closes, lands in `edge_gateway_request_duration_seconds`.
   */
  wrapHandler<Req extends IncomingMessage, Res extends ServerResponse, A extends unknown[], R>(
    handler: (req: Req, res: Res, ...rest: A) => R,
  ): (req: Req, res: Res, ...rest: A) => R;
  /** Records routed requests, failovers and backend durations from a forwarder (`@edgekit/proxy`). */
  observeForwarder(forwarder: ObservableForwarder): Disposable;
  /** Keeps `edge_breaker_state` current from a breaker registry (`@edgekit/breaker`); configured regions whose breaker the registry has not made yet show `closed`. */
  observeBreakers(registry: BreakerRegistryLike): Disposable;
  /** Keeps `edge_region_healthy` current from a health checker (`@edgekit/health`). */
  observeHealth(checker: HealthCheckerLike): Disposable;
  /** Counts cache requests and hits from a cache's `lookup` events (`@edgekit/cache`). */
  observeCache(cache: CacheLike): Disposable;
  /** Ends every subscription and removes the metrics from the registry (so a new instance can register them). */
  close(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}
