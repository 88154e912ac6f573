import { formatTraceparent, parseTraceparent, w3cTraceContext } from '@edgekit/telemetry';
import { ROOT_CONTEXT, TraceFlags, createTraceState, defaultTextMapGetter, defaultTextMapSetter, trace } from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

const sdk = new W3CTraceContextPropagator();

describe('W3C trace context', () => {
  it('parses the specification\'s example and rejects invalid values', () => {
    expect(parseTraceparent('00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01')).toEqual({
      traceId: '4bf92f3577b34da6a3ce929d0e0e4736',
      spanId: '00f067aa0ba902b7',
      traceFlags: TraceFlags.SAMPLED,
      isRemote: true,
    });
    for (const bad of [
      'ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01', // version ff
      '00-00000000000000000000000000000000-00f067aa0ba902b7-01', // zero trace id
      '00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01', // zero span id
      '00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01', // upper case
      '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra', // version 00 with more fields
      '00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01', // short trace id
      '',
    ]) {
      expect(parseTraceparent(bad), bad).toBeUndefined();
    }
    // A later version may carry more fields (§3.2.4.1).
    expect(parseTraceparent('cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-what-the-future-holds')?.spanId).toBe('00f067aa0ba902b7');
  });

  it('injects what the SDK\'s W3CTraceContextPropagator injects, and extracts what it extracts', () => {
    const hex = (n: number) => fc.string({ unit: fc.constantFrom(...'0123456789abcdef'), minLength: n, maxLength: n });
    fc.assert(
      fc.property(hex(32), hex(16), fc.integer({ min: 0, max: 255 }), fc.constantFrom('', 'congo=t61rcWkgMzE', 'a=1,b=2'), (traceId, spanId, flags, state) => {
        fc.pre(!/^0+$/.test(traceId) && !/^0+$/.test(spanId));
        const spanContext = { traceId, spanId, traceFlags: flags, isRemote: false, traceState: state === '' ? undefined : createTraceState(state) };
        const ctx = trace.setSpanContext(ROOT_CONTEXT, spanContext);
        const ours: Record<string, string> = {};
        const theirs: Record<string, string> = {};
        w3cTraceContext.inject(ctx, ours, defaultTextMapSetter);
        sdk.inject(ctx, theirs, defaultTextMapSetter);
        expect(ours.traceparent).toBe(formatTraceparent(spanContext));
        expect(parseTraceparent(ours.traceparent)).toMatchObject({ traceId, spanId, traceFlags: flags });
        // The SDK writes only the sampled bit's digit; both agree on the ids and the sampled flag.
        expect(ours.traceparent!.slice(0, 53)).toBe(theirs.traceparent!.slice(0, 53));
        expect(parseInt(ours.traceparent!.slice(53), 16) & 1).toBe(parseInt(theirs.traceparent!.slice(53), 16) & 1);
        expect(ours.tracestate).toBe(theirs.tracestate);
        const back = trace.getSpanContext(w3cTraceContext.extract(ROOT_CONTEXT, theirs, defaultTextMapGetter));
        const sdkBack = trace.getSpanContext(sdk.extract(ROOT_CONTEXT, theirs, defaultTextMapGetter));
        expect(back?.traceId).toBe(sdkBack?.traceId);
        expect(back?.spanId).toBe(sdkBack?.spanId);
        expect(back?.traceState?.serialize()).toBe(sdkBack?.traceState?.serialize());
      }),
      { numRuns: 200 },
    );
  });

  it('injects nothing for an invalid span context', () => {
    const carrier: Record<string, string> = {};
    w3cTraceContext.inject(ROOT_CONTEXT, carrier, defaultTextMapSetter);
    expect(carrier).toEqual({});
    expect(w3cTraceContext.fields()).toEqual(['traceparent', 'tracestate']);
  });
});
