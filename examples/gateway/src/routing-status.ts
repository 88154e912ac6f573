import type { HealthState } from '@edgekit/health';
import type { Forwarder } from '@edgekit/proxy';
import { regionKey } from './region-routing.js';
import type { RegionStatus, ServiceStatus, StatusCounters } from './status.js';
import type { GatewayConfig } from './config.js';
import type { Pipeline } from './pipeline.js';

/**
 * Region health for readiness: the active checks of regions with a URL, and for regions with
 * endpoints the balancer's view (healthy while enough endpoints are neither ejected nor failing
 * their checks).
 */
export function regionHealth(pipeline: Pipeline): Record<string, { state: HealthState }> {
  const out: Record<string, { state: HealthState }> = { ...pipeline.health.snapshot() };
  for (const region of pipeline.config.regions) {
    if (region.endpoints === undefined) continue;
    const balancer = pipeline.forwarder.regionBalancer(region.name);
    if (balancer !== undefined) out[region.name] = { state: balancer.isHealthy() ? 'healthy' : 'unhealthy' };
  }
  return out;
}

/** The status of one set of regions (top-level, or one service's), keyed for health, breakers and counters by {@link regionKey}. */
function regionStatuses(pipeline: Pipeline, counters: StatusCounters, service: string | undefined, regions: readonly { name: string; url: string; endpoints?: unknown }[], forwarder: Forwarder | undefined): RegionStatus[] {
  const health = pipeline.health.snapshot();
  const breakers = pipeline.breakers.snapshot();
  return regions.map((region) => {
    const key = regionKey(service, region.name);
    const responses = counters.byRegion.get(key) ?? 0;
    const balancer = region.endpoints === undefined ? undefined : forwarder?.regionBalancer(region.name)?.status();
    const target = health[key];
    return {
      name: region.name,
      url: region.url,
      health: balancer === undefined ? target?.state ?? 'unknown' : balancer.healthy ? 'healthy' : 'unhealthy',
      breaker: breakers[key]?.state ?? 'closed',
      responses,
      share: counters.forwarded === 0 ? 0 : responses / counters.forwarded,
      lastStatus: target?.lastStatus ?? undefined,
      ...(region.endpoints === undefined ? {} : {
        endpoints: balancer?.endpoints ?? [],
        balancing: { balancer: balancer?.balancer ?? 'unknown', healthyPercent: balancer?.healthyPercent ?? 0, panic: balancer?.panic ?? false },
      }),
    };
  });
}

/** Top-level regions and services → regions → endpoints, for the status page and `/status.json`. */
export function routingStatus(pipeline: Pipeline, counters: StatusCounters): { regions: RegionStatus[]; services: ServiceStatus[] } {
  return {
    regions: regionStatuses(pipeline, counters, undefined, pipeline.config.regions, pipeline.forwarder),
    services: pipeline.config.services.map((service) => ({
      name: service.name,
      regions: regionStatuses(pipeline, counters, service.name, service.regions, pipeline.services.byName.get(service.name)?.forwarder),
    })),
  };
}

/** The service names and endpoint-label setting the endpoint metrics use. */
export function routingLabels(config: GatewayConfig): { services: string[]; endpointLabels: boolean } {
  return { services: config.services.map((service) => service.name), endpointLabels: config.telemetry.endpointLabels };
}
