import { createBreakerRegistry } from '@edgekit/breaker';
import { createCache } from '@edgekit/cache';
import { createManualClock } from '@edgekit/core/testing';
import { createHealthChecker } from '@edgekit/health';
import { createForwarder } from '@edgekit/proxy';
import {
  type BreakerRegistryLike,
  type CacheLike,
  type HealthCheckerLike,
  type ObservableForwarder,
  createEdgeTelemetry,
  parseTraceparent,
} from '@edgekit/telemetry';
import { SpanKind } from '@opentelemetry/api';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { metricsContaining, samples, send, startFront, startUpstream, waitFor } from './helpers.js';

const cleanup: Array<() => Promise<void>> = [];
afterEach(async () => {
  while (cleanup.length > 0) await cleanup.pop()!();
});

describe('createEdgeTelemetry', () => {
  it('accepts the real packages through its structural interfaces', async () => {
    const forwarder = createForwarder({ regions: [{ name: 'eu-west', url: 'http://127.0.0.1:9', location: { lat: 0, lon: 0 } }] });
    const breakers = createBreakerRegistry();
    const health = createHealthChecker({ targets: [{ name: 'eu-west', probe: () => true }], clock: createManualClock() });
    const cache = createCache();
    // Compile-time: each real object fits the interface telemetry asks for.
    const sources: [ObservableForwarder, BreakerRegistryLike, HealthCheckerLike, CacheLike] = [forwarder, breakers, health, cache];
    expect(sources).toHaveLength(4);
    await Promise.all([forwarder.close(), breakers.close(), health.close(), cache.close()]);
  });

  it('wires metrics and tracing through one wrapper and one forwarder subscription', async () => {
    const eu = await startUpstream('eu-west');
    const registry = new Registry();
    const exporter = new InMemorySpanExporter();
    const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
    const telemetry = createEdgeTelemetry({ registry, location: 'eu-west', nodeId: 'edge-1', regions: [eu.region()], tracerProvider: provider });
    const forwarder = createForwarder({ regions: [eu.region()] });
    const handle = telemetry.observeForwarder(forwarder);
    const front = await startFront(telemetry.wrapHandler(forwarder.handler));
    cleanup.push(async () => {
      await front.close();
      await telemetry.close();
      await forwarder.close();
      await eu.close();
      await provider.shutdown();
    });
    expect((await send(`${front.url}/x`)).status).toBe(200);
    await waitFor(() => exporter.getFinishedSpans().length === 2, 5_000, 'two spans');
    const server = exporter.getFinishedSpans().find((s) => s.kind === SpanKind.SERVER)!;
    expect(parseTraceparent(eu.received[0]!.headers.traceparent as string)!.traceId).toBe(server.spanContext().traceId);
    const text = await metricsContaining(registry, 'edge_gateway_request_duration_seconds_count{location="eu-west"} 1');
    expect(samples(text, 'edge_routing_requests_total')).toEqual(['edge_routing_requests_total{target_region="eu-west",client_region="unknown",status="2xx"} 1']);

    handle.dispose();
    await send(`${front.url}/y`);
    expect(eu.received[1]!.headers.traceparent).toBeUndefined();
    expect(samples(await registry.metrics(), 'edge_routing_requests_total')).toEqual([
      'edge_routing_requests_total{target_region="eu-west",client_region="unknown",status="2xx"} 1',
    ]);
  });

  it('can leave tracing off', async () => {
    const registry = new Registry();
    const telemetry = createEdgeTelemetry({ registry, location: 'eu-west', nodeId: 'edge-1', regions: ['eu-west'], tracing: false });
    expect(telemetry.tracing).toBeUndefined();
    await telemetry.close();
    expect(await registry.metrics()).toBe('\n');
  });
});
