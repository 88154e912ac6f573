import { type Context, type Span, SpanStatusCode, type TextMapSetter } from '@opentelemetry/api';
import { ATTR_ERROR_TYPE, ATTR_HTTP_RESPONSE_STATUS_CODE, errorType } from './http-attributes.js';
import type { AttemptEndLike, AttemptObserverLike, EndpointChoiceLike } from './sources.js';

/** Span attribute names of edgekit's own attributes. */
export const EDGE_ATTRIBUTES = Object.freeze({
  /** This gateway's location. */
  location: 'edge_location',
  /** This gateway node. */
  nodeId: 'edge_node_id',
  /** Why the primary region was chosen: `country`, `continent`, `nearest` or `default`. */
  routingDecision: 'routing_decision',
  /** The primary region of the decision. */
  routingPrimary: 'routing_primary_region',
  /** Regions in the order they would be tried. */
  routingCandidates: 'routing_candidates',
  /** Regions skipped before the first attempt (unhealthy, breaker open). */
  routingSkipped: 'routing_skipped',
  /** The client's continent code, when located. */
  clientContinent: 'client_continent',
  /** The region routed to, then the one that answered (server span); the one tried (client span). */
  region: 'edge_region',
  /** Network attempts the request took. */
  attempts: 'edge_attempts',
  /** The attempt was a hedge. */
  hedge: 'edge_hedge',
  /** How an attempt ended: `complete`, `failed`, `cancelled`. */
  attemptOutcome: 'edge_attempt_outcome',
  /** The service the forwarder serves (`observeForwarder(forwarder, { service })`). */
  service: 'edge_service',
  /** The endpoint an attempt went to (regions with endpoints). */
  endpoint: 'edge_endpoint',
  /** The region's balancer (`least-request`, `peak-ewma`, `ring-hash`, ...). */
  balancer: 'edge_balancer',
  /** Why the balancer chose the endpoint: `balanced`, `affinity`, `retry`, `overflow`. */
  balancerReason: 'edge_balancer_reason',
  /** With an affinity key: `hit` or `miss`. */
  affinity: 'edge_affinity',
  /** Endpoints of the region ejected by outlier detection when the attempt started. */
  ejected: 'edge_region_ejected',
});

/** Sets the endpoint choice of an attempt as span attributes. */
export function setEndpointAttributes(span: Span, choice: EndpointChoiceLike): void {
  span.setAttribute(EDGE_ATTRIBUTES.endpoint, choice.endpoint);
  span.setAttribute(EDGE_ATTRIBUTES.balancer, choice.balancer);
  span.setAttribute(EDGE_ATTRIBUTES.balancerReason, choice.reason);
  if (choice.affinity !== undefined) span.setAttribute(EDGE_ATTRIBUTES.affinity, choice.affinity);
  span.setAttribute(EDGE_ATTRIBUTES.ejected, choice.ejected);
}

/** Writes propagation fields into a plain header record, lower-cased as Node sends them. */
export const recordSetter: TextMapSetter<Record<string, string | undefined>> = {
  set: (carrier, key, value) => {
    carrier[key.toLowerCase()] = value;
  },
};

/** The server span of one request. */
export class ServerSpan {
  ended = false;
  constructor(
    readonly span: Span,
    /** The context the request runs in: the extracted parent with this span set. */
    readonly context: Context,
  ) {}

  end(): void {
    if (this.ended) return;
    this.ended = true;
    this.span.end();
  }
}

/** One attempt's client span and the header fields carrying its context upstream. */
export class AttemptSpan implements AttemptObserverLike {
  constructor(
    readonly span: Span,
    readonly headers: Readonly<Record<string, string | undefined>>,
    /** The request's server span: the endpoint of the attempt that answered goes there too. */
    readonly server: Span,
  ) {}

  end(end: AttemptEndLike): void {
    const span = this.span;
    span.setAttribute(EDGE_ATTRIBUTES.attemptOutcome, end.outcome);
    if (end.endpoint !== undefined) {
      setEndpointAttributes(span, end.endpoint);
      if (end.outcome === 'complete') setEndpointAttributes(this.server, end.endpoint);
    }
    if (end.status > 0) {
      span.setAttribute(ATTR_HTTP_RESPONSE_STATUS_CODE, end.status);
      // Semantic conventions: a client span with a 4xx or 5xx status is an error.
      if (end.status >= 400) {
        span.setAttribute(ATTR_ERROR_TYPE, String(end.status));
        span.setStatus({ code: SpanStatusCode.ERROR });
      }
    }
    if (end.outcome === 'failed') {
      span.setAttribute(ATTR_ERROR_TYPE, errorType(end.error));
      if (end.error instanceof Error) span.recordException(end.error);
      span.setStatus({ code: SpanStatusCode.ERROR, message: end.error instanceof Error ? end.error.message : undefined });
    }
    span.end();
  }
}

