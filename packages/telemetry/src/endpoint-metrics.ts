import { type Disposable, toDisposable } from '@edgekit/core';
import { Counter, Gauge, type Registry } from 'prom-client';
import { BoundedLabel } from './labels.js';
import type { AttemptEndLike, ObservableForwarder } from './sources.js';

/** Options of {@link createEndpointMetrics}. */
export interface EndpointMetricsOptions {
  registry: Registry;
  /** Region names that may appear as labels; others are `other`. */
  regions: readonly string[];
  /** Service names that may appear as labels (`''` for a forwarder without a service); others are `other`. Default: none. */
  services?: readonly string[];
  /**
   * Label attempts with the endpoint's id too. Endpoint ids come from discovery, so the label's
   * cardinality follows the fleet: only the operator can allow it. Default `false`: counts per region.
   */
  endpointLabels?: boolean;
}

/** Per-endpoint routing metrics (regions with endpoints), fed by request observers. */
export interface EndpointMetrics {
  /** Counts the attempts of `forwarder` to endpoints, labelled with `service` (a name from `services`). */
  observeForwarder(forwarder: ObservableForwarder, service?: string): Disposable;
  close(): void;
}

/** Metric names of {@link createEndpointMetrics}. */
export const ENDPOINT_METRICS = Object.freeze({
  attempts: 'edge_endpoint_attempts_total',
  ejected: 'edge_region_endpoints_ejected',
});

/**
 * `edge_endpoint_attempts_total{service,region,outcome,reason[,endpoint]}` (outcome: `complete`,
 * `failed`, `cancelled`; reason: the balancer's `balanced`, `affinity`, `retry`, `overflow`) and
 * `edge_region_endpoints_ejected{service,region}` (outlier ejections seen by the last attempt).
 */
export function createEndpointMetrics(options: EndpointMetricsOptions): EndpointMetrics {
  const regions = new BoundedLabel(options.regions);
  const services = new BoundedLabel(options.services ?? []);
  const withEndpoint = options.endpointLabels === true;
  const attempts = new Counter({
    name: ENDPOINT_METRICS.attempts,
    help: 'Network attempts to endpoints of regions with endpoints, by outcome and balancer reason.',
    labelNames: withEndpoint ? ['service', 'region', 'outcome', 'reason', 'endpoint'] : ['service', 'region', 'outcome', 'reason'],
    registers: [options.registry],
  });
  const ejected = new Gauge({ name: ENDPOINT_METRICS.ejected, help: 'Endpoints of the region ejected by outlier detection, as the last attempt saw it.', labelNames: ['service', 'region'], registers: [options.registry] });
  const record = (service: string, region: string, end: AttemptEndLike): void => {
    const choice = end.endpoint;
    if (choice === undefined) return;
    const labels: Record<string, string> = { service, region: regions.of(region), outcome: end.outcome, reason: choice.reason };
    if (withEndpoint) labels.endpoint = choice.endpoint;
    attempts.inc(labels);
    ejected.set({ service, region: labels.region! }, choice.ejected);
  };
  return {
    observeForwarder(forwarder, service) {
      const serviceLabel = service === undefined ? '' : services.of(service);
      const handle = forwarder.observe(() => ({
        attempt: (start) => ({ end: (end) => record(serviceLabel, start.region, end) }),
      }));
      return toDisposable(() => handle.dispose());
    },
    close() {
      options.registry.removeSingleMetric(ENDPOINT_METRICS.attempts);
      options.registry.removeSingleMetric(ENDPOINT_METRICS.ejected);
    },
  };
}
