import { FORWARDER_DEFAULTS } from '@edgekit/proxy';
import { z } from 'zod';
import { duration, positiveDuration } from './fields.js';
import { upstreamTlsSchema } from './tls.js';

export const proxySection = z
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
    /** HTTP/2 to every region (a region's own `http2` wins). Default: false (HTTP/1.1). */
    http2: z.boolean().default(false),
    /** TLS towards `https://` regions and services (a region's own `tls` wins). Default: verification against the system CAs. */
    tls: upstreamTlsSchema.optional(),
  })
  .prefault({});
