import {
  type Clock,
  checkNumber,
  checkOptionsObject,
  describeValue,
  optionalBoolean,
  optionalFunction,
  optionalNumber,
  optionalOneOf,
  systemClock,
} from '@edgekit/core';
import type { IncomingMessage } from 'node:http';
import type { GeoLocation, Region, TrustedProxies } from '@edgekit/geo';
import type { Dispatcher } from 'undici';
import { type RetryBudget, type RetryBudgetOptions, createRetryBudget } from './retry-budget.js';
import { type RetryBackoffOptions, type RetryPolicy, resolveRetryPolicy } from './retry-policy.js';

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
  /** Regions to forward to; a selector is created from them with `@edgekit/geo`. Give `regions` or `selector`. */
  regions?: readonly Region[];
  /** Chooses the regions per client location: `@edgekit/geo`'s `createRegionSelector`, or anything shaped like it. */
  selector?: RegionSelectorLike;
  /** Locates a client address (`@edgekit/geo`'s `createGeoLocator().lookup`). Default: none, so every client gets the selector's default region. */
  locate?: (ip: string) => GeoLocation | null | undefined;
  /** Peers whose forwarding headers are believed, for the client address and for extending `X-Forwarded-For`/`Forwarded`. Default: none. */
  trustedProxies?: TrustedProxies;
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
  /** Request bodies of idempotent methods up to this many bytes (by `Content-Length`) are buffered so they can be replayed. Default: `65_536`. */
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
  /** Makes the dispatcher of a region (TLS settings, custom agents). Default: an undici `Pool` with the options above. */
  dispatcher?: (region: Region, defaults: DispatcherDefaults) => Dispatcher;
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

/** Options after validation, with defaults applied. */
export interface ResolvedOptions {
  regions: readonly Region[] | undefined;
  selector: RegionSelectorLike | undefined;
  locate: ((ip: string) => GeoLocation | null | undefined) | undefined;
  trustedProxies: TrustedProxies | undefined;
  health: HealthSource | undefined;
  breakers: BreakerSource | undefined;
  via: string | undefined;
  servedByHeader: string | undefined;
  preserveHost: boolean;
  pool: DispatcherDefaults;
  connectionsOf: ((region: Region) => number | undefined) | undefined;
  queueTimeout: number;
  clientBodyTimeout: number;
  clientBodyMinRate: number;
  sendTimeout: number;
  maxInFlightPerClient: number;
  clientKey: ((req: IncomingMessage, clientIp: string) => string) | undefined;
  routeKey: ((req: IncomingMessage, path: string) => string) | undefined;
  routeAttribution: boolean;
  routeWindow: number;
  panicFraction: number;
  idempotentMethods: ReadonlySet<string>;
  maxReplayBody: number;
  maxAttempts: number;
  failureStatuses: ReadonlySet<number>;
  retryStatuses: ReadonlySet<number>;
  retryBudget: RetryBudget | undefined;
  nonCanonicalTarget: 'refuse' | 'normalize';
  hedgeDelay: number;
  hedgeMax: number;
  retryAfter: number;
  closeTimeout: number;
  dispatcher: ((region: Region, defaults: DispatcherDefaults) => Dispatcher) | undefined;
  clock: Clock;
  retryPolicy: RetryPolicy;
}

// RFC 9110 §5.6.2 token: a method or header name.
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
// RFC 9110 §7.6.3: a Via pseudonym is a token.
const PSEUDONYM = TOKEN;

function checkObject<T>(name: string, value: unknown, methods: string[]): T | undefined {
  if (value === undefined) return undefined;
  const ok = value !== null && (typeof value === 'object' || typeof value === 'function') && methods.every((m) => typeof (value as Record<string, unknown>)[m] === 'function');
  if (!ok) throw new TypeError(`${SCOPE}: option "${name}" must be an object with ${methods.map((m) => `${m}()`).join(' and ')} (got ${describeValue(value)})`);
  return value as T;
}

function checkStatuses(name: string, value: unknown, fallback: readonly number[]): ReadonlySet<number> {
  if (value === undefined) return new Set(fallback);
  if (!Array.isArray(value)) throw new TypeError(`${SCOPE}: option "${name}" must be an array of HTTP status codes (got ${describeValue(value)})`);
  value.forEach((status, i) => checkNumber(SCOPE, `${name}[${i}]`, status, { min: 100, max: 599, integer: true }));
  return new Set(value as number[]);
}

function checkName(name: string, value: unknown, fallback: string, pattern: RegExp): string | undefined {
  if (value === undefined) return fallback;
  if (value === false) return undefined;
  if (typeof value !== 'string' || !pattern.test(value)) {
    throw new TypeError(`${SCOPE}: option "${name}" must be false or a token such as ${describeValue(fallback)} (got ${describeValue(value)})`);
  }
  return value;
}

function checkRetryBudget(value: unknown, clock: Clock): RetryBudget | undefined {
  if (value === false) return undefined;
  if (value !== null && typeof value === 'object' && typeof (value as RetryBudget).tryRetry === 'function' && typeof (value as RetryBudget).recordRequest === 'function') {
    return value as RetryBudget;
  }
  if (value !== undefined && (value === null || typeof value !== 'object' || Array.isArray(value))) {
    throw new TypeError(`${SCOPE}: option "retryBudget" must be false, a RetryBudget or its options (got ${describeValue(value)})`);
  }
  const opts = (value ?? {}) as RetryBudgetOptions;
  return createRetryBudget({ ...opts, clock: opts.clock ?? clock });
}

/** Validates {@link ForwarderOptions}; every error names the option and the value. */
export function resolveOptions(options: ForwarderOptions): ResolvedOptions {
  const opts = checkOptionsObject<ForwarderOptions>(SCOPE, options);
  const clock = opts.clock ?? systemClock;
  if (clock === null || typeof clock !== 'object' || typeof clock.now !== 'function' || typeof clock.setTimeout !== 'function' || typeof clock.clearTimeout !== 'function') {
    throw new TypeError(`${SCOPE}: option "clock" must be a Clock with now(), setTimeout() and clearTimeout() (got ${describeValue(clock)})`);
  }
  const selector = checkObject<RegionSelectorLike>('selector', opts.selector, ['select']);
  if (opts.regions !== undefined && !Array.isArray(opts.regions)) {
    throw new TypeError(`${SCOPE}: option "regions" must be a non-empty array of regions (got ${describeValue(opts.regions)})`);
  }
  if (selector === undefined && (opts.regions === undefined || opts.regions.length === 0)) {
    throw new TypeError(`${SCOPE}: option "regions" must be a non-empty array of regions, or give option "selector" (got ${describeValue(opts.regions)})`);
  }
  if (selector !== undefined && opts.regions !== undefined) {
    throw new TypeError(`${SCOPE}: options "regions" and "selector" exclude each other: give the regions to the selector`);
  }
  const locate = optionalFunction<(ip: string) => GeoLocation | null | undefined, undefined>(SCOPE, 'locate', opts.locate, undefined);
  const trusted = opts.trustedProxies;
  if (trusted !== undefined && typeof trusted !== 'function' && typeof trusted !== 'string' && !Array.isArray(trusted)) {
    throw new TypeError(`${SCOPE}: option "trustedProxies" must be a predicate, a string or an array of addresses and CIDRs (got ${describeValue(trusted)})`);
  }
  const health = checkObject<HealthSource>('health', opts.health, ['isHealthy']);
  const breakers = checkObject<BreakerSource>('breakers', opts.breakers, ['get']);
  const via = checkName('via', opts.via, FORWARDER_DEFAULTS.via, PSEUDONYM);
  const servedByHeader = checkName('servedByHeader', opts.servedByHeader, FORWARDER_DEFAULTS.servedByHeader, TOKEN)?.toLowerCase();
  const preserveHost = optionalBoolean(SCOPE, 'preserveHost', opts.preserveHost, FORWARDER_DEFAULTS.preserveHost);
  const pool: DispatcherDefaults = {
    connectTimeout: optionalNumber(SCOPE, 'connectTimeout', opts.connectTimeout, FORWARDER_DEFAULTS.connectTimeout, { min: 1, integer: true }),
    headersTimeout: optionalNumber(SCOPE, 'headersTimeout', opts.headersTimeout, FORWARDER_DEFAULTS.headersTimeout, { min: 1, integer: true }),
    bodyTimeout: optionalNumber(SCOPE, 'bodyTimeout', opts.bodyTimeout, FORWARDER_DEFAULTS.bodyTimeout, { min: 0, integer: true }),
    keepAliveTimeout: optionalNumber(SCOPE, 'keepAliveTimeout', opts.keepAliveTimeout, FORWARDER_DEFAULTS.keepAliveTimeout, { min: 1, integer: true }),
    connections: typeof opts.connections === 'function' ? FORWARDER_DEFAULTS.connections : optionalNumber(SCOPE, 'connections', opts.connections, FORWARDER_DEFAULTS.connections, { min: 1, integer: true }),
  };
  const connectionsOf = typeof opts.connections === 'function' ? opts.connections : undefined;
  const queueTimeout = optionalNumber(SCOPE, 'queueTimeout', opts.queueTimeout, FORWARDER_DEFAULTS.queueTimeout, { min: 0, integer: true });
  const clientBodyTimeout = optionalNumber(SCOPE, 'clientBodyTimeout', opts.clientBodyTimeout, FORWARDER_DEFAULTS.clientBodyTimeout, { min: 0, integer: true });
  const clientBodyMinRate = optionalNumber(SCOPE, 'clientBodyMinRate', opts.clientBodyMinRate, FORWARDER_DEFAULTS.clientBodyMinRate, { min: 0 });
  const sendTimeout = optionalNumber(SCOPE, 'sendTimeout', opts.sendTimeout, FORWARDER_DEFAULTS.sendTimeout, { min: 0, integer: true });
  const maxInFlightPerClient = optionalNumber(SCOPE, 'maxInFlightPerClient', opts.maxInFlightPerClient, FORWARDER_DEFAULTS.maxInFlightPerClient, { min: 0, integer: true });
  const clientKey = optionalFunction<(req: IncomingMessage, clientIp: string) => string, undefined>(SCOPE, 'clientKey', opts.clientKey, undefined);
  if (opts.routeKey !== undefined && opts.routeKey !== false && typeof opts.routeKey !== 'function') {
    throw new TypeError(`${SCOPE}: option "routeKey" must be a function or false (got ${describeValue(opts.routeKey)})`);
  }
  const routeKey = typeof opts.routeKey === 'function' ? opts.routeKey : undefined;
  const routeWindow = optionalNumber(SCOPE, 'routeWindow', opts.routeWindow, FORWARDER_DEFAULTS.routeWindow, { min: 1, integer: true });
  const panicFraction = optionalNumber(SCOPE, 'panicFraction', opts.panicFraction, FORWARDER_DEFAULTS.panicFraction, { min: 0, max: 1 });
  let idempotentMethods: ReadonlySet<string>;
  if (opts.idempotentMethods === undefined) {
    idempotentMethods = new Set(FORWARDER_DEFAULTS.idempotentMethods);
  } else {
    if (!Array.isArray(opts.idempotentMethods)) {
      throw new TypeError(`${SCOPE}: option "idempotentMethods" must be an array of method names (got ${describeValue(opts.idempotentMethods)})`);
    }
    opts.idempotentMethods.forEach((method, i) => {
      if (typeof method !== 'string' || !TOKEN.test(method)) {
        throw new TypeError(`${SCOPE}: option "idempotentMethods[${i}]" must be an HTTP method name (got ${describeValue(method)})`);
      }
    });
    idempotentMethods = new Set(opts.idempotentMethods.map((m) => m.toUpperCase()));
  }
  const maxReplayBody = optionalNumber(SCOPE, 'maxReplayBody', opts.maxReplayBody, FORWARDER_DEFAULTS.maxReplayBody, { min: 0, integer: true });
  const maxAttempts = optionalNumber(SCOPE, 'maxAttempts', opts.maxAttempts, FORWARDER_DEFAULTS.maxAttempts, { min: 1, integer: true });
  const failureStatuses = checkStatuses('failureStatuses', opts.failureStatuses, FORWARDER_DEFAULTS.failureStatuses);
  const retryStatuses = checkStatuses('retryStatuses', opts.retryStatuses, FORWARDER_DEFAULTS.retryStatuses);
  const retryBudget = checkRetryBudget(opts.retryBudget, clock);
  let hedgeDelay = -1;
  let hedgeMax = 0;
  if (opts.hedge !== undefined) {
    const hedge = checkOptionsObject<HedgeOptions>(SCOPE, opts.hedge);
    hedgeDelay = checkNumber(SCOPE, 'hedge.delay', hedge.delay, { min: 0 });
    hedgeMax = optionalNumber(SCOPE, 'hedge.max', hedge.max, FORWARDER_DEFAULTS.hedgeMax, { min: 1, integer: true });
  }
  const retryAfter = optionalNumber(SCOPE, 'retryAfter', opts.retryAfter, FORWARDER_DEFAULTS.retryAfter, { min: 0 });
  const closeTimeout = optionalNumber(SCOPE, 'closeTimeout', opts.closeTimeout, FORWARDER_DEFAULTS.closeTimeout, { min: 0 });
  const nonCanonicalTarget = optionalOneOf(SCOPE, 'nonCanonicalTarget', opts.nonCanonicalTarget, ['refuse', 'normalize'] as const, FORWARDER_DEFAULTS.nonCanonicalTarget);
  const dispatcher = optionalFunction<(region: Region, defaults: DispatcherDefaults) => Dispatcher, undefined>(SCOPE, 'dispatcher', opts.dispatcher, undefined);
  return {
    regions: opts.regions,
    selector,
    locate,
    trustedProxies: trusted,
    health,
    breakers,
    via,
    servedByHeader,
    preserveHost,
    pool,
    connectionsOf,
    queueTimeout,
    clientBodyTimeout,
    clientBodyMinRate,
    sendTimeout,
    maxInFlightPerClient,
    clientKey,
    routeKey,
    routeAttribution: opts.routeKey !== false,
    routeWindow,
    panicFraction,
    idempotentMethods,
    maxReplayBody,
    maxAttempts,
    failureStatuses,
    retryStatuses,
    retryBudget,
    nonCanonicalTarget,
    hedgeDelay,
    hedgeMax,
    retryAfter,
    closeTimeout,
    dispatcher,
    clock,
    retryPolicy: resolveRetryPolicy(SCOPE, opts),
  };
}
