import type { IncomingMessage } from 'node:http';
import { SpanStatusCode } from '@opentelemetry/api';
import { ATTR_ERROR_TYPE, ATTR_HTTP_RESPONSE_STATUS_CODE } from './http-attributes.js';
import type { AttemptObserverLike, AttemptStartLike, DecisionLike, RequestEndLike, RequestObserverLike } from './sources.js';
import { type AttemptSpan, EDGE_ATTRIBUTES, type ServerSpan, setEndpointAttributes } from './spans.js';

/** What the observers need of the tracing: client spans under a server span, and the headers of requests it does not trace. */
export interface AttemptTracer {
  startAttempt(server: ServerSpan, start: AttemptStartLike): AttemptSpan;
  /** `undefined` when the request goes upstream with its headers unchanged. */
  passThroughHeaders(req: IncomingMessage): Record<string, string | undefined> | undefined;
}

/** One request seen through `forwarder.observe`. */
export class TraceObserver implements RequestObserverLike {
  constructor(
    readonly tracing: AttemptTracer,
    readonly server: ServerSpan,
    /** The server span was started here (no wrapped handler saw the request), so it ends here. */
    readonly owned: boolean,
    readonly service: string | undefined,
  ) {}

  decision(event: DecisionLike): void {
    const span = this.server.span;
    // A span sampled out records nothing: no attribute is worth building for it.
    if (!span.isRecording()) return;
    const service = event.service ?? this.service;
    if (service !== undefined) span.setAttribute(EDGE_ATTRIBUTES.service, service);
    if (event.region !== undefined) span.setAttribute(EDGE_ATTRIBUTES.region, event.region);
    // The endpoint of the first attempt; the attempt that answers sets its own when it completes.
    if (event.endpoint !== undefined) setEndpointAttributes(span, event.endpoint);
    span.setAttribute(EDGE_ATTRIBUTES.routingDecision, event.reason);
    const primary = event.candidates[0];
    if (primary !== undefined) span.setAttribute(EDGE_ATTRIBUTES.routingPrimary, primary);
    span.setAttribute(EDGE_ATTRIBUTES.routingCandidates, event.candidates as string[]);
    if (event.skipped.length > 0) span.setAttribute(EDGE_ATTRIBUTES.routingSkipped, event.skipped.map((s) => `${s.region}:${s.reason}`));
    const continent = event.location?.continent;
    if (continent !== undefined) span.setAttribute(EDGE_ATTRIBUTES.clientContinent, continent);
  }

  attempt(start: AttemptStartLike): AttemptObserverLike {
    return this.tracing.startAttempt(this.server, start);
  }

  end(end: RequestEndLike): void {
    const span = this.server.span;
    if (end.type === 'response') {
      span.setAttribute(EDGE_ATTRIBUTES.region, end.event.region);
      span.setAttribute(EDGE_ATTRIBUTES.attempts, end.event.attempts);
    } else if (end.type === 'error') {
      const tried = end.event.regionsTried;
      if (tried.length > 0) span.setAttribute(EDGE_ATTRIBUTES.region, tried[tried.length - 1]!);
      span.setAttribute(EDGE_ATTRIBUTES.attempts, tried.length);
    }
    if (!this.owned) return;
    if (end.type === 'abort') {
      span.setAttribute(ATTR_ERROR_TYPE, 'aborted');
    } else {
      const status = end.event.status;
      span.setAttribute(ATTR_HTTP_RESPONSE_STATUS_CODE, status);
      // Semantic conventions: only 5xx marks a server span as an error.
      if (status >= 500) {
        span.setAttribute(ATTR_ERROR_TYPE, end.type === 'error' ? end.event.code : String(status));
        span.setStatus({ code: SpanStatusCode.ERROR });
      }
    }
    this.server.end();
  }
}

/**
 * One forwarded request while no SDK is registered: no spans, only the incoming trace context
 * carried upstream (what a no-op tracer's spans would inject) and the client's own fields replaced.
 */
export class PropagationObserver implements RequestObserverLike {
  constructor(
    readonly tracing: AttemptTracer,
    readonly req: IncomingMessage,
  ) {}

  attempt(): AttemptObserverLike | undefined {
    const headers = this.tracing.passThroughHeaders(this.req);
    return headers === undefined ? undefined : { headers };
  }
}

