import { createEdgeMetrics } from '@edgekit/telemetry';
import { Counter, Histogram, Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';

const NAME = 'edge_gateway_request_duration_seconds';
const BUCKETS = [0.005, 0.01, 0.025, 0.1, 0.5, 1];
// Durations in ms: on a bound, between bounds, below the first, above the last, zero.
const DURATIONS = [0, 2, 5, 5.0001, 10, 24, 99.9, 100, 450, 1_000, 1_000.5, 12_000, 3, 3];

/** The request histogram's own series, as text and as JSON, from a registry holding only it. */
async function read(registry: Registry, name = NAME): Promise<{ text: string; json: unknown }> {
  const text = (await registry.metrics()).split('\n').filter((line) => /^(# (HELP|TYPE) )?(\w+)/.exec(line)?.[3]?.replace(/_(bucket|sum|count)$/, '') === name).join('\n');
  const json = (await registry.getMetricsAsJSON()).find((metric) => metric.name === name);
  return { text, json };
}

describe('histograms and counters kept in plain numbers', () => {
  it('reads exactly like a prom-client Histogram fed the same durations (text, JSON, reset)', async () => {
    const ours = new Registry();
    const metrics = createEdgeMetrics({ registry: ours, location: 'eu-west', regions: ['eu-west'], requestBuckets: BUCKETS });
    const theirs = new Registry();
    const peer = new Histogram({ name: NAME, help: 'Duration of gateway requests until the response closed, in seconds', labelNames: ['location'], buckets: BUCKETS, registers: [theirs] });
    peer.zero({ location: 'eu-west' });
    expect(await read(ours)).toEqual(await read(theirs));
    for (const ms of DURATIONS) {
      metrics.recordGatewayRequest(ms);
      peer.observe({ location: 'eu-west' }, ms / 1000);
    }
    const after = await read(ours);
    expect(after).toEqual(await read(theirs));
    expect(after.text).toContain(`${NAME}_count{location="eu-west"} ${DURATIONS.length}`);
    expect(after.text).toContain(`${NAME}_bucket{le="0.005",location="eu-west"} 5`);
    // Negative and non-numeric durations are not observations.
    metrics.recordGatewayRequest(-1);
    metrics.recordGatewayRequest(Number.NaN);
    expect(await read(ours)).toEqual(after);
    // A reset drops the series until its next observation, as prom-client does.
    ours.resetMetrics();
    theirs.resetMetrics();
    expect(await read(ours)).toEqual(await read(theirs));
    metrics.recordGatewayRequest(7);
    peer.observe({ location: 'eu-west' }, 0.007);
    expect(await read(ours)).toEqual(await read(theirs));
    await metrics.close();
    expect(ours.getSingleMetric(NAME)).toBeUndefined();
  });

  it('reads the backend histogram and the routing counter like prom-client fed the same records, per bounded label', async () => {
    const BACKEND = 'edge_to_backend_duration_seconds';
    const ROUTING = 'edge_routing_requests_total';
    const ours = new Registry();
    const metrics = createEdgeMetrics({ registry: ours, location: 'eu-west', regions: ['eu-west', 'us-east'], backendBuckets: BUCKETS });
    const theirs = new Registry();
    const histogram = new Histogram({ name: BACKEND, help: 'Time from an upstream attempt to its response headers, in seconds', labelNames: ['edge_location', 'backend_region'], buckets: BUCKETS, registers: [theirs] });
    const counter = new Counter({ name: ROUTING, help: 'Requests routed by the edge gateway, by target region, client region and status class', labelNames: ['target_region', 'client_region', 'status'], registers: [theirs] });
    const records: Array<[string, string | undefined, number | 'aborted', number]> = [
      ['us-east', 'EU', 200, 12], ['eu-west', 'EU', 503, 0.4], ['mars', 'NA', 200, 99], ['us-east', 'EU', 204, 1_200], ['eu-west', undefined, 'aborted', 3], ['us-east', 'EU', 200, 5],
    ];
    for (const [region, client, status, ms] of records) {
      metrics.recordRouting({ targetRegion: region, clientRegion: client, status });
      metrics.recordBackend(region, ms);
      const target = region === 'mars' ? 'other' : region;
      counter.inc({ target_region: target, client_region: client ?? 'unknown', status: status === 'aborted' ? 'aborted' : `${String(status)[0]}xx` });
      histogram.observe({ edge_location: 'eu-west', backend_region: target }, ms / 1000);
    }
    expect(await read(ours, BACKEND)).toEqual(await read(theirs, BACKEND));
    const routing = await read(ours, ROUTING);
    expect(routing.text).toContain(`${ROUTING}{target_region="us-east",client_region="EU",status="2xx"} 3`);
    expect(routing).toEqual(await read(theirs, ROUTING));
    // Counted again after a read: the pending numbers are added once.
    metrics.recordRouting({ targetRegion: 'us-east', clientRegion: 'EU', status: 200 });
    expect((await read(ours, ROUTING)).text).toContain(`${ROUTING}{target_region="us-east",client_region="EU",status="2xx"} 4`);
    await metrics.close();
  });
});
