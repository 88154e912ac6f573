import type { Clock } from '@edgekit/core';
import type { IncomingMessage } from 'node:http';
import type { ForwardedHeaderMode, GeoLocation, Region, TrustedProxies } from '@edgekit/geo';
import type { Dispatcher } from 'undici';
import type { EndpointRegion } from './region-endpoints.js';
import type { RetryBudget, RetryBudgetOptions } from './retry-budget.js';
import type { RetryBackoffOptions } from './retry-policy.js';
import type { UpstreamTlsOptions } from '@edgekit/core';

export const SCOPE = '@edgekit/proxy';

/** What the forwarder needs from a region selector: `@edgekit/geo`'s `createRegionSelector` result fits. */
export interface RegionSelectorLike {
  /** Every region, so connection pools can be prepared. Regions returned by `select` but absent here get a pool on first use. */
  readonly regions?: readonly Region[];
  /**
   * The regions for a client location, primary first, then fallbacks in the order to try them. The
   * request is passed too, for selectors that read it (`@edgekit/geo`'s `createRequestSelector`:
   * signed region hints, tenant residency). An empty list answers 503.
   */
  select(location: GeoLocation | null | undefined, req?: IncomingMessage): { primary: Region | undefined; regions: readonly Region[]; reason: string };
  /** Receives each measured round trip (time to response headers) in milliseconds. */
  recordLatency?(region: string, rttMs: number): void;
}

/** A breaker permit: `@edgekit/breaker`'s `BreakerPermit` fits. Settled exactly once. */
export interface BreakerPermitLike {
  success(): void;
  failure(error?: unknown): void;
  release(): void;
}

/** One region's breaker: `@edgekit/breaker`'s `CircuitBreaker` fits. */
export interface BreakerLike {
  /** A permit for one call, or `undefined` while open (or half-open with its probes in flight). */
  tryAcquire(): BreakerPermitLike | undefined;
  /** Optional: when an open breaker half-opens (`nextAttemptAt`, on the same clock as the forwarder), for `Retry-After`. */
  snapshot?(): { nextAttemptAt?: number | undefined };
}

/** Breakers by region name: `@edgekit/breaker`'s `createBreakerRegistry` result fits. */
export interface BreakerSource {
  get(name: string): BreakerLike;
}

/** Region health: `@edgekit/health`'s `createHealthChecker` result fits. */
export interface HealthSource {
  isHealthy(name: string): boolean;
}

/** Hedging: a copy of a slow idempotent request goes to the next region. */
export interface HedgeOptions {
  /** Milliseconds to wait for response headers before sending a copy. */
  delay: number;
  /** Copies per request at most. Default: `1`. */
  max?: number;
}

/** Options of {@link createForwarder}. Durations are milliseconds. */
export interface ForwarderOptions {
  /** Regions to forward to, each with one URL or with `endpoints`; a selector is created from them with `@edgekit/geo`. Give `regions` or `selector`. */
  regions?: readonly (Region | EndpointRegion)[];
  /** Name of the service this forwarder serves, carried on its `decision` events (`users`, `orders`). Default: none. */
  service?: string;
  /** Chooses the regions per client location: `@edgekit/geo`'s `createRegionSelector`, or anything shaped like it. */
  selector?: RegionSelectorLike;
  /**
   * Locates a client: called with its address and the request (`@edgekit/geo`'s
   * `createGeoLocator().lookup`, or `(ip, req) => locator.locateRequest(req)` to believe the
   * configured CDN's location headers). Default: none, so every client gets the selector's default region.
   */
  locate?: (ip: string, req: IncomingMessage) => GeoLocation | null | undefined;
  /** Peers whose forwarding headers are believed, for the client address and for extending `X-Forwarded-For`/`Forwarded`. Default: none. */
  trustedProxies?: TrustedProxies;
  /**
   * Which forwarding header of a trusted peer carries the client chain, as `@edgekit/geo`'s `header`
   * (use the same value): it decides the client address (admission, `maxInFlightPerClient`,
   * `locate`), and with `x-forwarded-for` or `forwarded` the other header from the peer is replaced
   * upstream instead of extended. Default: `prefer-x-forwarded-for`.
   */
  forwardedHeader?: ForwardedHeaderMode;
  /** Region health; unhealthy regions are skipped without a network attempt. Default: all healthy. */
  health?: HealthSource;
  /** Breakers by region name; a region whose breaker refuses a permit is skipped without a network attempt. Default: none. */
  breakers?: BreakerSource;
  /** Pseudonym of this proxy in `Via`, or `false` for no `Via`. Default: `'edgekit'`. */
  via?: string | false;
  /** Response header naming the region that answered, or `false` for none. Default: `'x-served-by'`. */
  servedByHeader?: string | false;
  /** Send the client's `Host` upstream instead of the region URL's host. Default: `false` (the original goes in `X-Forwarded-Host`). */
  preserveHost?: boolean;
  /** Milliseconds to establish an upstream connection. Default: `5_000`. */
  connectTimeout?: number;
  /** Milliseconds from sending the request to the complete response headers. Default: `30_000`. */
  headersTimeout?: number;
  /** Milliseconds allowed between two response body chunks (`0`: none). Default: `30_000`. */
  bodyTimeout?: number;
  /** Milliseconds an idle upstream connection is kept. Default: `4_000`. */
  keepAliveTimeout?: number;
  /** Upstream connections per region at most: a number, or a function of the region (`undefined`: the default). Default: `128`. */
  connections?: number | ((region: Region) => number | undefined);
  /** Milliseconds an attempt may wait for a free upstream connection of its region before failing over (`0`: no limit). Default: `5_000`. */
  queueTimeout?: number;
  /** Milliseconds the client may go without sending request body bytes while they are awaited; then 408 and the upstream request is aborted (`0`: none). Default: `10_000`. */
  clientBodyTimeout?: number;
  /** Bytes per second a request body must average: `clientBodyTimeout` plus one second per this many bytes received is all it gets (`0`: no minimum). Default: `500`. */
  clientBodyMinRate?: number;
  /** Milliseconds a response write may wait for a client that does not read; then the client connection and the upstream request are closed (`0`: none). Default: `10_000`. */
  sendTimeout?: number;
  /** Requests in flight per client (by `clientKey`) at most; more are answered 429 (`0`: no cap). Default: `64`. */
  maxInFlightPerClient?: number;
  /** Which client a request counts against for `maxInFlightPerClient`. Default: the client address. */
  clientKey?: (req: IncomingMessage, clientIp: string) => string;
  /**
   * The route a request belongs to, for failure attribution: a failure on one route while other routes
   * of the region succeed is the route's, not the region's (not counted by its breaker, not retried in
   * every region). `false`: every failure counts against the region. Default: the path without the query.
   */
  routeKey?: ((req: IncomingMessage, path: string) => string) | false;
  /** Milliseconds a route's last success (or a route's failure in another region) is remembered for failure attribution. Default: `10_000`. */
  routeWindow?: number;
  /** Fraction (0 to 1) of the requests that find every candidate's breaker open that still go to the primary region. Default: `0.05`. */
  panicFraction?: number;
  /** Methods that may be sent twice (RFC 9110 §9.2.2). Default: `['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE']`. */
  idempotentMethods?: readonly string[];
  /**
   * Request bodies of idempotent methods up to this many bytes (by `Content-Length`) are buffered so
   * they can be replayed; a streamed body is kept while it fits, to resend after a refused HTTP/2
   * stream or a gRPC UNAVAILABLE. Default: `65_536`.
   */
  maxReplayBody?: number;
  /** Network attempts per request at most, hedges included. Default: `3`. */
  maxAttempts?: number;
  /** Upstream statuses that count as a breaker failure. Default: `[502, 503, 504]`. */
  failureStatuses?: readonly number[];
  /** Upstream statuses after which a safe request fails over to the next region. Default: `[502, 503, 504]`. */
  retryStatuses?: readonly number[];
  /** Retry budget shared by retries and hedges: options, a budget shared with other forwarders, or `false` for none. Default: `{ ratio: 0.2, minPerSecond: 10, window: 10_000 }`. */
  retryBudget?: RetryBudgetOptions | RetryBudget | false;
  /** Hedging for idempotent requests without a body or with a buffered one. Default: off. */
  hedge?: HedgeOptions;
  /** `Retry-After` for 503 answers, in milliseconds, when no breaker tells when it half-opens. Default: `5_000`. */
  retryAfter?: number;
  /** Milliseconds `close()` waits for in-flight upstream requests before destroying them. Default: `10_000`. */
  closeTimeout?: number;
  /** Backoff with full jitter before a retry inside the same region (another endpoint), or `false`. Default: `{ base: 25, max: 250 }`. */
  retryBackoff?: RetryBackoffOptions | false;
  /** A retryable answer's `Retry-After` is waited up to this many milliseconds before the retry; a longer one is relayed to the client. Default: `1_000`. */
  maxRetryAfter?: number;
  /** Milliseconds a request may take in all, across attempts, retries and their delays, until its response headers (`0`: no deadline). Default: `0`. */
  requestTimeout?: number;
  /** Random numbers in [0, 1) for backoff jitter. Default: `Math.random`. */
  random?: () => number;
  /** Makes the dispatcher of a region with a URL (custom agents); regions with endpoints keep their own pools. Default: an undici `Pool` with the options above. */
  dispatcher?: (region: Region, defaults: DispatcherDefaults) => Dispatcher;
  /**
   * TLS towards `https:` region URLs and endpoints, over HTTP/1.1 and HTTP/2 (CAs, SNI name, client
   * certificate for upstream mTLS, `insecureSkipVerify`). A function decides per region
   * (`undefined`: the default). Not applied to dispatchers the `dispatcher` factory makes.
   * Default: certificates verified against Node's CAs and the URL's host name.
   */
  tls?: UpstreamTlsOptions | ((region: Region) => UpstreamTlsOptions | undefined);
  /** Clock for durations, hedging delays, the retry budget and `Retry-After`. Default: `systemClock`. */
  clock?: Clock;
  /**
   * A request whose path is not canonical (`/a/../b`, `%2e%2e`, `//`, escaped unreserved
   * characters; see `canonicalizeRequestTarget` of `@edgekit/core`): `refuse` answers 400, since
   * whatever routed the request before the forwarder saw another path than the one forwarded;
   * `normalize` forwards the canonical path. Targets no hop can read one way (`%2F`, `\\`, `..;`,
   * control bytes) are refused either way. Default: `refuse`.
   */
  nonCanonicalTarget?: 'refuse' | 'normalize';
  /**
   * HTTP/2 to the upstreams: `true` speaks HTTP/2 to every region (TLS with ALPN `h2` for `https:`
   * URLs, prior knowledge in the clear for `http:` ones, as gRPC servers expect), multiplexing up to
   * `maxConcurrentStreams` requests on each of `connections` connections. A function decides per
   * region (`undefined`: the default). Default: `false` (HTTP/1.1 through undici).
   */
  http2?: boolean | ((region: Region) => boolean | undefined);
  /** Concurrent streams per HTTP/2 upstream connection at most (multiplexing limit). Default: `100`. */
  maxConcurrentStreams?: number;
  /** gRPC statuses (in `grpc-status`) that count as a breaker failure. Default: `[14]` (UNAVAILABLE). */
  grpcFailureStatuses?: readonly number[];
  /**
   * gRPC statuses after which a call goes to the next endpoint or region, whatever its method, when
   * its body can be sent again (trailers-only answers, before any response byte). Default: `[14]`.
   */
  grpcRetryStatuses?: readonly number[];
  /**
   * Milliseconds a streaming response (`text/event-stream`, gRPC, or any response of a request
   * `streaming` picks) may go without a byte; heartbeats keep it open. Replaces `bodyTimeout` for
   * those responses (`0`: none). Default: `300_000`.
   */
  streamIdleTimeout?: number;
  /** Requests whose responses are long-lived streams besides SSE and gRPC (watch or tail endpoints). Default: none. */
  streaming?: (req: IncomingMessage) => boolean;
}


/** Pool settings the default dispatcher uses, handed to a custom `dispatcher` factory. */
export interface DispatcherDefaults {
  connections: number;
  connectTimeout: number;
  headersTimeout: number;
  bodyTimeout: number;
  keepAliveTimeout: number;
}

/** Defaults of {@link ForwarderOptions}. */
export const FORWARDER_DEFAULTS = Object.freeze({
  via: 'edgekit',
  servedByHeader: 'x-served-by',
  preserveHost: false,
  forwardedHeader: 'prefer-x-forwarded-for' as ForwardedHeaderMode,
  connectTimeout: 5_000,
  headersTimeout: 30_000,
  bodyTimeout: 30_000,
  keepAliveTimeout: 4_000,
  connections: 128,
  queueTimeout: 5_000,
  clientBodyTimeout: 10_000,
  clientBodyMinRate: 500,
  sendTimeout: 10_000,
  maxInFlightPerClient: 64,
  routeWindow: 10_000,
  panicFraction: 0.05,
  idempotentMethods: Object.freeze(['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE']) as readonly string[],
  maxReplayBody: 65_536,
  maxAttempts: 3,
  failureStatuses: Object.freeze([502, 503, 504]) as readonly number[],
  retryStatuses: Object.freeze([502, 503, 504]) as readonly number[],
  hedgeMax: 1,
  retryAfter: 5_000,
  closeTimeout: 10_000,
  http2: false,
  maxConcurrentStreams: 100,
  grpcFailureStatuses: Object.freeze([14]) as readonly number[],
  grpcRetryStatuses: Object.freeze([14]) as readonly number[],
  streamIdleTimeout: 300_000,
  nonCanonicalTarget: 'refuse' as 'refuse' | 'normalize',
});

/**
 * Breaker options for region breakers fed by the forwarder, for `@edgekit/breaker`'s
 * `createBreakerRegistry({ defaults: REGION_BREAKER_DEFAULTS })`: a region opens when more than half
 * of at least 20 calls in 10 s failed (a rate over a volume, not a run of failures, so a handful of
 * requests cannot open it) and half-opens after 10 s. No breaker `timeout`: the forwarder settles
 * each permit when response headers arrive, under its own timeouts.
 */
export const REGION_BREAKER_DEFAULTS = Object.freeze({
  timeout: false as const,
  errorThresholdPercentage: 50,
  volumeThreshold: 20,
  rollingCountTimeout: 10_000,
  resetTimeout: 10_000,
});

