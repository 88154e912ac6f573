import { hostname } from 'node:os';
import { z } from 'zod';
import { coordinates, duration, httpUrl, positiveDuration } from './fields.js';
import { clientCertificateHeaders, serverHttp2Section, serverTlsSection } from './tls.js';

export const edgeSection = z
  .strictObject({
    location: z.string().min(1).default('local'),
    nodeId: z.string().min(1).default(hostname()),
    coordinates: coordinates.optional(),
  })
  .prefault({});

export const serverSection = z
  .strictObject({
    /** Loopback unless told otherwise (`HOST=0.0.0.0` in containers): the admin API and status page are not offered to the network by accident. */
    host: z.string().min(1).default('127.0.0.1'),
    port: z.number().int().min(0).max(65_535).default(8080),
    /** A second listener for /metrics, /status and /admin/purge (kept off the public port). Default: none (all on `port`). */
    adminPort: z.number().int().min(0).max(65_535).optional(),
    /** Open connections per client address (peers in geo.trustedProxies exempt); 0: no cap. */
    maxConnectionsPerClient: z.number().int().min(0).default(256),
    /** TLS termination (certificates by SNI, client certificates). Default: none (plain HTTP). */
    tls: serverTlsSection,
    /** HTTP/2 by ALPN on TLS and, with `cleartext`, by prior knowledge on a plain port. */
    http2: serverHttp2Section,
    /** Request headers claiming a client certificate, removed unless sent by a trusted proxy. */
    clientCertificateHeaders,
    /** Concurrent HTTP/2 streams per connection (the SETTINGS_MAX_CONCURRENT_STREAMS sent to clients). */
    maxConcurrentStreams: z.number().int().min(1).max(2 ** 31 - 1).default(100),
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
  .prefault({});

/** A signed edge map for `@edgekit/client`, served on the public port. Default: none. */
export const edgeMapSection = z
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
  .optional();

export const adminSection = z.strictObject({ token: z.string().min(16, 'must be at least 16 characters').optional() }).prefault({});

export const telemetrySection = z
  .strictObject({
    defaultMetrics: z.boolean().default(true),
    tracing: z.boolean().default(true),
    /** Label `edge_endpoint_attempts_total` with each endpoint's id: its cardinality then follows the fleet (DNS discovery). Default: counts per region only. */
    endpointLabels: z.boolean().default(false),
  })
  .prefault({});

export const statusSection = z
  .strictObject({
    interval: z.number().int().min(100).default(1_000),
    /** Open `/status/events` streams at most; more are answered 503. */
    maxStreams: z.number().int().min(1).default(32),
  })
  .prefault({});
