import type { IncomingMessage, ServerResponse } from 'node:http';
import {
  type Clock,
  type Disposable,
  type Listener,
  TypedEmitter,
  checkOptionsObject,
  delay,
  describeValue,
  optionalBoolean,
  optionalFunction,
  optionalNumber,
  systemClock,
  toDisposable,
} from '@edgekit/core';
import { messageOf } from './http-probe.js';
import {
  type ReadinessDependency,
  type ReadinessReport,
  type RegionHealthSource,
  Readiness,
  resolveDependencies,
  resolveRequiredRegions,
} from './readiness.js';
import { checkPath } from './targets.js';

const SCOPE = '@edgekit/health createLifecycle';

/** Defaults of {@link createLifecycle}; every duration is in milliseconds. */
export const LIFECYCLE_DEFAULTS = Object.freeze({
  requiredRegions: 'any' as 'any' | readonly string[],
  dependencyTimeout: 2_000,
  shutdownDelay: 5_000,
  drainTimeout: 20_000,
  healthPath: '/health',
  readyPath: '/ready',
  readyWhenUnknown: false,
});

/** A server the lifecycle closes on shutdown: a Node `http.Server` or `https.Server`. */
export interface ClosableServer {
  close(callback?: (error?: Error) => void): unknown;
  closeIdleConnections?(): void;
  closeAllConnections?(): void;
}

/** Options of {@link createLifecycle}. */
export interface LifecycleOptions {
  /** Region health for readiness. Default: none (regions are not part of readiness). */
  checker?: RegionHealthSource;
  /** `'any'`: at least one region healthy; a list: every listed region healthy. Needs `checker`. Default `'any'`. */
  requiredRegions?: 'any' | readonly string[];
  /** Extra checks readiness runs on every `/ready` request, concurrently. Default `[]`. */
  dependencies?: readonly ReadinessDependency[];
  /** Longest wait for one dependency check. Default `2000`. */
  dependencyTimeout?: number;
  /** Time between failing readiness and closing the servers, so load balancers notice (a preStop delay). Default `5000`. */
  shutdownDelay?: number;
  /** Longest wait for in-flight requests once the servers stop accepting. Default `20000`. */
  drainTimeout?: number;
  /** Servers to close on shutdown; more can be added with `addServer`. Default `[]`. */
  servers?: readonly ClosableServer[];
  /** Path `handle()` answers with liveness. Default `'/health'`. */
  healthPath?: string;
  /** Path `handle()` answers with readiness. Default `'/ready'`. */
  readyPath?: string;
  /** Count a region with no probe result yet as healthy for readiness. Default `false`: ready means a region passed a check. */
  readyWhenUnknown?: boolean;
  /** Where time comes from. Default `systemClock`. */
  clock?: Clock;
  /** Called when an event listener throws. Default: `process.emitWarning`. */
  onListenerError?: (error: unknown, event: string) => void;
}

/** `serving` → `draining` (readiness fails) → `closing` (servers closed, requests drain) → `closed`. */
export type LifecyclePhase = 'serving' | 'draining' | 'closing' | 'closed';

/** The body of `/health`. */
export interface LivenessReport {
  /** Always true: the process answers, including while it drains. */
  alive: true;
  phase: LifecyclePhase;
  inFlight: number;
  uptimeMs: number;
}

/** What `shutdown()` resolves with. */
export interface ShutdownResult {
  /** True when every tracked request finished before `drainTimeout`. */
  drained: boolean;
  /** Tracked requests cut off when `drainTimeout` passed. */
  abandoned: number;
  durationMs: number;
}

/** Emitted on every phase change. */
export interface PhaseEvent {
  phase: LifecyclePhase;
  previous: LifecyclePhase;
  at: number;
}

/** Events of a {@link Lifecycle}. */
export type LifecycleEvents = {
  phase: [PhaseEvent];
};

/** Liveness, readiness, request tracking and graceful shutdown for a gateway process. */
export interface Lifecycle {
  /** Liveness handler: always 200 with a {@link LivenessReport}, including while draining. */
  health(req: IncomingMessage, res: ServerResponse): void;
  /** Readiness handler: 200 when ready, 503 otherwise, with a {@link ReadinessReport}. */
  ready(req: IncomingMessage, res: ServerResponse): void;
  /** Answers `healthPath` and `readyPath` and returns true; returns false for any other path. */
  handle(req: IncomingMessage, res: ServerResponse): boolean;
  /** Wraps a request handler so its requests count as in flight until their response closes. */
  track<A extends [IncomingMessage, ServerResponse, ...unknown[]], R>(handler: (...args: A) => R): (...args: A) => R;
  /** Computes readiness (runs the dependency checks). */
  readiness(): Promise<ReadinessReport>;
  liveness(): LivenessReport;
  /** Adds a server to close on shutdown. */
  addServer(server: ClosableServer): Disposable;
  readonly phase: LifecyclePhase;
  /** Tracked requests whose response has not closed. */
  readonly inFlight: number;
  on<K extends keyof LifecycleEvents>(event: K, listener: Listener<LifecycleEvents, K>): Disposable;
  /**
   * Fails readiness, waits `shutdownDelay`, closes the servers (idle keep-alive connections first),
   * waits up to `drainTimeout` for in-flight requests, closes what is left, then resolves. Idempotent:
   * later calls return the same promise.
   */
  shutdown(options?: { delay?: number; drainTimeout?: number }): Promise<ShutdownResult>;
  /** `shutdown({ delay: 0 })`, or waits for a shutdown already under way. */
  close(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

function checkServer(value: unknown, name: string): ClosableServer {
  if (value === null || typeof value !== 'object' || typeof (value as ClosableServer).close !== 'function') {
    throw new TypeError(`${SCOPE}: ${name} must be a server with close() (got ${describeValue(value)})`);
  }
  return value as ClosableServer;
}

/**
 * Creates the process lifecycle of a gateway: Kubernetes liveness (`/health`) and readiness
 * (`/ready`) handlers, in-flight request tracking and an ordered graceful shutdown. Nothing listens
 * to signals unless {@link installSignalHandlers} is called.
 *
 * @example
 * const lifecycle = createLifecycle({ checker: health, servers: [server] });
 * const server = http.createServer(lifecycle.track((req, res) => lifecycle.handle(req, res) || forwarder.handler(req, res)));
 */
export function createLifecycle(options: LifecycleOptions = {}): Lifecycle {
  return new LifecycleImpl(options);
}

type TrackedResponse = ServerResponse & { [key: symbol]: boolean | undefined };

class LifecycleImpl implements Lifecycle {
  readonly #clock: Clock;
  readonly #readiness: Readiness;
  readonly #shutdownDelay: number;
  readonly #drainTimeout: number;
  readonly #healthPath: string;
  readonly #readyPath: string;
  readonly #servers = new Set<ClosableServer>();
  readonly #events: TypedEmitter<LifecycleEvents>;
  readonly #startedAt: number;
  #phase: LifecyclePhase = 'serving';
  #inFlight = 0;
  #onDrained: (() => void) | undefined;
  #pendingReadiness: Promise<ReadinessReport> | undefined;
  #shutdown: Promise<ShutdownResult> | undefined;

  constructor(options: LifecycleOptions) {
    const opts = checkOptionsObject<LifecycleOptions>(SCOPE, options);
    const clock = opts.clock ?? systemClock;
    if (clock === null || typeof clock !== 'object' || typeof clock.setTimeout !== 'function' || typeof clock.now !== 'function') {
      throw new TypeError(`${SCOPE}: option "clock" must be a Clock with now(), setTimeout() and clearTimeout() (got ${describeValue(clock)})`);
    }
    this.#clock = clock;
    if (opts.checker !== undefined && (opts.checker === null || typeof opts.checker.snapshot !== 'function')) {
      throw new TypeError(`${SCOPE}: option "checker" must have snapshot() (got ${describeValue(opts.checker)})`);
    }
    const requiredRegions = resolveRequiredRegions(opts.requiredRegions, opts.checker !== undefined);
    const dependencies = resolveDependencies(opts.dependencies);
    const dependencyTimeout = optionalNumber(SCOPE, 'dependencyTimeout', opts.dependencyTimeout, LIFECYCLE_DEFAULTS.dependencyTimeout, {
      min: 0,
      exclusiveMin: true,
    });
    this.#shutdownDelay = optionalNumber(SCOPE, 'shutdownDelay', opts.shutdownDelay, LIFECYCLE_DEFAULTS.shutdownDelay, { min: 0 });
    this.#drainTimeout = optionalNumber(SCOPE, 'drainTimeout', opts.drainTimeout, LIFECYCLE_DEFAULTS.drainTimeout, { min: 0, allowInfinity: true });
    this.#healthPath = opts.healthPath === undefined ? LIFECYCLE_DEFAULTS.healthPath : checkPath(SCOPE, 'healthPath', opts.healthPath);
    this.#readyPath = opts.readyPath === undefined ? LIFECYCLE_DEFAULTS.readyPath : checkPath(SCOPE, 'readyPath', opts.readyPath);
    const readyWhenUnknown = optionalBoolean(SCOPE, 'readyWhenUnknown', opts.readyWhenUnknown, LIFECYCLE_DEFAULTS.readyWhenUnknown);
    this.#readiness = new Readiness(clock, opts.checker, requiredRegions, dependencies, dependencyTimeout, readyWhenUnknown);
    if (opts.servers !== undefined) {
      if (!Array.isArray(opts.servers)) throw new TypeError(`${SCOPE}: option "servers" must be an array (got ${describeValue(opts.servers)})`);
      opts.servers.forEach((server: unknown, i) => this.#servers.add(checkServer(server, `option "servers[${i}]"`)));
    }
    this.#events = new TypedEmitter<LifecycleEvents>(
      opts.onListenerError === undefined
        ? {}
        : { onListenerError: optionalFunction<(error: unknown, event: string) => void, undefined>(SCOPE, 'onListenerError', opts.onListenerError, undefined) },
    );
    this.#startedAt = clock.now();
  }

  get phase(): LifecyclePhase {
    return this.#phase;
  }

  get inFlight(): number {
    return this.#inFlight;
  }

  on<K extends keyof LifecycleEvents>(event: K, listener: Listener<LifecycleEvents, K>): Disposable {
    return this.#events.on(event, listener);
  }

  addServer(server: ClosableServer): Disposable {
    checkServer(server, 'addServer(server)');
    this.#servers.add(server);
    return toDisposable(() => this.#servers.delete(server));
  }

  track<A extends [IncomingMessage, ServerResponse, ...unknown[]], R>(handler: (...args: A) => R): (...args: A) => R {
    if (typeof handler !== 'function') throw new TypeError(`${SCOPE}: track(handler) needs a function (got ${describeValue(handler)})`);
    const tracked = this.#trackedKey;
    const onResponseClose = this.#onResponseClose;
    const lifecycle = this;
    // A plain function over `arguments`: no rest array per request (Node's 'request' listener
    // passes exactly two).
    return function trackedHandler(req: IncomingMessage, res: ServerResponse): R {
      const response = res as TrackedResponse;
      if (response[tracked] === undefined) {
        lifecycle.#inFlight++;
        response[tracked] = true;
        res.on('close', onResponseClose);
      }
      // Once shutdown started, tell clients not to reuse the connection for a next request (HTTP/1.x;
      // HTTP/2 has no Connection header, its server sends GOAWAY).
      if (lifecycle.#phase !== 'serving' && !res.headersSent && req.httpVersionMajor < 2) res.setHeader('connection', 'close');
      // eslint-disable-next-line prefer-rest-params
      return arguments.length === 2 ? (handler as unknown as (req: IncomingMessage, res: ServerResponse) => R)(req, res) : handler.apply(undefined, arguments as unknown as A);
    } as unknown as (...args: A) => R;
  }

  /** Marks a response this lifecycle counts: a request any of its wrappers sees counts once. */
  readonly #trackedKey = Symbol('edgekit.lifecycle.tracked');
  /** One listener for every response (`on`: a response closes once, and `once` would wrap it per request). */
  readonly #onResponseClose = ((lifecycle: LifecycleImpl, tracked: symbol) =>
    function onResponseClose(this: TrackedResponse): void {
      if (this[tracked] !== true) return;
      this[tracked] = false;
      lifecycle.#inFlight--;
      if (lifecycle.#inFlight === 0) lifecycle.#onDrained?.();
    })(this, this.#trackedKey);

  liveness(): LivenessReport {
    return { alive: true, phase: this.#phase, inFlight: this.#inFlight, uptimeMs: this.#clock.now() - this.#startedAt };
  }

  readiness(): Promise<ReadinessReport> {
    // Concurrent probes share one evaluation, so a burst of /ready requests runs each dependency once.
    this.#pendingReadiness ??= this.#readiness.evaluate(this).finally(() => {
      this.#pendingReadiness = undefined;
    });
    return this.#pendingReadiness;
  }

  health(req: IncomingMessage, res: ServerResponse): void {
    sendJson(req, res, 200, this.liveness());
  }

  ready(req: IncomingMessage, res: ServerResponse): void {
    this.readiness().then(
      (report) => sendJson(req, res, report.ready ? 200 : 503, report),
      (error: unknown) => sendJson(req, res, 503, { ready: false, phase: this.#phase, reasons: [messageOf(error)] }),
    );
  }

  handle(req: IncomingMessage, res: ServerResponse): boolean {
    const url = req.url ?? '';
    const query = url.indexOf('?');
    const path = query === -1 ? url : url.slice(0, query);
    if (path === this.#readyPath) {
      this.ready(req, res);
      return true;
    }
    if (path === this.#healthPath) {
      this.health(req, res);
      return true;
    }
    return false;
  }

  shutdown(options: { delay?: number; drainTimeout?: number } = {}): Promise<ShutdownResult> {
    if (this.#shutdown === undefined) {
      const opts = checkOptionsObject<{ delay?: number; drainTimeout?: number }>(`${SCOPE} shutdown`, options);
      const wait = optionalNumber(`${SCOPE} shutdown`, 'delay', opts.delay, this.#shutdownDelay, { min: 0 });
      const drainTimeout = optionalNumber(`${SCOPE} shutdown`, 'drainTimeout', opts.drainTimeout, this.#drainTimeout, { min: 0, allowInfinity: true });
      this.#shutdown = this.#runShutdown(wait, drainTimeout);
    }
    return this.#shutdown;
  }

  async close(): Promise<void> {
    await (this.#shutdown ?? this.shutdown({ delay: 0 }));
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  async #runShutdown(wait: number, drainTimeout: number): Promise<ShutdownResult> {
    const clock = this.#clock;
    const startedAt = clock.now();
    this.#setPhase('draining');
    if (wait > 0) await delay(clock, wait);
    this.#setPhase('closing');
    const closed: Array<Promise<void>> = [];
    for (const server of this.#servers) {
      // Stops accepting connections; Node also drops idle keep-alive connections here.
      closed.push(new Promise<void>((resolve) => void server.close(() => resolve())));
      server.closeIdleConnections?.();
    }
    const drained = await this.#waitForDrain(drainTimeout);
    const abandoned = this.#inFlight;
    for (const server of this.#servers) server.closeAllConnections?.();
    await Promise.all(closed);
    this.#setPhase('closed');
    return { drained, abandoned, durationMs: clock.now() - startedAt };
  }

  #waitForDrain(timeout: number): Promise<boolean> {
    if (this.#inFlight === 0) return Promise.resolve(true);
    return new Promise<boolean>((resolve) => {
      const clock = this.#clock;
      const timer = Number.isFinite(timeout)
        ? clock.setTimeout(() => {
            this.#onDrained = undefined;
            resolve(false);
          }, timeout)
        : undefined;
      this.#onDrained = () => {
        this.#onDrained = undefined;
        clock.clearTimeout(timer);
        resolve(true);
      };
    });
  }

  #setPhase(phase: LifecyclePhase): void {
    const previous = this.#phase;
    this.#phase = phase;
    this.#events.emit('phase', { phase, previous, at: this.#clock.now() });
  }

}

function sendJson(req: IncomingMessage, res: ServerResponse, status: number, body: unknown): void {
  if (res.headersSent || res.destroyed) return;
  const text = JSON.stringify(body);
  res.statusCode = status;
  res.setHeader('content-type', 'application/json; charset=utf-8');
  res.setHeader('cache-control', 'no-store');
  res.setHeader('content-length', Buffer.byteLength(text));
  res.end(req.method === 'HEAD' ? undefined : text);
}
