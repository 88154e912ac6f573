import { createBreakerRegistry } from '@edgekit/breaker';
import { createTrustedProxies } from '@edgekit/geo';
import { type HealthChecker, createHealthChecker, linkBreakers } from '@edgekit/health';
import { type Forwarder, createForwarder } from '@edgekit/proxy';
import { type ComponentSet, identity } from './components.js';
import type { GatewayConfig } from './config.js';
import { probeSettings } from './endpoint-health.js';
import { routingKey } from './endpoints-config.js';
import { type PipelineContext, type SharedLayer, observe } from './pipeline-shared.js';
import { buildSelector, useRegions } from './region-routing.js';
import { serviceHealthTargets } from './services.js';
import { upstreamTls, withTls } from './upstream-tls.js';

/** The routing layer of the default regions: region selection, breakers, health and the forwarder. */
export interface RoutingLayer {
  forwarder: Forwarder;
  health: HealthChecker;
  breakers: ReturnType<typeof createBreakerRegistry>;
}

/** The locate function of the `geo` section: with a CDN named, its location headers (from trusted proxies) come before the address. */
export function locateFor(config: GatewayConfig, locator: SharedLayer['locator']): Parameters<typeof createForwarder>[0]['locate'] {
  return config.geo.cdn === undefined ? locator.lookup : (_ip, req) => locator.locateRequest(req);
}

/** Builds (or reuses) the routing layer of `config`. */
export async function buildRouting(config: GatewayConfig, context: PipelineContext, components: ComponentSet, shared: SharedLayer): Promise<RoutingLayer> {
  const { telemetry, counters, log } = context;
  const { locator } = shared;

  // Region balancers are kept across reloads while their settings stay: ejections, latency and
  // pools survive a reload, and a changed static endpoint list is applied to the kept balancer.
  const regions = await useRegions(components, '', config.regions, 'regions');
  const { value: selector } = await components.use(
    'selector',
    { regions: config.regions.map(routingKey), balancers: regions.map((r) => identity(r.endpoints)), routing: config.routing, origin: config.edge.coordinates },
    'regions',
    () => buildSelector({ regions, ...config.routing, origin: config.edge.coordinates }),
    () => {},
  );

  const { value: breakers } = await components.use('breakers', config.breakers, 'breakers', () => {
    const registry = createBreakerRegistry({
      defaults: {
        // The forwarder settles permits itself when response headers arrive; its own timeouts apply.
        timeout: false,
        mode: config.breakers.mode,
        failureThreshold: config.breakers.failureThreshold,
        errorThresholdPercentage: config.breakers.errorThresholdPercentage,
        volumeThreshold: config.breakers.volumeThreshold,
        resetTimeout: config.breakers.resetTimeout,
        rollingCountTimeout: config.breakers.rollingCountTimeout,
      },
    });
    const unobserve = observe([telemetry.observeBreakers(registry)]);
    return Object.assign(registry, { unobserve });
  }, async (registry) => {
    registry.unobserve();
    await registry.close();
  });

  const probe = probeSettings(config.health);
  // A region with endpoints is healthy by its endpoints' share (outlier ejection), not by probing its url.
  // Probes of https regions verify (and present client certificates) as the forwarder does.
  const tls = upstreamTls(config.regions, config.proxy.tls);
  const targets = [...config.regions.filter((region) => region.endpoints === undefined).map((region) => withTls({ name: region.name, url: region.url }, tls?.(region))), ...serviceHealthTargets(config.services, config.proxy.tls)];
  const { value: health, reused: healthReused } = await components.use('health', probe.key, 'health', () => {
    const checker = createHealthChecker({ ...probe.options, targets });
    const change = checker.on('change', (event) => {
      log(event.healthy ? 'info' : 'warn', 'region health changed', { region: event.name, state: event.state, reason: event.reason });
    });
    const unobserve = observe([change, telemetry.observeHealth(checker)]);
    return Object.assign(checker, { unobserve });
  }, async (checker) => {
    checker.unobserve();
    await checker.close();
  });
  // A reused checker keeps the state of unchanged targets; new or changed ones start unknown.
  if (healthReused) health.setTargets(targets);

  if (config.health.openBreakers) {
    await components.use('breaker-link', [identity(health), identity(breakers)], 'health.openBreakers', () => linkBreakers(health, breakers, { holdOpen: true }), (link) => link[Symbol.dispose]());
  }

  const poolSizes = new Map(config.regions.flatMap((region) => (region.connections === undefined ? [] : [[region.name, region.connections] as const])));
  const { value: forwarder } = await components.use(
    'forwarder',
    { proxy: config.proxy, trusted: config.geo.trustedProxies, header: config.geo.header, pools: [...poolSizes], deps: [identity(selector), identity(locator), identity(health), identity(breakers)] },
    'proxy',
    () => {
      const created = createForwarder({
        selector,
        locate: locateFor(config, locator),
        trustedProxies: createTrustedProxies(config.geo.trustedProxies),
        forwardedHeader: config.geo.header,
        health,
        breakers,
        connectTimeout: config.proxy.connectTimeout,
        headersTimeout: config.proxy.headersTimeout,
        bodyTimeout: config.proxy.bodyTimeout,
        connections: (region) => poolSizes.get(region.name) ?? config.proxy.connections,
        queueTimeout: config.proxy.queueTimeout,
        clientBodyTimeout: config.proxy.clientBodyTimeout,
        clientBodyMinRate: config.proxy.clientBodyMinRate,
        sendTimeout: config.proxy.sendTimeout,
        maxInFlightPerClient: config.proxy.maxInFlightPerClient,
        routeWindow: config.proxy.routeWindow,
        panicFraction: config.proxy.panicFraction,
        maxAttempts: config.proxy.maxAttempts,
        closeTimeout: config.proxy.closeTimeout,
        via: config.proxy.via,
        ...(tls === undefined ? {} : { tls }),
        http2: (region) => config.regions.find((entry) => entry.name === region.name)?.http2 ?? config.proxy.http2,
        ...(config.proxy.retryBudget === undefined ? {} : { retryBudget: config.proxy.retryBudget }),
        ...(config.proxy.hedgeDelay === undefined ? {} : { hedge: { delay: config.proxy.hedgeDelay } }),
      });
      const unobserve = observe([
        created.on('response', (event) => counters.recordResponse(event.region)),
        created.on('failover', () => counters.failovers++),
        created.on('error', () => counters.errors++),
        telemetry.observeForwarder(created, { endpoints: config.regions.some((region) => region.endpoints !== undefined) }),
      ]);
      return Object.assign(created, { unobserve });
    },
    async (value) => {
      value.unobserve();
      await value.close();
    },
  );
  return { forwarder, health, breakers };
}
