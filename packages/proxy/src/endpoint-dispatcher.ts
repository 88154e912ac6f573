import type { Duplex } from 'node:stream';
import { type AffinityKey, type AffinitySource, type Endpoint, type RegionBalancer, createAffinityKey } from '@edgekit/balancer';
import { ProxyError } from './errors.js';
import type { ConnectionOptions } from 'node:tls';
import { Dispatcher } from 'undici';
import type { DispatcherDefaults } from './options.js';
import type { Http2Settings } from './http2-pools.js';
import { createUpstreamPool } from './upstream-pool.js';

/** What a request that may be retried inside a region keeps: the endpoints it tried. */
export interface EndpointMemory {
  triedEndpoints: Set<string> | undefined;
  /** An endpoint picked ahead of the next attempt (for the decision event), taken by that attempt's dispatch. */
  preselected: Preselection | undefined;
}

/** An endpoint picked before its attempt is dispatched, and the choice reported for it. */
export interface Preselection {
  readonly dispatcher: EndpointDispatcher;
  readonly endpoint: Endpoint;
  readonly choice: EndpointChoice;
}

/** Which endpoint an attempt went to and why, for request observers (tracing, endpoint metrics). */
export interface EndpointChoice {
  /** The endpoint's id (its origin unless configured). */
  endpoint: string;
  /** The balancer's kind (`least-request`, `peak-ewma`, `round-robin`, `ring-hash`, `maglev`, ...). */
  balancer: string;
  /**
   * - `balanced`: the balancer's first pick;
   * - `affinity`: the endpoint the request's affinity key maps to;
   * - `retry`: another endpoint than those this request already tried;
   * - `overflow`: the first picks were at their connection and queue limit.
   */
  reason: 'balanced' | 'affinity' | 'retry' | 'overflow';
  /** With an affinity key: `hit` when the request stayed on its key's endpoint, `miss` when a retry or a full endpoint moved it. */
  affinity: 'hit' | 'miss' | undefined;
  /** Endpoints of the region ejected by outlier detection at that moment. */
  ejected: number;
}

/** Every endpoint of a region has `connections + maxQueue` requests in flight: answered 503 at once. */
export class EndpointOverflowError extends ProxyError {
  constructor(readonly region: string) {
    super('EOVERFLOW', `every endpoint of region ${region} is at its connection and queue limit`, { region });
  }
}

/** Per-endpoint limits of a region with endpoints. */
export interface EndpointLimits {
  /** Connections per endpoint at most. */
  connections: number;
  /** Requests per endpoint that may wait for a connection; more are refused with 503. */
  maxQueue: number;
  /** HTTP/2 to the endpoints (each connection then carries up to `maxConcurrentStreams` requests); `undefined`: HTTP/1.1. */
  http2?: Http2Settings | undefined;
  /** TLS towards `https:` endpoints (Node's TLS options, verification on unless turned off); `undefined`: Node's defaults. */
  tls?: ConnectionOptions | undefined;
}

interface EndpointPool {
  readonly endpoint: Endpoint;
  readonly pool: Dispatcher;
  inflight: number;
}

const isCancel = (error: unknown): boolean => (error as { code?: unknown } | null)?.code === 'ECANCELLED';

/**
 * Wraps the forwarder's handler of one attempt: reports the attempt's outcome to the region's
 * balancer (status and time to headers, or a failure) and frees the endpoint's slot when it ends.
 * Legacy handler callbacks only, as the forwarder's attempts use them.
 */
class EndpointHandler implements Dispatcher.DispatchHandler {
  #status: number | undefined = undefined;
  #ttfb = -1;
  #ended = false;

  constructor(
    readonly owner: EndpointDispatcher,
    readonly slot: EndpointPool,
    readonly inner: Dispatcher.DispatchHandler,
    readonly startedAt: number,
  ) {}

  onConnect(abort: (error?: Error) => void): void {
    this.inner.onConnect?.(abort);
  }

  onHeaders(statusCode: number, headers: Buffer[], resume: () => void, statusText: string): boolean {
    if (statusCode >= 200 && this.#status === undefined) {
      this.#status = statusCode;
      this.#ttfb = this.owner.now() - this.startedAt;
    }
    return this.inner.onHeaders?.(statusCode, headers, resume, statusText) ?? true;
  }

  onData(chunk: Buffer): boolean {
    return this.inner.onData?.(chunk) ?? true;
  }

  onComplete(trailers: string[] | null): void {
    this.#end(false);
    this.inner.onComplete?.(trailers);
  }

  onError(error: Error): void {
    this.#end(!isCancel(error));
    this.inner.onError?.(error);
  }

  onUpgrade(statusCode: number, headers: Buffer[] | string[] | null, socket: Duplex): void {
    this.#status = statusCode;
    this.#ttfb = this.owner.now() - this.startedAt;
    this.#end(false);
    this.inner.onUpgrade?.(statusCode, headers, socket);
  }

  onBodySent(chunkSize: number, totalBytesSent: number): void {
    this.inner.onBodySent?.(chunkSize, totalBytesSent);
  }

  onResponseStarted(): void {
    this.inner.onResponseStarted?.();
  }

  #end(failed: boolean): void {
    if (this.#ended) return;
    this.#ended = true;
    this.owner.release(this.slot, this.#status, failed, this.#ttfb >= 0 ? this.#ttfb : this.owner.now() - this.startedAt, isCancelledBeforeAnswer(failed, this.#status));
  }
}

// A cancelled attempt without an answer says nothing about the endpoint.
const isCancelledBeforeAnswer = (failed: boolean, status: number | undefined): boolean => !failed && status === undefined;

/**
 * The dispatcher of a region that lists endpoints: picks one per attempt with the region's
 * balancer (skipping endpoints this request already tried), dispatches to that endpoint's own
 * undici pool, and feeds the outcome back. An endpoint that discovery removes takes no new
 * requests; its pool closes once its requests in flight have finished.
 */
export class EndpointDispatcher extends Dispatcher {
  readonly region: RegionBalancer;
  /** Requests refused because every endpoint was at its limit. */
  overflows = 0;
  readonly #pools = new Map<string, EndpointPool>();
  readonly #defaults: DispatcherDefaults;
  readonly #limits: EndpointLimits;
  readonly #affinity: AffinityKey | undefined;
  readonly #now: () => number;
  readonly #subscription: { dispose(): void };
  readonly #draining = new Set<Promise<void>>();
  #closed = false;
  /** Requests in flight on one endpoint at most: its connections (times HTTP/2 streams) plus its queue. */
  readonly #limit: number;
  /** What the last pick saw: endpoints found full, and the request's affinity key. */
  #full: Set<string> | undefined = undefined;
  #key: string | undefined = undefined;
  /** Whether closing this dispatcher closes the region balancer (one it created, not one it was given). */
  readonly #ownsRegion: boolean;

  constructor(region: RegionBalancer, defaults: DispatcherDefaults, limits: EndpointLimits, affinity: AffinitySource | undefined, now: () => number, ownsRegion = true) {
    super();
    this.region = region;
    this.#ownsRegion = ownsRegion;
    this.#defaults = defaults;
    this.#limits = limits;
    this.#limit = limits.connections * (limits.http2?.maxConcurrentStreams ?? 1) + limits.maxQueue;
    this.#affinity = affinity === undefined ? undefined : createAffinityKey(affinity, `region "${region.name}": affinity`);
    this.#now = now;
    this.#subscription = region.on('endpoints', ({ removed }) => {
      for (const endpoint of removed) this.#drain(endpoint.id);
    });
  }

  now(): number {
    return this.#now();
  }

  /** True when the region has an endpoint `memory` has not tried yet. */
  hasUntried(memory: EndpointMemory): boolean {
    const tried = memory.triedEndpoints;
    if (tried === undefined) return true;
    for (const endpoint of this.region.endpoints()) if (!tried.has(endpoint.id)) return true;
    return false;
  }

  #poolOf(endpoint: Endpoint): EndpointPool {
    let slot = this.#pools.get(endpoint.id);
    if (slot === undefined || slot.endpoint.url !== endpoint.url) {
      const limits = this.#limits;
      const pool = createUpstreamPool(endpoint.url, { ...this.#defaults, connections: limits.connections }, limits.http2, limits.tls);
      slot = { endpoint, pool, inflight: 0 };
      this.#pools.set(endpoint.id, slot);
    }
    return slot;
  }

  #drain(id: string): void {
    const slot = this.#pools.get(id);
    if (slot === undefined) return;
    this.#pools.delete(id);
    // undici's close() lets queued and running requests finish, then closes the connections.
    const closing = slot.pool.close().catch(() => undefined);
    this.#draining.add(closing);
    void closing.then(() => this.#draining.delete(closing));
  }

  #keyOf(headers: unknown): string | undefined {
    const affinity = this.#affinity;
    if (affinity === undefined || !Array.isArray(headers)) return undefined;
    const object: Record<string, string> = {};
    for (let i = 0; i + 1 < headers.length; i += 2) {
      const name = String(headers[i]).toLowerCase();
      object[name] = object[name] === undefined ? String(headers[i + 1]) : `${object[name]}${name === 'cookie' ? '; ' : ', '}${headers[i + 1]}`;
    }
    return affinity({ headers: object });
  }

  /**
   * Picks the endpoint for one attempt (`undefined` when none is left), skipping the endpoints
   * `memory` tried and those at their limit; `#full` and `#key` keep what the pick saw, for the choice.
   */
  #pickFor(headers: unknown, tried: Set<string> | undefined): Endpoint | undefined {
    const key = this.#keyOf(headers);
    const region = this.region;
    const limit = this.#limit;
    let full: Set<string> | undefined;
    let endpoint = region.pick({ key, exclude: tried });
    if (endpoint === undefined && tried !== undefined) endpoint = region.pick({ key });
    while (endpoint !== undefined && (this.#pools.get(endpoint.id)?.inflight ?? 0) >= limit) {
      // This endpoint is at its limit: another one of the region may still take the request.
      (full ??= new Set(tried)).add(endpoint.id);
      endpoint = region.pick({ key, exclude: full });
    }
    this.#full = full;
    this.#key = key;
    return endpoint;
  }

  /** Why the last `#pickFor` chose `endpoint`, for observers and decision events. */
  #choiceOf(endpoint: Endpoint, tried: Set<string> | undefined): EndpointChoice {
    const key = this.#key;
    const reason = this.#full !== undefined ? 'overflow' : tried !== undefined && tried.size > 0 ? 'retry' : key !== undefined ? 'affinity' : 'balanced';
    return { endpoint: endpoint.id, balancer: this.region.balancer.kind, reason, affinity: key === undefined ? undefined : reason === 'affinity' ? 'hit' : 'miss', ejected: this.region.ejectedCount() };
  }

  /**
   * Picks the endpoint of the next attempt of the request `memory` belongs to, ahead of its dispatch,
   * and returns why (for the decision event); `undefined` when the region has none to give.
   */
  preselect(headers: unknown, memory: EndpointMemory): EndpointChoice | undefined {
    if (this.#closed) return undefined;
    const tried = memory.triedEndpoints;
    const endpoint = this.#pickFor(headers, tried);
    this.#full = undefined;
    if (endpoint === undefined) return undefined;
    const choice = this.#choiceOf(endpoint, tried);
    memory.preselected = { dispatcher: this, endpoint, choice };
    return choice;
  }

  override dispatch(options: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler): boolean {
    if (this.#closed) {
      handler.onError?.(Object.assign(new Error('the region dispatcher is closed'), { code: 'UND_ERR_CLOSED' }));
      return false;
    }
    const memory = (handler as { owner?: Partial<EndpointMemory> }).owner;
    const tried = memory?.triedEndpoints;
    const observed = handler as { observers?: unknown; endpoint?: EndpointChoice };
    const preselected = memory?.preselected;
    let endpoint: Endpoint | undefined;
    if (preselected !== undefined) {
      memory!.preselected = undefined;
      if (preselected.dispatcher === this && (this.#pools.get(preselected.endpoint.id)?.inflight ?? 0) < this.#limit) {
        endpoint = preselected.endpoint;
        if (observed.observers !== undefined) observed.endpoint = preselected.choice;
      }
    }
    if (endpoint === undefined) {
      endpoint = this.#pickFor(options.headers, tried);
      const full = this.#full;
      this.#full = undefined;
      if (endpoint === undefined) {
        const region = this.region;
        if (full !== undefined) this.overflows++;
        handler.onError?.(full !== undefined ? new EndpointOverflowError(region.name) : Object.assign(new Error(`region ${region.name} has no endpoints`), { code: 'ENOENDPOINT' }));
        return false;
      }
      if (observed.observers !== undefined) {
        this.#full = full;
        observed.endpoint = this.#choiceOf(endpoint, tried);
        this.#full = undefined;
      }
    }
    if (memory !== undefined) (memory.triedEndpoints ??= new Set()).add(endpoint.id);
    const slot = this.#poolOf(endpoint);
    slot.inflight++;
    this.region.onRequestStart(endpoint);
    return slot.pool.dispatch(options, new EndpointHandler(this, slot, handler, this.#now()));
  }

  /** An attempt on `slot` ended: frees its place and tells the balancer how it went. */
  release(slot: EndpointPool, status: number | undefined, failed: boolean, latencyMs: number, silent: boolean): void {
    slot.inflight--;
    this.region.onRequestEnd(slot.endpoint, silent ? { latencyMs, cancelled: true } : { latencyMs, status, error: failed || undefined });
  }

  /** Requests in flight per endpoint id (for status pages). */
  inflight(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const [id, slot] of this.#pools) out[id] = slot.inflight;
    return out;
  }

  override async close(): Promise<void> {
    this.#closed = true;
    this.#subscription.dispose();
    await Promise.all([...[...this.#pools.values()].map((s) => s.pool.close()), ...this.#draining]);
    this.#pools.clear();
    if (this.#ownsRegion) await this.region.close();
  }

  override async destroy(): Promise<void> {
    this.#closed = true;
    this.#subscription.dispose();
    await Promise.all([...this.#pools.values()].map((s) => s.pool.destroy()));
    this.#pools.clear();
    if (this.#ownsRegion) await this.region.close();
  }
}
