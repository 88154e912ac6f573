import type { GeoLocation } from '@edgekit/geo';
import type { EndpointChoice } from './endpoint-dispatcher.js';

/** Why a region got no network attempt. */
export type SkipReason = 'unhealthy' | 'breaker-open';

/**
 * How an attempt failed:
 * - `connect`: no connection (refused, DNS, unreachable, connect timeout); the request never left.
 * - `timeout`: no response headers within `headersTimeout`.
 * - `reset`: the connection broke after the request started (reset, closed early).
 * - `protocol`: the upstream's answer was not valid HTTP (bad headers, header overflow).
 * - `status`: the upstream answered with a status listed in `retryStatuses`.
 * - `queue`: no connection of the region's pool became free within `queueTimeout`; the request never left.
 */
export type FailureKind = 'connect' | 'timeout' | 'reset' | 'protocol' | 'status' | 'queue';

/** Payload of the `decision` event: where a request is going and why. */
export interface DecisionEvent {
  /** The forwarder's `service` option, `undefined` without one. */
  service: string | undefined;
  method: string;
  /** Client address as `@edgekit/geo`'s `clientIp` resolved it. */
  clientIp: string;
  location: GeoLocation | null;
  /** The selector's reason for the primary region. */
  reason: string;
  /** Region names in the order they will be tried. */
  candidates: string[];
  /** Regions skipped before the first attempt, with the reason. */
  skipped: Array<{ region: string; reason: SkipReason }>;
  /** Every region was unhealthy, so health was ignored and all were kept in selector order. */
  healthIgnored: boolean;
  /** Every candidate's breaker was open and this request is part of the `panicFraction` sent to the primary anyway. */
  panic: boolean;
  /** The region the first attempt goes to (the first candidate whose breaker let it through); `undefined` when none will be tried. */
  region: string | undefined;
  /**
   * For a region with endpoints: the endpoint the first attempt goes to, the balancer and its reason,
   * the affinity hit or miss and the ejections seen; `undefined` for a region with one URL.
   */
  endpoint: EndpointChoice | undefined;
}

/** Payload of the `skip` event: a region passed over without a network attempt after the first attempt. */
export interface SkipEvent {
  region: string;
  reason: SkipReason;
}

/** Payload of the `attempt` event: a network attempt is starting. */
export interface AttemptEvent {
  region: string;
  /** 1 for the first network attempt of the request, 2 for the next, and so on. */
  attempt: number;
  /** Started by hedging while an earlier attempt was still waiting. */
  hedge: boolean;
}

/** Payload of the `failover` event: the request moves from one region to the next. */
export interface FailoverEvent {
  from: string;
  to: string;
  reason: FailureKind;
  /** The upstream status, for `status` failures. */
  status?: number;
}

/** Payload of the `hedge` event: a second copy of an idempotent request was sent. */
export interface HedgeEvent {
  /** The region still waiting. */
  waiting: string;
  /** The region the copy goes to. */
  to: string;
}

/** Payload of the `budgetExhausted` event: a retry or hedge was refused by the retry budget. */
export interface BudgetExhaustedEvent {
  /** The region the retry would have gone to. */
  region: string;
  kind: 'retry' | 'hedge';
}

/** Payload of the `response` event, once the response body was delivered completely. */
export interface ResponseEvent {
  method: string;
  region: string;
  status: number;
  /** Network attempts made, hedges included. */
  attempts: number;
  /** From the start of handling to the end of the response body, in milliseconds on the forwarder's clock. */
  durationMs: number;
  /** From the winning attempt's start to its response headers. */
  ttfbMs: number;
}

/** Payload of the `error` event: the request ended without a complete upstream response. */
export interface ErrorEvent {
  method: string;
  /** The answer's status (400, 502, 503, 504), or the upstream status when the body broke mid-stream. */
  status: number;
  /** `ForwardError` code, or `EBODY` when an upstream body failed after its headers were sent. */
  code: string;
  regionsTried: string[];
  /** The underlying error, for logs; never sent to the client. */
  error: unknown;
}

/** Payload of the `abort` event: the client went away (or the `forward` signal aborted) before the end. */
export interface AbortEvent {
  method: string;
  /** The region being waited on or streamed from, if any. */
  region: string | undefined;
  /** Whether response headers had been delivered. */
  phase: 'waiting' | 'streaming';
}

/** The events of a forwarder, for `forwarder.on(...)`. */
export type ForwarderEvents = {
  decision: [DecisionEvent];
  skip: [SkipEvent];
  attempt: [AttemptEvent];
  failover: [FailoverEvent];
  hedge: [HedgeEvent];
  budgetExhausted: [BudgetExhaustedEvent];
  response: [ResponseEvent];
  error: [ErrorEvent];
  abort: [AbortEvent];
};
