import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AuthRequest } from '@edgekit/auth';
import { type ForwardedHeaderMode, createClientIp, createTrustedProxies } from '@edgekit/geo';
import { createNatsBus } from '@edgekit/bus/nats';
import { type EdgeRateLimiter, type RateLimitBus, type RateLimiter, createEdgeLimiter, createLocalLimiter, createRateLimitMiddleware, createRedisLimiter } from '@edgekit/ratelimit';
import type { NatsConnection } from '@nats-io/nats-core';
import type { Redis } from 'ioredis';
import { clientCertificateOf } from './client-certificate.js';
import type { GatewayConfig } from './config.js';

/** Middleware that answers 429 when a client is over its limit, else calls `next()`. */
export type RateLimitMiddleware = (req: IncomingMessage, res: ServerResponse, next: () => void) => void;

/** The named limits of a configuration. */
export interface RateLimits {
  middleware(name: string): RateLimitMiddleware | undefined;
  close(): Promise<void>;
}

type LimitConfig = GatewayConfig['rateLimits'][string];

/** Where a global limit exchanges its counts: the bus between regions, and this node's region. */
interface RegionLink {
  bus: () => RateLimitBus;
  region: string;
}

function limiterFor(name: string, limit: LimitConfig, redis: Redis | undefined, prefix: string, regions: RegionLink | undefined): RateLimiter {
  const policy = { name, limit: limit.limit, window: limit.window, algorithm: limit.algorithm, ...(limit.burst === undefined ? {} : { burst: limit.burst }) };
  const windowed = limit.algorithm === 'fixed-window' || limit.algorithm === 'sliding-window';
  if (limit.scope === 'global') {
    if (regions === undefined) throw new Error(`rate limit "${name}": scope "global" needs bus.driver nats (the counts travel between regions over it)`);
    if (!windowed || (limit.mode !== 'auto' && limit.mode !== 'edge')) throw new Error(`rate limit "${name}": scope "global" counts windows in edge mode; use algorithm fixed-window or sliding-window and mode auto or edge`);
    // Without Redis each node is its own region; with it, the nodes of one region share its counts there.
    return createEdgeLimiter({ ...policy, algorithm: limit.algorithm as 'fixed-window' | 'sliding-window', prefix, bus: regions.bus(), ...(redis === undefined ? {} : { redis, region: regions.region }) });
  }
  let mode = limit.mode;
  if (mode === 'auto') mode = redis === undefined ? 'local' : windowed ? 'edge' : 'strict';
  if (mode === 'local') return createLocalLimiter(policy);
  if (redis === undefined) throw new Error(`rate limit "${name}": mode "${mode}" needs redis.url`);
  if (mode === 'strict') return createRedisLimiter({ ...policy, redis, prefix });
  if (!windowed) throw new Error(`rate limit "${name}": mode "edge" counts windows; use algorithm fixed-window or sliding-window`);
  return createEdgeLimiter({ ...policy, algorithm: limit.algorithm as 'fixed-window' | 'sliding-window', redis, prefix });
}

/**
 * Builds the named limits of `rateLimits`: counted in this process (`local`), in this process and
 * synchronised through Redis with bounded overage (`edge`, the default with Redis for window
 * algorithms), or decided in Redis on every request (`strict`); `scope: global` limits also
 * exchange counts with the other regions over NATS.
 */
export function createRateLimits(
  limits: GatewayConfig['rateLimits'],
  options: {
    redis: Redis | undefined;
    prefix: string;
    trustedProxies: readonly string[];
    /** Which forwarding header carries the client chain (`geo.header`). */
    header?: ForwardedHeaderMode;
    /** Called with the region of each counts message a `scope: global` limit applies. */
    onCounts?: (region: string) => void;
    /** The NATS connection of `bus.driver: nats`, this node's id and region, for `scope: global` limits. */
    nats?: { connection: NatsConnection; nodeId: string; region: string };
  },
): RateLimits {
  const clientIp = createClientIp({ trustedProxies: createTrustedProxies([...options.trustedProxies]), ...(options.header === undefined ? {} : { header: options.header }) });
  const limiters: RateLimiter[] = [];
  const middlewares = new Map<string, RateLimitMiddleware>();
  // Counts are totals, so core NATS (at most once) carries them; they stay out of the durable stream.
  let bus: ReturnType<typeof createNatsBus> | undefined;
  const nats = options.nats;
  const regions: RegionLink | undefined =
    nats === undefined
      ? undefined
      : { region: nats.region, bus: () => (bus ??= createNatsBus({ connection: nats.connection, nodeId: nats.nodeId, prefix: 'edgekit.limits' })) };
  try {
    for (const [name, limit] of Object.entries(limits)) {
      const limiter = limiterFor(name, limit, options.redis, options.prefix, regions);
      limiters.push(limiter);
      const onCounts = options.onCounts;
      if (onCounts !== undefined && limiter.mode === 'edge') (limiter as EdgeRateLimiter).on('counts', (event) => onCounts(event.region));
      const key =
        limit.by === 'ip'
          ? (req: IncomingMessage) => `ip:${clientIp(req)}`
          : limit.by === 'apiKey'
            ? (req: IncomingMessage) => {
                // Only a key a route rule verified counts: unverified ones would let a client pick a fresh
                // limit per request by sending made-up keys.
                const info = (req as AuthRequest).auth;
                return info?.scheme === 'apiKey' ? `key:${info.keyId}` : `ip:${clientIp(req)}`;
              }
            : limit.by === 'clientCertificate'
              ? (req: IncomingMessage) => {
                  const certificate = clientCertificateOf(req);
                  return certificate === undefined ? `ip:${clientIp(req)}` : `cert:${certificate.fingerprint256}`;
                }
              : (req: IncomingMessage) => {
                const subject = (req as AuthRequest).auth?.subject;
                return subject === undefined ? `ip:${clientIp(req)}` : `sub:${subject}`;
              };
      middlewares.set(name, createRateLimitMiddleware({ limiter, key }) as RateLimitMiddleware);
    }
  } catch (error) {
    for (const limiter of limiters) void limiter.close();
    void bus?.close();
    throw error;
  }
  return {
    middleware: (name) => middlewares.get(name),
    async close() {
      await Promise.all(limiters.map((limiter) => limiter.close()));
      await bus?.close();
    },
  };
}
