import type { RegionBalancer } from '@edgekit/balancer';
import type { Disposable } from '@edgekit/core';
import { type HealthChecker, type HealthCheckerOptions, createHealthChecker } from '@edgekit/health';
import type { Forwarder, UpstreamTlsOptions } from '@edgekit/proxy';
import type { ComponentSet } from './components.js';
import type { GatewayConfig } from './config.js';
import { regionKey } from './region-routing.js';
import type { ServiceTable } from './services.js';
import { upstreamTls, withTls } from './upstream-tls.js';

/** One region with endpoints to probe. */
export interface ProbedRegion {
  /** The region's name in status and breakers (`eu`, or `orders/eu` for a service's region). */
  key: string;
  balancer: RegionBalancer;
  /** The region URL's path: probes request `<endpoint origin><path><health.path>`. */
  path: string;
  /** TLS settings of the region's `https://` endpoints (as the forwarder's). */
  tls?: UpstreamTlsOptions | undefined;
}

/** What {@link EndpointHealth} tells: a probe result changed an endpoint's state. */
export type EndpointHealthListener = (event: { region: string; endpoint: string; healthy: boolean; reason: string }) => void;

/**
 * Active health checks of every endpoint of the regions it watches (`@edgekit/health` probes, one
 * target per endpoint), fed into each region balancer with `setEndpointHealth`: an endpoint that
 * fails `unhealthyThreshold` probes takes no requests until `healthyThreshold` probes pass, unless
 * the region is in panic (too few healthy endpoints), where the balancer ignores failed checks.
 * Targets follow discovery: endpoints added or removed by DNS or a reload are probed or dropped.
 */
/**
 * The checker settings of `health` shared by the region checker and the endpoint checker, and the
 * key their components are kept by across reloads (`openBreakers` and `endpoints` change neither).
 */
export function probeSettings(health: GatewayConfig['health']): { options: Omit<HealthCheckerOptions, 'targets'>; key: object } {
  return {
    options: {
      path: health.path,
      interval: health.interval,
      timeout: health.timeout,
      jitter: health.jitter,
      initialJitter: health.initialJitter,
      healthyThreshold: health.healthyThreshold,
      unhealthyThreshold: health.unhealthyThreshold,
    },
    key: { ...health, openBreakers: undefined, endpoints: undefined },
  };
}

export class EndpointHealth {
  readonly checker: HealthChecker;
  readonly #regions = new Map<string, { region: ProbedRegion; subscription: Disposable }>();
  /** Probe target name → where its result goes. */
  readonly #targets = new Map<string, { region: ProbedRegion; id: string }>();
  readonly #listener: EndpointHealthListener | undefined;

  constructor(options: Omit<HealthCheckerOptions, 'targets'>, listener?: EndpointHealthListener) {
    this.#listener = listener;
    this.checker = createHealthChecker({ ...options, targets: [] });
    this.checker.on('change', (event) => {
      const target = this.#targets.get(event.name);
      if (target === undefined) return;
      // Unknown → healthy changes nothing; only a target that was judged gives a verdict.
      if (!event.healthy && event.state !== 'unhealthy') return;
      target.region.balancer.setEndpointHealth(target.id, event.healthy);
      this.#listener?.({ region: target.region.key, endpoint: target.id, healthy: event.healthy, reason: event.reason });
    });
  }

  /**
   * Probes the endpoints of exactly these regions from now on (a reload passes its own list).
   * A region whose healthy endpoints fall below `minHealthyPercent` is skipped by the forwarder
   * (region health); its breaker is not opened from here, because a breaker closes only through
   * real traffic and would keep a region in panic mode from spreading load over its endpoints.
   */
  watch(regions: readonly ProbedRegion[]): void {
    for (const entry of this.#regions.values()) entry.subscription.dispose();
    this.#regions.clear();
    for (const region of regions) {
      this.#regions.set(region.key, { region, subscription: region.balancer.on('endpoints', () => this.#sync()) });
    }
    this.#sync();
  }

  #sync(): void {
    if (this.checker.closed) return;
    this.#targets.clear();
    const targets: Array<{ name: string; url: string; tls?: UpstreamTlsOptions }> = [];
    for (const { region } of this.#regions.values()) {
      for (const endpoint of region.balancer.endpoints()) {
        const name = `${region.key}@${endpoint.id}`;
        this.#targets.set(name, { region, id: endpoint.id });
        targets.push(withTls({ name, url: `${endpoint.url}${region.path === '/' ? '' : region.path}` }, region.tls));
      }
    }
    // Unchanged targets keep their probe history and state.
    this.checker.setTargets(targets);
  }

  async close(): Promise<void> {
    for (const entry of this.#regions.values()) entry.subscription.dispose();
    this.#regions.clear();
    await this.checker.close();
  }
}

/** The regions with endpoints of a pipeline: the top-level ones, then each service's. */
export function probedRegions(config: GatewayConfig, forwarder: Forwarder, services: ServiceTable): ProbedRegion[] {
  const out: ProbedRegion[] = [];
  const add = (key: string, region: { name: string; url: string; endpoints?: unknown }, owner: Forwarder, tls: ReturnType<typeof upstreamTls>): void => {
    if (region.endpoints === undefined) return;
    const balancer = owner.regionBalancer(region.name);
    if (balancer !== undefined) out.push({ key, balancer, path: new URL(region.url).pathname.replace(/\/+$/, '') || '/', tls: tls?.(region) });
  };
  const topTls = upstreamTls(config.regions, config.proxy.tls);
  for (const region of config.regions) add(region.name, region, forwarder, topTls);
  for (const service of config.services) {
    const route = services.byName.get(service.name);
    const tls = upstreamTls(service.regions, config.proxy.tls);
    if (route !== undefined) for (const region of service.regions) add(regionKey(service.name, region.name), region, route.forwarder, tls);
  }
  return out;
}

/**
 * The endpoint checker of a pipeline (kept across reloads while `health` stays), watching this
 * pipeline's regions once it takes over. Without `health.endpoints`, nothing is probed.
 */
export async function useEndpointHealth(components: ComponentSet, config: GatewayConfig, regions: readonly ProbedRegion[], log: (level: 'info' | 'warn', msg: string, fields: Record<string, unknown>) => void): Promise<EndpointHealth | undefined> {
  if (!config.health.endpoints || regions.length === 0) {
    // Checks turned off (or no endpoints): verdicts of an earlier checker must not keep endpoints out.
    components.onCommit(() => {
      for (const region of regions) for (const endpoint of region.balancer.endpoints()) region.balancer.setEndpointHealth(endpoint.id, true);
    });
    return undefined;
  }
  const { options, key } = probeSettings(config.health);
  const { value } = await components.use('endpoint-health', key, 'health', () => new EndpointHealth(options, (event) => log(event.healthy ? 'info' : 'warn', 'endpoint health changed', event)), (checker) => checker.close());
  components.onCommit(() => value.watch(regions));
  return value;
}
