import { type EndpointRegion, createForwarder } from '@edgekit/proxy';
import { EDGE_ATTRIBUTES, createEdgeTracing } from '@edgekit/telemetry';
import { SpanKind } from '@opentelemetry/api';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { afterEach, describe, expect, it } from 'vitest';
import { send, startFront, startUpstream, waitFor } from './helpers.js';

const exporter = new InMemorySpanExporter();
const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
const cleanup: Array<() => Promise<void>> = [];
afterEach(async () => {
  while (cleanup.length > 0) await cleanup.pop()!();
  exporter.reset();
});

/** A forwarder traced by `tracing` behind a front server; every piece closed after the test. */
async function tracedFront(forwarderOptions: Parameters<typeof createForwarder>[0], observe: { service?: string }, upstreams: Array<{ close(): Promise<void> }>): Promise<{ url: string }> {
  const forwarder = createForwarder(forwarderOptions);
  const tracing = createEdgeTracing({ location: 'eu-west', nodeId: 'edge-eu-1', tracerProvider: provider });
  tracing.observeForwarder(forwarder, observe);
  const front = await startFront(tracing.wrapHandler(forwarder.handler));
  cleanup.push(async () => {
    await front.close();
    await tracing.close();
    await forwarder.close();
    for (const upstream of upstreams) await upstream.close();
  });
  return front;
}

describe('routing decision on spans', () => {
  it('puts the service, endpoint, balancer, reason, affinity and ejection count on the client and server spans', async () => {
    const [a, b] = await Promise.all([startUpstream('eu-west'), startUpstream('eu-west')]);
    const regions: EndpointRegion[] = [{ name: 'eu-west', url: 'http://eu.internal', location: { lat: 53, lon: -6 }, endpoints: [a.url, b.url], balancer: 'maglev', affinity: { header: 'x-user-id' } }];
    const front = await tracedFront({ regions, retryBudget: false }, { service: 'orders' }, [a, b]);
    const reply = await send(`${front.url}/api/items`, { headers: { 'x-user-id': 'user-7' } });
    expect(reply.status).toBe(200);
    await waitFor(() => exporter.getFinishedSpans().length === 2, 5_000, 'two spans');
    const client = exporter.getFinishedSpans().find((span) => span.kind === SpanKind.CLIENT)!;
    const server = exporter.getFinishedSpans().find((span) => span.kind === SpanKind.SERVER)!;
    const endpoint = a.received.length === 1 ? a.url : b.url;
    const expected = {
      [EDGE_ATTRIBUTES.endpoint]: endpoint,
      [EDGE_ATTRIBUTES.balancer]: 'maglev',
      [EDGE_ATTRIBUTES.balancerReason]: 'affinity',
      [EDGE_ATTRIBUTES.affinity]: 'hit',
      [EDGE_ATTRIBUTES.ejected]: 0,
    };
    expect(client.attributes).toMatchObject(expected);
    expect(server.attributes).toMatchObject({ ...expected, [EDGE_ATTRIBUTES.service]: 'orders' });
  });
});

describe('routing decision on the server span', () => {
  it('carries the service, region and first endpoint of the decision even when no attempt answers', async () => {
    const [a, b] = await Promise.all([startUpstream('eu-west', 'reset'), startUpstream('eu-west', 'reset')]);
    const regions: EndpointRegion[] = [{ name: 'eu-west', url: 'http://eu.internal', location: { lat: 53, lon: -6 }, endpoints: [a.url, b.url] }];
    const front = await tracedFront({ regions, service: 'billing', retryBudget: false, maxAttempts: 1 }, {}, [a, b]);
    const reply = await send(`${front.url}/api/invoices`);
    expect(reply.status).toBe(502);
    await waitFor(() => exporter.getFinishedSpans().length === 2, 5_000, 'two spans');
    const client = exporter.getFinishedSpans().find((span) => span.kind === SpanKind.CLIENT)!;
    const server = exporter.getFinishedSpans().find((span) => span.kind === SpanKind.SERVER)!;
    const tried = a.received.length === 1 ? a.url : b.url;
    expect(a.received.length + b.received.length).toBe(1);
    expect(client.attributes[EDGE_ATTRIBUTES.endpoint]).toBe(tried);
    expect(server.attributes).toMatchObject({
      [EDGE_ATTRIBUTES.service]: 'billing',
      [EDGE_ATTRIBUTES.region]: 'eu-west',
      [EDGE_ATTRIBUTES.endpoint]: tried,
      [EDGE_ATTRIBUTES.balancer]: 'least-request',
      [EDGE_ATTRIBUTES.balancerReason]: 'balanced',
      [EDGE_ATTRIBUTES.ejected]: 0,
    });
    expect(server.attributes[EDGE_ATTRIBUTES.affinity]).toBeUndefined();
  });
});
