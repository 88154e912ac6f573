import type { IncomingMessage, ServerResponse } from 'node:http';
import { type Disposable, toDisposable } from '@edgekit/core';
import { CountedHistogram, type HistogramSeries, PendingCounts } from './counted.js';
import { Counter, Gauge, type Registry } from 'prom-client';
import { BoundedLabel, OTHER, UNKNOWN, type StatusLabel, continentOf, statusClass } from './labels.js';
import { SCOPE, checkArgument, checkBuckets, checkLabelValue, checkNames, checkObject, checkOptionsObject, checkPrefix } from './options.js';
import {
  BREAKER_STATE_LABELS,
  type EdgeMetrics,
  type EdgeMetricsOptions,
  METRICS_DEFAULTS,
  METRIC_NAMES,
  type RoutingRecord,
  type TelemetryClock,
} from './edge-metrics.js';
import type {
  BreakerRegistryLike,
  BreakerStateName,
  CacheLike,
  CacheLookupStatus,
  DecisionLike,
  DisposableLike,
  GeoLocationLike,
  HealthCheckerLike,
  ObservableForwarder,
  RequestEndLike,
  RequestObserverLike,
} from './sources.js';

const BREAKER_STATE_LABEL: Record<BreakerStateName, (typeof BREAKER_STATE_LABELS)[number]> = { closed: 'closed', open: 'open', halfOpen: 'half_open' };

const performanceClock: TelemetryClock = { now: () => performance.now() };

type ResponseWithStart = ServerResponse & { [key: symbol]: number | undefined };

/** One request seen through `forwarder.observe`: its client region from the decision, its outcome at the end. */
class RoutingObserver implements RequestObserverLike {
  clientRegion: string | undefined = undefined;
  primary: string | undefined = undefined;

  constructor(readonly metrics: EdgeMetricsImpl) {}

  decision(event: DecisionLike): void {
    this.clientRegion = this.metrics.clientRegionOf(event.location);
    this.primary = event.candidates[0];
  }

  end(end: RequestEndLike): void {
    const metrics = this.metrics;
    const client = this.clientRegion;
    switch (end.type) {
      case 'response':
        metrics.recordRouting({ targetRegion: end.event.region, clientRegion: client, status: end.event.status });
        if (end.event.ttfbMs >= 0) metrics.recordBackend(end.event.region, end.event.ttfbMs);
        break;
      case 'error': {
        const tried = end.event.regionsTried;
        metrics.recordRouting({ targetRegion: tried.length > 0 ? tried[tried.length - 1] : this.primary, clientRegion: client, status: end.event.status });
        break;
      }
      case 'abort':
        metrics.recordRouting({ targetRegion: end.event.region ?? this.primary, clientRegion: client, status: 'aborted' });
        break;
    }
  }
}

class EdgeMetricsImpl implements EdgeMetrics {
  readonly location: string;
  readonly names: Readonly<Record<keyof typeof METRIC_NAMES, string>>;
  readonly #registry: Registry;
  #regions: BoundedLabel;
  /** Breaker registries being observed, to show regions added by `setRegions` at once. */
  readonly #breakerRegistries = new Set<BreakerRegistryLike>();
  readonly #clientRegions: BoundedLabel;
  readonly #clientRegion: (location: GeoLocationLike | null) => string;
  readonly #clock: TelemetryClock;
  readonly #routing: Counter<'target_region' | 'client_region' | 'status'>;
  readonly #failovers: Counter<'from_region' | 'to_region'>;
  readonly #gatewayDuration: HistogramSeries;
  readonly #backendDuration: CountedHistogram;
  /** The backend histogram's series per `backend_region` label value (a bounded set). */
  readonly #backendSeries = new Map<string, HistogramSeries>();
  readonly #routingPending = new PendingCounts<'target_region' | 'client_region' | 'status'>(['target_region', 'client_region', 'status']);
  readonly #cacheRequests: Counter<'location'>;
  readonly #cacheHits: Counter<'location'>;
  readonly #breakerState: Gauge<'region' | 'state'>;
  readonly #regionHealthy: Gauge<'region'>;
  readonly #locationLabels: { location: string };
  readonly #subscriptions = new Set<Disposable>();
  readonly #startKey = Symbol('edgekit.telemetry.requestStart');
  readonly #onResponseClose: (this: ResponseWithStart) => void;
  #closed = false;
  /** Cache lookups and hits not yet added to their counters. */
  #lookups = 0;
  #lookupHits = 0;

  constructor(options: EdgeMetricsOptions) {
    const opts = checkOptionsObject<EdgeMetricsOptions>(SCOPE, options);
    const registry = checkObject<Registry>('registry', opts.registry, ['registerMetric', 'getSingleMetric', 'removeSingleMetric', 'metrics']);
    this.#registry = registry;
    this.location = checkLabelValue('location', opts.location);
    this.#regions = new BoundedLabel(checkNames('regions', opts.regions));
    this.#clientRegions = new BoundedLabel(opts.clientRegions === undefined ? METRICS_DEFAULTS.clientRegions : checkNames('clientRegions', opts.clientRegions, { allowEmpty: true }));
    if (opts.clientRegion !== undefined && typeof opts.clientRegion !== 'function') {
      throw new TypeError(`${SCOPE}: option "clientRegion" must be a function of a location (got ${typeof opts.clientRegion})`);
    }
    this.#clientRegion = opts.clientRegion ?? continentOf;
    if (opts.clock !== undefined && (opts.clock === null || typeof opts.clock.now !== 'function')) {
      throw new TypeError(`${SCOPE}: option "clock" must be an object with now()`);
    }
    this.#clock = opts.clock ?? performanceClock;
    const prefix = checkPrefix(opts.prefix);
    const requestBuckets = checkBuckets('requestBuckets', opts.requestBuckets, METRICS_DEFAULTS.requestBuckets);
    const backendBuckets = checkBuckets('backendBuckets', opts.backendBuckets, METRICS_DEFAULTS.backendBuckets);
    const names = Object.fromEntries(Object.entries(METRIC_NAMES).map(([key, name]) => [key, prefix + name])) as Record<keyof typeof METRIC_NAMES, string>;
    this.names = Object.freeze(names);
    for (const name of Object.values(names)) {
      if (registry.getSingleMetric(name) !== undefined) {
        throw new Error(`${SCOPE}: the registry already has a metric named "${name}" (close the previous metrics first, or give another "prefix")`);
      }
    }
    const registers = [registry];
    this.#routing = new Counter({
      name: names.routingRequests,
      help: 'Requests routed by the edge gateway, by target region, client region and status class',
      labelNames: ['target_region', 'client_region', 'status'] as const,
      registers,
      collect: () => this.#routingPending.flush(this.#routing),
    });
    this.#failovers = new Counter({ name: names.routingFailovers, help: 'Failovers from one region to the next', labelNames: ['from_region', 'to_region'] as const, registers });
    // Histograms and per-request counters are plain additions, read by the registry (see counted.ts).
    this.#gatewayDuration = new CountedHistogram({
      name: names.gatewayRequestDuration,
      help: 'Duration of gateway requests until the response closed, in seconds',
      buckets: requestBuckets,
      registers,
    }).series({ location: this.location });
    this.#backendDuration = new CountedHistogram({
      name: names.backendDuration,
      help: 'Time from an upstream attempt to its response headers, in seconds',
      buckets: backendBuckets,
      registers,
    });
    // Lookups are counted in plain numbers and added to the counters when they are read (one scrape, not one label hash per request).
    this.#cacheRequests = new Counter({ name: names.cacheRequests, help: 'Requests looked up in the response cache', labelNames: ['location'] as const, registers, collect: () => this.#flushLookups() });
    this.#cacheHits = new Counter({ name: names.cacheHits, help: 'Cache lookups answered from the cache (fresh or stale)', labelNames: ['location'] as const, registers, collect: () => this.#flushLookups() });
    this.#breakerState = new Gauge({ name: names.breakerState, help: 'Circuit breaker state per region: 1 for the current state, 0 for the others', labelNames: ['region', 'state'] as const, registers });
    this.#regionHealthy = new Gauge({ name: names.regionHealthy, help: 'Whether active health checks consider a region healthy (1) or not (0)', labelNames: ['region'] as const, registers });
    this.#locationLabels = { location: this.location };
    // Series that exist from the start, so rates and ratios are defined before the first event.
    this.#cacheRequests.inc(this.#locationLabels, 0);
    this.#cacheHits.inc(this.#locationLabels, 0);
    const metrics = this;
    const key = this.#startKey;
    this.#onResponseClose = function onResponseClose(this: ResponseWithStart): void {
      const start = this[key];
      if (start === undefined) return;
      this[key] = undefined;
      metrics.recordGatewayRequest(metrics.#clock.now() - start);
    };
  }

  setRegions(regions: ReadonlyArray<string | { name: string }>): void {
    const next = new BoundedLabel(checkNames('regions', regions));
    const previous = this.#regions;
    for (const region of previous.values()) {
      if (next.has(region)) continue;
      this.#regionHealthy.remove({ region });
      for (const state of BREAKER_STATE_LABELS) this.#breakerState.remove({ region, state });
    }
    this.#regions = next;
    for (const registry of this.#breakerRegistries) this.#seedBreakerStates(registry, (region) => !previous.has(region));
  }

  /** Sets `edge_breaker_state` of the configured regions `which` selects from `registry`: a region it has no breaker for yet is closed. */
  #seedBreakerStates(registry: BreakerRegistryLike, which: (region: string) => boolean): void {
    const known = registry.snapshot();
    for (const region of this.#regions.values()) {
      if (which(region)) this.setBreakerState(region, Object.hasOwn(known, region) ? known[region]!.state : 'closed');
    }
  }

  clientRegionOf(location: GeoLocationLike | null | undefined): string {
    let name: string;
    try {
      name = this.#clientRegion(location ?? null);
    } catch {
      return UNKNOWN;
    }
    if (name === UNKNOWN) return UNKNOWN;
    return typeof name === 'string' && this.#clientRegions.has(name) ? name : OTHER;
  }

  recordRouting(record: RoutingRecord): void {
    const status: StatusLabel = record.status === 'aborted' ? 'aborted' : statusClass(record.status);
    const client = record.clientRegion === undefined ? UNKNOWN : record.clientRegion === UNKNOWN || this.#clientRegions.has(record.clientRegion) ? record.clientRegion : OTHER;
    const target = this.#regions.of(record.targetRegion);
    this.#routingPending.add(target, client, status);
  }

  recordFailover(from: string, to: string): void {
    this.#failovers.inc({ from_region: this.#regions.of(from), to_region: this.#regions.of(to) });
  }

  recordGatewayRequest(durationMs: number): void {
    if (!(durationMs >= 0)) return;
    this.#gatewayDuration.observe(durationMs / 1000);
  }

  recordBackend(region: string, durationMs: number): void {
    if (!(durationMs >= 0)) return;
    const label = this.#regions.of(region);
    let series = this.#backendSeries.get(label);
    if (series === undefined) {
      series = this.#backendDuration.series({ edge_location: this.location, backend_region: label });
      this.#backendSeries.set(label, series);
    }
    series.observe(durationMs / 1000);
  }

  recordCacheLookup(status: CacheLookupStatus): void {
    this.#lookups++;
    if (status === 'hit' || status === 'stale') this.#lookupHits++;
  }

  #flushLookups(): void {
    if (this.#lookups > 0) this.#cacheRequests.inc(this.#locationLabels, this.#lookups);
    if (this.#lookupHits > 0) this.#cacheHits.inc(this.#locationLabels, this.#lookupHits);
    this.#lookups = 0;
    this.#lookupHits = 0;
  }

  setBreakerState(region: string, state: BreakerStateName | string): void {
    if (!this.#regions.has(region)) return;
    const current = BREAKER_STATE_LABEL[state as BreakerStateName];
    for (const label of BREAKER_STATE_LABELS) this.#breakerState.set({ region, state: label }, label === current ? 1 : 0);
  }

  setRegionHealthy(region: string, healthy: boolean): void {
    if (!this.#regions.has(region)) return;
    this.#regionHealthy.set({ region }, healthy ? 1 : 0);
  }

  wrapHandler<Req extends IncomingMessage, Res extends ServerResponse, A extends unknown[], R>(
    handler: (req: Req, res: Res, ...rest: A) => R,
  ): (req: Req, res: Res, ...rest: A) => R {
    if (typeof handler !== 'function') throw new TypeError(`${SCOPE}: wrapHandler(handler) needs a function (got ${typeof handler})`);
    const key = this.#startKey;
    const onClose = this.#onResponseClose;
    const clock = this.#clock;
    const metrics = this;
    // A plain function over `arguments`: no rest array per request.
    return function measuredHandler(req: Req, res: Res): R {
      const tracked = res as unknown as ResponseWithStart;
      if (tracked[key] === undefined && !metrics.#closed) {
        tracked[key] = clock.now();
        // `on`, not `once`: a response closes once, and `once` would wrap the listener per request.
        res.on('close', onClose);
      }
      // eslint-disable-next-line prefer-rest-params
      return arguments.length === 2 ? (handler as unknown as (req: Req, res: Res) => R)(req, res) : handler.apply(undefined, arguments as unknown as [Req, Res, ...A]);
    } as unknown as (req: Req, res: Res, ...rest: A) => R;
  }

  #track(handle: DisposableLike): Disposable {
    this.#checkOpen();
    const disposable = toDisposable(() => {
      this.#subscriptions.delete(disposable);
      handle.dispose();
    });
    this.#subscriptions.add(disposable);
    return disposable;
  }

  #checkOpen(): void {
    if (this.#closed) throw new Error(`${SCOPE}: the metrics are closed`);
  }

  observeForwarder(forwarder: ObservableForwarder): Disposable {
    this.#checkOpen();
    checkArgument<ObservableForwarder>('observeForwarder(forwarder)', forwarder, ['observe', 'on']);
    const observed = forwarder.observe(() => new RoutingObserver(this));
    const failovers = forwarder.on('failover', (event) => this.recordFailover(event.from, event.to));
    return this.#track({
      dispose() {
        observed.dispose();
        failovers.dispose();
      },
    });
  }

  observeBreakers(registry: BreakerRegistryLike): Disposable {
    this.#checkOpen();
    checkArgument<BreakerRegistryLike>('observeBreakers(registry)', registry, ['snapshot', 'onStateChange']);
    const changes = registry.onStateChange((change) => this.setBreakerState(change.key, change.to));
    // A registry makes a region's breaker on its first use; until then the region is closed.
    this.#seedBreakerStates(registry, () => true);
    this.#breakerRegistries.add(registry);
    return this.#track({
      dispose: () => {
        this.#breakerRegistries.delete(registry);
        changes.dispose();
      },
    });
  }

  observeHealth(checker: HealthCheckerLike): Disposable {
    this.#checkOpen();
    checkArgument<HealthCheckerLike>('observeHealth(checker)', checker, ['snapshot', 'on']);
    const handle = checker.on('change', (event) => this.setRegionHealthy(event.name, event.healthy));
    for (const [region, health] of Object.entries(checker.snapshot())) this.setRegionHealthy(region, health.healthy);
    return this.#track(handle);
  }

  observeCache(cache: CacheLike): Disposable {
    this.#checkOpen();
    checkArgument<CacheLike>('observeCache(cache)', cache, ['on']);
    return this.#track(cache.on('lookup', (event) => this.recordCacheLookup(event.status)));
  }

  close(): Promise<void> {
    if (!this.#closed) {
      this.#closed = true;
      for (const subscription of [...this.#subscriptions]) subscription.dispose();
      for (const name of Object.values(this.names)) this.#registry.removeSingleMetric(name);
    }
    return Promise.resolve();
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

/**
 * Creates the Prometheus metrics of an edge gateway on `registry`, with bounded labels: regions
 * outside `regions` are `other`, client regions are continent codes, statuses are classes.
 *
 * @example
 * const registry = new Registry();
 * const metrics = createEdgeMetrics({ registry, location: 'eu-west', regions: ['eu-west', 'us-east'] });
 * metrics.observeForwarder(forwarder);
 * metrics.observeBreakers(breakers);
 * metrics.observeHealth(health);
 * metrics.observeCache(cache);
 * http.createServer(metrics.wrapHandler(cache.handler(forwarder.forward)));
 */
export function createEdgeMetrics(options: EdgeMetricsOptions): EdgeMetrics {
  return new EdgeMetricsImpl(options);
}
