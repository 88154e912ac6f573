import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Http2ServerRequest, Http2ServerResponse } from 'node:http2';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { ConnectionOptions } from 'node:tls';
import { type Disposable, type Listener, TypedEmitter, checkNumber, resolveUpstreamTls, toDisposable } from '@edgekit/core';
import { type Region, type RequestLike, createClientIp, createRegionSelector, createTrustedProxies, normalizeIp } from '@edgekit/geo';
import type { RegionBalancer } from '@edgekit/balancer';
import type { Dispatcher } from 'undici';
import { ClientInFlight, PanicTrickle } from './client-limits.js';
import { ConnectionQueue } from './connection-queue.js';
import type { ForwarderEvents } from './events.js';
import { type RequestObserver, type RequestObserverFactory, reportObserverError } from './observer.js';
import type { ForwarderCore, Target } from './forwarder-core.js';
import { type ForwardOptions, type ForwardResponse, ForwardExchange } from './forward.js';
import { EndpointDispatcher } from './endpoint-dispatcher.js';
import { createEndpointDispatcher, hasEndpoints } from './region-endpoints.js';
import { NodeExchange } from './node-handler.js';
import { type ForwarderOptions, type RegionSelectorLike, SCOPE } from './options.js';
import { type ResolvedOptions, checkHttp2Choice, resolveOptions } from './options-resolve.js';
import { passesHealth } from './admission.js';
import { createUpstreamPool } from './upstream-pool.js';
import type { RequestHeaderSettings, RequestScan } from './request-headers.js';
import type { ResponseHeaderSettings } from './response-headers.js';
import type { RetryBudget } from './retry-budget.js';
import { RouteFailures } from './route-failures.js';
import { UpgradeExchange } from './upgrade.js';

/** Options of {@link Forwarder.handle}. */
export interface HandleOptions {
  /** Path and query sent upstream instead of `req.url` (must start with `/`). */
  path?: string;
  /**
   * Receives errors that are not HTTP answers (a request body already consumed by a body parser, a
   * bug), as Express's `next`. Default: answer 500 with a bare problem body.
   */
  onError?: (error: unknown) => void;
}

/** A streaming multi-region forwarder. Create it with {@link createForwarder}. */
export interface Forwarder {
  /**
   * Forwards `req` and resolves with the upstream response without writing anything; rejects with
   * a `ForwardError` (502, 503, 504, 400) when no region answered. The response cache calls this.
   */
  forward(req: IncomingMessage, options?: ForwardOptions): Promise<ForwardResponse>;
  /**
   * A Node `http` or `http2` (compatibility API) request handler: `http.createServer(forwarder.handler)`,
   * `http2.createSecureServer({ allowHTTP1: true, ... }, forwarder.handler)`. Bound: pass it around freely.
   */
  readonly handler: (req: IncomingMessage | Http2ServerRequest, res: ServerResponse | Http2ServerResponse) => void;
  /**
   * A listener for the server's `'upgrade'` event: `server.on('upgrade', forwarder.upgrade)`. WebSocket
   * and other `Upgrade` requests (GET) go to the first healthy region like any request, with failover
   * until an upstream accepts; a 101 joins the client to that upstream, any other answer is relayed and
   * the connection closed. Bound.
   */
  readonly upgrade: (req: IncomingMessage, socket: Duplex, head: Buffer) => void;
  /**
   * A listener for the server's `'checkContinue'` event (HTTP/1.1 and HTTP/2 servers alike):
   * `server.on('checkContinue', forwarder.checkContinue)`. A request with `Expect: 100-continue` is
   * answered `100 Continue` only once an upstream starts taking its body (RFC 9110 §10.1.1), so a
   * request refused before (no region, overload, bad target) never makes the client send its body.
   * Without it, Node answers `100 Continue` at once. Bound.
   */
  readonly checkContinue: (req: IncomingMessage | Http2ServerRequest, res: ServerResponse | Http2ServerResponse) => void;
  /** Forwards `req` and writes the answer to `res`, with a path override or an error callback. */
  handle(req: IncomingMessage, res: ServerResponse, options?: HandleOptions): void;
  /** Subscribes to routing decisions, attempts, failovers, responses and errors; returns a disposable. */
  on<K extends keyof ForwarderEvents>(event: K, listener: Listener<ForwarderEvents, K>): Disposable;
  /**
   * Observes each request from now on (tracing, per-request metrics): `factory(req)` runs as a
   * request starts, and what it returns hears that request's decision, each attempt (and may set
   * upstream header fields such as `traceparent`) and its end. Returns a disposable.
   */
  observe(factory: RequestObserverFactory): Disposable;
  /** The retry budget retries and hedges draw from, if any. */
  readonly retryBudget: RetryBudget | undefined;
  /** The endpoint balancer of a region that lists endpoints (status pages, health wiring); `undefined` otherwise. */
  regionBalancer(name: string): RegionBalancer | undefined;
  /** Stops taking requests, lets in-flight ones finish (up to `closeTimeout`), closes the connection pools. */
  close(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

function basePathOf(url: URL): string {
  const path = url.pathname;
  return path === '/' ? '' : path.endsWith('/') ? path.slice(0, -1) : path;
}

class ForwarderImpl implements Forwarder, ForwarderCore {
  options: ResolvedOptions;
  readonly events = new TypedEmitter<ForwarderEvents>();
  readonly selector: RegionSelectorLike;
  readonly #clientIp: (req: RequestLike) => string;
  // Reused for every request: clientIp reads it synchronously, so Node never builds req.headers.
  readonly #ipRequest = { headers: { 'x-forwarded-for': undefined as string | undefined, forwarded: undefined as string | undefined }, socket: { remoteAddress: undefined as string | undefined } };
  readonly isTrusted: ((ip: string) => boolean) | undefined;
  readonly requestHeaders: RequestHeaderSettings;
  readonly responseHeaders: ResponseHeaderSettings;
  readonly retryBudget: RetryBudget | undefined;
  closed = false;
  readonly streams = new Set<{ endStream(reason: string): void }>();
  readonly routeFailures: RouteFailures;
  readonly #clientInFlight: ClientInFlight;
  readonly #panic: PanicTrickle;
  readonly #targets = new Map<string, Target>();
  /** The `health` option as given, without the endpoint share of regions with endpoints. */
  readonly #checks: ResolvedOptions['health'];
  #closing: Promise<void> | undefined;

  constructor(options: ForwarderOptions) {
    const resolved = resolveOptions(options);
    this.options = resolved;
    this.#checks = resolved.health;
    this.retryBudget = resolved.retryBudget;
    this.routeFailures = new RouteFailures(resolved.routeWindow);
    this.#clientInFlight = new ClientInFlight(resolved.maxInFlightPerClient);
    this.#panic = new PanicTrickle(resolved.panicFraction);
    this.selector = resolved.selector ?? createRegionSelector({ regions: resolved.regions!, clock: resolved.clock });
    try {
      this.#clientIp = createClientIp({ trustedProxies: resolved.trustedProxies ?? [], header: resolved.forwardedHeader });
      this.isTrusted = resolved.trustedProxies === undefined ? undefined : createTrustedProxies(resolved.trustedProxies);
    } catch (error) {
      throw new TypeError(`${SCOPE}: option "trustedProxies" is invalid: ${(error as Error).message}`, { cause: error });
    }
    this.requestHeaders = { via: resolved.via, preserveHost: resolved.preserveHost, forwardedHeader: resolved.forwardedHeader };
    this.responseHeaders = { viaEntry: resolved.via === undefined ? undefined : `1.1 ${resolved.via}`, servedByHeader: resolved.servedByHeader };
    const regions = this.selector.regions ?? [];
    regions.forEach((region, i) => this.#createTarget(region, `regions[${i}]`));
    if (regions.some((region) => hasEndpoints(region))) this.options = { ...resolved, health: this.#withEndpointHealth(resolved.health) };
  }

  /** Region health that also counts a region with endpoints down while too few of them are healthy. */
  #withEndpointHealth(health: ResolvedOptions['health']): NonNullable<ResolvedOptions['health']> {
    const targets = this.#targets;
    return {
      isHealthy(name: string): boolean {
        const dispatcher = targets.get(name)?.dispatcher;
        if (dispatcher instanceof EndpointDispatcher && !dispatcher.region.isHealthy()) return false;
        return health === undefined || health.isHealthy(name) !== false;
      },
    };
  }

  /** The region balancer of a region with endpoints, `undefined` for a region with one URL. */
  regionBalancer(name: string): EndpointDispatcher['region'] | undefined {
    const dispatcher = this.#targets.get(name)?.dispatcher;
    return dispatcher instanceof EndpointDispatcher ? dispatcher.region : undefined;
  }

  #http2Of(region: Region): boolean {
    const options = this.options;
    const own = options.http2Of?.(region);
    return own === undefined ? options.http2 : checkHttp2Choice(`http2(${JSON.stringify(region.name)})`, own);
  }

  #tlsOf(region: Region): ConnectionOptions | undefined {
    const options = this.options;
    const own = options.tlsOf?.(region);
    return own === undefined ? options.tls : resolveUpstreamTls(SCOPE, `tls(${JSON.stringify(region.name)})`, own);
  }

  #createTarget(region: Region, option: string): Target {
    if (region !== null && typeof region === 'object' && hasEndpoints(region) && region.url === undefined) {
      const http2 = this.#http2Of(region);
      const settings = http2 ? { maxConcurrentStreams: this.options.maxConcurrentStreams } : undefined;
      const dispatcher = createEndpointDispatcher(region, this.options.pool, this.options.clock, option, settings, this.#tlsOf(region));
      const queue = new ConnectionQueue(Number.POSITIVE_INFINITY, this.options.queueTimeout, this.options.clock);
      const target: Target = { dispatcher, basePath: '', origin: `endpoints:${region.name}`, queue };
      this.#targets.set(region.name, target);
      return target;
    }
    const url = typeof region?.url === 'string' && URL.canParse(region.url) ? new URL(region.url) : undefined;
    if (url === undefined || (url.protocol !== 'http:' && url.protocol !== 'https:')) {
      throw new TypeError(`${SCOPE}: option "${option}.url" must be an absolute http or https URL (got ${JSON.stringify(region?.url)})`);
    }
    const options = this.options;
    let connections = options.pool.connections;
    if (options.connectionsOf !== undefined) {
      const own = options.connectionsOf(region);
      if (own !== undefined) connections = checkNumber(SCOPE, `connections(${JSON.stringify(region.name)})`, own, { min: 1, integer: true });
    }
    const http2 = this.#http2Of(region);
    const h2 = http2 ? { maxConcurrentStreams: options.maxConcurrentStreams } : undefined;
    const dispatcher: Dispatcher = hasEndpoints(region)
      ? createEndpointDispatcher(region, { ...options.pool, connections }, options.clock, option, h2, this.#tlsOf(region))
      : options.dispatcher !== undefined
        ? options.dispatcher(region, { ...options.pool, connections })
        : createUpstreamPool(url.origin, { ...options.pool, connections }, h2, this.#tlsOf(region));
    // A region with endpoints bounds each endpoint's connections and queue itself; HTTP/2 multiplexes.
    const capacity = hasEndpoints(region) ? Number.POSITIVE_INFINITY : http2 && options.dispatcher === undefined ? connections * options.maxConcurrentStreams : connections;
    const queue = new ConnectionQueue(capacity, options.queueTimeout, options.clock);
    const target: Target = { dispatcher, basePath: basePathOf(url), origin: url.origin, queue };
    this.#targets.set(region.name, target);
    return target;
  }

  clientIpOf(remote: string | undefined, scan: RequestScan): string {
    const request = this.#ipRequest;
    request.socket.remoteAddress = remote;
    request.headers['x-forwarded-for'] = scan.xForwardedFor;
    request.headers.forwarded = scan.forwarded;
    return this.#clientIp(request);
  }

  // Trusted peers are a handful of load balancers on long-lived connections: remember the last one.
  #lastPeer = '';
  #lastPeerNormalized = '';

  normalizePeer(remote: string): string {
    if (remote !== this.#lastPeer) {
      this.#lastPeer = remote;
      this.#lastPeerNormalized = normalizeIp(remote) ?? '';
    }
    return this.#lastPeerNormalized;
  }

  enterClient(key: string): boolean {
    return this.#clientInFlight.enter(key);
  }

  leaveClient(key: string): void {
    this.#clientInFlight.leave(key);
  }

  panicAdmit(): boolean {
    return this.#panic.admit();
  }

  healthVouchesFor(region: string): boolean {
    if (this.#targets.get(region)?.dispatcher instanceof EndpointDispatcher) return false;
    return passesHealth(this.#checks, region);
  }

  targetOf(region: Region): Target {
    return this.#targets.get(region.name) ?? this.#createTarget(region, `region "${region.name}"`);
  }

  forward = (req: IncomingMessage, options?: ForwardOptions): Promise<ForwardResponse> =>
    new Promise<ForwardResponse>((resolve, reject) => {
      new ForwardExchange(this, req, options, resolve, reject).run();
    });

  // An HTTP/2 compatibility request and response are handled through the members they share with
  // HTTP/1.1 ones; the exchange reads the protocol from `httpVersionMajor`.
  handler = (req: IncomingMessage | Http2ServerRequest, res: ServerResponse | Http2ServerResponse): void => {
    new NodeExchange(this, req as IncomingMessage, res as ServerResponse, undefined, undefined).run();
  };

  handle(req: IncomingMessage, res: ServerResponse, options?: HandleOptions): void {
    new NodeExchange(this, req, res, options?.path, options?.onError).run();
  }

  checkContinue = (req: IncomingMessage | Http2ServerRequest, res: ServerResponse | Http2ServerResponse): void => {
    new NodeExchange(this, req as IncomingMessage, res as ServerResponse, undefined, undefined, true).run();
  };

  upgrade = (req: IncomingMessage, socket: Duplex, head: Buffer): void => {
    new UpgradeExchange(this, req, socket as Socket, head).run();
  };

  on<K extends keyof ForwarderEvents>(event: K, listener: Listener<ForwarderEvents, K>): Disposable {
    return this.events.on(event, listener);
  }

  // Copied on write, so a factory added or removed mid-request does not disturb the loop below.
  #observerFactories: readonly RequestObserverFactory[] = [];

  observe(factory: RequestObserverFactory): Disposable {
    if (typeof factory !== 'function') throw new TypeError(`${SCOPE}: observe(factory) needs a function (got ${typeof factory})`);
    this.#observerFactories = [...this.#observerFactories, factory];
    return toDisposable(() => {
      this.#observerFactories = this.#observerFactories.filter((f) => f !== factory);
    });
  }

  observeRequest(req: IncomingMessage): RequestObserver[] | undefined {
    const factories = this.#observerFactories;
    if (factories.length === 0) return undefined;
    let observers: RequestObserver[] | undefined;
    for (const factory of factories) {
      try {
        const observer = factory(req);
        if (observer != null) (observers ??= []).push(observer);
      } catch (error) {
        reportObserverError(error, 'factory');
      }
    }
    return observers;
  }

  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    this.closed = true;
    // Streams never finish on their own: end them now, cleanly, so the pools can close.
    for (const stream of [...this.streams]) stream.endStream('the proxy is shutting down');
    const clock = this.options.clock;
    const dispatchers = [...this.#targets.values()].map((t) => t.dispatcher);
    let timer: object | undefined;
    const graceful = Promise.all(dispatchers.map((d) => d.close())).then(() => true);
    const late = new Promise<boolean>((resolve) => {
      timer = clock.setTimeout(() => resolve(false), this.options.closeTimeout);
    });
    const finished = await Promise.race([graceful, late]);
    clock.clearTimeout(timer);
    if (!finished) await Promise.all(dispatchers.map((d) => d.destroy()));
    this.events.removeAllListeners();
    this.#observerFactories = [];
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

/**
 * Creates a {@link Forwarder}: client IP → location → regions in order → skip unhealthy regions and
 * open breakers → forward over keep-alive undici pools with safe failover, a retry budget and
 * optional hedging, streaming both bodies.
 *
 * @example
 * const forwarder = createForwarder({
 *   regions: [
 *     { name: 'eu', url: 'http://eu.internal:8080', location: { lat: 50.1, lon: 8.7 } },
 *     { name: 'us', url: 'http://us.internal:8080', location: { lat: 39.0, lon: -77.5 } },
 *   ],
 *   locate: locator.lookup,
 *   health,
 *   breakers,
 * });
 * http.createServer(forwarder.handler).listen(8080);
 */
export function createForwarder(options: ForwarderOptions): Forwarder {
  return new ForwarderImpl(options);
}
