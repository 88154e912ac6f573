import { type IncomingMessage, type Server, type ServerResponse, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type BreakerRegistry, createBreakerRegistry } from '@edgekit/breaker';
import type { Bus } from '@edgekit/bus';
import { type EdgeCache, createCache } from '@edgekit/cache';
import { sendProblem } from '@edgekit/core';
import { type GeoLocator, type Region, createClientIp, createRegionSelector } from '@edgekit/geo';
import { type HealthChecker, createHealthChecker } from '@edgekit/health';
import { type Forwarder, createForwarder } from '@edgekit/proxy';
import { Pool } from 'undici';
import { CONTINENT_RULES, type WorldRegion } from './world.js';

/** What a lab gateway does beyond forwarding. */
export interface GatewayFeatures {
  /** Response cache in front of the forwarder (memory L1; invalidations over `bus` when given). */
  cache?: { bus?: Bus };
  /** A consecutive-failure breaker per region. */
  breakers?: boolean;
  /** Active health checks of every region. */
  health?: { interval: number; timeout: number };
  /** Instead of the forwarder: retry the primary region `attempts` times, no failover (the naive baseline). */
  naiveRetry?: { attempts: number };
}

/** A gateway in one location of the simulated world. */
export interface LabGateway {
  readonly location: string;
  readonly port: number;
  readonly cache: EdgeCache | undefined;
  readonly health: HealthChecker | undefined;
  readonly breakers: BreakerRegistry | undefined;
  readonly forwarder: Forwarder;
  /** Upstream attempts per region (network attempts, hedges and retries included). */
  readonly attempts: Map<string, number>;
  close(): Promise<void>;
}

/** Settings shared by every gateway of a run. */
export interface GatewaySettings {
  /** Time to wait for an upstream's response headers (the lab's scaled-down 5 s). */
  upstreamTimeout: number;
  locator: GeoLocator;
}

/**
 * Starts a gateway in `location`. `links` maps each region to the URL of the latency-injecting link
 * from this location to that region's origin. Clients reach it through their own links, which are
 * trusted proxies on loopback, so `X-Forwarded-For` carries the city's address.
 */
export async function startGateway(
  location: WorldRegion,
  regions: readonly WorldRegion[],
  links: ReadonlyMap<string, string>,
  settings: GatewaySettings,
  features: GatewayFeatures = {},
): Promise<LabGateway> {
  const routed: Region[] = regions.map((r) => ({ name: r.name, url: links.get(r.name)!, location: { lat: r.lat, lon: r.lon } }));
  const selector = createRegionSelector({ regions: routed, rules: { continents: CONTINENT_RULES }, origin: { lat: location.lat, lon: location.lon }, routeFactor: 2 });
  const health = features.health
    ? createHealthChecker({
        targets: routed.map((r) => ({ name: r.name, url: r.url })),
        path: '/healthz',
        interval: features.health.interval,
        timeout: features.health.timeout,
        jitter: 0,
        initialJitter: 0,
        unhealthyThreshold: 2,
        healthyThreshold: 2,
      })
    : undefined;
  const breakers = features.breakers
    ? createBreakerRegistry({ defaults: { mode: 'consecutive', failureThreshold: 3, resetTimeout: 2_000, timeout: false } })
    : undefined;
  const forwarder = createForwarder({
    selector,
    locate: settings.locator.lookup,
    trustedProxies: 'loopback',
    ...(health ? { health } : {}),
    ...(breakers ? { breakers } : {}),
    headersTimeout: settings.upstreamTimeout,
    connectTimeout: settings.upstreamTimeout,
    maxAttempts: 3,
    retryBudget: false,
    via: `edge-${location.name}`,
  });
  const attempts = new Map<string, number>();
  forwarder.on('attempt', ({ region }) => attempts.set(region, (attempts.get(region) ?? 0) + 1));

  const cache = features.cache
    ? createCache({
        ...(features.cache.bus ? { bus: features.cache.bus } : {}),
        routes: {
          'GET /api/products/:id': { ttl: 60_000, tags: ['product:{id}'] },
          'GET /api/slow/:id': { ttl: 1_000 },
          'GET /api/slow-plain/:id': { ttl: 1_000 },
        },
      })
    : undefined;

  let handler: (req: IncomingMessage, res: ServerResponse) => void;
  if (features.naiveRetry) {
    handler = naiveRetryHandler(selector, settings, features.naiveRetry.attempts, attempts);
  } else if (cache) {
    handler = cache.handler(forwarder.forward);
  } else {
    handler = forwarder.handler;
  }

  const server: Server = createServer(handler);
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  if (health) await health.checkNow();

  return {
    location: location.name,
    port: (server.address() as AddressInfo).port,
    cache,
    health,
    breakers,
    forwarder,
    attempts,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await cache?.close();
      await forwarder.close();
      await health?.close();
      await breakers?.close();
    },
  };

  function naiveRetryHandler(
    sel: ReturnType<typeof createRegionSelector>,
    s: GatewaySettings,
    tries: number,
    counter: Map<string, number>,
  ): (req: IncomingMessage, res: ServerResponse) => void {
    const pools = new Map(routed.map((r) => [r.name, new Pool(r.url, { connections: 64 })]));
    const ipOf = createClientIp({ trustedProxies: 'loopback' });
    return (req, res) => {
      const primary = sel.select(s.locator.lookup(ipOf(req))).primary;
      const pool = pools.get(primary.name)!;
      void (async () => {
        for (let attempt = 1; attempt <= tries; attempt++) {
          counter.set(primary.name, (counter.get(primary.name) ?? 0) + 1);
          try {
            const upstream = await pool.request({ method: 'GET', path: req.url ?? '/', headersTimeout: s.upstreamTimeout });
            const body = Buffer.from(await upstream.body.arrayBuffer());
            res.writeHead(upstream.statusCode, { 'content-type': String(upstream.headers['content-type'] ?? 'application/json'), 'x-served-by': primary.name });
            res.end(body);
            return;
          } catch {
            // The naive baseline retries the same region.
          }
        }
        sendProblem(res, { status: 504, title: 'Gateway Timeout', detail: `${primary.name} did not answer after ${tries} attempts` });
      })();
    };
  }
}
