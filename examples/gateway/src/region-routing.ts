import type { IncomingMessage } from 'node:http';
import { type Residency, createRegionSelector, createRequestSelector } from '@edgekit/geo';
import type { EndpointRegion } from '@edgekit/proxy';
import { z } from 'zod';
import type { ComponentSet } from './components.js';
import { type EndpointRegionConfig, useRegionBalancer } from './endpoints-config.js';

const headerName = z.string().regex(/^[a-z0-9-]+$/, 'must be a lower-case header name');

/** Tenant data residency: the tenant named by a request header is served from its home region first and never outside its allowed regions (503 when none is left). Tenants not listed: no constraint. */
export const residencySchema = z.strictObject({
  tenantHeader: headerName,
  homes: z.record(z.string().min(1), z.string()).default({}),
  allowed: z.record(z.string().min(1), z.array(z.string())).default({}),
});

/** A signed sticky-region hint (header or cookie, HMAC-SHA256), bound to the residency tenant when there is one. */
export const hintSchema = z.strictObject({
  secrets: z.array(z.string().min(32, 'must be at least 32 characters')).min(1),
  header: headerName.optional(),
  cookie: z.string().min(1).optional(),
});

/** A canary split of matched requests between services, by weight (random per request), with an optional header override. */
export const splitSchema = z.strictObject({
  variants: z.array(z.strictObject({ service: z.string().min(1), weight: z.number().min(0) })).min(1),
  /** A header naming the service to use (`x-canary: orders-v2`) whatever the weights; unknown names are ignored. */
  header: headerName.optional(),
});

export type ResidencyConfig = z.infer<typeof residencySchema>;
export type HintConfig = z.infer<typeof hintSchema>;

type Issue = { path: PropertyKey[]; message: string };
const isObject = (value: unknown): value is Record<string, unknown> => value !== null && typeof value === 'object' && !Array.isArray(value);

/** Residency entries naming regions that are not in `regions`, with their paths under `at`. */
export function residencyIssues(residency: unknown, regions: ReadonlySet<string>, at: PropertyKey[]): Issue[] {
  const issues: Issue[] = [];
  if (!isObject(residency)) return issues;
  for (const field of ['homes', 'allowed'] as const) {
    const map = residency[field];
    if (!isObject(map)) continue;
    for (const [tenant, value] of Object.entries(map)) {
      const names = typeof value === 'string' ? [value] : Array.isArray(value) ? value : [];
      names.forEach((name, n) => {
        if (typeof name === 'string' && !regions.has(name)) issues.push({ path: [...at, field, tenant, ...(typeof value === 'string' ? [] : [n])], message: `unknown region "${name}"` });
      });
    }
  }
  return issues;
}

/** Split variants naming unknown services, or weights that are all zero. */
export function splitIssues(split: unknown, services: ReadonlySet<string>, at: PropertyKey[]): Issue[] {
  const issues: Issue[] = [];
  if (!isObject(split) || !Array.isArray(split.variants)) return issues;
  const variants = split.variants as unknown[];
  variants.forEach((variant, v) => {
    if (isObject(variant) && typeof variant.service === 'string' && !services.has(variant.service)) issues.push({ path: [...at, 'variants', v, 'service'], message: `unknown service "${variant.service}"` });
  });
  if (variants.length > 0 && variants.every((variant) => isObject(variant) && typeof variant.weight === 'number' && variant.weight <= 0)) {
    issues.push({ path: [...at, 'variants'], message: 'needs a weight above 0' });
  }
  return issues;
}

/** The name of a service's region in the shared health checker, breaker registry and status: `orders/eu`; a top-level region keeps its name. */
export function regionKey(service: string | undefined, region: string): string {
  return service === undefined ? region : `${service}/${region}`;
}

/** A configured region: a URL, or endpoints behind it. */
export type RegionConfig = EndpointRegionConfig & { url: string; location: { lat: number; lon: number }; connections?: number | undefined };

/**
 * The regions as the forwarder takes them: a region with endpoints carries its balancer, kept across
 * reloads (`<prefix>endpoints:<region>`) while its settings stay.
 */
export async function useRegions<R extends RegionConfig>(components: ComponentSet, prefix: string, regions: readonly R[], configPath: string): Promise<Array<R | (R & EndpointRegion)>> {
  const out: Array<R | (R & EndpointRegion)> = [];
  for (const [index, region] of regions.entries()) {
    if (region.endpoints === undefined) {
      out.push(region);
      continue;
    }
    const balancer = await useRegionBalancer(components, `${prefix}endpoints:${region.name}`, region, `${configPath}[${index}].endpoints`);
    out.push({ ...region, endpoints: balancer } as R & EndpointRegion);
  }
  return out;
}

/** What orders one set of regions for a request. */
export interface SelectorSettings {
  regions: readonly (RegionConfig | EndpointRegion)[];
  rules?: Parameters<typeof createRegionSelector>[0]['rules'];
  defaultRegion?: string | undefined;
  origin?: { lat: number; lon: number } | undefined;
  routeFactor?: number | undefined;
  residency?: ResidencyConfig | undefined;
  hint?: HintConfig | undefined;
}

/** The region selector of one set of regions: location rules, then tenant residency and signed hints when configured. */
export function buildSelector(settings: SelectorSettings): ReturnType<typeof createRequestSelector> | ReturnType<typeof createRegionSelector> {
  const located = createRegionSelector({
    regions: settings.regions as EndpointRegion[],
    ...(settings.rules === undefined ? {} : { rules: settings.rules }),
    ...(settings.defaultRegion === undefined ? {} : { defaultRegion: settings.defaultRegion }),
    ...(settings.origin === undefined ? {} : { origin: settings.origin }),
    ...(settings.routeFactor === undefined ? {} : { routeFactor: settings.routeFactor }),
  });
  const { residency, hint } = settings;
  if (residency === undefined && hint === undefined) return located;
  const tenantOf = residency === undefined ? undefined : (req: { headers: IncomingMessage['headers'] }): string | undefined => {
    const value = req.headers[residency.tenantHeader];
    return typeof value === 'string' && value !== '' ? value : undefined;
  };
  return createRequestSelector({
    selector: located,
    ...(residency === undefined ? {} : {
      residency: (req): Residency | undefined => {
        const tenant = tenantOf!(req);
        if (tenant === undefined || (!Object.hasOwn(residency.homes, tenant) && !Object.hasOwn(residency.allowed, tenant))) return undefined;
        return { home: Object.hasOwn(residency.homes, tenant) ? residency.homes[tenant] : undefined, allowed: Object.hasOwn(residency.allowed, tenant) ? residency.allowed[tenant] : undefined };
      },
    }),
    ...(hint === undefined ? {} : {
      hint: {
        secrets: hint.secrets,
        ...(hint.header === undefined ? {} : { header: hint.header }),
        ...(hint.cookie === undefined ? {} : { cookie: hint.cookie }),
        ...(tenantOf === undefined ? {} : { subject: tenantOf }),
      },
    }),
  });
}
