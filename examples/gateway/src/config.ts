import { readFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { extname } from 'node:path';
import { EdgekitError } from '@edgekit/core';
import { FORWARDER_DEFAULTS, REGION_BREAKER_DEFAULTS } from '@edgekit/proxy';
import { parse as parseYaml } from 'yaml';
import { endpointIssues, regionEndpointsFields } from './endpoints-config.js';
import { serviceIssues, servicesSchema } from './services.js';
import { z } from 'zod';

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

const duration = z.number().int().min(0);
const positiveDuration = z.number().int().min(1);
const httpUrl = z.string().refine((value) => {
  try {
    const url = new URL(value);
    return url.protocol === 'http:' || url.protocol === 'https:';
  } catch {
    return false;
  }
}, 'must be an absolute http(s) URL');
const coordinates = z.strictObject({ lat: z.number().min(-90).max(90), lon: z.number().min(-180).max(180) });
const countryMap = z.record(z.string().regex(/^[A-Z]{2}$/, 'country codes are ISO 3166-1 alpha-2, upper case'), z.string());
const continentMap = z.partialRecord(z.enum(['AF', 'AN', 'AS', 'EU', 'NA', 'OC', 'SA']), z.string());

const staticLocation = z.strictObject({
  cidr: z.string().min(1),
  country: z.string().regex(/^[A-Z]{2}$/, 'must be an ISO 3166-1 alpha-2 code, upper case').optional(),
  lat: z.number().min(-90).max(90).optional(),
  lon: z.number().min(-180).max(180).optional(),
});

const routePolicy = z.strictObject({
  ttl: duration.optional(),
  staleWhileRevalidate: duration.optional(),
  staleIfError: duration.optional(),
  shared: z.boolean().optional(),
  vary: z.array(z.string()).optional(),
  tags: z.array(z.string()).optional(),
  override: z.boolean().optional(),
  negativeTtl: duration.optional(),
  setCookie: z.enum(['bypass', 'strip']).optional(),
  authenticated: z.enum(['bypass', 'per-principal']).optional(),
});

const rateLimitSchema = z.strictObject({
  /** Requests allowed per window. */
  limit: z.number().int().min(1),
  /** Window length, ms. */
  window: positiveDuration,
  /** What a client is: its address, its API key, or its authenticated subject (falls back to the address). */
  by: z.enum(['ip', 'apiKey', 'subject']).default('ip'),
  /** Algorithm (see `@edgekit/ratelimit`). */
  algorithm: z.enum(['fixed-window', 'sliding-window', 'token-bucket', 'gcra']).default('sliding-window'),
  /** Largest cost spendable at once (token-bucket, gcra). Default: `limit`. */
  burst: z.number().int().min(1).optional(),
  /** Where counts live: `auto` is `local` without Redis, `edge` with Redis (window algorithms) or `strict` (the others). */
  mode: z.enum(['auto', 'local', 'edge', 'strict']).default('auto'),
});

const routeSchema = z.strictObject({
  /** Path prefix (`/api/orders` matches `/api/orders` and `/api/orders/42`); `/` matches everything. */
  path: z.string().startsWith('/', 'must start with "/"'),
  /** Methods this rule applies to; default: all. */
  methods: z.array(z.string().regex(/^[A-Z]+$/, 'must be an upper-case HTTP method')).optional(),
  /** Credentials required: none, a JWT, an API key, or either. */
  auth: z.enum(['none', 'jwt', 'apiKey', 'any']).default('none'),
  /** Scopes the credential must grant (all of them). */
  scopes: z.array(z.string().min(1)).default([]),
  /** Name of a limit in `rateLimits`, or `none`. */
  rateLimit: z.string().default('none'),
  /** `fresh`: answer 503 while this node's revocation state is staler than `bus.nats.maxStaleness` (needs the NATS bus). */
  revocations: z.enum(['cached', 'fresh']).default('cached'),
});

const natsUrl = z.string().refine((value) => /^(nats|tls):\/\/[^\s]+$/.test(value), 'must be a nats:// or tls:// URL');
const natsName = z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'must be 1-64 letters, digits, "_" or "-"');
const natsSettings = z.strictObject({
  /** Servers of this region's NATS cluster. */
  servers: z.array(natsUrl).min(1),
  /** JetStream stream carrying invalidations, purges and revocations. */
  stream: natsName.default('EDGEKIT_BUS'),
  /** Subject prefix of the stream. */
  prefix: z.string().regex(/^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/, 'must be dot-separated subject tokens').default('edgekit.events'),
  /** Cluster of the supercluster that holds the stream when the gateway creates it. */
  placement: z.string().min(1).optional(),
  /** How often the node confirms its position with the stream, ms. */
  contactInterval: positiveDuration.default(1_000),
  /** Longest time without confirmed revocation state before `revocations: fresh` routes answer 503, ms. */
  maxStaleness: positiveDuration.default(10_000),
  /** JetStream key-value bucket holding the gateway configuration, watched and hot-reloaded; null: the file only. */
  configBucket: natsName.nullable().default(null),
  /** Key of the configuration in `configBucket`. */
  configKey: z.string().regex(/^[A-Za-z0-9_=-]+(\.[A-Za-z0-9_=-]+)*$/, 'must be a key-value key').default('gateway'),
});

const apiKeyEntry = z
  .strictObject({
    /** The key itself (prefer `sha256` so the file holds no secret). */
    key: z.string().min(8).optional(),
    /** SHA-256 of the key, hex. */
    sha256: z.string().regex(/^[0-9a-f]{64}$/, 'must be 64 lower-case hex digits').optional(),
    subject: z.string().optional(),
    scopes: z.array(z.string()).default([]),
  })
  .refine((entry) => (entry.key === undefined) !== (entry.sha256 === undefined), 'give exactly one of "key" or "sha256"');

const schema = z
  .strictObject({
    edge: z
      .strictObject({
        location: z.string().min(1).default('local'),
        nodeId: z.string().min(1).default(hostname()),
        coordinates: coordinates.optional(),
      })
      .prefault({}),
    server: z
      .strictObject({
        /** Loopback unless told otherwise (`HOST=0.0.0.0` in containers): the admin API and status page are not offered to the network by accident. */
        host: z.string().min(1).default('127.0.0.1'),
        port: z.number().int().min(0).max(65_535).default(8080),
        /** A second listener for /metrics, /status and /admin/purge (kept off the public port). Default: none (all on `port`). */
        adminPort: z.number().int().min(0).max(65_535).optional(),
        /** Open connections per client address (peers in geo.trustedProxies exempt); 0: no cap. */
        maxConnectionsPerClient: z.number().int().min(0).default(256),
        shutdownDelay: duration.default(5_000),
        drainTimeout: duration.default(20_000),
        reloadDrainTimeout: duration.default(30_000),
        /** `;` path parameters: `refuse` (400; servlet-style origins strip them before routing, so `/api;x/admin` is their `/api/admin`) or `keep`. */
        pathParameters: z.enum(['keep', 'refuse']).default('refuse'),
        /** Methods answered 501 at the edge, never forwarded. */
        refusedMethods: z.array(z.string().regex(/^[A-Z]+$/, 'must be an upper-case HTTP method')).default(['TRACE', 'TRACK']),
        /** Request headers answered 400: they make origins act on another method or path than the rules saw. */
        refusedHeaders: z
          .array(z.string().regex(/^[a-z0-9-]+$/, 'must be a lower-case header name'))
          .default(['x-http-method-override', 'x-http-method', 'x-method-override', 'x-original-url', 'x-rewrite-url']),
      })
      .prefault({}),
    regions: z
      .array(
        z.strictObject({
          name: z.string().regex(/^[a-z0-9][a-z0-9._-]*$/i, 'must be letters, digits, ".", "_" or "-"'),
          url: httpUrl,
          location: coordinates,
          /** Upstream connections to this region at most. Default: `proxy.connections`. */
          connections: z.number().int().min(1).optional(),
          ...regionEndpointsFields,
        }),
      )
      .min(1, 'at least one region is required'),
    /** More upstream services, each matched by path prefix, host, method or headers; the rest go to `regions`. */
    services: servicesSchema,
    routing: z
      .strictObject({
        defaultRegion: z.string().optional(),
        rules: z.strictObject({ countries: countryMap.optional(), continents: continentMap.optional() }).default({}),
        routeFactor: z.number().min(1).optional(),
      })
      .prefault({}),
    geo: z
      .strictObject({
        trustedProxies: z.array(z.string().min(1)).default(['loopback']),
        header: z.enum(['prefer-x-forwarded-for', 'prefer-forwarded', 'x-forwarded-for', 'forwarded']).default('prefer-x-forwarded-for'),
        /** The CDN in front of the gateway whose location headers are believed (from trusted proxies only). Default: none. */
        cdn: z
          .union([
            z.enum(['cloudflare', 'cloudfront', 'vercel', 'appengine']),
            z.array(z.enum(['cloudflare', 'cloudfront', 'vercel', 'appengine'])),
            z.strictObject({ country: z.array(z.string().min(1)).optional(), coordinates: z.array(z.tuple([z.string().min(1), z.string().min(1)])).optional() }),
          ])
          .optional(),
        resolver: z
          .union([
            z.enum(['geoip-lite', 'geoip-lite-country', 'none']),
            z.strictObject({ mmdb: z.string().min(1) }),
            z.strictObject({ static: z.array(staticLocation) }),
          ])
          .default('geoip-lite-country'),
      })
      .prefault({}),
    health: z
      .strictObject({
        path: z.string().startsWith('/').default('/health'),
        interval: positiveDuration.default(5_000),
        timeout: positiveDuration.default(2_000),
        jitter: duration.default(500),
        initialJitter: duration.default(1_000),
        healthyThreshold: z.number().int().min(1).default(2),
        unhealthyThreshold: z.number().int().min(1).default(3),
        openBreakers: z.boolean().default(true),
      })
      .prefault({}),
    breakers: z
      .strictObject({
        /** `percentage`: a failure rate over a volume opens a region; `consecutive`: `failureThreshold` failures in a row. */
        mode: z.enum(['consecutive', 'percentage']).default('percentage'),
        failureThreshold: z.number().int().min(1).default(5),
        errorThresholdPercentage: z.number().min(0).max(100).default(REGION_BREAKER_DEFAULTS.errorThresholdPercentage),
        volumeThreshold: z.number().int().min(0).default(REGION_BREAKER_DEFAULTS.volumeThreshold),
        resetTimeout: positiveDuration.default(REGION_BREAKER_DEFAULTS.resetTimeout),
        rollingCountTimeout: positiveDuration.default(REGION_BREAKER_DEFAULTS.rollingCountTimeout),
      })
      .prefault({}),
    proxy: z
      .strictObject({
        connectTimeout: positiveDuration.default(FORWARDER_DEFAULTS.connectTimeout),
        headersTimeout: positiveDuration.default(FORWARDER_DEFAULTS.headersTimeout),
        bodyTimeout: duration.default(FORWARDER_DEFAULTS.bodyTimeout),
        /** Upstream connections per region (a region's own `connections` wins). */
        connections: z.number().int().min(1).default(FORWARDER_DEFAULTS.connections),
        /** Longest wait for a free upstream connection before failing over (then 503); 0: none. */
        queueTimeout: duration.default(FORWARDER_DEFAULTS.queueTimeout),
        /** Longest a client may go without sending awaited request body bytes (then 408); 0: none. */
        clientBodyTimeout: duration.default(FORWARDER_DEFAULTS.clientBodyTimeout),
        /** Bytes per second a request body must average; 0: no minimum. */
        clientBodyMinRate: z.number().min(0).default(FORWARDER_DEFAULTS.clientBodyMinRate),
        /** Longest a response write may wait for a client that does not read (then the connection is closed); 0: none. */
        sendTimeout: duration.default(FORWARDER_DEFAULTS.sendTimeout),
        /** Requests in flight per client address at most (then 429); 0: no cap. */
        maxInFlightPerClient: z.number().int().min(0).default(FORWARDER_DEFAULTS.maxInFlightPerClient),
        /** How long a route's success or failure is remembered to tell a failing route from a failing region. */
        routeWindow: positiveDuration.default(FORWARDER_DEFAULTS.routeWindow),
        /** Fraction of requests sent to the primary region while every breaker is open. */
        panicFraction: z.number().min(0).max(1).default(FORWARDER_DEFAULTS.panicFraction),
        maxAttempts: z.number().int().min(1).default(FORWARDER_DEFAULTS.maxAttempts),
        hedgeDelay: positiveDuration.optional(),
        retryBudget: z.union([z.literal(false), z.strictObject({ ratio: z.number().min(0), minPerSecond: z.number().min(0) })]).optional(),
        closeTimeout: duration.default(FORWARDER_DEFAULTS.closeTimeout),
        via: z.union([z.string().min(1), z.literal(false)]).default('edgekit'),
      })
      .prefault({}),
    cache: z
      .strictObject({
        enabled: z.boolean().default(true),
        maxSize: z.number().int().min(1).default(64 * 1024 * 1024),
        maxBodySize: z.number().int().min(0).default(4 * 1024 * 1024),
        ignoreQueryParams: z.array(z.string()).default([]),
        /** Fixed host for cache keys (a single-site gateway); default: the request's Host header. */
        host: z.string().min(1).optional(),
        routes: z.record(z.string().regex(/^GET \/\S*$/, 'route keys look like "GET /api/products/:id"'), routePolicy).default({}),
      })
      .prefault({}),
    redis: z
      .strictObject({
        url: z.string().refine((value) => /^rediss?:\/\//.test(value), 'must be a redis:// or rediss:// URL').nullable().default(null),
        prefix: z.string().default('edgekit:'),
      })
      .prefault({}),
    bus: z
      .strictObject({
        /** What carries invalidations, purges and revocations between gateways: Redis pub/sub (with `redis.url`) or NATS JetStream. */
        driver: z.enum(['redis', 'nats']).default('redis'),
        nats: natsSettings.optional(),
      })
      .prefault({}),
    auth: z
      .strictObject({
        jwt: z
          .strictObject({
            issuer: z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]),
            audience: z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]),
            algorithms: z.array(z.enum(['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA', 'Ed25519'])).min(1).default(['RS256', 'ES256', 'EdDSA']),
            jwksUrl: httpUrl.optional(),
            allowHttp: z.boolean().default(false),
            keys: z.array(z.union([z.string().min(1), z.record(z.string(), z.unknown())])).optional(),
          })
          .refine((jwt) => jwt.jwksUrl !== undefined || (jwt.keys !== undefined && jwt.keys.length > 0), 'give "jwksUrl" or "keys"')
          .optional(),
        apiKeys: z
          .strictObject({
            header: z.string().regex(/^[a-z0-9-]+$/, 'must be a lower-case header name').default('x-api-key'),
            keys: z.array(apiKeyEntry).min(1),
          })
          .optional(),
      })
      .prefault({}),
    rateLimits: z.record(z.string().regex(/^[a-z0-9_-]+$/i, 'names are letters, digits, "_" or "-"'), rateLimitSchema).default({}),
    routes: z.array(routeSchema).default([]),
    /** A signed edge map for `@edgekit/client`, served on the public port. Default: none. */
    edgeMap: z
      .strictObject({
        path: z.string().startsWith('/').default('/.well-known/edge-map'),
        /** Private JWK (Ed25519 `OKP` or P-256 `EC`) the map is signed with. */
        privateKey: z.record(z.string(), z.unknown()),
        /** Lifetime of each signed map, ms; it is signed again halfway through. */
        ttl: positiveDuration.default(86_400_000),
        /** Map version; raise it with every change of `edges`. */
        version: z.number().int().min(0),
        /** Region this node hints to clients that reached it (`x-region-hint`). Default: the region of the edge whose id is `edge.location`. */
        regionHint: z.string().min(1).optional(),
        edges: z
          .array(
            z.strictObject({
              id: z.string().min(1),
              region: z.string().min(1),
              url: httpUrl,
              location: coordinates.optional(),
              weight: z.number().min(0).optional(),
            }),
          )
          .min(1),
      })
      .optional(),
    admin: z.strictObject({ token: z.string().min(16, 'must be at least 16 characters').optional() }).prefault({}),
    telemetry: z
      .strictObject({
        defaultMetrics: z.boolean().default(true),
        tracing: z.boolean().default(true),
      })
      .prefault({}),
    status: z
      .strictObject({
        interval: z.number().int().min(100).default(1_000),
        /** Open `/status/events` streams at most; more are answered 503. */
        maxStreams: z.number().int().min(1).default(32),
      })
      .prefault({}),
  });

type Loose = Record<string, unknown>;
const isObject = (value: unknown): value is Loose => value !== null && typeof value === 'object' && !Array.isArray(value);

/**
 * Checks that need the whole configuration (names referring to other entries). It reads the raw
 * input defensively, so these problems are listed together with the structural ones.
 */
function crossReferenceIssues(input: Loose): Array<{ path: PropertyKey[]; message: string }> {
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
      if (typeof route.rateLimit === 'string' && route.rateLimit !== 'none' && !Object.hasOwn(limits, route.rateLimit)) {
        issues.push({ path: ['routes', index, 'rateLimit'], message: `unknown rate limit "${route.rateLimit}" (define it in rateLimits)` });
      }
    });
  }
  return issues;
}

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
