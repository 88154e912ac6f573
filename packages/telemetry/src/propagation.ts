import {
  type Context,
  type SpanContext,
  type TextMapGetter,
  type TextMapPropagator,
  type TextMapSetter,
  createTraceState,
  isSpanContextValid,
  trace,
} from '@opentelemetry/api';

const TRACEPARENT = 'traceparent';
const TRACESTATE = 'tracestate';
// W3C Trace Context §3.2.2: version-traceid-parentid-flags, lower-case hex; later versions may append fields.
const TRACEPARENT_FORMAT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?$/;
const HEX = '0123456789abcdef';

/** Parses a `traceparent` value (W3C Trace Context §3.2) into a remote span context; `undefined` when invalid. */
export function parseTraceparent(value: string | undefined): SpanContext | undefined {
  if (value === undefined) return undefined;
  const match = TRACEPARENT_FORMAT.exec(value.trim());
  if (match === null) return undefined;
  const version = match[1]!;
  // §3.2.2.1: version ff is invalid; version 00 has exactly four fields.
  if (version === 'ff' || (version === '00' && match[5] !== undefined)) return undefined;
  const context: SpanContext = { traceId: match[2]!, spanId: match[3]!, traceFlags: Number.parseInt(match[4]!, 16), isRemote: true };
  return isSpanContextValid(context) ? context : undefined;
}

/** Formats a span context as a version-00 `traceparent` value. */
export function formatTraceparent(context: SpanContext): string {
  const flags = context.traceFlags & 0xff;
  return `00-${context.traceId}-${context.spanId}-${HEX[flags >> 4]}${HEX[flags & 15]}`;
}

function firstValue(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

/**
 * The W3C Trace Context propagator (`traceparent` and `tracestate`), built on `@opentelemetry/api`
 * alone, so tracing works without registering a global propagator. The SDK's
 * `W3CTraceContextPropagator` behaves the same.
 */
export const w3cTraceContext: TextMapPropagator = Object.freeze({
  inject(context: Context, carrier: unknown, setter: TextMapSetter): void {
    const spanContext = trace.getSpanContext(context);
    if (spanContext === undefined || !isSpanContextValid(spanContext)) return;
    setter.set(carrier, TRACEPARENT, formatTraceparent(spanContext));
    const state = spanContext.traceState?.serialize();
    if (state !== undefined && state !== '') setter.set(carrier, TRACESTATE, state);
  },
  extract(context: Context, carrier: unknown, getter: TextMapGetter): Context {
    const parent = parseTraceparent(firstValue(getter.get(carrier, TRACEPARENT)));
    if (parent === undefined) return context;
    const stateHeader = getter.get(carrier, TRACESTATE);
    // §3.3.1.1: several tracestate lines are one list.
    const state = Array.isArray(stateHeader) ? stateHeader.join(',') : stateHeader;
    if (state !== undefined && state !== '') parent.traceState = createTraceState(state);
    return trace.setSpanContext(context, parent);
  },
  fields(): string[] {
    return [TRACEPARENT, TRACESTATE];
  },
});
