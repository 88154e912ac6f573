import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { AuthRequest } from '@edgekit/auth';
import type { createBreakerRegistry } from '@edgekit/breaker';
import type { EdgeCache } from '@edgekit/cache';
import { HeaderNameSet, responseOnSocket, sendProblem } from '@edgekit/core';
import type { HealthChecker } from '@edgekit/health';
import { type Forwarder, isGrpcContentType } from '@edgekit/proxy';
import type { Redis } from 'ioredis';
import { buildAuthenticators } from './authenticators.js';
import { ComponentSet, identity } from './components.js';
import type { GatewayConfig } from './config.js';
import { probedRegions, useEndpointHealth } from './endpoint-health.js';
import { type EventStream, requireFreshRevocations } from './event-stream.js';
import { type IngressSettings, pathOf } from './ingress.js';
import { type UnsafeInvalidation, buildCacheLayer, unsafeInvalidationOf } from './pipeline-cache.js';
import { buildRouting, locateFor } from './pipeline-routing.js';
import { type PipelineContext, buildShared, observe } from './pipeline-shared.js';
import { createRateLimits } from './ratelimit.js';
import { regionKey } from './region-routing.js';
import { type CompiledRoute, type Middleware, chainFor, compileRoute } from './route-rules.js';
import { type ServiceTable, buildServices } from './services.js';
import { awaitsContinue, releaseContinue } from './expect-continue.js';

export type { PipelineContext } from './pipeline-shared.js';

type Handler = (req: IncomingMessage, res: ServerResponse) => void;
const PIPELINE = Symbol('pipeline');
type PipelineResponse = ServerResponse & { [PIPELINE]?: Pipeline | undefined };

/**
 * One configuration's request pipeline: route rules (auth, rate limit), then the response cache in
 * front of the forwarder. Built in layers (pipeline-shared: Redis, event stream, locator;
 * pipeline-routing: regions, selector, breakers, health, forwarder; pipeline-cache: cache and
 * purge; then rate limits, services and route rules). A reload builds a new pipeline, reusing
 * unchanged components; requests already inside the old one finish there.
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
  readonly #continue: Handler;
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
      refusedHeaders: new HeaderNameSet(init.config.server.refusedHeaders),
      clientCertificateHeaders: new HeaderNameSet(init.config.server.clientCertificateHeaders),
    };
    this.#routes = init.routes;
    this.services = init.services;
    this.#forward = init.forwarder.handler;
    this.#continue = init.forwarder.checkContinue;
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
   *   POST then goes straight to the forwarder and evicts nothing), or none ('never'); gRPC calls
   *   always go straight to the forwarder.
   */
  #viaCache(req: IncomingMessage): boolean {
    const cache = this.cache;
    if (cache === undefined) return false;
    const method = req.method ?? 'GET';
    if (method === 'GET' || method === 'HEAD') return cache.matches(method, req.url ?? '/');
    if (method === 'OPTIONS' || method === 'TRACE') return false;
    // A gRPC call is never stored and targets no cached URL; the forwarder speaks gRPC (statuses
    // in trailers or one Trailers-Only header block, its own errors as gRPC statuses), so it goes there.
    if (isGrpcContentType(req.headers['content-type'])) return false;
    if (this.#unsafeInvalidation === 'always') return true;
    return this.#unsafeInvalidation === 'authenticated' && (req as AuthRequest).auth !== undefined;
  }

  /** The last step of every chain: the cache or the forwarder (a method, so no closure per request). */
  readonly #proxyOrForward: Handler = (req, res) => {
    const service = this.services.serviceFor(req);
    // A client waiting for `100 Continue` gets it from the forwarder (the origin's own over HTTP/2); the cache reads bodies itself.
    if (service !== undefined) {
      if (service.cached !== undefined && this.#viaCache(req)) {
        releaseContinue(req, res);
        service.cached(req, res);
      } else if (awaitsContinue(req)) service.forwarder.checkContinue(req, res);
      else service.forwarder.handler(req, res);
    } else if (this.#viaCache(req)) {
      releaseContinue(req, res);
      this.#proxy(req, res);
    } else if (awaitsContinue(req)) this.#continue(req, res);
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
    const shared = await buildShared(config, context, components);
    const { forwarder, health, breakers } = await buildRouting(config, context, components, shared);
    const { cache, purge } = await buildCacheLayer(config, context, components, shared);
    const { redis, events, locator } = shared;

    const authenticators = await buildAuthenticators(config, components, redis, log, events);
    const limits = await components.use('ratelimits', { limits: config.rateLimits, redis: identity(redis), events: identity(events), prefix: config.redis.prefix, trusted: config.geo.trustedProxies, header: config.geo.header, location: config.edge.location }, 'rateLimits', () =>
      createRateLimits(config.rateLimits, {
        redis,
        prefix: `${config.redis.prefix}rl:`,
        trustedProxies: config.geo.trustedProxies,
        header: config.geo.header,
        onCounts: (region) => counters.recordCounts(region),
        ...(events === undefined ? {} : { nats: { connection: events.connection, nodeId: config.edge.nodeId, region: config.edge.location } }),
      }), (value) => value.close());

    const fresh = requireFreshRevocations(events);
    const services = await buildServices(config.services, {
      components,
      proxy: config.proxy,
      trustedProxies: config.geo.trustedProxies,
      locate: locateFor(config, locator),
      origin: config.edge.coordinates,
      deps: [identity(locator), identity(health), identity(breakers)],
      health,
      breakers,
      cache,
      observe: (created, service) => observe([
        created.on('response', (event) => counters.recordResponse(regionKey(service, event.region))),
        created.on('failover', () => counters.failovers++),
        created.on('error', () => counters.errors++),
        telemetry.observeForwarder(created, { service, endpoints: config.services.find((entry) => entry.name === service)?.regions.some((region) => region.endpoints !== undefined) ?? false }),
      ]),
    }, config.routing.split);
    const routes = config.routes.map((rule) => compileRoute(rule, authenticators, limits.value.middleware(rule.rateLimit), fresh, rule.service === undefined ? undefined : services.byName.get(rule.service)));
    await useEndpointHealth(components, config, probedRegions(config, forwarder, services), log);
    return new Pipeline({ config, components, forwarder, health, breakers, cache, purge, redis, events, routes, services });
  }
}
