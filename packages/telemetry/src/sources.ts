import type { IncomingMessage } from 'node:http';

/** A registration handle: `@edgekit/core`'s `Disposable` fits. */
export interface DisposableLike {
  dispose(): void;
}

/** A client location: `@edgekit/geo`'s `GeoLocation` fits. */
export interface GeoLocationLike {
  /** ISO 3166-1 alpha-2 country code. */
  country?: string | undefined;
  /** Continent code (`AF`, `AN`, `AS`, `EU`, `NA`, `OC`, `SA`). */
  continent?: string | undefined;
}

/** A routing decision: `@edgekit/proxy`'s `DecisionEvent` fits. */
export interface DecisionLike {
  method: string;
  location: GeoLocationLike | null;
  /** The selector's reason for the primary region (`country`, `continent`, `nearest`, `default`). */
  reason: string;
  /** Region names in the order they will be tried. */
  candidates: readonly string[];
  skipped: ReadonlyArray<{ region: string; reason: string }>;
  healthIgnored: boolean;
  /** The forwarder's service, when it names one. */
  service?: string | undefined;
  /** The region the first attempt goes to. */
  region?: string | undefined;
  /** For a region with endpoints, the endpoint the first attempt goes to and why. */
  endpoint?: EndpointChoiceLike | undefined;
}

/** A network attempt starting: `@edgekit/proxy`'s `AttemptStart` fits. */
export interface AttemptStartLike {
  region: string;
  /** 1 for the first network attempt of the request. */
  attempt: number;
  hedge: boolean;
  method: string;
  /** Origin of the region URL (`http://eu.internal:8080`). */
  origin: string;
  /** Path and query sent upstream. */
  path: string;
}

/** How an attempt ended: `@edgekit/proxy`'s `AttemptEnd` fits. */
export interface AttemptEndLike {
  /** `0` when no response headers arrived. */
  status: number;
  outcome: 'complete' | 'failed' | 'cancelled';
  error: unknown;
  /** For a region with endpoints, the endpoint chosen and why (`@edgekit/proxy`'s `EndpointChoice`). */
  endpoint?: EndpointChoiceLike | undefined;
}

/** Which endpoint an attempt went to and why: `@edgekit/proxy`'s `EndpointChoice` fits. */
export interface EndpointChoiceLike {
  endpoint: string;
  balancer: string;
  reason: string;
  affinity: 'hit' | 'miss' | undefined;
  ejected: number;
}

/** What an observer hands back for one attempt: `@edgekit/proxy`'s `AttemptObserver`. */
export interface AttemptObserverLike {
  headers?: Readonly<Record<string, string | undefined>>;
  end?(end: AttemptEndLike): void;
}

/** How a request ended: `@edgekit/proxy`'s `RequestEnd` fits. */
export type RequestEndLike =
  | { type: 'response'; event: { region: string; status: number; attempts: number; durationMs: number; ttfbMs: number } }
  | { type: 'error'; event: { status: number; code: string; regionsTried: readonly string[] } }
  | { type: 'abort'; event: { region: string | undefined; phase: 'waiting' | 'streaming' } };

/** Hears one request: `@edgekit/proxy`'s `RequestObserver`. */
export interface RequestObserverLike {
  decision?(event: DecisionLike): void;
  attempt?(start: AttemptStartLike): AttemptObserverLike | undefined | void;
  end?(end: RequestEndLike): void;
}

/** A failover between regions: `@edgekit/proxy`'s `FailoverEvent` fits. */
export interface FailoverLike {
  from: string;
  to: string;
  reason: string;
}

/** What telemetry needs from a forwarder: `@edgekit/proxy`'s `createForwarder` result fits. */
export interface ObservableForwarder {
  /** Observes each request (`forwarder.observe`). */
  observe(factory: (req: IncomingMessage) => RequestObserverLike | undefined): DisposableLike;
  on(event: 'failover', listener: (event: FailoverLike) => void): DisposableLike;
}

/** Breaker states as `@edgekit/breaker` names them. */
export type BreakerStateName = 'closed' | 'open' | 'halfOpen';

/** Breakers by region: `@edgekit/breaker`'s `createBreakerRegistry` result fits. */
export interface BreakerRegistryLike {
  snapshot(): Record<string, { state: string }>;
  onStateChange(listener: (change: { key: string; from: string; to: string }) => void): DisposableLike;
}

/** Active health checks: `@edgekit/health`'s `createHealthChecker` result fits. */
export interface HealthCheckerLike {
  snapshot(): Record<string, { healthy: boolean }>;
  on(event: 'change', listener: (event: { name: string; healthy: boolean }) => void): DisposableLike;
}

/** Cache lookup outcomes as `@edgekit/cache` reports them (its `Cache-Status`). */
export type CacheLookupStatus = 'hit' | 'miss' | 'stale' | 'bypass';

/** A response cache: `@edgekit/cache`'s `createCache` result fits. */
export interface CacheLike {
  on(event: 'lookup', listener: (event: { status: CacheLookupStatus }) => void): DisposableLike;
}
