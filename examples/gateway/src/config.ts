import { readFile } from 'node:fs/promises';
import { extname } from 'node:path';
import { EdgekitError } from '@edgekit/core';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { busSection } from './config-schema/bus.js';
import { crossReferenceIssues } from './config-schema/cross-references.js';
import { authSection, cacheSection, rateLimitsSection, redisSection, routesSection } from './config-schema/policies.js';
import { proxySection } from './config-schema/proxy.js';
import { breakersSection, geoSection, healthSection, regionsSection, routingSection } from './config-schema/regions.js';
import { servicesSchema } from './services.js';
import { adminSection, edgeMapSection, edgeSection, serverSection, statusSection, telemetrySection } from './config-schema/server.js';

/** One problem found in a configuration: where (`regions[1].url`) and what. */
export interface ConfigIssue {
  path: string;
  message: string;
}

/** A configuration that cannot be used. `issues` lists every problem found, each with its path. */
export class ConfigError extends EdgekitError {
  readonly issues: readonly ConfigIssue[];
  readonly source: string | undefined;

  constructor(issues: readonly ConfigIssue[], source?: string) {
    const where = source === undefined ? '' : ` in ${source}`;
    const lines = issues.map((issue) => `  - ${issue.path === '' ? '(root)' : issue.path}: ${issue.message}`);
    super('ECONFIG', `invalid gateway configuration${where} (${issues.length} ${issues.length === 1 ? 'error' : 'errors'}):\n${lines.join('\n')}`);
    this.issues = issues;
    this.source = source;
  }
}

/** Environment variables that override configuration fields (applied before validation). */
export const ENV_OVERRIDES = Object.freeze([
  { env: 'EDGE_LOCATION', path: ['edge', 'location'], kind: 'string', description: 'This gateway\'s location name (`edge_location` label, status page).' },
  { env: 'EDGE_NODE_ID', path: ['edge', 'nodeId'], kind: 'string', description: 'This node\'s identifier (default: the host name, the pod name in Kubernetes).' },
  { env: 'PORT', path: ['server', 'port'], kind: 'integer', description: 'Listening port.' },
  { env: 'HOST', path: ['server', 'host'], kind: 'string', description: 'Listening address (`0.0.0.0` in containers; default: loopback only).' },
  { env: 'REDIS_URL', path: ['redis', 'url'], kind: 'string', description: 'Switches the cache, the cache bus and API-key revocations to Redis.' },
  { env: 'NATS_URL', path: ['bus', 'nats', 'servers'], kind: 'list', description: 'This region\'s NATS servers, comma-separated (with `bus.driver: nats`).' },
  { env: 'EDGE_ADMIN_TOKEN', path: ['admin', 'token'], kind: 'string', description: 'Bearer token of the admin API (`POST /admin/purge`).' },
] as const);

const schema = z.strictObject({
  edge: edgeSection,
  server: serverSection,
  regions: regionsSection,
  /** More upstream services, each matched by path prefix, host, method or headers; the rest go to `regions`. */
  services: servicesSchema,
  routing: routingSection,
  geo: geoSection,
  health: healthSection,
  breakers: breakersSection,
  proxy: proxySection,
  cache: cacheSection,
  redis: redisSection,
  bus: busSection,
  auth: authSection,
  rateLimits: rateLimitsSection,
  routes: routesSection,
  edgeMap: edgeMapSection,
  admin: adminSection,
  telemetry: telemetrySection,
  status: statusSection,
});

/** A validated gateway configuration, every default applied. */
export type GatewayConfig = z.infer<typeof schema>;
/** What a configuration file may contain (defaults optional). */
export type GatewayConfigInput = z.input<typeof schema>;
/** One route rule of {@link GatewayConfig}. */
export type RouteRule = GatewayConfig['routes'][number];

function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`;
    else out += out === '' ? String(part) : `.${String(part)}`;
  }
  return out;
}

function setPath(target: Record<string, unknown>, path: readonly string[], value: unknown): void {
  let node = target;
  for (const key of path.slice(0, -1)) {
    const next = node[key];
    if (next === null || typeof next !== 'object' || Array.isArray(next)) node[key] = {};
    node = node[key] as Record<string, unknown>;
  }
  node[path.at(-1)!] = value;
}

/** Options of {@link parseConfig} and {@link loadConfigFile}. */
export interface ParseConfigOptions {
  /** Environment whose {@link ENV_OVERRIDES} apply. Default: `process.env`; `{}` for none. */
  env?: NodeJS.ProcessEnv;
  /** Where the configuration came from, for error messages. */
  source?: string;
}

/**
 * Validates a configuration object (after environment overrides) and applies the defaults.
 * Throws a {@link ConfigError} listing every problem with its path.
 */
export function parseConfig(raw: unknown, options: ParseConfigOptions = {}): GatewayConfig {
  const env = options.env ?? process.env;
  if (raw === null || raw === undefined) raw = {};
  if (typeof raw !== 'object' || Array.isArray(raw)) {
    throw new ConfigError([{ path: '', message: 'the configuration must be an object (a YAML mapping)' }], options.source);
  }
  const input = structuredClone(raw) as Record<string, unknown>;
  const fromEnv = new Map<string, string>();
  const issues: ConfigIssue[] = [];
  for (const override of ENV_OVERRIDES) {
    const text = env[override.env];
    if (text === undefined || text === '') continue;
    let value: unknown = text;
    if (override.kind === 'integer') {
      value = /^\d+$/.test(text) ? Number(text) : text;
    } else if (override.kind === 'list') {
      value = text.split(',').map((item) => item.trim()).filter((item) => item !== '');
    }
    setPath(input, override.path, value);
    fromEnv.set(override.path.join('.'), override.env);
  }
  const result = schema.safeParse(input);
  const crossIssues = crossReferenceIssues(input);
  if (result.success && crossIssues.length === 0) return result.data;
  const all: Array<{ path: PropertyKey[]; message: string }> = [];
  for (const issue of result.error?.issues ?? []) {
    // One entry per unknown field, at its own path: a typo is then found where it is.
    if (issue.code === 'unrecognized_keys') for (const key of issue.keys) all.push({ path: [...issue.path, key], message: 'unknown field' });
    else all.push({ path: issue.path, message: issue.message });
  }
  for (const issue of [...all, ...crossIssues]) {
    const path = formatPath(issue.path);
    const envName = fromEnv.get(issue.path.map(String).join('.'));
    issues.push({ path: envName === undefined ? path : `${path} (from ${envName})`, message: issue.message });
  }
  throw new ConfigError(issues, options.source);
}

/** Parses configuration text: JSON for `.json` files, YAML otherwise (YAML also reads JSON). */
export function parseConfigText(text: string, options: ParseConfigOptions & { format?: 'json' | 'yaml' } = {}): GatewayConfig {
  let raw: unknown;
  try {
    raw = options.format === 'json' ? JSON.parse(text) : parseYaml(text, { prettyErrors: true, uniqueKeys: true });
  } catch (error) {
    throw new ConfigError([{ path: '', message: `cannot be parsed as ${options.format === 'json' ? 'JSON' : 'YAML'}: ${(error as Error).message}` }], options.source);
  }
  return parseConfig(raw, options);
}

/** Reads, parses and validates a configuration file (YAML or JSON by extension). */
export async function loadConfigFile(path: string, options: ParseConfigOptions = {}): Promise<{ config: GatewayConfig; text: string }> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw new ConfigError([{ path: '', message: `cannot be read: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}` }], path);
  }
  const format = extname(path).toLowerCase() === '.json' ? 'json' : 'yaml';
  return { config: parseConfigText(text, { ...options, source: options.source ?? path, format }), text };
}
