import { BALANCER_KINDS, type BalancerKind, type EndpointInput, type RegionBalancer, type StaticEndpointSet, createDnsEndpoints, createRegionBalancer, createStaticEndpoints } from '@edgekit/balancer';
import type { ComponentSet } from './components.js';
import { z } from 'zod';

const httpOrigin = z.string().refine((value) => {
  try {
    const url = new URL(value);
    return (url.protocol === 'http:' || url.protocol === 'https:') && (url.pathname === '/' || url.pathname === '');
  } catch {
    return false;
  }
}, 'must be an http(s) origin such as "http://10.0.3.7:8080"');

const dnsEndpoints = z.strictObject({
  /** A host name (a Kubernetes headless Service) or an SRV name. */
  dns: z.string().min(1),
  record: z.enum(['A', 'AAAA', 'A+AAAA', 'SRV']).default('A'),
  port: z.number().int().min(1).max(65_535).optional(),
  protocol: z.enum(['http', 'https']).default('http'),
  minTtl: z.number().int().min(1).default(1_000),
  maxTtl: z.number().int().min(1).default(60_000),
  servers: z.array(z.string().min(1)).optional(),
});

/** The endpoint fields of a region: several instances instead of one URL. */
export const regionEndpointsFields = {
  /** Instances of the region: origins, or a DNS name re-resolved on its TTL. The region's `url` then only gives the path prefix. */
  endpoints: z.union([z.array(z.union([httpOrigin, z.strictObject({ url: httpOrigin, weight: z.number().positive().optional() })])).min(1), dnsEndpoints]).optional(),
  balancer: z.enum(BALANCER_KINDS as unknown as [BalancerKind, ...BalancerKind[]]).optional(),
  affinity: z.union([z.strictObject({ header: z.string().regex(/^[a-z0-9-]+$/, 'must be a lower-case header name') }), z.strictObject({ cookie: z.string().min(1) }), z.strictObject({ jwtSubject: z.literal(true) })]).optional(),
  outlierDetection: z
    .union([
      z.literal(false),
      z.strictObject({
        consecutive5xx: z.number().int().min(0).optional(),
        consecutiveGatewayFailure: z.number().int().min(0).optional(),
        interval: z.number().int().min(1).optional(),
        baseEjectionTime: z.number().int().min(1).optional(),
        maxEjectionTime: z.number().int().min(1).optional(),
        maxEjectionPercent: z.number().min(0).max(100).optional(),
        successRateMinimumHosts: z.number().int().min(0).optional(),
        successRateRequestVolume: z.number().int().min(1).optional(),
        successRateStdevFactor: z.number().min(0).optional(),
      }),
    ])
    .optional(),
  panicThreshold: z.number().min(0).max(100).optional(),
  minHealthyPercent: z.number().min(0).max(100).optional(),
  connectionsPerEndpoint: z.number().int().min(1).optional(),
  queuePerEndpoint: z.number().int().min(0).optional(),
};

/** A region of the configuration with its endpoint fields. */
export interface EndpointRegionConfig {
  name: string;
  endpoints?: z.infer<typeof regionEndpointsFields.endpoints>;
  balancer?: BalancerKind | undefined;
  outlierDetection?: z.infer<typeof regionEndpointsFields.outlierDetection>;
  panicThreshold?: number | undefined;
  minHealthyPercent?: number | undefined;
}

/** Problems only the whole region can show: affinity without a hashing balancer, TTL floor above ceiling. */
export function endpointIssues(region: Record<string, unknown>, index: number): Array<{ path: PropertyKey[]; message: string }> {
  const issues: Array<{ path: PropertyKey[]; message: string }> = [];
  const balancer = region.balancer;
  if (region.affinity !== undefined && balancer !== 'ring-hash' && balancer !== 'maglev') {
    issues.push({ path: ['regions', index, 'affinity'], message: 'affinity needs balancer "ring-hash" or "maglev"' });
  }
  const endpoints = region.endpoints as Record<string, unknown> | undefined;
  if (endpoints !== null && typeof endpoints === 'object' && !Array.isArray(endpoints) && typeof endpoints.minTtl === 'number' && typeof endpoints.maxTtl === 'number' && endpoints.minTtl > endpoints.maxTtl) {
    issues.push({ path: ['regions', index, 'endpoints', 'maxTtl'], message: 'must be at least minTtl' });
  }
  for (const field of ['balancer', 'affinity', 'outlierDetection', 'panicThreshold', 'minHealthyPercent', 'connectionsPerEndpoint', 'queuePerEndpoint']) {
    if (region[field] !== undefined && region.endpoints === undefined) issues.push({ path: ['regions', index, field], message: 'applies to regions with "endpoints"' });
  }
  return issues;
}

/** A region balancer built from configuration; a static list can be replaced in place (reloads). */
export type ConfiguredBalancer = RegionBalancer & { readonly staticSet: StaticEndpointSet | undefined };

const staticList = (endpoints: NonNullable<EndpointRegionConfig['endpoints']>): EndpointInput[] | undefined =>
  Array.isArray(endpoints) ? endpoints.map((e) => (typeof e === 'string' ? e : { url: e.url, ...(e.weight !== undefined && { weight: e.weight }) })) : undefined;

/** The region balancer of a configured region (static list or DNS discovery). */
export function buildRegionBalancer(region: EndpointRegionConfig): ConfiguredBalancer {
  const endpoints = region.endpoints!;
  const list = staticList(endpoints);
  const dns = endpoints as Exclude<typeof endpoints, unknown[]>;
  const set = list !== undefined
    ? createStaticEndpoints(list)
    : createDnsEndpoints({
        name: dns.dns,
        record: dns.record,
        protocol: dns.protocol,
        minTtl: dns.minTtl,
        maxTtl: dns.maxTtl,
        ...(dns.port !== undefined && { port: dns.port }),
        ...(dns.servers !== undefined && { servers: dns.servers }),
      });
  const balancer = createRegionBalancer({
    name: region.name,
    endpoints: set,
    ...(region.balancer !== undefined && { balancer: region.balancer }),
    ...(region.outlierDetection !== undefined && { outlierDetection: region.outlierDetection }),
    ...(region.panicThreshold !== undefined && { panicThreshold: region.panicThreshold }),
    ...(region.minHealthyPercent !== undefined && { minHealthyPercent: region.minHealthyPercent }),
  });
  // The balancer does not own its set: close both together (`close` is replaced below, so keep the balancer's own).
  const closeBalancer = balancer.close;
  const close = async (): Promise<void> => {
    await closeBalancer();
    await set.close();
  };
  return Object.assign(balancer, { close, [Symbol.asyncDispose]: close, staticSet: list === undefined ? undefined : (set as StaticEndpointSet) });
}

/**
 * What identifies a region's routing setup across reloads: its settings with a static endpoint
 * list left out. A changed list is applied to the kept balancer (see {@link useRegionBalancer}),
 * so unchanged endpoints keep their load, latency, ejections and connection pools.
 */
export function routingKey<R extends { endpoints?: unknown }>(region: R): R | (Omit<R, 'endpoints'> & { endpoints: 'static' }) {
  return Array.isArray(region.endpoints) ? { ...region, endpoints: 'static' as const } : region;
}

/**
 * The balancer of a region with endpoints, kept across reloads while its settings (but the static
 * list) stay. A changed static list replaces the set's endpoints once the new pipeline is built:
 * added endpoints start fresh, removed ones take no new request and their pools drain.
 */
export async function useRegionBalancer(components: ComponentSet, name: string, region: EndpointRegionConfig & { url: string; location: unknown; connections?: number | undefined }, configPath: string): Promise<ConfiguredBalancer> {
  const { url: _url, location: _location, connections: _connections, ...settings } = region;
  const { value, reused } = await components.use(name, routingKey(settings), configPath, () => buildRegionBalancer(region), (balancer) => balancer.close());
  const list = staticList(region.endpoints!);
  if (reused && list !== undefined && value.staticSet !== undefined) components.onCommit(() => value.staticSet!.set(list));
  return value;
}
