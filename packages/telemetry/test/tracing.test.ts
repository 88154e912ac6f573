import type { IncomingMessage, ServerResponse } from 'node:http';
import { createForwarder } from '@edgekit/proxy';
import { createEdgeTracing, parseTraceparent } from '@edgekit/telemetry';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { SpanKind, SpanStatusCode, context, trace } from '@opentelemetry/api';
import { BasicTracerProvider, InMemorySpanExporter, type ReadableSpan, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { abandon, send, startFront, startUpstream, waitFor } from './helpers.js';

const exporter = new InMemorySpanExporter();
const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
const contextManager = new AsyncLocalStorageContextManager();

beforeAll(() => {
  contextManager.enable();
  context.setGlobalContextManager(contextManager);
});
afterAll(async () => {
  context.disable();
  await provider.shutdown();
});

const cleanup: Array<() => Promise<void>> = [];
afterEach(async () => {
  while (cleanup.length > 0) await cleanup.pop()!();
  exporter.reset();
});

const TRACEPARENT = /^00-[0-9a-f]{32}-[0-9a-f]{16}-0[01]$/;

function byKind(kind: SpanKind): ReadableSpan[] {
  return exporter.getFinishedSpans().filter((span) => span.kind === kind);
}

async function setup(regions: Array<Awaited<ReturnType<typeof startUpstream>>>, wrap = true) {
  const forwarder = createForwarder({ regions: regions.map((r) => r.region()), retryBudget: false });
  const tracing = createEdgeTracing({ location: 'eu-west', nodeId: 'edge-eu-1', tracerProvider: provider });
  tracing.observeForwarder(forwarder);
  const front = await startFront(wrap ? tracing.wrapHandler(forwarder.handler) : forwarder.handler);
  cleanup.push(async () => {
    await front.close();
    await tracing.close();
    await forwarder.close();
    for (const region of regions) await region.close();
  });
  return { forwarder, tracing, front };
}

describe('tracing', () => {
  it('sends upstream a traceparent whose trace id is the server span\'s and whose parent is the attempt\'s client span', async () => {
    const eu = await startUpstream('eu-west');
    const { front } = await setup([eu]);
    const reply = await send(`${front.url}/api/items?token=secret`, { headers: { 'user-agent': 'spec/1.0' } });
    expect(reply.status).toBe(200);
    await waitFor(() => exporter.getFinishedSpans().length === 2, 5_000, 'two spans');
    const [server] = byKind(SpanKind.SERVER);
    const [client] = byKind(SpanKind.CLIENT);
    const header = eu.received[0]!.headers.traceparent as string;
    expect(header).toMatch(TRACEPARENT);
    const sent = parseTraceparent(header)!;
    expect(sent.traceId).toBe(server!.spanContext().traceId);
    expect(sent.spanId).toBe(client!.spanContext().spanId);
    expect(sent.traceFlags & 1).toBe(1);
    expect(client!.parentSpanContext?.spanId).toBe(server!.spanContext().spanId);
    expect(server!.parentSpanContext).toBeUndefined();

    expect(server!.name).toBe('GET');
    expect(server!.attributes).toMatchObject({
      edge_location: 'eu-west',
      edge_node_id: 'edge-eu-1',
      routing_decision: 'default',
      routing_primary_region: 'eu-west',
      routing_candidates: ['eu-west'],
      edge_region: 'eu-west',
      edge_attempts: 1,
      'http.request.method': 'GET',
      'url.path': '/api/items',
      'url.scheme': 'http',
      'server.address': '127.0.0.1',
      'http.response.status_code': 200,
      'network.protocol.version': '1.1',
      'user_agent.original': 'spec/1.0',
    });
    expect(JSON.stringify(server!.attributes)).not.toContain('secret');
    expect(server!.status.code).toBe(SpanStatusCode.UNSET);

    expect(client!.name).toBe('GET');
    expect(client!.attributes).toMatchObject({
      edge_location: 'eu-west',
      edge_node_id: 'edge-eu-1',
      edge_region: 'eu-west',
      edge_attempt_outcome: 'complete',
      'http.request.method': 'GET',
      'url.full': `${eu.url}/api/items`,
      'url.path': '/api/items',
      'server.address': '127.0.0.1',
      'server.port': Number(new URL(eu.url).port),
      'http.response.status_code': 200,
    });
    expect(client!.attributes['http.request.resend_count']).toBeUndefined();
  });

  it('continues the trace a client started and forwards its tracestate', async () => {
    const eu = await startUpstream('eu-west');
    const { front } = await setup([eu]);
    await send(`${front.url}/x`, {
      headers: { traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01', tracestate: 'congo=t61rcWkgMzE,rojo=00f067aa0ba902b7' },
    });
    await waitFor(() => exporter.getFinishedSpans().length === 2, 5_000, 'two spans');
    const [server] = byKind(SpanKind.SERVER);
    const [client] = byKind(SpanKind.CLIENT);
    expect(server!.spanContext().traceId).toBe('4bf92f3577b34da6a3ce929d0e0e4736');
    expect(server!.parentSpanContext).toMatchObject({ spanId: '00f067aa0ba902b7', isRemote: true });
    const headers = eu.received[0]!.headers;
    const sent = parseTraceparent(headers.traceparent as string)!;
    expect(sent.traceId).toBe('4bf92f3577b34da6a3ce929d0e0e4736');
    expect(sent.spanId).toBe(client!.spanContext().spanId);
    expect(sent.spanId).not.toBe('00f067aa0ba902b7');
    expect(headers.tracestate).toBe('congo=t61rcWkgMzE,rojo=00f067aa0ba902b7');
  });

  it('starts a new trace for an invalid traceparent and drops the tracestate that came with it', async () => {
    const eu = await startUpstream('eu-west');
    const { front } = await setup([eu]);
    await send(`${front.url}/x`, { headers: { traceparent: '00-00000000000000000000000000000000-00f067aa0ba902b7-01', tracestate: 'evil=1' } });
    await waitFor(() => exporter.getFinishedSpans().length === 2, 5_000, 'two spans');
    const [server] = byKind(SpanKind.SERVER);
    expect(server!.parentSpanContext).toBeUndefined();
    const headers = eu.received[0]!.headers;
    expect(parseTraceparent(headers.traceparent as string)!.traceId).toBe(server!.spanContext().traceId);
    expect(headers.tracestate).toBeUndefined();
    expect(eu.received[0]!.headers.traceparent).not.toContain('00000000000000000000000000000000');
  });

  it('gives each attempt of a failover its own client span and traceparent', async () => {
    const eu = await startUpstream('eu-west', 'reset');
    const us = await startUpstream('us-east');
    const { front } = await setup([eu, us]);
    const reply = await send(`${front.url}/orders`);
    expect(reply.status).toBe(200);
    await waitFor(() => exporter.getFinishedSpans().length === 3, 5_000, 'three spans');
    const [server] = byKind(SpanKind.SERVER);
    const clients = byKind(SpanKind.CLIENT);
    const failed = clients.find((s) => s.attributes.edge_region === 'eu-west')!;
    const answered = clients.find((s) => s.attributes.edge_region === 'us-east')!;
    expect(failed.status.code).toBe(SpanStatusCode.ERROR);
    expect(failed.attributes.edge_attempt_outcome).toBe('failed');
    expect(typeof failed.attributes['error.type']).toBe('string');
    expect(failed.attributes['http.response.status_code']).toBeUndefined();
    expect(answered.attributes['http.request.resend_count']).toBe(1);
    expect(answered.attributes['http.response.status_code']).toBe(200);
    expect(parseTraceparent(eu.received[0]!.headers.traceparent as string)!.spanId).toBe(failed.spanContext().spanId);
    expect(parseTraceparent(us.received[0]!.headers.traceparent as string)!.spanId).toBe(answered.spanContext().spanId);
    for (const client of clients) expect(client.parentSpanContext?.spanId).toBe(server!.spanContext().spanId);
    expect(server!.attributes).toMatchObject({ edge_region: 'us-east', edge_attempts: 2, 'http.response.status_code': 200 });
  });

  it('marks a client span that got a retryable status as an error, and the server span of a 5xx answer too', async () => {
    const eu = await startUpstream('eu-west', 503);
    const { front } = await setup([eu]);
    const reply = await send(`${front.url}/x`);
    expect(reply.status).toBe(503);
    await waitFor(() => exporter.getFinishedSpans().length === 2, 5_000, 'two spans');
    const [server] = byKind(SpanKind.SERVER);
    const [client] = byKind(SpanKind.CLIENT);
    expect(client!.status.code).toBe(SpanStatusCode.ERROR);
    expect(client!.attributes).toMatchObject({ 'http.response.status_code': 503, 'error.type': '503' });
    expect(server!.status.code).toBe(SpanStatusCode.ERROR);
    expect(server!.attributes['http.response.status_code']).toBe(503);
  });

  it('makes the server span itself when the forwarder handles requests without a wrapped handler', async () => {
    const eu = await startUpstream('eu-west');
    await eu.close(); // connection refused: the forwarder answers 502
    const { front } = await setup([eu], false);
    const reply = await send(`${front.url}/down`);
    expect(reply.status).toBe(502);
    await waitFor(() => exporter.getFinishedSpans().length === 2, 5_000, 'two spans');
    const [server] = byKind(SpanKind.SERVER);
    const [client] = byKind(SpanKind.CLIENT);
    expect(client!.parentSpanContext?.spanId).toBe(server!.spanContext().spanId);
    expect(server!.attributes).toMatchObject({ 'http.response.status_code': 502, 'error.type': 'EUPSTREAM', routing_decision: 'default', edge_location: 'eu-west' });
    expect(server!.status.code).toBe(SpanStatusCode.ERROR);
    expect(client!.attributes.edge_attempt_outcome).toBe('failed');
  });

  it('keeps the server span active in the handler and finds it for forward() calls made later', async () => {
    const eu = await startUpstream('eu-west');
    const forwarder = createForwarder({ regions: [eu.region()] });
    const tracing = createEdgeTracing({ location: 'eu-west', nodeId: 'n1', tracerProvider: provider });
    tracing.observeForwarder(forwarder);
    let activeInHandler: string | undefined;
    let activeAfterAwait: string | undefined;
    const handler = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
      activeInHandler = trace.getActiveSpan()?.spanContext().spanId;
      await new Promise((resolve) => setImmediate(resolve));
      activeAfterAwait = trace.getActiveSpan()?.spanContext().spanId;
      const upstream = await forwarder.forward(req);
      res.writeHead(upstream.statusCode, upstream.headers);
      upstream.body.pipe(res);
    };
    const front = await startFront(tracing.wrapHandler(handler));
    cleanup.push(async () => {
      await front.close();
      await forwarder.close();
      await eu.close();
    });
    expect((await send(`${front.url}/y`)).status).toBe(200);
    await waitFor(() => exporter.getFinishedSpans().length === 2, 5_000, 'two spans');
    const [server] = byKind(SpanKind.SERVER);
    const [client] = byKind(SpanKind.CLIENT);
    expect(activeInHandler).toBe(server!.spanContext().spanId);
    expect(activeAfterAwait).toBe(server!.spanContext().spanId);
    expect(client!.parentSpanContext?.spanId).toBe(server!.spanContext().spanId);
    expect(parseTraceparent(eu.received[0]!.headers.traceparent as string)!.traceId).toBe(server!.spanContext().traceId);
  });

  it('ends both spans when the client goes away, the attempt as cancelled', async () => {
    const eu = await startUpstream('eu-west', 'hang');
    const { front } = await setup([eu]);
    await abandon(`${front.url}/slow`, () => eu.received.length === 1);
    await waitFor(() => exporter.getFinishedSpans().length === 2, 5_000, 'two spans');
    const [server] = byKind(SpanKind.SERVER);
    const [client] = byKind(SpanKind.CLIENT);
    expect(server!.attributes['error.type']).toBe('aborted');
    expect(client!.attributes.edge_attempt_outcome).toBe('cancelled');
    expect(client!.status.code).toBe(SpanStatusCode.UNSET);
  });

  it('reports unknown methods as _OTHER with the original', async () => {
    const eu = await startUpstream('eu-west');
    const { front } = await setup([eu]);
    await send(`${front.url}/x`, { method: 'PURGE' });
    await waitFor(() => exporter.getFinishedSpans().length === 2, 5_000, 'two spans');
    for (const span of exporter.getFinishedSpans()) {
      expect(span.name).toBe('HTTP');
      expect(span.attributes).toMatchObject({ 'http.request.method': '_OTHER', 'http.request.method_original': 'PURGE' });
    }
  });

  it('stops tracing the forwarder once closed, passing the client\'s traceparent through untouched', async () => {
    const eu = await startUpstream('eu-west');
    const { front, tracing } = await setup([eu], false);
    await tracing.close();
    const incoming = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
    await send(`${front.url}/x`, { headers: { traceparent: incoming } });
    expect(eu.received[0]!.headers.traceparent).toBe(incoming);
    expect(exporter.getFinishedSpans()).toHaveLength(0);
    expect(() => tracing.observeForwarder(createForwarder({ regions: [eu.region()] }))).toThrow(/closed/);
  });

  it('forwards without tracing headers when no SDK is registered (the API is a no-op)', async () => {
    const eu = await startUpstream('eu-west');
    const forwarder = createForwarder({ regions: [eu.region()] });
    const tracing = createEdgeTracing({ location: 'eu-west', nodeId: 'n1' });
    tracing.observeForwarder(forwarder);
    const front = await startFront(tracing.wrapHandler(forwarder.handler));
    cleanup.push(async () => {
      await front.close();
      await forwarder.close();
      await eu.close();
    });
    expect((await send(`${front.url}/x`)).status).toBe(200);
    expect(eu.received[0]!.headers.traceparent).toBeUndefined();
    expect(exporter.getFinishedSpans()).toHaveLength(0);
  });

  it('with no SDK registered, passes the client\'s trace context through untouched, then traces once an SDK is registered globally', async () => {
    const eu = await startUpstream('eu-west');
    const forwarder = createForwarder({ regions: [eu.region()], retryBudget: false });
    const tracing = createEdgeTracing({ location: 'eu-west', nodeId: 'n1' });
    tracing.observeForwarder(forwarder);
    let active: string | undefined;
    const front = await startFront(tracing.wrapHandler((req: IncomingMessage, res: ServerResponse) => {
      active = trace.getActiveSpan()?.spanContext().spanId;
      forwarder.handler(req, res);
    }));
    cleanup.push(async () => {
      trace.disable();
      await front.close();
      await tracing.close();
      await forwarder.close();
      await eu.close();
    });
    const incoming = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
    await send(`${front.url}/a`, { headers: { traceparent: incoming, tracestate: 'congo=t61rcWkgMzE' } });
    expect(eu.received[0]!.headers.traceparent).toBe(incoming);
    expect(eu.received[0]!.headers.tracestate).toBe('congo=t61rcWkgMzE');
    // A tracestate without a traceparent is not forwarded, as before.
    await send(`${front.url}/b`, { headers: { tracestate: 'evil=1' } });
    expect(eu.received[1]!.headers.tracestate).toBeUndefined();
    expect(eu.received[1]!.headers.traceparent).toBeUndefined();
    expect(active).toBeUndefined();
    expect(exporter.getFinishedSpans()).toHaveLength(0);

    expect(trace.setGlobalTracerProvider(provider)).toBe(true);
    await send(`${front.url}/c`, { headers: { traceparent: incoming } });
    await waitFor(() => exporter.getFinishedSpans().length === 2, 5_000, 'two spans');
    const [server] = byKind(SpanKind.SERVER);
    const [client] = byKind(SpanKind.CLIENT);
    expect(active).toBe(server!.spanContext().spanId);
    expect(server!.spanContext().traceId).toBe('4bf92f3577b34da6a3ce929d0e0e4736');
    expect(parseTraceparent(eu.received[2]!.headers.traceparent as string)!.spanId).toBe(client!.spanContext().spanId);
  });

  it('validates its options', () => {
    expect(() => createEdgeTracing({ location: '', nodeId: 'n' })).toThrow(/option "location"/);
    expect(() => createEdgeTracing({ location: 'eu', nodeId: undefined as unknown as string })).toThrow(/option "nodeId"/);
    expect(() => createEdgeTracing({ location: 'eu', nodeId: 'n', tracerProvider: {} as never })).toThrow(/option "tracerProvider"/);
    expect(() => createEdgeTracing({ location: 'eu', nodeId: 'n', propagator: { inject() {} } as never })).toThrow(/option "propagator"/);
  });
});
