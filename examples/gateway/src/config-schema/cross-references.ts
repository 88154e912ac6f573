import { endpointIssues } from '../endpoints-config.js';
import { residencyIssues, splitIssues } from '../region-routing.js';
import { serviceIssues, serviceNames } from '../services.js';

/** The name a split variant uses for the top-level regions. */
export const DEFAULT_SERVICE = 'default';

type Loose = Record<string, unknown>;
const isObject = (value: unknown): value is Loose => value !== null && typeof value === 'object' && !Array.isArray(value);

/**
 * Checks that need the whole configuration (names referring to other entries). It reads the raw
 * input defensively, so these problems are listed together with the structural ones.
 */
export function crossReferenceIssues(input: Loose): Array<{ path: PropertyKey[]; message: string }> {
  const issues: Array<{ path: PropertyKey[]; message: string }> = [];
  const names = new Set<string>();
  if (Array.isArray(input.regions)) {
    input.regions.forEach((region: unknown, index) => {
      if (!isObject(region) || typeof region.name !== 'string') return;
      if (names.has(region.name)) issues.push({ path: ['regions', index, 'name'], message: `duplicate region name "${region.name}"` });
      names.add(region.name);
      issues.push(...endpointIssues(region, index));
    });
  }
  issues.push(...serviceIssues(input));
  const routing = isObject(input.routing) ? input.routing : {};
  if (typeof routing.defaultRegion === 'string' && !names.has(routing.defaultRegion)) {
    issues.push({ path: ['routing', 'defaultRegion'], message: `unknown region "${routing.defaultRegion}"` });
  }
  issues.push(...residencyIssues(routing.residency, names, ['routing', 'residency']));
  const services = serviceNames(input);
  if (routing.split !== undefined) {
    issues.push(...splitIssues(routing.split, new Set([...services, DEFAULT_SERVICE]), ['routing', 'split']));
    if (services.has(DEFAULT_SERVICE)) issues.push({ path: ['services', (input.services as unknown[]).findIndex((service) => isObject(service) && service.name === DEFAULT_SERVICE), 'name'], message: `"${DEFAULT_SERVICE}" names the top-level regions in routing.split` });
  }
  const rules = isObject(routing.rules) ? routing.rules : {};
  for (const kind of ['countries', 'continents'] as const) {
    const map = rules[kind];
    if (!isObject(map)) continue;
    for (const [key, region] of Object.entries(map)) {
      if (typeof region === 'string' && !names.has(region)) issues.push({ path: ['routing', 'rules', kind, key], message: `unknown region "${region}"` });
    }
  }
  const bus = isObject(input.bus) ? input.bus : {};
  if (bus.driver === 'nats' && !isObject(bus.nats)) issues.push({ path: ['bus', 'nats'], message: 'driver "nats" needs bus.nats.servers' });
  const auth = isObject(input.auth) ? input.auth : {};
  const limits = isObject(input.rateLimits) ? input.rateLimits : {};
  for (const [name, limit] of Object.entries(limits)) {
    if (!isObject(limit) || limit.scope !== 'global') continue;
    if (bus.driver !== 'nats') issues.push({ path: ['rateLimits', name, 'scope'], message: '"global" needs bus.driver "nats" (the counts travel between regions over it)' });
    if (limit.algorithm === 'token-bucket' || limit.algorithm === 'gcra') issues.push({ path: ['rateLimits', name, 'scope'], message: '"global" counts windows: use algorithm fixed-window or sliding-window' });
    if (limit.mode === 'local' || limit.mode === 'strict') issues.push({ path: ['rateLimits', name, 'scope'], message: '"global" runs in edge mode: use mode auto or edge' });
  }
  const server = isObject(input.server) ? input.server : {};
  const clientCas = isObject(server.tls) && isObject(server.tls.clientCertificates);
  if (Array.isArray(input.routes)) {
    input.routes.forEach((route: unknown, index) => {
      if (!isObject(route)) return;
      const kind = route.auth;
      if (kind === 'jwt' && auth.jwt === undefined) issues.push({ path: ['routes', index, 'auth'], message: '"jwt" needs auth.jwt' });
      if (kind === 'apiKey' && auth.apiKeys === undefined) issues.push({ path: ['routes', index, 'auth'], message: '"apiKey" needs auth.apiKeys' });
      if (kind === 'any' && auth.jwt === undefined && auth.apiKeys === undefined) {
        issues.push({ path: ['routes', index, 'auth'], message: '"any" needs auth.jwt or auth.apiKeys' });
      }
      if ((kind === undefined || kind === 'none') && Array.isArray(route.scopes) && route.scopes.length > 0) {
        issues.push({ path: ['routes', index, 'scopes'], message: 'scopes need an "auth" other than "none"' });
      }
      if (route.revocations === 'fresh' && bus.driver !== 'nats') issues.push({ path: ['routes', index, 'revocations'], message: '"fresh" needs bus.driver "nats" (a durable stream with a staleness bound)' });
      if (typeof route.service === 'string' && !services.has(route.service)) issues.push({ path: ['routes', index, 'service'], message: `unknown service "${route.service}"` });
      if (typeof route.rateLimit === 'string' && route.rateLimit !== 'none' && !Object.hasOwn(limits, route.rateLimit)) {
        issues.push({ path: ['routes', index, 'rateLimit'], message: `unknown rate limit "${route.rateLimit}" (define it in rateLimits)` });
      }
      if (route.clientCertificate === 'required' && !clientCas) {
        issues.push({ path: ['routes', index, 'clientCertificate'], message: '"required" needs server.tls.clientCertificates.ca (the CAs client certificates are verified against)' });
      }
    });
  }
  return issues;
}
