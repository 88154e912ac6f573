import {
  type Clock,
  checkNumber,
  checkOptionsObject,
  describeValue,
  optionalBoolean,
  optionalFunction,
  optionalNumber,
  optionalOneOf,
  resolveUpstreamTls,
  systemClock,
  type UpstreamTlsOptions,
} from '@edgekit/core';
import type { IncomingMessage } from 'node:http';
import type { ForwardedHeaderMode, GeoLocation, Region, TrustedProxies } from '@edgekit/geo';
import type { ConnectionOptions } from 'node:tls';
import type { Dispatcher } from 'undici';
import { type RetryBudget, type RetryBudgetOptions, createRetryBudget } from './retry-budget.js';
import { type RetryPolicy, resolveRetryPolicy } from './retry-policy.js';
import {
  type BreakerSource,
  type DispatcherDefaults,
  FORWARDER_DEFAULTS,
  type ForwarderOptions,
  type HealthSource,
  type HedgeOptions,
  type RegionSelectorLike,
  SCOPE,
} from './options.js';

/** Options after validation, with defaults applied. */
export interface ResolvedOptions {
  regions: readonly Region[] | undefined;
  service: string | undefined;
  selector: RegionSelectorLike | undefined;
  locate: ((ip: string, req: IncomingMessage) => GeoLocation | null | undefined) | undefined;
  trustedProxies: TrustedProxies | undefined;
  forwardedHeader: ForwardedHeaderMode;
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
  /** TLS options of every region (validated), or `undefined` for Node's defaults. */
  tls: ConnectionOptions | undefined;
  tlsOf: ((region: Region) => UpstreamTlsOptions | undefined) | undefined;
  clock: Clock;
  retryPolicy: RetryPolicy;
  http2: boolean;
  http2Of: ((region: Region) => boolean | undefined) | undefined;
  maxConcurrentStreams: number;
  grpcFailureStatuses: ReadonlySet<number>;
  grpcRetryStatuses: ReadonlySet<number>;
  streamIdleTimeout: number;
  streaming: ((req: IncomingMessage) => boolean) | undefined;
}

// RFC 9110 §5.6.2 token: a method or header name.
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
// RFC 9110 §7.6.3: a Via pseudonym is a token.
const PSEUDONYM = TOKEN;

function checkService(value: unknown): string {
  if (typeof value !== 'string' || value === '') throw new TypeError(`${SCOPE}: option "service" must be a non-empty string (got ${describeValue(value)})`);
  return value;
}

function checkObject<T>(name: string, value: unknown, methods: string[]): T | undefined {
  if (value === undefined) return undefined;
  const ok = value !== null && (typeof value === 'object' || typeof value === 'function') && methods.every((m) => typeof (value as Record<string, unknown>)[m] === 'function');
  if (!ok) throw new TypeError(`${SCOPE}: option "${name}" must be an object with ${methods.map((m) => `${m}()`).join(' and ')} (got ${describeValue(value)})`);
  return value as T;
}

function checkStatuses(name: string, value: unknown, fallback: readonly number[], kind: 'HTTP' | 'gRPC' = 'HTTP'): ReadonlySet<number> {
  if (value === undefined) return new Set(fallback);
  if (!Array.isArray(value)) throw new TypeError(`${SCOPE}: option "${name}" must be an array of ${kind} status codes (got ${describeValue(value)})`);
  const range = kind === 'HTTP' ? { min: 100, max: 599 } : { min: 0, max: 16 };
  value.forEach((status, i) => checkNumber(SCOPE, `${name}[${i}]`, status, { ...range, integer: true }));
  return new Set(value as number[]);
}

/** Validates an `http2` choice; `option` names it in the message. */
export function checkHttp2Choice(option: string, value: unknown): boolean {
  if (value === true || value === false) return value;
  throw new TypeError(`${SCOPE}: option "${option}" must be a boolean (got ${describeValue(value)})`);
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
  const locate = optionalFunction<(ip: string, req: IncomingMessage) => GeoLocation | null | undefined, undefined>(SCOPE, 'locate', opts.locate, undefined);
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
  const forwardedHeader = optionalOneOf(SCOPE, 'forwardedHeader', opts.forwardedHeader, ['prefer-x-forwarded-for', 'prefer-forwarded', 'x-forwarded-for', 'forwarded'] as const, FORWARDER_DEFAULTS.forwardedHeader);
  const nonCanonicalTarget = optionalOneOf(SCOPE, 'nonCanonicalTarget', opts.nonCanonicalTarget, ['refuse', 'normalize'] as const, FORWARDER_DEFAULTS.nonCanonicalTarget);
  const dispatcher = optionalFunction<(region: Region, defaults: DispatcherDefaults) => Dispatcher, undefined>(SCOPE, 'dispatcher', opts.dispatcher, undefined);
  return {
    regions: opts.regions,
    service: opts.service === undefined ? undefined : checkService(opts.service),
    selector,
    locate,
    trustedProxies: trusted,
    forwardedHeader,
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
    tls: opts.tls === undefined || typeof opts.tls === 'function' ? undefined : resolveUpstreamTls(SCOPE, 'tls', opts.tls),
    tlsOf: typeof opts.tls === 'function' ? opts.tls : undefined,
    clock,
    retryPolicy: resolveRetryPolicy(SCOPE, opts),
    http2: typeof opts.http2 === 'function' || opts.http2 === undefined ? FORWARDER_DEFAULTS.http2 : checkHttp2Choice('http2', opts.http2),
    http2Of: typeof opts.http2 === 'function' ? opts.http2 : undefined,
    maxConcurrentStreams: optionalNumber(SCOPE, 'maxConcurrentStreams', opts.maxConcurrentStreams, FORWARDER_DEFAULTS.maxConcurrentStreams, { min: 1, integer: true }),
    grpcFailureStatuses: checkStatuses('grpcFailureStatuses', opts.grpcFailureStatuses, FORWARDER_DEFAULTS.grpcFailureStatuses, 'gRPC'),
    grpcRetryStatuses: checkStatuses('grpcRetryStatuses', opts.grpcRetryStatuses, FORWARDER_DEFAULTS.grpcRetryStatuses, 'gRPC'),
    streamIdleTimeout: optionalNumber(SCOPE, 'streamIdleTimeout', opts.streamIdleTimeout, FORWARDER_DEFAULTS.streamIdleTimeout, { min: 0, integer: true }),
    streaming: optionalFunction<(req: IncomingMessage) => boolean, undefined>(SCOPE, 'streaming', opts.streaming, undefined),
  };
}
