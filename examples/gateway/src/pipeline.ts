import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { AuthRequest } from '@edgekit/auth';
import { createBreakerRegistry } from '@edgekit/breaker';
import { type EdgeCache, createCache, createPurgeHandler } from '@edgekit/cache';
import { type Disposable, responseOnSocket, sendProblem, systemClock } from '@edgekit/core';
import { createTrustedProxies } from '@edgekit/geo';
import { routingKey } from './endpoints-config.js';
import { buildSelector, regionKey, useRegions } from './region-routing.js';
import { probedRegions, useEndpointHealth } from './endpoint-health.js';
import { type HealthChecker, createHealthChecker, linkBreakers } from '@edgekit/health';
import { type Forwarder, createForwarder, isGrpcContentType } from '@edgekit/proxy';
import { Redis } from 'ioredis';
import { buildAuthenticators } from './authenticators.js';
import { ComponentSet, identity } from './components.js';
import type { GatewayConfig } from './config.js';
import { type EventStream, openEventStream, requireFreshRevocations } from './event-stream.js';
import { type IngressSettings, pathOf } from './ingress.js';
import { compileLocator } from './locator.js';
import { type ServiceTable, buildServices, serviceHealthTargets } from './services.js';
import { principalOf } from './principal.js';
import { upstreamDispatcher } from './upstream-tls.js';
import { createRateLimits } from './ratelimit.js';
import { type CompiledRoute, type Middleware, chainFor, compileRoute } from './route-rules.js';
import type { StatusCounters } from './status.js';
import type { GatewayTelemetry } from './telemetry.js';

type Handler = (req: IncomingMessage, res: ServerResponse) => void;
const PIPELINE = Symbol('pipeline');
type PipelineResponse = ServerResponse & { [PIPELINE]?: Pipeline | undefined };

/** What every pipeline shares with the gateway (outlives reloads). */
export interface PipelineContext {
  counters: StatusCounters;
  telemetry: GatewayTelemetry;
  log: (level: 'info' | 'warn' | 'error', msg: string, fields?: Record<string, unknown>) => void;
}

/**
 * One configuration's request pipeline: route rules (auth, rate limit), then the response cache in
 * front of the forwarder. A reload builds a new pipeline, reusing unchanged components; requests
 * already inside the old one finish there.
 */
export class Pipeline {
  readonly config: GatewayConfig;
  readonly components: ComponentSet;
  readonly forwarder: Forwarder;
  readonly health: HealthChecker;
  readonly breakers: ReturnType<typeof createBreakerRegistry>;
  readonly cache: EdgeCache | undefined;
  readonly purge: Handler | undefined;
  readonly redis: Redis | undefined;
  /** The NATS JetStream bus between gateways, when `bus.driver` is `nats`. */
  readonly events: EventStream | undefined;
  /** How requests are admitted before any rule of this configuration sees them. */
  readonly ingress: IngressSettings;
  readonly #routes: CompiledRoute[];
  /** Services chosen before the default regions: by route rule, match or split. */
  readonly services: ServiceTable;
  readonly #proxy: Handler;
  readonly #forward: Handler;
  readonly #unsafeInvalidation: UnsafeInvalidation;
  #inFlight = 0;
  #drained: (() => void) | undefined;

  private constructor(init: {
    config: GatewayConfig;
    components: ComponentSet;
    forwarder: Forwarder;
    health: HealthChecker;
    breakers: ReturnType<typeof createBreakerRegistry>;
    cache: EdgeCache | undefined;
    purge: Handler | undefined;
    redis: Redis | undefined;
    events: EventStream | undefined;
    routes: CompiledRoute[];
    services: ServiceTable;
  }) {
    this.config = init.config;
    this.components = init.components;
    this.forwarder = init.forwarder;
    this.health = init.health;
    this.breakers = init.breakers;
    this.cache = init.cache;
    this.purge = init.purge;
    this.redis = init.redis;
    this.events = init.events;
    this.ingress = {
      pathParameters: init.config.server.pathParameters,
      refusedMethods: new Set(init.config.server.refusedMethods),
      refusedHeaders: init.config.server.refusedHeaders,
    };
    this.#routes = init.routes;
    this.services = init.services;
    this.#forward = init.forwarder.handler;
    this.#proxy = init.cache ? init.cache.handler(init.forwarder.forward) : init.forwarder.handler;
    this.#unsafeInvalidation = unsafeInvalidationOf(init.config);
  }

  /**
   * Whether a request goes through the cache, decided once the route rules ran (so `req.auth` is
   * set for a request they authenticated):
   * - GET and HEAD go through it when a cache route can match them; there a request with a
   *   principal or a credential header (`Authorization`, the API-key header) is private, or keyed
   *   by its principal on a route that says `authenticated: per-principal`;
   * - unsafe methods go through it, which then invalidates the URL on every node (RFC 9111 §4.4),
   *   as `cache.unsafeInvalidation` says: all of them ('always', the default without `auth`), only
   *   those the route rules authenticated ('authenticated', the default with `auth`: an anonymous
   *   POST then goes straight to the forwarder and evicts nothing), or none ('never').
   */
  #viaCache(req: IncomingMessage): boolean {
    const cache = this.cache;
    if (cache === undefined) return false;
    const method = req.method ?? 'GET';
    if (method === 'GET' || method === 'HEAD') return cache.matches(method, req.url ?? '/');
    if (method === 'OPTIONS' || method === 'TRACE') return false;
    // gRPC calls (POST) go straight to the forwarder, which relays their trailers (grpc-status).
    if (isGrpcContentType(req.headers['content-type'])) return false;
    if (this.#unsafeInvalidation === 'always') return true;
    return this.#unsafeInvalidation === 'authenticated' && (req as AuthRequest).auth !== undefined;
  }

  /** The last step of every chain: the cache or the forwarder (a method, so no closure per request). */
  readonly #proxyOrForward: Handler = (req, res) => {
    const service = this.services.serviceFor(req);
    if (service !== undefined) {
      if (service.cached !== undefined && this.#viaCache(req)) service.cached(req, res);
      else service.forwarder.handler(req, res);
    } else if (this.#viaCache(req)) this.#proxy(req, res);
    else this.#forward(req, res);
  };

  static readonly #onResponseClose = function onResponseClose(this: PipelineResponse): void {
    const pipeline = this[PIPELINE];
    if (pipeline === undefined) return;
    this[PIPELINE] = undefined;
    pipeline.#inFlight--;
    if (pipeline.#inFlight === 0) pipeline.#drained?.();
  };

  /** Requests inside this pipeline now. */
  get inFlight(): number {
    return this.#inFlight;
  }

  /** Serves one request. */
  handle(req: IncomingMessage, res: ServerResponse): void {
    this.#inFlight++;
    // One shared listener (`on`, not `once`, which wraps it) finds this pipeline on the response:
    // no closure per request.
    (res as PipelineResponse)[PIPELINE] = this;
    res.on('close', Pipeline.#onResponseClose);
    this.#run(chainFor(this.#routes, req.method ?? 'GET', pathOf(req.url)), 0, req, res, this.#proxyOrForward);
  }

  /**
   * Serves an upgrade request (a WebSocket handshake): the route's middleware (authentication, rate
   * limits) answers on a response bound to the socket, and a request they let through becomes a
   * tunnel through the forwarder. Refusals close the connection.
   */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const res = responseOnSocket(req, socket);
    const tunnel: Handler = () => {
      res.detachSocket(socket as Socket);
      (this.services.serviceFor(req)?.forwarder ?? this.forwarder).upgrade(req, socket, head);
    };
    this.#run(chainFor(this.#routes, req.method ?? 'GET', pathOf(req.url)), 0, req, res, tunnel);
  }

  #run(chain: Middleware[], index: number, req: IncomingMessage, res: ServerResponse, proxy: Handler): void {
    const step = chain[index];
    if (step === undefined) {
      proxy(req, res);
      return;
    }
    try {
      step(req, res, () => this.#run(chain, index + 1, req, res, proxy));
    } catch {
      sendProblem(res, { title: 'Internal Server Error', status: 500, detail: 'the gateway could not process the request' });
    }
  }

  /** Resolves when no request is inside this pipeline, or after `timeout` ms. */
  drain(timeout: number): Promise<boolean> {
    if (this.#inFlight === 0) return Promise.resolve(true);
    return new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), timeout);
      timer.unref();
      this.#drained = () => {
        clearTimeout(timer);
        resolve(true);
      };
    });
  }

  /** Builds the pipeline for `config`, reusing what `previous` has for unchanged sections. */
  static async build(config: GatewayConfig, context: PipelineContext, previous?: Pipeline): Promise<Pipeline> {
    const components = new ComponentSet(previous?.components);
    try {
      return await Pipeline.#build(config, context, components);
    } catch (error) {
      await components.release();
      throw error;
    } finally {
      components.seal();
    }
  }

  static async #build(config: GatewayConfig, context: PipelineContext, components: ComponentSet): Promise<Pipeline> {
    const { telemetry, counters, log } = context;
    const observe = (disposables: Array<Disposable | undefined>) => () => {
      for (const disposable of disposables) disposable?.[Symbol.dispose]();
    };

    const redis = config.redis.url === null
      ? undefined
      : (await components.use('redis', config.redis.url, 'redis.url', () => {
          // Commands fail fast while Redis is away, so the cache steps aside instead of queueing.
          const client = new Redis(config.redis.url!, { maxRetriesPerRequest: 1, lazyConnect: false });
          client.on('error', (error: Error) => log('warn', 'redis error', { error: error.message }));
          return client;
        }, (client) => void client.disconnect())).value;

    const nats = config.bus.driver === 'nats' ? config.bus.nats : undefined;
    const events = nats === undefined
      ? undefined
      : (await components.use('events', { nats, nodeId: config.edge.nodeId }, 'bus.nats', async () => {
          const opened = await openEventStream(nats, config.edge.nodeId, systemClock);
          const unobserve = observe([
            opened.bus.on('behind', () => log('warn', 'event stream: behind', { lag: opened.bus.lag })),
            opened.bus.on('caughtUp', (info) => log('info', 'event stream: caught up', { replayed: info.replayed })),
            opened.bus.on('error', (error) => log('warn', 'event stream error', { code: error.code, error: error.message })),
          ]);
          return Object.assign(opened, { unobserve });
        }, async (value) => {
          value.unobserve();
          await value.close();
        })).value;

    const { value: locator } = await components.use('locator', config.geo, 'geo', async () => {
      const created = compileLocator(config.geo);
      await created.ready();
      return created;
    }, (value) => value.close());

    // Region balancers are kept across reloads while their settings stay: ejections, latency and
    // pools survive a reload, and a changed static endpoint list is applied to the kept balancer.
    const regions = await useRegions(components, '', config.regions, 'regions');
    const { value: selector } = await components.use(
      'selector',
      { regions: config.regions.map(routingKey), balancers: regions.map((r) => identity(r.endpoints)), routing: config.routing, origin: config.edge.coordinates },
      'regions',
      () => buildSelector({ regions, ...config.routing, origin: config.edge.coordinates }),
      () => {},
    );

    const { value: breakers } = await components.use('breakers', config.breakers, 'breakers', () => {
      const registry = createBreakerRegistry({
        defaults: {
          // The forwarder settles permits itself when response headers arrive; its own timeouts apply.
          timeout: false,
          mode: config.breakers.mode,
          failureThreshold: config.breakers.failureThreshold,
          errorThresholdPercentage: config.breakers.errorThresholdPercentage,
          volumeThreshold: config.breakers.volumeThreshold,
          resetTimeout: config.breakers.resetTimeout,
          rollingCountTimeout: config.breakers.rollingCountTimeout,
        },
      });
      const unobserve = observe([telemetry.observeBreakers(registry)]);
      return Object.assign(registry, { unobserve });
    }, async (registry) => {
      registry.unobserve();
      await registry.close();
    });

    const healthSettings = { ...config.health, openBreakers: undefined, endpoints: undefined };
    // A region with endpoints is healthy by its endpoints' share (outlier ejection), not by probing its url.
    const targets = [...config.regions.filter((region) => region.endpoints === undefined).map((region) => ({ name: region.name, url: region.url })), ...serviceHealthTargets(config.services)];
    const { value: health, reused: healthReused } = await components.use('health', healthSettings, 'health', () => {
      const checker = createHealthChecker({
        targets,
        path: config.health.path,
        interval: config.health.interval,
        timeout: config.health.timeout,
        jitter: config.health.jitter,
        initialJitter: config.health.initialJitter,
        healthyThreshold: config.health.healthyThreshold,
        unhealthyThreshold: config.health.unhealthyThreshold,
      });
      const change = checker.on('change', (event) => {
        log(event.healthy ? 'info' : 'warn', 'region health changed', { region: event.name, state: event.state, reason: event.reason });
      });
      const unobserve = observe([change, telemetry.observeHealth(checker)]);
      return Object.assign(checker, { unobserve });
    }, async (checker) => {
      checker.unobserve();
      await checker.close();
    });
    // A reused checker keeps the state of unchanged targets; new or changed ones start unknown.
    if (healthReused) health.setTargets(targets);

    if (config.health.openBreakers) {
      await components.use('breaker-link', [identity(health), identity(breakers)], 'health.openBreakers', () => linkBreakers(health, breakers, { holdOpen: true }), (link) => link[Symbol.dispose]());
    }

    const poolSizes = new Map(config.regions.flatMap((region) => (region.connections === undefined ? [] : [[region.name, region.connections] as const])));
    const { value: forwarder } = await components.use(
      'forwarder',
      { proxy: config.proxy, trusted: config.geo.trustedProxies, pools: [...poolSizes], deps: [identity(selector), identity(locator), identity(health), identity(breakers)] },
      'proxy',
      () => {
        const upstreamTls = upstreamDispatcher(config.regions, config.proxy.tls);
        const created = createForwarder({
          selector,
          // With a CDN named, its location headers (from trusted proxies) come before the address.
          locate: config.geo.cdn === undefined ? locator.lookup : (_ip, req) => locator.locateRequest(req),
          trustedProxies: createTrustedProxies(config.geo.trustedProxies),
          health,
          breakers,
          connectTimeout: config.proxy.connectTimeout,
          headersTimeout: config.proxy.headersTimeout,
          bodyTimeout: config.proxy.bodyTimeout,
          connections: (region) => poolSizes.get(region.name) ?? config.proxy.connections,
          queueTimeout: config.proxy.queueTimeout,
          clientBodyTimeout: config.proxy.clientBodyTimeout,
          clientBodyMinRate: config.proxy.clientBodyMinRate,
          sendTimeout: config.proxy.sendTimeout,
          maxInFlightPerClient: config.proxy.maxInFlightPerClient,
          routeWindow: config.proxy.routeWindow,
          panicFraction: config.proxy.panicFraction,
          maxAttempts: config.proxy.maxAttempts,
          closeTimeout: config.proxy.closeTimeout,
          via: config.proxy.via,
          ...(upstreamTls === undefined ? {} : { dispatcher: upstreamTls }),
          http2: (region) => config.regions.find((entry) => entry.name === region.name)?.http2 ?? config.proxy.http2,
          ...(config.proxy.retryBudget === undefined ? {} : { retryBudget: config.proxy.retryBudget }),
          ...(config.proxy.hedgeDelay === undefined ? {} : { hedge: { delay: config.proxy.hedgeDelay } }),
        });
        const unobserve = observe([
          created.on('response', (event) => counters.recordResponse(event.region)),
          created.on('failover', () => counters.failovers++),
          created.on('error', () => counters.errors++),
          telemetry.observeForwarder(created),
        ]);
        return Object.assign(created, { unobserve });
      },
      async (value) => {
        value.unobserve();
        await value.close();
      },
    );

    let cache: EdgeCache | undefined;
    let purge: Handler | undefined;
    if (config.cache.enabled) {
      const apiKeyHeader = config.auth.apiKeys?.header;
      const built = await components.use('cache', { cache: config.cache, redis: identity(redis), events: identity(events), prefix: config.redis.prefix, apiKeyHeader, unsafeInvalidation: unsafeInvalidationOf(config) }, 'cache', () => {
        const created = createCache({
          routes: config.cache.routes,
          l1: { maxSize: config.cache.maxSize },
          maxBodySize: config.cache.maxBodySize,
          ignoreQueryParams: config.cache.ignoreQueryParams,
          // Authenticated requests are private (or keyed by principal).
          principal: principalOf,
          credentialHeaders: apiKeyHeader === undefined ? ['authorization'] : ['authorization', apiKeyHeader],
          unsafeInvalidation: unsafeInvalidationOf(config),
          ...(config.cache.host === undefined ? {} : { host: config.cache.host }),
          ...(redis === undefined ? {} : { redis, prefix: `${config.redis.prefix}cache:` }),
          ...(events === undefined ? {} : { bus: events.bus }),
        });
        const unobserve = observe([
          created.on('lookup', (event) => counters.recordLookup(event.status)),
          created.on('error', (error) => log('warn', 'cache error', { error: (error as Error).message })),
          telemetry.observeCache(created),
        ]);
        return Object.assign(created, { unobserve, purge: createPurgeHandler(created, { authorize: () => true }) });
      }, async (value) => {
        value.unobserve();
        await value.close();
      });
      cache = built.value;
      purge = built.value.purge;
    }

    const authenticators = await buildAuthenticators(config, components, redis, log, events);
    const limits = await components.use('ratelimits', { limits: config.rateLimits, redis: identity(redis), events: identity(events), prefix: config.redis.prefix, trusted: config.geo.trustedProxies, location: config.edge.location }, 'rateLimits', () =>
      createRateLimits(config.rateLimits, {
        redis,
        prefix: `${config.redis.prefix}rl:`,
        trustedProxies: config.geo.trustedProxies,
        ...(events === undefined ? {} : { nats: { connection: events.connection, nodeId: config.edge.nodeId, region: config.edge.location } }),
      }), (value) => value.close());

    const fresh = requireFreshRevocations(events);
    const services = await buildServices(config.services, {
      components,
      proxy: config.proxy,
      trustedProxies: config.geo.trustedProxies,
      locate: config.geo.cdn === undefined ? locator.lookup : (_ip, req) => locator.locateRequest(req),
      origin: config.edge.coordinates,
      deps: [identity(locator), identity(health), identity(breakers)],
      health,
      breakers,
      cache,
      observe: (created, service) => observe([
        created.on('response', (event) => counters.recordResponse(regionKey(service, event.region))),
        created.on('failover', () => counters.failovers++),
        created.on('error', () => counters.errors++),
        telemetry.observeForwarder(created),
      ]),
    }, config.routing.split);
    const routes = config.routes.map((rule) => compileRoute(rule, authenticators, limits.value.middleware(rule.rateLimit), fresh, rule.service === undefined ? undefined : services.byName.get(rule.service)));
    await useEndpointHealth(components, config, probedRegions(config, forwarder, services), log);
    return new Pipeline({ config, components, forwarder, health, breakers, cache, purge, redis, events, routes, services });
  }
}

type UnsafeInvalidation = 'always' | 'authenticated' | 'never';

/** `cache.unsafeInvalidation`, or its default: 'authenticated' when the gateway authenticates (API keys or JWTs), else 'always'. */
function unsafeInvalidationOf(config: GatewayConfig): UnsafeInvalidation {
  const configured = config.cache.unsafeInvalidation;
  if (configured !== undefined) return configured;
  return config.auth.apiKeys !== undefined || config.auth.jwt !== undefined ? 'authenticated' : 'always';
}
