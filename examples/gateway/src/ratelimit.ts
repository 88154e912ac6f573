import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AuthRequest } from '@edgekit/auth';
import { createClientIp, createTrustedProxies } from '@edgekit/geo';
import { type RateLimiter, createEdgeLimiter, createLocalLimiter, createRateLimitMiddleware, createRedisLimiter } from '@edgekit/ratelimit';
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

function limiterFor(name: string, limit: LimitConfig, redis: Redis | undefined, prefix: string): RateLimiter {
  const policy = { name, limit: limit.limit, window: limit.window, algorithm: limit.algorithm, ...(limit.burst === undefined ? {} : { burst: limit.burst }) };
  const windowed = limit.algorithm === 'fixed-window' || limit.algorithm === 'sliding-window';
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
 * algorithms), or decided in Redis on every request (`strict`).
 */
export function createRateLimits(
  limits: GatewayConfig['rateLimits'],
  options: { redis: Redis | undefined; prefix: string; trustedProxies: readonly string[] },
): RateLimits {
  const clientIp = createClientIp({ trustedProxies: createTrustedProxies([...options.trustedProxies]) });
  const limiters: RateLimiter[] = [];
  const middlewares = new Map<string, RateLimitMiddleware>();
  try {
    for (const [name, limit] of Object.entries(limits)) {
      const limiter = limiterFor(name, limit, options.redis, options.prefix);
      limiters.push(limiter);
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
    throw error;
  }
  return {
    middleware: (name) => middlewares.get(name),
    async close() {
      await Promise.all(limiters.map((limiter) => limiter.close()));
    },
  };
}
