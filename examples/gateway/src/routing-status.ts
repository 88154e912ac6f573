import type { HealthState } from '@edgekit/health';
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
