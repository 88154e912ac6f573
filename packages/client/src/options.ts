import { type Clock, systemClock } from './clock.js';
import { type Coordinates, type Edge, checkEdges } from './edge-map.js';
import type { RetryBudget, RetryBudgetOptions } from './retry-budget.js';
import type { EdgeMapKey } from './signing.js';
import { type KeyValueStorage, createMemoryStorage } from './storage.js';

/** What the platform says about the page and the network; the default reads `document` and `navigator`. */
export interface ClientEnvironment {
  /** True while the page is hidden (`document.visibilityState === 'hidden'`): probing pauses. */
  hidden(): boolean;
  /** True when the user asked to save data (`navigator.connection.saveData`): no probing. */
  saveData(): boolean;
}

/** Where the signed edge map comes from. */
export interface EdgeMapOptions {
  /** URL serving the map as a JWS compact serialization (what `signEdgeMap` returns). */
  url: string;
  /** Public key the map must be signed with: an Ed25519 or P-256 `CryptoKey` or JWK. */
  publicKey: EdgeMapKey;
  /** Milliseconds between background refreshes (also at most half the map's remaining life). Default: `300_000`. */
  refreshInterval?: number;
  /** Milliseconds before trying again after a failed or refused refresh. Default: `30_000`. */
  retryInterval?: number;
  /** Response header of the map fetch naming the region the gateway thinks the client is near. Default: `'x-region-hint'`. */
  regionHintHeader?: string;
}

/** Latency probing. */
export interface ProbeOptions {
  /** Path requested on each edge. Default: `'/health'`. */
  path?: string;
  /** Milliseconds between two probes of the same edge; probes of all edges are spread over it. Default: `30_000`. */
  interval?: number;
  /** Fraction of each pause drawn at random, so clients do not probe in step. Default: `0.2`. */
  jitter?: number;
  /** Milliseconds a probe may take before it counts as a failure. Default: `5_000`. */
  timeout?: number;
}

/** Hedging: a copy of a slow idempotent request goes to the next edge. */
export interface HedgeOptions {
  /** Milliseconds to wait for response headers before sending a copy. */
  delay: number;
  /** Copies per request at most. Default: `1`. */
  max?: number;
}

/** Options of {@link createEdgeClient}. Durations are milliseconds. */
export interface EdgeClientOptions {
  /** Edges from configuration. Give `edges`, `edgeMap`, or both (the map replaces them once verified). */
  edges?: readonly Edge[];
  /** A signed edge map to fetch, verify and refresh in the background. */
  edgeMap?: EdgeMapOptions;
  /** Pinned region (tenant residency): requests never go to an edge outside it. Default: none. */
  region?: string;
  /** Where the client is, for the cold start before probes answer. Default: unknown. */
  location?: Coordinates;
  /** Region the client is probably near, for the cold start (the edge map fetch's hint header wins). Default: none. */
  regionHint?: string;
  /** Latency probing, or `false` for none. Default: the {@link ProbeOptions} defaults. */
  probe?: ProbeOptions | false;
  /** Weight of a new sample in the latency average (EWMA). Default: `0.3`. */
  smoothing?: number;
  /** A faster edge must beat the current one by this fraction before the client switches. Default: `0.1`. */
  hysteresis?: number;
  /** Per-edge breaker: failures in a row to open, milliseconds open before a trial. Default: `{ failureThreshold: 2, resetTimeout: 10_000 }`. */
  breaker?: { failureThreshold?: number; resetTimeout?: number };
  /** Methods that may be sent twice (RFC 9110 §9.2.2); a request with an `Idempotency-Key` header also may. Default: `['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE']`. */
  idempotentMethods?: readonly string[];
  /** Network attempts per request at most, hedges included. Default: `3`. */
  maxAttempts?: number;
  /** Statuses that count as an edge failure and after which an idempotent request moves to the next edge. Default: `[502, 503, 504]`. */
  retryStatuses?: readonly number[];
  /** Retry budget shared by retries and hedges: options, a budget, or `false` for none. Default: `{ ratio: 0.2, minPerSecond: 10, window: 10_000 }`. */
  retryBudget?: RetryBudgetOptions | RetryBudget | false;
  /** Hedging for idempotent requests with a replayable body. Default: off. */
  hedge?: HedgeOptions;
  /** Milliseconds from sending a request to its response headers. Default: `10_000`. */
  timeout?: number;
  /** Longest `Retry-After` honoured, in milliseconds. Default: `300_000`. */
  maxRetryAfter?: number;
  /** Where latency averages and the last good map are kept between sessions. Default: memory. */
  storage?: KeyValueStorage;
  /** Key under which the client keeps its state in `storage`. Default: `'edgekit-client'`. */
  storageKey?: string;
  /** Persisted latency averages older than this are ignored. Default: `86_400_000` (one day). */
  maxLatencyAge?: number;
  /** `fetch` implementation. Default: `globalThis.fetch`. */
  fetch?: typeof fetch;
  /** Clock; `now()` in Unix milliseconds. Default: `Date.now` and unref'd timers. */
  clock?: Clock;
  /** Random numbers in [0, 1) for jitter. Default: `Math.random`. */
  random?: () => number;
  /** Page visibility and data saver. Default: read from `document` and `navigator`. */
  environment?: ClientEnvironment;
  /** Called when an event listener throws. Default: `console.error`. */
  onListenerError?: (error: unknown, event: string) => void;
}

/** Defaults of {@link EdgeClientOptions}. */
export const DEFAULTS = Object.freeze({
  refreshInterval: 300_000,
  retryInterval: 30_000,
  regionHintHeader: 'x-region-hint',
  probe: Object.freeze({ path: '/health', interval: 30_000, jitter: 0.2, timeout: 5_000 }),
  smoothing: 0.3,
  hysteresis: 0.1,
  failureThreshold: 2,
  resetTimeout: 10_000,
  idempotentMethods: Object.freeze(['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE']),
  maxAttempts: 3,
  retryStatuses: Object.freeze([502, 503, 504]),
  retryBudget: Object.freeze({ ratio: 0.2, minPerSecond: 10, window: 10_000 }),
  timeout: 10_000,
  maxRetryAfter: 300_000,
  storageKey: 'edgekit-client',
  maxLatencyAge: 86_400_000,
});

const SCOPE = '@edgekit/client';

function describe(value: unknown): string {
  return typeof value === 'string' ? `"${value}"` : typeof value === 'object' && value !== null ? (Array.isArray(value) ? 'an array' : 'an object') : String(value);
}

function num(name: string, value: unknown, fallback: number, min: number, max = Infinity, integer = false): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || Number.isNaN(value) || value < min || value > max || (integer && !Number.isInteger(value))) {
    throw new RangeError(`${SCOPE}: option "${name}" must be ${integer ? 'an integer' : 'a number'} in [${min}, ${max}] (got ${describe(value)})`);
  }
  return value;
}

const defaultEnvironment: ClientEnvironment = {
  hidden: () => (globalThis as { document?: { visibilityState?: string } }).document?.visibilityState === 'hidden',
  saveData: () => (globalThis as { navigator?: { connection?: { saveData?: boolean } } }).navigator?.connection?.saveData === true,
};

/** Options after validation, defaults applied. */
export type ResolvedOptions = ReturnType<typeof resolveOptions>;

/** Validates `options` and applies {@link DEFAULTS}; throws `TypeError`/`RangeError` naming the option. */
export function resolveOptions(options: EdgeClientOptions) {
  if (typeof options !== 'object' || options === null) throw new TypeError(`${SCOPE}: options must be an object (got ${describe(options)})`);
  const o = options;
  if (o.edges === undefined && o.edgeMap === undefined) throw new TypeError(`${SCOPE}: give option "edges" or option "edgeMap"`);
  let edges: Edge[] = [];
  if (o.edges !== undefined) {
    try {
      edges = checkEdges(o.edges, 'edges');
    } catch (error) {
      throw new TypeError(`${SCOPE}: option ${(error as Error).message.replace('edge map: ', '')}`);
    }
  }
  const map = o.edgeMap;
  if (map !== undefined && (typeof map?.url !== 'string' || typeof map.publicKey !== 'object' || map.publicKey === null)) {
    throw new TypeError(`${SCOPE}: option "edgeMap" must be { url: string, publicKey: CryptoKey | JsonWebKey }`);
  }
  const probe = o.probe === false ? false : (o.probe ?? {});
  if (probe !== false && (typeof probe.path !== 'undefined' && (typeof probe.path !== 'string' || !probe.path.startsWith('/')))) {
    throw new TypeError(`${SCOPE}: option "probe.path" must start with "/" (got ${describe(probe.path)})`);
  }
  for (const name of ['region', 'regionHint', 'storageKey'] as const) {
    if (o[name] !== undefined && (typeof o[name] !== 'string' || o[name] === '')) throw new TypeError(`${SCOPE}: option "${name}" must be a non-empty string (got ${describe(o[name])})`);
  }
  if (o.region !== undefined && edges.length > 0 && o.edgeMap === undefined && !edges.some((e) => e.region === o.region)) {
    throw new RangeError(`${SCOPE}: option "region" names "${o.region}", which no edge belongs to`);
  }
  for (const name of ['fetch', 'random'] as const) {
    if (o[name] !== undefined && typeof o[name] !== 'function') throw new TypeError(`${SCOPE}: option "${name}" must be a function`);
  }
  const fetchImpl = o.fetch ?? globalThis.fetch;
  if (typeof fetchImpl !== 'function') throw new TypeError(`${SCOPE}: no global fetch; give option "fetch"`);
  const budget = o.retryBudget === false ? false : (o.retryBudget ?? {});
  const isBudget = budget !== false && typeof (budget as RetryBudget).tryRetry === 'function';
  const hedge = o.hedge;
  if (hedge !== undefined && (typeof hedge !== 'object' || hedge === null)) throw new TypeError(`${SCOPE}: option "hedge" must be { delay, max? }`);
  const statuses = o.retryStatuses ?? DEFAULTS.retryStatuses;
  if (!Array.isArray(statuses) || statuses.some((s) => !Number.isInteger(s) || s < 100 || s > 599)) {
    throw new TypeError(`${SCOPE}: option "retryStatuses" must be an array of HTTP statuses (got ${describe(statuses)})`);
  }
  const methods = o.idempotentMethods ?? DEFAULTS.idempotentMethods;
  if (!Array.isArray(methods) || methods.some((m) => typeof m !== 'string')) throw new TypeError(`${SCOPE}: option "idempotentMethods" must be an array of method names`);
  if (o.location !== undefined) checkEdges([{ id: 'location', region: 'r', url: 'http://x', location: o.location }], 'location');
  return {
    edges,
    edgeMap:
      map === undefined
        ? undefined
        : {
            url: map.url,
            publicKey: map.publicKey,
            refreshInterval: num('edgeMap.refreshInterval', map.refreshInterval, DEFAULTS.refreshInterval, 1),
            retryInterval: num('edgeMap.retryInterval', map.retryInterval, DEFAULTS.retryInterval, 1),
            regionHintHeader: map.regionHintHeader ?? DEFAULTS.regionHintHeader,
          },
    region: o.region,
    location: o.location,
    regionHint: o.regionHint,
    probe:
      probe === false
        ? (false as const)
        : {
            path: probe.path ?? DEFAULTS.probe.path,
            interval: num('probe.interval', probe.interval, DEFAULTS.probe.interval, 1),
            jitter: num('probe.jitter', probe.jitter, DEFAULTS.probe.jitter, 0, 1),
            timeout: num('probe.timeout', probe.timeout, DEFAULTS.probe.timeout, 1),
          },
    smoothing: num('smoothing', o.smoothing, DEFAULTS.smoothing, 0.01, 1),
    hysteresis: num('hysteresis', o.hysteresis, DEFAULTS.hysteresis, 0, 0.9),
    failureThreshold: num('breaker.failureThreshold', o.breaker?.failureThreshold, DEFAULTS.failureThreshold, 1, Infinity, true),
    resetTimeout: num('breaker.resetTimeout', o.breaker?.resetTimeout, DEFAULTS.resetTimeout, 1),
    idempotentMethods: new Set(methods.map((m) => m.toUpperCase())),
    maxAttempts: num('maxAttempts', o.maxAttempts, DEFAULTS.maxAttempts, 1, 100, true),
    retryStatuses: new Set(statuses),
    retryBudget: budget === false ? (false as const) : isBudget ? (budget as RetryBudget) : (budget as RetryBudgetOptions),
    hedge: hedge === undefined ? undefined : { delay: num('hedge.delay', hedge.delay, NaN, 0), max: num('hedge.max', hedge.max, 1, 1, 10, true) },
    timeout: num('timeout', o.timeout, DEFAULTS.timeout, 1),
    maxRetryAfter: num('maxRetryAfter', o.maxRetryAfter, DEFAULTS.maxRetryAfter, 0),
    storage: o.storage ?? createMemoryStorage(),
    storageKey: o.storageKey ?? DEFAULTS.storageKey,
    maxLatencyAge: num('maxLatencyAge', o.maxLatencyAge, DEFAULTS.maxLatencyAge, 0),
    fetch: fetchImpl,
    clock: o.clock ?? systemClock,
    random: o.random ?? Math.random,
    environment: o.environment ?? defaultEnvironment,
    onListenerError: o.onListenerError ?? ((error: unknown, event: string) => console.error(`${SCOPE}: a "${event}" listener threw`, error)),
  };
}
