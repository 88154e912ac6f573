import type { IncomingMessage } from 'node:http';
import { createTrafficSplit } from '@edgekit/balancer';
import { type Residency, createRegionSelector, createRequestSelector, createTrustedProxies } from '@edgekit/geo';
import { type EndpointRegion, type Forwarder, createForwarder } from '@edgekit/proxy';
import { z } from 'zod';
import type { ComponentSet } from './components.js';
import type { GatewayConfig } from './config.js';
import { identity } from './components.js';
import { buildRegionBalancer, endpointIssues, regionEndpointsFields } from './endpoints-config.js';
import { pathOf } from './ingress.js';

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
      /** Tenant data residency: the tenant named by a request header is served from its home region first and never outside its allowed regions (503 when none is left). Tenants not listed: no constraint. */
      residency: z
        .strictObject({
          tenantHeader: z.string().regex(/^[a-z0-9-]+$/, 'must be a lower-case header name'),
          homes: z.record(z.string().min(1), z.string()).default({}),
          allowed: z.record(z.string().min(1), z.array(z.string())).default({}),
        })
        .optional(),
      /** A signed sticky-region hint (header or cookie, HMAC-SHA256), bound to the residency tenant when there is one. */
      hint: z
        .strictObject({
          secrets: z.array(z.string().min(32, 'must be at least 32 characters')).min(1),
          header: z.string().regex(/^[a-z0-9-]+$/, 'must be a lower-case header name').optional(),
          cookie: z.string().min(1).optional(),
        })
        .optional(),
      /** A canary split of the matched requests between this service and others, by weight (random per request). */
      split: z
        .strictObject({
          variants: z.array(z.strictObject({ service: z.string().min(1), weight: z.number().min(0) })).min(1),
          /** A header naming the service to use (`x-canary: orders-v2`) whatever the weights; unknown names are ignored. */
          header: z.string().regex(/^[a-z0-9-]+$/, 'must be a lower-case header name').optional(),
        })
        .optional(),
    }),
  )
  .default([]);

export type ServiceConfig = z.infer<typeof servicesSchema>[number];

type Issue = { path: PropertyKey[]; message: string };
const isObject = (value: unknown): value is Record<string, unknown> => value !== null && typeof value === 'object' && !Array.isArray(value);

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
    if (isObject(service.split) && Array.isArray(service.split.variants)) {
      const variants = service.split.variants as unknown[];
      const names = new Set((input.services as unknown[]).flatMap((other) => (isObject(other) && typeof other.name === 'string' ? [other.name] : [])));
      variants.forEach((variant, v) => {
        if (isObject(variant) && typeof variant.service === 'string' && !names.has(variant.service)) issues.push({ path: ['services', index, 'split', 'variants', v, 'service'], message: `unknown service "${variant.service}"` });
      });
      if (variants.length > 0 && variants.every((variant) => isObject(variant) && typeof variant.weight === 'number' && variant.weight <= 0)) {
        issues.push({ path: ['services', index, 'split', 'variants'], message: 'needs a weight above 0' });
      }
    }
    const residency = isObject(service.residency) ? service.residency : {};
    for (const field of ['homes', 'allowed'] as const) {
      const map = residency[field];
      if (!isObject(map)) continue;
      for (const [tenant, value] of Object.entries(map)) {
        const names = typeof value === 'string' ? [value] : Array.isArray(value) ? value : [];
        names.forEach((name, n) => {
          if (typeof name === 'string' && !regions.has(name)) issues.push({ path: ['services', index, 'residency', field, tenant, ...(typeof value === 'string' ? [] : [n])], message: `unknown region "${name}"` });
        });
      }
    }
    if (typeof service.defaultRegion === 'string' && !regions.has(service.defaultRegion)) {
      issues.push({ path: ['services', index, 'defaultRegion'], message: `unknown region "${service.defaultRegion}"` });
    }
  });
  return issues;
}

/** A service ready to serve: its match and its forwarder. */
export interface ServiceRoute {
  readonly name: string;
  readonly forwarder: Forwarder;
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
  /** Identities of the shared parts (locator): a service forwarder is rebuilt when they change. */
  deps: unknown[];
  /** Subscribes to a new forwarder's events; returns the unsubscribe. */
  observe: (forwarder: Forwarder) => () => void;
}

/**
 * Builds (or reuses across reloads, keyed by service name and settings) one forwarder per service.
 * Endpoint balancers are kept while their region's settings stay, so ejections survive reloads.
 */
export async function buildServices(services: readonly ServiceConfig[], context: ServiceContext): Promise<ServiceRoute[]> {
  const routes: Array<ServiceRoute & { target: (req: IncomingMessage) => ServiceRoute }> = [];
  const byName = new Map<string, ServiceRoute>();
  for (const [s, service] of services.entries()) {
    const regions: Array<ServiceConfig['regions'][number] | EndpointRegion> = [];
    for (const [r, region] of service.regions.entries()) {
      if (region.endpoints === undefined) {
        regions.push(region);
        continue;
      }
      const { url: _url, location: _location, connections: _connections, ...settings } = region;
      const { value } = await context.components.use(`service:${service.name}:endpoints:${region.name}`, settings, `services[${s}].regions[${r}].endpoints`, () => buildRegionBalancer(region), (balancer) => balancer.close());
      regions.push({ ...region, endpoints: value });
    }
    const pools = new Map(service.regions.flatMap((region) => (region.connections === undefined ? [] : [[region.name, region.connections] as const])));
    const { value: forwarder } = await context.components.use(
      `service:${service.name}`,
      { service: { ...service, match: undefined, split: undefined }, balancers: regions.map((region) => identity(region.endpoints)), proxy: context.proxy, trusted: context.trustedProxies, origin: context.origin, deps: context.deps },
      `services[${s}]`,
      () => {
        const located = createRegionSelector({
          regions,
          ...(service.defaultRegion === undefined ? {} : { defaultRegion: service.defaultRegion }),
          ...(context.origin === undefined ? {} : { origin: context.origin }),
        });
        const residency = service.residency;
        const tenantOf = residency === undefined ? undefined : (req: { headers: IncomingMessage['headers'] }): string | undefined => {
          const value = req.headers[residency.tenantHeader];
          return typeof value === 'string' && value !== '' ? value : undefined;
        };
        const selector = residency === undefined && service.hint === undefined
          ? located
          : createRequestSelector({
              selector: located,
              ...(residency === undefined ? {} : {
                residency: (req): Residency | undefined => {
                  const tenant = tenantOf!(req);
                  if (tenant === undefined || (!Object.hasOwn(residency.homes, tenant) && !Object.hasOwn(residency.allowed, tenant))) return undefined;
                  return { home: Object.hasOwn(residency.homes, tenant) ? residency.homes[tenant] : undefined, allowed: Object.hasOwn(residency.allowed, tenant) ? residency.allowed[tenant] : undefined };
                },
              }),
              ...(service.hint === undefined ? {} : {
                hint: {
                  secrets: service.hint.secrets,
                  ...(service.hint.header === undefined ? {} : { header: service.hint.header }),
                  ...(service.hint.cookie === undefined ? {} : { cookie: service.hint.cookie }),
                  ...(tenantOf === undefined ? {} : { subject: tenantOf }),
                },
              }),
            });
        const proxy = context.proxy;
        const created = createForwarder({
          selector,
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
          ...(proxy.retryBudget === undefined ? {} : { retryBudget: proxy.retryBudget }),
          ...(proxy.hedgeDelay === undefined ? {} : { hedge: { delay: proxy.hedgeDelay } }),
        });
        const unobserve = context.observe(created);
        return Object.assign(created, { unobserve });
      },
      async (value) => {
        value.unobserve();
        await value.close();
      },
    );
    const route: ServiceRoute = { name: service.name, forwarder, matches: compileMatch(service.match), target: () => route };
    byName.set(service.name, route);
    routes.push(route);
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
  return routes;
}
