import { createEdgeMetrics } from '@edgekit/telemetry';
import { Histogram, Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';

const NAME = 'edge_gateway_request_duration_seconds';
const BUCKETS = [0.005, 0.01, 0.025, 0.1, 0.5, 1];
// Durations in ms: on a bound, between bounds, below the first, above the last, zero.
const DURATIONS = [0, 2, 5, 5.0001, 10, 24, 99.9, 100, 450, 1_000, 1_000.5, 12_000, 3, 3];

/** The request histogram's own series, as text and as JSON, from a registry holding only it. */
async function read(registry: Registry): Promise<{ text: string; json: unknown }> {
  const text = (await registry.metrics()).split('\n').filter((line) => line.includes(NAME)).join('\n');
  const json = (await registry.getMetricsAsJSON()).find((metric) => metric.name === NAME);
  return { text, json };
}

describe('the gateway request histogram', () => {
  it('reads exactly like a prom-client Histogram fed the same durations (text, JSON, reset)', async () => {
    const ours = new Registry();
    const metrics = createEdgeMetrics({ registry: ours, location: 'eu-west', nodeId: 'n1', regions: ['eu-west'], requestBuckets: BUCKETS });
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
    ours.resetMetrics();
    theirs.resetMetrics();
    expect((await read(ours)).text).toContain(`${NAME}_count{location="eu-west"} 0`);
    await metrics.close();
    expect(ours.getSingleMetric(NAME)).toBeUndefined();
  });
});
