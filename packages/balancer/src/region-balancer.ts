import { type Clock, type Disposable, type Listener, TypedEmitter, checkOptionsObject, describeValue, optionalFunction, optionalNumber, optionalString, systemClock } from '@edgekit/core';
import type { Balancer, PickRequest } from './balancer.js';
import type { Endpoint, EndpointInput } from './endpoint.js';
import { type EndpointSet, createStaticEndpoints, isEndpointSet } from './endpoint-set.js';
import { type BalancerChoice, createBalancer } from './kinds.js';
import { type EjectionReason, type OutlierDetectionOptions, type OutlierDetector, createOutlierDetector } from './outlier.js';

/** Options of {@link createRegionBalancer}. */
export interface RegionBalancerOptions {
  /** The region's endpoints: a list, or a discovered {@link EndpointSet} (the balancer does not close it). */
  endpoints: EndpointSet | readonly EndpointInput[];
  /** Region name, for events and status. Default `'default'`. */
  name?: string;
  /** Balancer by name or factory. Default `'least-request'` (power of two choices). */
  balancer?: BalancerChoice;
  /** Outlier detection settings, or `false` to turn it off. Default: Envoy's defaults. */
  outlierDetection?: OutlierDetectionOptions | false;
  /** Below this percentage of healthy endpoints, ejection and failed checks are ignored (Envoy's panic mode). Default 50; 0 turns it off. */
  panicThreshold?: number;
  /** The region counts as healthy while at least this percentage of its endpoints is healthy. Default 50. */
  minHealthyPercent?: number;
  /** Time source and timers. Default `systemClock`. */
  clock?: Clock;
  /** Random numbers for the balancer. Default `Math.random`. */
  random?: () => number;
}

/** Defaults of {@link createRegionBalancer}. */
export const REGION_BALANCER_DEFAULTS = Object.freeze({ name: 'default', balancer: 'least-request' as const, panicThreshold: 50, minHealthyPercent: 50 });

/** Time constant of the latency average the status reports. */
const LATENCY_DECAY_MS = 10_000;

/** How one request to an endpoint ended. */
export interface EndpointOutcome {
  /** Milliseconds from start to the response head or the failure. */
  latencyMs: number;
  /** HTTP status, when an answer came. */
  status?: number | undefined;
  /** True when no answer came: refused, reset, timed out. */
  error?: boolean | undefined;
  /** True when the caller gave up before any answer: not counted for or against the endpoint. */
  cancelled?: boolean | undefined;
}

/** One endpoint as the status page shows it. */
export interface EndpointStatus {
  id: string;
  url: string;
  weight: number;
  /** False while an active health check reports it down. */
  checked: boolean;
  ejected: boolean;
  ejectedUntil: number | undefined;
  ejections: number;
  inflight: number;
  /** Moving average of response latency in ms (10 s time constant), whatever the balancer; `undefined` before the first answer. */
  ewmaMs: number | undefined;
}

/** The state of a region's endpoints. */
export interface RegionBalancerStatus {
  name: string;
  balancer: string;
  healthy: boolean;
  panic: boolean;
  healthyPercent: number;
  endpoints: EndpointStatus[];
}

/** Events of a {@link RegionBalancer}. */
export type RegionBalancerEvents = {
  /** Discovery changed the endpoints: pools of `removed` may drain and close. */
  endpoints: [change: { region: string; added: readonly Endpoint[]; removed: readonly Endpoint[] }];
  eject: [event: { region: string; id: string; reason: EjectionReason; ejections: number; until: number }];
  uneject: [event: { region: string; id: string }];
  /** The region's health (healthy-endpoint percentage against `minHealthyPercent`) changed. */
  health: [event: { region: string; healthy: boolean; healthyPercent: number; panic: boolean }];
};

/** Picks an endpoint of one region: discovery + outlier ejection + active checks + a balancer. */
export interface RegionBalancer {
  readonly name: string;
  /** The balancer in use (its `kind` names it). */
  readonly balancer: Balancer;
  /** An endpoint for one request, or `undefined` when the region has none left after `exclude`. */
  pick(request?: PickRequest): Endpoint | undefined;
  /** Every known endpoint, healthy or not. */
  endpoints(): readonly Endpoint[];
  /** A request to `endpoint` started. */
  onRequestStart(endpoint: Endpoint): void;
  /** A request to `endpoint` ended: feeds the balancer and outlier detection. */
  onRequestEnd(endpoint: Endpoint, outcome: EndpointOutcome): void;
  /** Marks an endpoint up or down from an active health check. */
  setEndpointHealth(id: string, healthy: boolean): void;
  /** True while the healthy share of endpoints is at least `minHealthyPercent`. */
  isHealthy(): boolean;
  /** Endpoints ejected by outlier detection now (cheap: for per-request routing decisions). */
  ejectedCount(): number;
  status(): RegionBalancerStatus;
  on<K extends keyof RegionBalancerEvents>(event: K, listener: Listener<RegionBalancerEvents, K>): Disposable;
  /** Stops outlier timers and listening to discovery. */
  close(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

/** Creates the endpoint picker of one region. */
export function createRegionBalancer(options: RegionBalancerOptions): RegionBalancer {
  const scope = 'region balancer';
  const o = checkOptionsObject<RegionBalancerOptions>(scope, options);
  const name = optionalString(scope, 'name', o.name, REGION_BALANCER_DEFAULTS.name);
  if (o.endpoints === undefined) throw new TypeError(`${scope} "${name}": option "endpoints" is required (a list or an EndpointSet)`);
  const set: EndpointSet = isEndpointSet(o.endpoints) ? o.endpoints : createStaticEndpoints(o.endpoints as readonly EndpointInput[]);
  const panicThreshold = optionalNumber(scope, 'panicThreshold', o.panicThreshold, REGION_BALANCER_DEFAULTS.panicThreshold, { min: 0, max: 100 });
  const minHealthyPercent = optionalNumber(scope, 'minHealthyPercent', o.minHealthyPercent, REGION_BALANCER_DEFAULTS.minHealthyPercent, { min: 0, max: 100 });
  const clock = o.clock ?? systemClock;
  const random = optionalFunction<() => number, undefined>(scope, 'random', o.random, undefined);
  const balancer = createBalancer(o.balancer ?? REGION_BALANCER_DEFAULTS.balancer, { clock, ...(random && { random }) }, `${scope} "${name}": option "balancer"`);
  if (o.outlierDetection !== undefined && o.outlierDetection !== false && (o.outlierDetection === null || typeof o.outlierDetection !== 'object')) {
    throw new TypeError(`${scope} "${name}": option "outlierDetection" must be an object or false (got ${describeValue(o.outlierDetection)})`);
  }
  const detector: OutlierDetector | undefined = o.outlierDetection === false ? undefined : createOutlierDetector({ clock, ...o.outlierDetection });

  const events = new TypedEmitter<RegionBalancerEvents>();
  const inflight = new Map<string, number>();
  const latency = new Map<string, { ewma: number; stamp: number }>();
  const down = new Set<string>();
  let all: readonly Endpoint[] = [];
  let picked: readonly Endpoint[] = [];
  let healthy = false;
  let panic = false;
  let healthyPercent = 0;

  let ejected = 0;
  const refresh = (): void => {
    ejected = detector === undefined ? 0 : all.reduce((n, e) => (detector.isEjected(e.id) ? n + 1 : n), 0);
    const usable = all.filter((e) => !down.has(e.id) && !(detector?.isEjected(e.id) ?? false));
    healthyPercent = all.length === 0 ? 0 : (usable.length * 100) / all.length;
    const nextPanic = all.length > 0 && healthyPercent < panicThreshold;
    const next = nextPanic ? all : usable;
    if (next.length !== picked.length || next.some((e, i) => e !== picked[i])) {
      picked = next;
      balancer.setEndpoints(picked);
    }
    const nextHealthy = all.length > 0 && healthyPercent >= minHealthyPercent;
    if (nextHealthy !== healthy || nextPanic !== panic) {
      healthy = nextHealthy;
      panic = nextPanic;
      events.emit('health', { region: name, healthy, healthyPercent, panic });
    }
  };

  const adopt = (list: readonly Endpoint[]): void => {
    const ids = new Set(list.map((e) => e.id));
    const before = new Map(all.map((e) => [e.id, e]));
    const added = list.filter((e) => !before.has(e.id));
    const removed = all.filter((e) => !ids.has(e.id));
    all = list;
    for (const e of removed) {
      down.delete(e.id);
      inflight.delete(e.id);
      latency.delete(e.id);
    }
    detector?.setEndpoints(ids);
    refresh();
    if ((added.length > 0 || removed.length > 0) && events.hasListeners('endpoints')) events.emit('endpoints', { region: name, added, removed });
  };

  const subscriptions: Disposable[] = [set.on('change', adopt)];
  if (detector !== undefined) {
    subscriptions.push(
      detector.on('eject', (e) => {
        refresh();
        events.emit('eject', { region: name, ...e });
      }),
      detector.on('uneject', (e) => {
        refresh();
        events.emit('uneject', { region: name, ...e });
      }),
    );
  }
  adopt(set.current());

  const close = async (): Promise<void> => {
    for (const s of subscriptions) s.dispose();
    await detector?.close();
  };

  return {
    name,
    balancer,
    pick: (request) => balancer.pick(request),
    endpoints: () => all,
    onRequestStart(endpoint) {
      inflight.set(endpoint.id, (inflight.get(endpoint.id) ?? 0) + 1);
      balancer.onRequestStart(endpoint);
    },
    onRequestEnd(endpoint, outcome) {
      const n = inflight.get(endpoint.id);
      if (n !== undefined) inflight.set(endpoint.id, n > 1 ? n - 1 : 0);
      if (outcome.cancelled === true) {
        balancer.onRequestEnd(endpoint, { latencyMs: outcome.latencyMs, ok: true, cancelled: true });
        return;
      }
      const now = clock.now();
      const average = latency.get(endpoint.id);
      if (average === undefined) latency.set(endpoint.id, { ewma: outcome.latencyMs, stamp: now });
      else {
        const w = Math.exp(-Math.max(0, now - average.stamp) / LATENCY_DECAY_MS);
        average.ewma = average.ewma * w + outcome.latencyMs * (1 - w);
        average.stamp = now;
      }
      const failed = outcome.error === true || (outcome.status !== undefined && outcome.status >= 500);
      balancer.onRequestEnd(endpoint, { latencyMs: outcome.latencyMs, ok: !failed });
      detector?.record(endpoint.id, outcome);
    },
    setEndpointHealth(id, up) {
      if (up ? !down.delete(id) : down.has(id) || !all.some((e) => e.id === id)) return;
      if (!up) down.add(id);
      refresh();
    },
    isHealthy: () => healthy,
    ejectedCount: () => ejected,
    status: () => ({
      name,
      balancer: balancer.kind,
      healthy,
      panic,
      healthyPercent,
      endpoints: all.map((e) => {
        const outlier = detector?.state(e.id);
        return {
          id: e.id,
          url: e.url,
          weight: e.weight,
          checked: !down.has(e.id),
          ejected: outlier?.ejected ?? false,
          ejectedUntil: outlier?.ejectedUntil,
          ejections: outlier?.ejections ?? 0,
          inflight: inflight.get(e.id) ?? 0,
          ewmaMs: latency.get(e.id)?.ewma,
        };
      }),
    }),
    on: (event, listener) => events.on(event, listener),
    close,
    [Symbol.asyncDispose]: close,
  };
}
