import type { IncomingMessage, ServerResponse } from 'node:http';
import { type Disposable, toDisposable } from '@edgekit/core';
import type { TextMapPropagator, TracerProvider } from '@opentelemetry/api';
import type { EdgeMetrics, EdgeMetricsOptions } from './edge-metrics.js';
import { createEdgeMetrics } from './metrics.js';
import { SCOPE, checkOptionsObject } from './options.js';
import type { BreakerRegistryLike, CacheLike, HealthCheckerLike, ObservableForwarder } from './sources.js';
import { createEndpointMetrics } from './endpoint-metrics.js';
import { type EdgeTracing, type ObserveForwarderOptions, createEdgeTracing } from './tracing.js';

/** Options of {@link createEdgeTelemetry}: those of the metrics, plus the tracing's. */
export interface EdgeTelemetryOptions extends EdgeMetricsOptions {
  /** This gateway node's id, the `edge_node_id` span attribute. Required. */
  nodeId: string;
  /** Where tracers come from. Default: the global `@opentelemetry/api` provider. */
  tracerProvider?: TracerProvider;
  /** Trace context propagation. Default: W3C `traceparent`/`tracestate`. */
  propagator?: TextMapPropagator;
  /** Whether to trace at all. Default: `true`. */
  tracing?: boolean;
  /** Service names allowed as the endpoint metrics' `service` label. Default: none (`other`). */
  services?: readonly string[];
  /** Label endpoint attempts with the endpoint id (cardinality follows the fleet). Default `false`. */
  endpointLabels?: boolean;
}

/** Metrics and tracing of an edge gateway, wired together. Create it with {@link createEdgeTelemetry}. */
export interface EdgeTelemetry {
  readonly metrics: EdgeMetrics;
  /** `undefined` when `tracing: false`. */
  readonly tracing: EdgeTracing | undefined;
  /** Wraps the gateway's request handler: a server span and the request duration histogram. */
  wrapHandler<Req extends IncomingMessage, Res extends ServerResponse, A extends unknown[], R>(
    handler: (req: Req, res: Res, ...rest: A) => R,
  ): (req: Req, res: Res, ...rest: A) => R;
  /** Routing metrics, endpoint metrics and client spans from a forwarder (of `options.service`). */
  observeForwarder(forwarder: ObservableForwarder, options?: ObserveForwarderOptions): Disposable;
  observeBreakers(registry: BreakerRegistryLike): Disposable;
  observeHealth(checker: HealthCheckerLike): Disposable;
  observeCache(cache: CacheLike): Disposable;
  /** Replaces the configured region list without resetting counters (see {@link EdgeMetrics.setRegions}). */
  setRegions(regions: ReadonlyArray<string | { name: string }>): void;
  /** Closes the metrics (removing them from the registry) and the tracing. */
  close(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

/**
 * Creates {@link createEdgeMetrics} and {@link createEdgeTracing} from one options object.
 *
 * @example
 * const telemetry = createEdgeTelemetry({ registry, location: 'eu-west', nodeId: 'edge-1', regions });
 * telemetry.observeForwarder(forwarder);
 * http.createServer(telemetry.wrapHandler(forwarder.handler)).listen(8080);
 */
export function createEdgeTelemetry(options: EdgeTelemetryOptions): EdgeTelemetry {
  const opts = checkOptionsObject<EdgeTelemetryOptions>(SCOPE, options);
  if (opts.tracing !== undefined && typeof opts.tracing !== 'boolean') {
    throw new TypeError(`${SCOPE}: option "tracing" must be a boolean (got ${typeof opts.tracing})`);
  }
  const tracing =
    opts.tracing === false
      ? undefined
      : createEdgeTracing({ location: opts.location!, nodeId: opts.nodeId!, tracerProvider: opts.tracerProvider, propagator: opts.propagator });
  const metrics = createEdgeMetrics(options);
  const endpointMetrics = createEndpointMetrics({
    registry: opts.registry!,
    regions: (opts.regions ?? []).map((region) => (typeof region === 'string' ? region : region.name)),
    services: opts.services ?? [],
    endpointLabels: opts.endpointLabels === true,
  });
  return {
    metrics,
    tracing,
    wrapHandler(handler) {
      const measured = metrics.wrapHandler(handler);
      return tracing === undefined ? measured : tracing.wrapHandler(measured);
    },
    observeForwarder(forwarder, observeOptions = {}) {
      const handles = [metrics.observeForwarder(forwarder)];
      // Observing attempts costs a little per request: only forwarders that route to endpoints pay it.
      if (observeOptions.endpoints === true) handles.push(endpointMetrics.observeForwarder(forwarder, observeOptions.service));
      if (tracing !== undefined) handles.push(tracing.observeForwarder(forwarder, observeOptions));
      return toDisposable(() => {
        for (const handle of handles) handle.dispose();
      });
    },
    observeBreakers: (registry) => metrics.observeBreakers(registry),
    observeHealth: (checker) => metrics.observeHealth(checker),
    observeCache: (cache) => metrics.observeCache(cache),
    setRegions: (regions) => metrics.setRegions(regions),
    async close() {
      endpointMetrics.close();
      await Promise.all([metrics.close(), tracing?.close()]);
    },
    [Symbol.asyncDispose]() {
      return this.close();
    },
  };
}
