import type { IncomingMessage, ServerResponse } from 'node:http';
import type { EdgeCache } from '@edgekit/cache';
import { createTrafficSplit } from '@edgekit/balancer';
import { createTrustedProxies } from '@edgekit/geo';
import { type Forwarder, type ForwarderOptions, type UpstreamTlsOptions, createForwarder } from '@edgekit/proxy';
import { z } from 'zod';
import type { ComponentSet } from './components.js';
import type { GatewayConfig } from './config.js';
import { identity } from './components.js';
import { endpointIssues, regionEndpointsFields, routingKey } from './endpoints-config.js';
import { buildSelector, hintSchema, regionKey, residencyIssues, residencySchema, splitIssues, splitSchema, useRegions } from './region-routing.js';
import { pathOf } from './ingress.js';
import { upstreamTlsSchema } from './config-schema/tls.js';
import { upstreamTls, withTls } from './upstream-tls.js';
import { ROUTE_SERVICE, type RoutedRequest } from './route-rules.js';

const httpUrl = z.string().refine((value) => {
  try {
    const url = new URL(value);
    return url.protocol === 'http:' || url.protocol === 'https:';
  } catch {
    return false;
  }
}, 'must be an absolute http(s) URL');

const serviceRegion = z.strictObject({
  name: z.string().regex(/^[a-z0-9][a-z0-9._-]*$/i, 'must be letters, digits, ".", "_" or "-"'),
  url: httpUrl,
  location: z.strictObject({ lat: z.number().min(-90).max(90), lon: z.number().min(-180).max(180) }),
  connections: z.number().int().min(1).optional(),
  /** HTTP/2 to this region (ALPN `h2` for `https:`, prior knowledge for `http:`). Default: `proxy.http2`. */
  http2: z.boolean().optional(),
  /** TLS towards this region's `https://` URL or endpoints. Default: `proxy.tls`. */
  tls: upstreamTlsSchema.optional(),
  ...regionEndpointsFields,
});

const serviceMatch = z.strictObject({
  /** Canonical path prefix, segment-aligned (`/orders` covers `/orders` and `/orders/7`, not `/ordersx`). */
  pathPrefix: z.string().regex(/^\//, 'must start with "/"').optional(),
  /** Host header, without port, case-insensitive. */
  host: z.string().min(1).optional(),
  methods: z.array(z.string().regex(/^[A-Z]+$/, 'must be an upper-case method')).min(1).optional(),
  /** Request headers that must be present with exactly these values (names lower case). */
  headers: z.record(z.string().regex(/^[a-z0-9-]+$/, 'must be a lower-case header name'), z.string()).optional(),
});

/** `services`: upstream services behind one gateway, each with its own regions and forwarder. */
export const servicesSchema = z
  .array(
    z.strictObject({
      name: z.string().regex(/^[a-z0-9][a-z0-9._-]*$/i, 'must be letters, digits, ".", "_" or "-"'),
      /** Which requests go to the service; every given field must match. First matching service wins; no match: the top-level `regions`. None: reached only through another service's `split`. */
      match: serviceMatch.optional(),
      regions: z.array(serviceRegion).min(1, 'at least one region is required'),
      defaultRegion: z.string().optional(),
      residency: residencySchema.optional(),
      hint: hintSchema.optional(),
      /** A canary split of the matched requests between this service and others, by weight (random per request). */
      split: splitSchema.optional(),
    }),
  )
  .default([]);

export type ServiceConfig = z.infer<typeof servicesSchema>[number];

type Issue = { path: PropertyKey[]; message: string };
const isObject = (value: unknown): value is Record<string, unknown> => value !== null && typeof value === 'object' && !Array.isArray(value);

/** The names of the configured services. */
export function serviceNames(input: Record<string, unknown>): Set<string> {
  return new Set((Array.isArray(input.services) ? input.services : []).flatMap((service: unknown) => (isObject(service) && typeof service.name === 'string' ? [service.name] : [])));
}

/** Problems across services: duplicate names, empty matches, unknown default regions, region endpoint rules. */
export function serviceIssues(input: Record<string, unknown>): Issue[] {
  const issues: Issue[] = [];
  if (!Array.isArray(input.services)) return issues;
  const services = new Set<string>();
  input.services.forEach((service: unknown, index) => {
    if (!isObject(service)) return;
    if (typeof service.name === 'string') {
      if (services.has(service.name)) issues.push({ path: ['services', index, 'name'], message: `duplicate service name "${service.name}"` });
      services.add(service.name);
    }
    if (isObject(service.match) && Object.keys(service.match).length === 0) issues.push({ path: ['services', index, 'match'], message: 'needs at least one of pathPrefix, host, methods, headers' });
    const regions = new Set<string>();
    if (Array.isArray(service.regions)) {
      service.regions.forEach((region: unknown, r) => {
        if (!isObject(region)) return;
        if (typeof region.name === 'string') {
          if (regions.has(region.name)) issues.push({ path: ['services', index, 'regions', r, 'name'], message: `duplicate region name "${region.name}"` });
          regions.add(region.name);
        }
        for (const issue of endpointIssues(region, r)) issues.push({ ...issue, path: ['services', index, ...issue.path] });
      });
    }
    issues.push(...splitIssues(service.split, serviceNames(input), ['services', index, 'split']));
    issues.push(...residencyIssues(service.residency, regions, ['services', index, 'residency']));
    if (typeof service.defaultRegion === 'string' && !regions.has(service.defaultRegion)) {
      issues.push({ path: ['services', index, 'defaultRegion'], message: `unknown region "${service.defaultRegion}"` });
    }
  });
  return issues;
}

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

/** Active health check targets of the services' regions that have a URL and no endpoints, named by {@link regionKey}. */
export function serviceHealthTargets(services: readonly ServiceConfig[], proxyTls: GatewayConfig['proxy']['tls']): Array<{ name: string; url: string; tls?: UpstreamTlsOptions }> {
  return services.flatMap((service) => {
    const tls = upstreamTls(service.regions, proxyTls);
    return service.regions.filter((region) => region.endpoints === undefined).map((region) => withTls({ name: regionKey(service.name, region.name), url: region.url }, tls?.(region)));
  });
}

/** A service ready to serve: its match and its forwarder. */
export interface ServiceRoute {
  readonly name: string;
  readonly forwarder: Forwarder;
  /** The response cache in front of the forwarder, when the gateway has one. */
  readonly cached: Handler | undefined;
  matches(req: IncomingMessage): boolean;
  /** The service that serves a matched request: this one, or the variant its split chose. */
  target(req: IncomingMessage): ServiceRoute;
}

function compileMatch(match: ServiceConfig['match']): (req: IncomingMessage) => boolean {
  if (match === undefined) return () => false;
  const prefix = match.pathPrefix === undefined ? undefined : match.pathPrefix.replace(/\/+$/, '');
  const host = match.host?.toLowerCase();
  const methods = match.methods === undefined ? undefined : new Set(match.methods.includes('GET') ? [...match.methods, 'HEAD'] : match.methods);
  const headers = Object.entries(match.headers ?? {});
  return (req) => {
    if (prefix !== undefined && prefix !== '') {
      const path = pathOf(req.url);
      if (!(path === prefix || path.startsWith(`${prefix}/`))) return false;
    }
    if (host !== undefined) {
      const value = (req.headers.host ?? '').toLowerCase().replace(/:\d+$/, '');
      if (value !== host) return false;
    }
    if (methods !== undefined && !methods.has(req.method ?? 'GET')) return false;
    for (const [name, value] of headers) if (req.headers[name] !== value) return false;
    return true;
  };
}

/** What a service forwarder shares with the default one. */
export interface ServiceContext {
  components: ComponentSet;
  proxy: GatewayConfig['proxy'];
  trustedProxies: readonly string[];
  locate: Parameters<typeof createForwarder>[0]['locate'];
  origin: { lat: number; lon: number } | undefined;
  /** Identities of the shared parts (locator, health, breakers): a service forwarder is rebuilt when they change. */
  deps: unknown[];
  /** Region health (active checks of URL regions), keyed by {@link regionKey}. */
  health: { isHealthy(name: string): boolean };
  /** Region breakers, keyed by {@link regionKey}. */
  breakers: { get(key: string): ReturnType<NonNullable<ForwarderOptions['breakers']>['get']> };
  cache: EdgeCache | undefined;
  /** Subscribes to a new forwarder's events (of `service`); returns the unsubscribe. */
  observe: (forwarder: Forwarder, service: string) => () => void;
}

/**
 * Builds (or reuses across reloads, keyed by service name and settings) one forwarder per service.
 * Endpoint balancers are kept while their region's settings stay, so ejections survive reloads.
 */
export async function buildServices(services: readonly ServiceConfig[], context: ServiceContext, split?: GatewayConfig['routing']['split']): Promise<ServiceTable> {
  const routes: Array<ServiceRoute & { target: (req: IncomingMessage) => ServiceRoute }> = [];
  const byName = new Map<string, ServiceRoute>();
  for (const [s, service] of services.entries()) {
    const regions = await useRegions(context.components, `service:${service.name}:`, service.regions, `services[${s}].regions`);
    const pools = new Map(service.regions.flatMap((region) => (region.connections === undefined ? [] : [[region.name, region.connections] as const])));
    const { value: forwarder } = await context.components.use(
      `service:${service.name}`,
      { service: { ...service, regions: service.regions.map(routingKey), match: undefined, split: undefined }, balancers: regions.map((region) => identity(region.endpoints)), proxy: context.proxy, trusted: context.trustedProxies, origin: context.origin, deps: context.deps },
      `services[${s}]`,
      () => {
        const selector = buildSelector({ regions, defaultRegion: service.defaultRegion, origin: context.origin, residency: service.residency, hint: service.hint });
        const proxy = context.proxy;
        const key = (region: string): string => regionKey(service.name, region);
        const tls = upstreamTls(service.regions, proxy.tls);
        const created = createForwarder({
          service: service.name,
          selector,
          health: { isHealthy: (region) => context.health.isHealthy(key(region)) },
          breakers: { get: (region) => context.breakers.get(key(region)) },
          locate: context.locate,
          trustedProxies: createTrustedProxies([...context.trustedProxies]),
          connectTimeout: proxy.connectTimeout,
          headersTimeout: proxy.headersTimeout,
          bodyTimeout: proxy.bodyTimeout,
          connections: (region) => pools.get(region.name) ?? proxy.connections,
          queueTimeout: proxy.queueTimeout,
          clientBodyTimeout: proxy.clientBodyTimeout,
          clientBodyMinRate: proxy.clientBodyMinRate,
          sendTimeout: proxy.sendTimeout,
          maxInFlightPerClient: proxy.maxInFlightPerClient,
          routeWindow: proxy.routeWindow,
          panicFraction: proxy.panicFraction,
          maxAttempts: proxy.maxAttempts,
          closeTimeout: proxy.closeTimeout,
          via: proxy.via,
          ...(tls === undefined ? {} : { tls }),
          http2: (region) => service.regions.find((entry) => entry.name === region.name)?.http2 ?? proxy.http2,
          ...(proxy.retryBudget === undefined ? {} : { retryBudget: proxy.retryBudget }),
          ...(proxy.hedgeDelay === undefined ? {} : { hedge: { delay: proxy.hedgeDelay } }),
        });
        const unobserve = context.observe(created, service.name);
        return Object.assign(created, { unobserve });
      },
      async (value) => {
        value.unobserve();
        await value.close();
      },
    );
    const route: ServiceRoute = { name: service.name, forwarder, cached: context.cache?.handler(forwarder.forward), matches: compileMatch(service.match), target: () => route };
    byName.set(service.name, route);
    routes.push(route);
  }
  let defaultSplit: ((req: IncomingMessage) => ServiceRoute | undefined) | undefined;
  if (split !== undefined) {
    const chooser = createTrafficSplit({
      variants: split.variants.map((variant) => ({ name: variant.service, weight: variant.weight })),
      ...(split.header === undefined ? {} : { header: split.header }),
    });
    defaultSplit = (req) => byName.get(chooser.choose(req))?.target(req);
  }
  for (const [index, service] of services.entries()) {
    if (service.split === undefined) continue;
    const split = createTrafficSplit({
      variants: service.split.variants.map((variant) => ({ name: variant.service, weight: variant.weight })),
      ...(service.split.header === undefined ? {} : { header: service.split.header }),
    });
    const self = routes[index]!;
    self.target = (req) => byName.get(split.choose(req)) ?? self;
  }
  return new ServiceTable(routes, byName, defaultSplit);
}

/** The services of one pipeline and how a request finds its own. */
export class ServiceTable {
  readonly list: readonly ServiceRoute[];
  readonly byName: ReadonlyMap<string, ServiceRoute>;
  readonly #fallback: ((req: IncomingMessage) => ServiceRoute | undefined) | undefined;

  constructor(list: readonly ServiceRoute[], byName: ReadonlyMap<string, ServiceRoute>, fallback: ((req: IncomingMessage) => ServiceRoute | undefined) | undefined) {
    this.list = list;
    this.byName = byName;
    this.#fallback = fallback;
  }

  /**
   * The service that serves `req` (its split applied): the one its route rule named, else the first
   * whose match covers it, else `routing.split`'s choice; `undefined` for the top-level regions.
   */
  serviceFor(req: IncomingMessage): ServiceRoute | undefined {
    const routed = (req as RoutedRequest<ServiceRoute>)[ROUTE_SERVICE];
    if (routed !== undefined) return routed.target(req);
    for (const service of this.list) if (service.matches(req)) return service.target(req);
    return this.#fallback?.(req);
  }
}
