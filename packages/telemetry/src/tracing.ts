import type { IncomingMessage, ServerResponse } from 'node:http';
import { toDisposable, type Disposable } from '@edgekit/core';
import {
  type Attributes,
  type Context,
  ProxyTracerProvider,
  ROOT_CONTEXT,
  type Span,
  SpanKind,
  SpanStatusCode,
  type TextMapPropagator,
  type Tracer,
  type TracerProvider,
  context as contextApi,
  trace,
} from '@opentelemetry/api';
import {
  ATTR_ERROR_TYPE,
  ATTR_HTTP_REQUEST_METHOD,
  ATTR_HTTP_REQUEST_RESEND_COUNT,
  ATTR_HTTP_RESPONSE_STATUS_CODE,
  ATTR_SERVER_ADDRESS,
  ATTR_SERVER_PORT,
  ATTR_URL_FULL,
  ATTR_URL_PATH,
  ATTR_URL_SCHEME,
  type OriginParts,
  parseOrigin,
  pathOf,
  rawHeadersGetter,
  serverAttributes,
  setMethod,
} from './http-attributes.js';
import { SCOPE, checkArgument, checkLabelValue, checkOptionsObject } from './options.js';
import { w3cTraceContext } from './propagation.js';
import { type AttemptTracer, PropagationObserver, TraceObserver } from './observers.js';
import type { AttemptStartLike, DisposableLike, ObservableForwarder } from './sources.js';
import { AttemptSpan, EDGE_ATTRIBUTES, ServerSpan, recordSetter } from './spans.js';

/** Options of `observeForwarder`. */
export interface ObserveForwarderOptions {
  /** The service this forwarder serves, for the `edge_service` attribute and the endpoint metrics' `service` label. */
  service?: string;
  /** The forwarder has regions with endpoints: count its attempts per endpoint (`createEdgeTelemetry`). */
  endpoints?: boolean;
}

/** Options of {@link createEdgeTracing}. */
export interface EdgeTracingOptions {
  /** This gateway's location, the `edge_location` attribute. Required. */
  location: string;
  /** This gateway node's id, the `edge_node_id` attribute (a bus `nodeId`, a pod name). Required. */
  nodeId: string;
  /** Where tracers come from. Default: the global `@opentelemetry/api` provider (`trace.getTracerProvider()`). */
  tracerProvider?: TracerProvider;
  /** Extracts the incoming trace context and injects it upstream. Default: {@link w3cTraceContext} (`traceparent`, `tracestate`). */
  propagator?: TextMapPropagator;
  /** Instrumentation scope name of the tracer. Default: `'@edgekit/telemetry'`. */
  tracerName?: string;
}

/** Defaults of {@link EdgeTracingOptions}. */
export const TRACING_DEFAULTS = Object.freeze({ tracerName: '@edgekit/telemetry' });

/** Tracing of an edge gateway. Create it with {@link createEdgeTracing}. */
export interface EdgeTracing {
  readonly tracer: Tracer;
  /**
   * Wraps a request handler so each request gets a server span (parented to the incoming
   * `traceparent`), active while the handler runs and ended when the response closes.
   */
  wrapHandler<Req extends IncomingMessage, Res extends ServerResponse, A extends unknown[], R>(
    handler: (req: Req, res: Res, ...rest: A) => R,
  ): (req: Req, res: Res, ...rest: A) => R;
  /** Starts (or returns) the server span of `req`, ended when `res` closes; for frameworks a wrapper does not fit. */
  startServerSpan(req: IncomingMessage, res: ServerResponse): Span;
  /** The server span of a request, while it is open. */
  spanOf(req: IncomingMessage): Span | undefined;
  /**
   * Traces a forwarder (`@edgekit/proxy`): a client span per upstream attempt with the trace context
   * injected into its headers, and the routing decision on the server span. Requests that no
   * wrapped handler saw get a server span of their own. With `service`, spans carry `edge_service`.
   */
  observeForwarder(forwarder: ObservableForwarder, options?: ObserveForwarderOptions): Disposable;
  /** Ends every subscription; spans still open end with their requests. */
  close(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

type TrackedResponse = ServerResponse & { [key: symbol]: ServerSpan | undefined };

class EdgeTracingImpl implements EdgeTracing, AttemptTracer {
  readonly tracer: Tracer;
  readonly #propagator: TextMapPropagator;
  readonly #location: string;
  readonly #nodeId: string;
  readonly #spans = new WeakMap<IncomingMessage, ServerSpan>();
  readonly #origins = new Map<string, OriginParts>();
  readonly #fields: string[];
  readonly #spanKey = Symbol('edgekit.telemetry.serverSpan');
  readonly #onResponseClose: (this: TrackedResponse) => void;
  readonly #subscriptions = new Set<Disposable>();
  /** The API's global provider when none was given, and the provider it delegates to while no SDK is registered. */
  readonly #global: ProxyTracerProvider | undefined;
  readonly #noop: TracerProvider | undefined;
  #closed = false;

  constructor(options: EdgeTracingOptions) {
    const opts = checkOptionsObject<EdgeTracingOptions>(SCOPE, options);
    const location = checkLabelValue('location', opts.location);
    const nodeId = checkLabelValue('nodeId', opts.nodeId);
    const provider = opts.tracerProvider === undefined ? trace.getTracerProvider() : checkArgument<TracerProvider>('option "tracerProvider"', opts.tracerProvider, ['getTracer']);
    this.#propagator = opts.propagator === undefined ? w3cTraceContext : checkArgument<TextMapPropagator>('option "propagator"', opts.propagator, ['inject', 'extract', 'fields']);
    const tracerName = opts.tracerName === undefined ? TRACING_DEFAULTS.tracerName : checkLabelValue('tracerName', opts.tracerName);
    this.tracer = provider.getTracer(tracerName);
    if (opts.tracerProvider === undefined && provider instanceof ProxyTracerProvider) {
      this.#global = provider;
      // A provider with no delegate answers with the API's no-op provider.
      this.#noop = new ProxyTracerProvider().getDelegate();
    }
    this.#fields = this.#propagator.fields().map((field) => field.toLowerCase());
    this.#location = location;
    this.#nodeId = nodeId;
    const key = this.#spanKey;
    this.#onResponseClose = function onResponseClose(this: TrackedResponse): void {
      const server = this[key];
      if (server === undefined) return;
      this[key] = undefined;
      const span = server.span;
      if (this.headersSent) {
        const status = this.statusCode;
        span.setAttribute(ATTR_HTTP_RESPONSE_STATUS_CODE, status);
        if (status >= 500) {
          span.setAttribute(ATTR_ERROR_TYPE, String(status));
          span.setStatus({ code: SpanStatusCode.ERROR });
        }
      }
      if (!this.writableFinished) span.setAttribute(ATTR_ERROR_TYPE, 'aborted');
      server.end();
    };
  }

  /**
   * True while the tracer is the API's no-op (no SDK registered globally and no provider given):
   * every span would be a non-recording one, so none is started, no attributes are built and no
   * context is entered. An SDK registered later is picked up by the next request.
   */
  #off(): boolean {
    return this.#global !== undefined && this.#global.getDelegate() === this.#noop;
  }

  /**
   * The propagation fields of an upstream request with no span of ours: the incoming context, the
   * client's other fields dropped. `undefined` when nothing changes: the W3C propagator reads and
   * writes only `traceparent` and `tracestate`, so a request without either goes upstream as it came.
   */
  passThroughHeaders(req: IncomingMessage): Record<string, string | undefined> | undefined {
    if (this.#propagator === w3cTraceContext && req.headers.traceparent === undefined && req.headers.tracestate === undefined) return undefined;
    return this.#propagated(this.#propagator.extract(ROOT_CONTEXT, req.rawHeaders, rawHeadersGetter));
  }

  /** Every propagation field, replaced by what `context` injects (fields it does not set removed). */
  #propagated(context: Context): Record<string, string | undefined> {
    const headers: Record<string, string | undefined> = {};
    for (const field of this.#fields) headers[field] = undefined;
    this.#propagator.inject(context, headers, recordSetter);
    return headers;
  }

  #start(req: IncomingMessage): ServerSpan {
    const { name, attributes } = serverAttributes(req, this.#location, this.#nodeId);
    const parent = this.#propagator.extract(ROOT_CONTEXT, req.rawHeaders, rawHeadersGetter);
    const span = this.tracer.startSpan(name, { kind: SpanKind.SERVER, attributes }, parent);
    const server = new ServerSpan(span, trace.setSpan(parent, span));
    this.#spans.set(req, server);
    return server;
  }

  startServerSpan(req: IncomingMessage, res: ServerResponse): Span {
    return this.#startTracked(req, res).span;
  }

  #startTracked(req: IncomingMessage, res: ServerResponse): ServerSpan {
    const existing = this.#spans.get(req);
    if (existing !== undefined && !existing.ended) return existing;
    const server = this.#start(req);
    const tracked = res as TrackedResponse;
    tracked[this.#spanKey] = server;
    // `on`, not `once`: a response closes once, and `once` would wrap the listener per request.
    res.on('close', this.#onResponseClose);
    return server;
  }

  spanOf(req: IncomingMessage): Span | undefined {
    const server = this.#spans.get(req);
    return server === undefined || server.ended ? undefined : server.span;
  }

  wrapHandler<Req extends IncomingMessage, Res extends ServerResponse, A extends unknown[], R>(
    handler: (req: Req, res: Res, ...rest: A) => R,
  ): (req: Req, res: Res, ...rest: A) => R {
    if (typeof handler !== 'function') throw new TypeError(`${SCOPE}: wrapHandler(handler) needs a function (got ${typeof handler})`);
    return (req: Req, res: Res, ...rest: A): R => {
      if (this.#closed || this.#off()) return rest.length === 0 ? (handler as unknown as (req: Req, res: Res) => R)(req, res) : handler(req, res, ...rest);
      const server = this.#startTracked(req, res);
      // Node's 'request' listener has no more arguments: no spread of an empty array then.
      if (rest.length === 0) return contextApi.with(server.context, handler as unknown as (req: Req, res: Res) => R, undefined, req, res);
      return contextApi.with(server.context, handler, undefined, req, res, ...rest);
    };
  }

  /** The observer of one forwarded request. */
  observe(req: IncomingMessage, service?: string): TraceObserver | PropagationObserver {
    const existing = this.#spans.get(req);
    if (existing !== undefined && !existing.ended) return new TraceObserver(this, existing, false, service);
    if (this.#off()) return new PropagationObserver(this, req);
    return new TraceObserver(this, this.#start(req), true, service);
  }

  startAttempt(server: ServerSpan, start: AttemptStartLike): AttemptSpan {
    const origin = this.#originParts(start.origin);
    const path = pathOf(start.path);
    // One literal, keys in a fixed order: every client span's attributes share one shape.
    const attributes: Attributes = {
      [EDGE_ATTRIBUTES.location]: this.#location,
      [EDGE_ATTRIBUTES.nodeId]: this.#nodeId,
      [ATTR_HTTP_REQUEST_METHOD]: '',
      [ATTR_SERVER_ADDRESS]: origin.address,
      [ATTR_SERVER_PORT]: origin.port,
      [ATTR_URL_SCHEME]: origin.scheme,
      [ATTR_URL_PATH]: path,
      [ATTR_URL_FULL]: start.origin + path,
      edge_region: start.region,
    };
    const name = setMethod(attributes, start.method);
    if (start.attempt > 1) attributes[ATTR_HTTP_REQUEST_RESEND_COUNT] = start.attempt - 1;
    if (start.hedge) attributes[EDGE_ATTRIBUTES.hedge] = true;
    const span = this.tracer.startSpan(name, { kind: SpanKind.CLIENT, attributes }, server.context);
    // Every propagation field is replaced: a client's own tracestate must not ride along with our traceparent.
    return new AttemptSpan(span, this.#propagated(trace.setSpan(server.context, span)), server.span);
  }

  #originParts(origin: string): OriginParts {
    let parts = this.#origins.get(origin);
    if (parts === undefined) {
      parts = parseOrigin(origin);
      // Origins come from the region list; the bound only guards against a selector inventing URLs.
      if (this.#origins.size >= 256) this.#origins.clear();
      this.#origins.set(origin, parts);
    }
    return parts;
  }

  observeForwarder(forwarder: ObservableForwarder, options: ObserveForwarderOptions = {}): Disposable {
    if (this.#closed) throw new Error(`${SCOPE}: the tracing is closed`);
    checkArgument<ObservableForwarder>('observeForwarder(forwarder)', forwarder, ['observe']);
    const service = options.service;
    const handle: DisposableLike = forwarder.observe((req) => this.observe(req, service));
    const disposable = toDisposable(() => {
      this.#subscriptions.delete(disposable);
      handle.dispose();
    });
    this.#subscriptions.add(disposable);
    return disposable;
  }

  close(): Promise<void> {
    if (!this.#closed) {
      this.#closed = true;
      for (const subscription of [...this.#subscriptions]) subscription.dispose();
    }
    return Promise.resolve();
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

/**
 * Creates the tracing of an edge gateway on `@opentelemetry/api`: a server span per request, a
 * client span per upstream attempt, and W3C `traceparent`/`tracestate` sent upstream.
 *
 * @example
 * const tracing = createEdgeTracing({ location: 'eu-west', nodeId: os.hostname(), tracerProvider });
 * tracing.observeForwarder(forwarder);
 * http.createServer(tracing.wrapHandler(forwarder.handler)).listen(8080);
 */
export function createEdgeTracing(options: EdgeTracingOptions): EdgeTracing {
  return new EdgeTracingImpl(options);
}
