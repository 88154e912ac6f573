import { z } from 'zod';
import { duration, httpUrl, positiveDuration } from './fields.js';

const routePolicy = z.strictObject({
  ttl: duration.optional(),
  staleWhileRevalidate: duration.optional(),
  staleIfError: duration.optional(),
  shared: z.boolean().optional(),
  vary: z.array(z.string()).optional(),
  tags: z.array(z.string()).optional(),
  override: z.boolean().optional(),
  negativeTtl: duration.optional(),
  setCookie: z.enum(['bypass', 'strip', 'store']).optional(),
  authenticated: z.enum(['bypass', 'per-principal']).optional(),
});

const rateLimitSchema = z.strictObject({
  /** Requests allowed per window. */
  limit: z.number().int().min(1),
  /** Window length, ms. */
  window: positiveDuration,
  /** What a client is: its address, its API key, its authenticated subject, or its verified client certificate (the last three fall back to the address). */
  by: z.enum(['ip', 'apiKey', 'subject', 'clientCertificate']).default('ip'),
  /** Algorithm (see `@edgekit/ratelimit`). */
  algorithm: z.enum(['fixed-window', 'sliding-window', 'token-bucket', 'gcra']).default('sliding-window'),
  /** Largest cost spendable at once (token-bucket, gcra). Default: `limit`. */
  burst: z.number().int().min(1).optional(),
  /** Where counts live: `auto` is `local` without Redis, `edge` with Redis (window algorithms) or `strict` (the others). */
  mode: z.enum(['auto', 'local', 'edge', 'strict']).default('auto'),
  /** `global`: one limit shared by every region, counts exchanged over the NATS bus (`bus.driver: nats`; edge mode, window algorithms). `region`: counted in this region. */
  scope: z.enum(['region', 'global']).default('region'),
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
  /** The service that serves this rule's requests (a name in `services`), before any service's own match. Default: matched by the services' `match`. */
  service: z.string().min(1).optional(),
  /** `required`: only requests on a TLS connection with a client certificate verified against `server.tls.clientCertificates.ca` pass (else 403). */
  clientCertificate: z.enum(['optional', 'required']).default('optional'),
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

export const cacheSection = z
  .strictObject({
    enabled: z.boolean().default(true),
    maxSize: z.number().int().min(1).default(64 * 1024 * 1024),
    maxBodySize: z.number().int().min(0).default(4 * 1024 * 1024),
    ignoreQueryParams: z.array(z.string()).default([]),
    /** Fixed host for cache keys (a single-site gateway); default: the request's Host header. */
    host: z.string().min(1).optional(),
    /**
     * Which unsafe requests (POST, PUT, DELETE, any method not defined as safe) invalidate their URL
     * after a non-error answer (RFC 9111 §4.4): every one, only those the route rules authenticated,
     * or none. Default: 'authenticated' when `auth` has keys or JWT settings, else 'always'.
     */
    unsafeInvalidation: z.enum(['always', 'authenticated', 'never']).optional(),
    routes: z.record(z.string().regex(/^GET \/\S*$/, 'route keys look like "GET /api/products/:id"'), routePolicy).default({}),
  })
  .prefault({});

export const redisSection = z
  .strictObject({
    url: z.string().refine((value) => /^rediss?:\/\//.test(value), 'must be a redis:// or rediss:// URL').nullable().default(null),
    prefix: z.string().default('edgekit:'),
  })
  .prefault({});

export const authSection = z
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
  .prefault({});

export const rateLimitsSection = z.record(z.string().regex(/^[a-z0-9_-]+$/i, 'names are letters, digits, "_" or "-"'), rateLimitSchema).default({});

export const routesSection = z.array(routeSchema).default([]);
