import { type Clock, type ClockTimer, type Disposable, type Listener, TypedEmitter, checkNumber, checkOptionsObject, describeValue, systemClock } from '@edgekit/core';

/** Outlier detection settings, with Envoy's names and semantics; durations in ms. */
export interface OutlierDetectionOptions {
  /** Consecutive 5xx answers or connection failures that eject an endpoint; 0 turns it off. Default 5. */
  consecutive5xx?: number;
  /** Consecutive 502/503/504 answers or connection failures that eject; 0 turns it off. Default 0 (off, as in Envoy). */
  consecutiveGatewayFailure?: number;
  /** How often success rates are compared and ejection multipliers decay. Default 10000. */
  interval?: number;
  /** First ejection lasts this long; the n-th lasts n times as long. Default 30000. */
  baseEjectionTime?: number;
  /** Longest ejection. Default 300000. */
  maxEjectionTime?: number;
  /** Most endpoints ejected at once, in percent; one endpoint may always be ejected. Default 10. */
  maxEjectionPercent?: number;
  /** Success-rate ejection needs at least this many endpoints with enough volume; 0 turns it off. Default 5. */
  successRateMinimumHosts?: number;
  /** Requests an endpoint needs in one interval to count in the success-rate comparison. Default 100. */
  successRateRequestVolume?: number;
  /** Ejects below mean - factor x standard deviation of the success rates. Default 1.9. */
  successRateStdevFactor?: number;
  /** Time source and timers. Default `systemClock`. */
  clock?: Clock;
}

/** Defaults of {@link createOutlierDetector}, as in Envoy's `outlier_detection`. */
export const OUTLIER_DEFAULTS = Object.freeze({
  consecutive5xx: 5,
  consecutiveGatewayFailure: 0,
  interval: 10_000,
  baseEjectionTime: 30_000,
  maxEjectionTime: 300_000,
  maxEjectionPercent: 10,
  successRateMinimumHosts: 5,
  successRateRequestVolume: 100,
  successRateStdevFactor: 1.9,
});

/** Why an endpoint was ejected. */
export type EjectionReason = 'consecutive-5xx' | 'consecutive-gateway-failure' | 'success-rate';

/** How a request to an endpoint ended, as outlier detection sees it. */
export interface OutlierOutcome {
  /** HTTP status of the answer, when there was one. */
  status?: number | undefined;
  /** True for a failure without an answer: refused, reset, timed out. */
  error?: boolean | undefined;
}

/** One endpoint's outlier state. */
export interface EndpointOutlierState {
  ejected: boolean;
  /** When the current ejection ends (clock ms), when ejected. */
  ejectedUntil: number | undefined;
  /** Ejection multiplier: grows with each ejection, decays by one per healthy interval. */
  ejections: number;
  consecutive5xx: number;
  consecutiveGatewayFailure: number;
}

/** Events of an {@link OutlierDetector}. */
export type OutlierEvents = {
  eject: [event: { id: string; reason: EjectionReason; ejections: number; until: number }];
  uneject: [event: { id: string }];
};

/** Ejects endpoints that fail, per endpoint id; a region balancer consults it on every pick. */
export interface OutlierDetector {
  /** The endpoints being watched; state of ids that stay is kept, others are forgotten. */
  setEndpoints(ids: Iterable<string>): void;
  /** Records the outcome of one request. */
  record(id: string, outcome: OutlierOutcome): void;
  /** True while `id` is ejected. */
  isEjected(id: string): boolean;
  /** The state of `id`, or `undefined` for an unknown id. */
  state(id: string): EndpointOutlierState | undefined;
  /** Ids ejected now. */
  ejected(): string[];
  /** Adds a listener; returns a disposable that removes it. */
  on<K extends keyof OutlierEvents>(event: K, listener: Listener<OutlierEvents, K>): Disposable;
  /** Stops the interval timer and every ejection timer. */
  close(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

interface Watched {
  consecutive5xx: number;
  consecutiveGateway: number;
  success: number;
  total: number;
  ejections: number;
  ejectedUntil: number | undefined;
  timer: ClockTimer | undefined;
}

function readOptions(options: unknown): Required<Omit<OutlierDetectionOptions, 'clock'>> & { clock: Clock } {
  const scope = 'outlier detection';
  const o = checkOptionsObject<OutlierDetectionOptions>(scope, options);
  const num = (name: keyof typeof OUTLIER_DEFAULTS, rule: Parameters<typeof checkNumber>[3]): number =>
    o[name] === undefined ? OUTLIER_DEFAULTS[name] : checkNumber(scope, name, o[name], rule);
  const clock = o.clock ?? systemClock;
  if (typeof clock?.now !== 'function' || typeof clock.setTimeout !== 'function') throw new TypeError(`${scope}: option "clock" must be a Clock (got ${describeValue(o.clock)})`);
  const out = {
    consecutive5xx: num('consecutive5xx', { min: 0, integer: true }),
    consecutiveGatewayFailure: num('consecutiveGatewayFailure', { min: 0, integer: true }),
    interval: num('interval', { min: 1 }),
    baseEjectionTime: num('baseEjectionTime', { min: 1 }),
    maxEjectionTime: num('maxEjectionTime', { min: 1 }),
    maxEjectionPercent: num('maxEjectionPercent', { min: 0, max: 100 }),
    successRateMinimumHosts: num('successRateMinimumHosts', { min: 0, integer: true }),
    successRateRequestVolume: num('successRateRequestVolume', { min: 1, integer: true }),
    successRateStdevFactor: num('successRateStdevFactor', { min: 0 }),
    clock,
  };
  if (out.maxEjectionTime < out.baseEjectionTime) {
    throw new RangeError(`${scope}: option "maxEjectionTime" must be >= baseEjectionTime ${out.baseEjectionTime} (got ${out.maxEjectionTime})`);
  }
  return out;
}

/** Creates Envoy-style outlier detection: consecutive errors, success-rate outliers, growing ejections. */
export function createOutlierDetector(options: OutlierDetectionOptions = {}): OutlierDetector {
  const o = readOptions(options);
  const { clock } = o;
  const events = new TypedEmitter<OutlierEvents>();
  const watched = new Map<string, Watched>();
  let ejectedCount = 0;
  let closed = false;

  const mayEject = (): boolean => ejectedCount === 0 || ((ejectedCount + 1) * 100) / watched.size <= o.maxEjectionPercent;

  const uneject = (id: string, w: Watched): void => {
    if (w.ejectedUntil === undefined) return;
    w.ejectedUntil = undefined;
    w.timer = undefined;
    w.consecutive5xx = 0;
    w.consecutiveGateway = 0;
    ejectedCount--;
    events.emit('uneject', { id });
  };

  const eject = (id: string, w: Watched, reason: EjectionReason): void => {
    if (w.ejectedUntil !== undefined || !mayEject()) return;
    w.ejections++;
    const duration = Math.min(o.baseEjectionTime * w.ejections, o.maxEjectionTime);
    w.ejectedUntil = clock.now() + duration;
    w.consecutive5xx = 0;
    w.consecutiveGateway = 0;
    ejectedCount++;
    w.timer = clock.setTimeout(() => uneject(id, w), duration);
    events.emit('eject', { id, reason, ejections: w.ejections, until: w.ejectedUntil });
  };

  const tick = (): void => {
    if (closed) return;
    const rated: [string, Watched, number][] = [];
    for (const [id, w] of watched) {
      if (w.ejectedUntil === undefined) {
        if (w.ejections > 0) w.ejections--;
        if (w.total >= o.successRateRequestVolume) rated.push([id, w, w.success / w.total]);
      }
      w.success = 0;
      w.total = 0;
    }
    if (o.successRateMinimumHosts > 0 && rated.length >= o.successRateMinimumHosts) {
      let sum = 0;
      for (const r of rated) sum += r[2];
      const mean = sum / rated.length;
      let squares = 0;
      for (const r of rated) squares += (r[2] - mean) ** 2;
      const threshold = mean - o.successRateStdevFactor * Math.sqrt(squares / rated.length);
      for (const [id, w, rate] of rated) if (rate < threshold) eject(id, w, 'success-rate');
    }
    timer = clock.setTimeout(tick, o.interval);
  };
  let timer: ClockTimer | undefined = clock.setTimeout(tick, o.interval);

  const close = async (): Promise<void> => {
    closed = true;
    clock.clearTimeout(timer);
    for (const w of watched.values()) clock.clearTimeout(w.timer);
  };

  return {
    setEndpoints(ids) {
      const keep = new Set(ids);
      for (const [id, w] of watched) {
        if (keep.has(id)) continue;
        clock.clearTimeout(w.timer);
        if (w.ejectedUntil !== undefined) ejectedCount--;
        watched.delete(id);
      }
      for (const id of keep) {
        if (!watched.has(id)) watched.set(id, { consecutive5xx: 0, consecutiveGateway: 0, success: 0, total: 0, ejections: 0, ejectedUntil: undefined, timer: undefined });
      }
    },
    record(id, outcome) {
      const w = watched.get(id);
      if (w === undefined || closed) return;
      const status = outcome.status;
      const failed5xx = outcome.error === true || (status !== undefined && status >= 500);
      w.total++;
      if (!failed5xx) {
        w.success++;
        w.consecutive5xx = 0;
        w.consecutiveGateway = 0;
        return;
      }
      if (w.ejectedUntil !== undefined) return;
      w.consecutive5xx++;
      const gateway = outcome.error === true || status === 502 || status === 503 || status === 504;
      w.consecutiveGateway = gateway ? w.consecutiveGateway + 1 : 0;
      if (o.consecutiveGatewayFailure > 0 && w.consecutiveGateway >= o.consecutiveGatewayFailure) eject(id, w, 'consecutive-gateway-failure');
      else if (o.consecutive5xx > 0 && w.consecutive5xx >= o.consecutive5xx) eject(id, w, 'consecutive-5xx');
    },
    isEjected: (id) => watched.get(id)?.ejectedUntil !== undefined,
    state(id) {
      const w = watched.get(id);
      if (w === undefined) return undefined;
      return {
        ejected: w.ejectedUntil !== undefined,
        ejectedUntil: w.ejectedUntil,
        ejections: w.ejections,
        consecutive5xx: w.consecutive5xx,
        consecutiveGatewayFailure: w.consecutiveGateway,
      };
    },
    ejected: () => [...watched].filter(([, w]) => w.ejectedUntil !== undefined).map(([id]) => id),
    on: (event, listener) => events.on(event, listener),
    close,
    [Symbol.asyncDispose]: close,
  };
}
