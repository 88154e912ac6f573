import type { IncomingMessage, ServerResponse } from 'node:http';
import { type Disposable, toDisposable } from '@edgekit/core';
import { type BreakerRegistryLike, type CacheLike, type EdgeTelemetry, type HealthCheckerLike, type ObservableForwarder, type ObserveForwarderOptions, createEdgeTelemetry } from '@edgekit/telemetry';
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';

type Handler = (req: IncomingMessage, res: ServerResponse) => void;
type Source =
  | { kind: 'forwarder'; value: ObservableForwarder; options: ObserveForwarderOptions }
  | { kind: 'breakers'; value: BreakerRegistryLike }
  | { kind: 'health'; value: HealthCheckerLike }
  | { kind: 'cache'; value: CacheLike };

/**
 * Metrics and tracing of one gateway, on its own prom-client registry (never the global one).
 * `@edgekit/telemetry` labels regions from a fixed list; when a reload renames regions the edge
 * metrics are created again with the new list and every live component is observed again
 * (Prometheus reads the restart of those counters as a counter reset).
 */
export interface GatewayTelemetry {
  readonly registry: Registry;
  /** With `options.service`, spans and endpoint metrics name the service; with `options.endpoints`, attempts are counted per endpoint. */
  observeForwarder(forwarder: ObservableForwarder, options?: ObserveForwarderOptions): Disposable;
  observeBreakers(registry: BreakerRegistryLike): Disposable;
  observeHealth(checker: HealthCheckerLike): Disposable;
  observeCache(cache: CacheLike): Disposable;
  /** Follows the configured region and service names (labels outside the lists are `other`) and `telemetry.endpointLabels`. */
  setRegions(names: readonly string[], labels?: RoutingLabels): Promise<void>;
  /** Counts a configuration reload attempt. */
  recordReload(result: 'success' | 'rejected'): void;
  /** Wraps the proxied traffic's handler: request duration histogram and a server span per request. */
  wrap(handler: Handler): Handler;
  /** Answers `GET /metrics` in the Prometheus text format. */
  metrics(req: IncomingMessage, res: ServerResponse): void;
  close(): Promise<void>;
}

/** Names the endpoint metrics may use as labels. */
export interface RoutingLabels {
  services: readonly string[];
  /** Label endpoint attempts with the endpoint id (`telemetry.endpointLabels`). */
  endpointLabels: boolean;
}

/** Options of {@link createGatewayTelemetry}. */
export interface GatewayTelemetryOptions {
  location: string;
  nodeId: string;
  regions: readonly string[];
  routing?: RoutingLabels;
  defaultMetrics: boolean;
  tracing: boolean;
}

export function createGatewayTelemetry(options: GatewayTelemetryOptions): GatewayTelemetry {
  const registry = new Registry();
  if (options.defaultMetrics) collectDefaultMetrics({ register: registry });
  const reloads = new Counter({ name: 'edge_gateway_config_reloads_total', help: 'Configuration reload attempts, by result.', labelNames: ['result'], registers: [registry] });
  reloads.inc({ result: 'success' }, 0);
  reloads.inc({ result: 'rejected' }, 0);
  const info = new Gauge({ name: 'edge_gateway_info', help: 'Always 1: this gateway node, with its location and node id.', labelNames: ['location', 'node_id'], registers: [registry] });
  info.set({ location: options.location, node_id: options.nodeId }, 1);

  const create = (regions: readonly string[], routing: RoutingLabels | undefined): EdgeTelemetry =>
    createEdgeTelemetry({ registry, location: options.location, nodeId: options.nodeId, regions: [...regions], tracing: options.tracing, services: routing?.services ?? [], endpointLabels: routing?.endpointLabels ?? false });
  let edge = create(options.regions, options.routing);
  let regionKey = JSON.stringify([options.regions, options.routing]);
  const observed = new Map<object, { source: Source; handle: Disposable }>();
  const attach = (source: Source): Disposable => {
    switch (source.kind) {
      case 'forwarder':
        return edge.observeForwarder(source.value, source.options);
      case 'breakers':
        return edge.observeBreakers(source.value);
      case 'health':
        return edge.observeHealth(source.value);
      case 'cache':
        return edge.observeCache(source.value);
    }
  };
  const observe = (source: Source): Disposable => {
    const entry = { source, handle: attach(source) };
    observed.set(source.value, entry);
    return toDisposable(() => {
      entry.handle.dispose();
      observed.delete(source.value);
    });
  };

  const inner = new Set<{ handler: Handler; wrapped: Handler }>();
  return {
    registry,
    observeForwarder: (value, options = {}) => observe({ kind: 'forwarder', value, options }),
    observeBreakers: (value) => observe({ kind: 'breakers', value }),
    observeHealth: (value) => observe({ kind: 'health', value }),
    observeCache: (value) => observe({ kind: 'cache', value }),
    async setRegions(names, routing) {
      const key = JSON.stringify([names, routing]);
      if (key === regionKey) return;
      regionKey = key;
      // The metric names must leave the registry before they can be created with the new labels.
      await edge.close();
      edge = create(names, routing);
      for (const entry of observed.values()) entry.handle = attach(entry.source);
      for (const entry of inner) entry.wrapped = edge.wrapHandler(entry.handler);
    },
    recordReload: (result) => reloads.inc({ result }),
    wrap(handler) {
      const entry = { handler, wrapped: edge.wrapHandler(handler) };
      inner.add(entry);
      return (req, res) => entry.wrapped(req, res);
    },
    metrics(_req, res) {
      registry.metrics().then(
        (text) => {
          res.writeHead(200, { 'content-type': registry.contentType, 'cache-control': 'no-store' });
          res.end(text);
        },
        () => {
          res.writeHead(500, { 'content-type': 'text/plain' });
          res.end('metrics unavailable\n');
        },
      );
    },
    async close() {
      for (const entry of observed.values()) entry.handle.dispose();
      observed.clear();
      await edge.close();
      registry.clear();
    },
  };
}
