import { type Clock, systemClock } from './clock.js';
import { type Coordinates, type Edge, checkCoordinates, checkEdges } from './edge-map.js';
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

/** Defaults of {@link EdgeClientOptions}, nested as the options are. */
export const CLIENT_DEFAULTS = {
  edgeMap: { refreshInterval: 300_000, retryInterval: 30_000, regionHintHeader: 'x-region-hint' },
  probe: { path: '/health', interval: 30_000, jitter: 0.2, timeout: 5_000 },
  smoothing: 0.3,
  hysteresis: 0.1,
  breaker: { failureThreshold: 2, resetTimeout: 10_000 },
  idempotentMethods: ['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE'] as readonly string[],
  maxAttempts: 3,
  retryStatuses: [502, 503, 504] as readonly number[],
  retryBudget: { ratio: 0.2, minPerSecond: 10, window: 10_000 },
  hedge: { max: 1 },
  timeout: 10_000,
  maxRetryAfter: 300_000,
  storageKey: 'edgekit-client',
  maxLatencyAge: 86_400_000,
} as const;

// Allowed range of each numeric option: [min, max, integer].
const RANGES: [string, number, number?, boolean?][] = [
  ['edgeMap.refreshInterval', 1],
  ['edgeMap.retryInterval', 1],
  ['probe.interval', 1],
  ['probe.jitter', 0, 1],
  ['probe.timeout', 1],
  ['smoothing', 0.01, 1],
  ['hysteresis', 0, 0.9],
  ['breaker.failureThreshold', 1, Infinity, true],
  ['breaker.resetTimeout', 1],
  ['maxAttempts', 1, 100, true],
  ['hedge.delay', 0],
  ['hedge.max', 1, 10, true],
  ['timeout', 1],
  ['maxRetryAfter', 0],
  ['maxLatencyAge', 0],
];

const SCOPE = '@edgekit/client';

function fail(name: string, rule: string, value: unknown, Type: typeof TypeError = TypeError): never {
  throw new Type(`${SCOPE}: option "${name}" must be ${rule} (got ${typeof value === 'function' ? 'a function' : JSON.stringify(value)})`);
}

const defaultEnvironment: ClientEnvironment = {
  hidden: () => (globalThis as { document?: { visibilityState?: string } }).document?.visibilityState === 'hidden',
  saveData: () => (globalThis as { navigator?: { connection?: { saveData?: boolean } } }).navigator?.connection?.saveData === true,
};

type Sections = 'edgeMap' | 'probe' | 'breaker' | 'hedge' | 'retryBudget' | 'idempotentMethods' | 'retryStatuses' | 'fetch' | 'clock' | 'random' | 'environment' | 'storage' | 'onListenerError';

/** Options after validation, defaults applied. */
export interface ResolvedOptions extends Required<Omit<EdgeClientOptions, Sections | 'edges' | 'region' | 'location' | 'regionHint'>> {
  edges: Edge[];
  region?: string;
  location?: Coordinates;
  regionHint?: string;
  edgeMap: Required<EdgeMapOptions> | undefined;
  probe: Required<ProbeOptions> | false;
  breaker: { failureThreshold: number; resetTimeout: number };
  hedge: Required<HedgeOptions> | undefined;
  retryBudget: RetryBudgetOptions | RetryBudget | false;
  idempotentMethods: Set<string>;
  retryStatuses: Set<number>;
  fetch: typeof fetch;
  clock: Clock;
  random: () => number;
  environment: ClientEnvironment;
  storage: KeyValueStorage;
  onListenerError: (error: unknown, event: string) => void;
}

/** Validates `options` and applies {@link CLIENT_DEFAULTS}; throws `TypeError`/`RangeError` naming the option. */
export function resolveOptions(o: EdgeClientOptions): ResolvedOptions {
  if (typeof o !== 'object' || o === null) fail('options', 'an object', o);
  if (o.edges === undefined && o.edgeMap === undefined) fail('edges', 'given, or option "edgeMap"', o.edges);
  let edges: Edge[] = [];
  try {
    if (o.edges !== undefined) edges = checkEdges(o.edges, 'edges');
    if (o.location !== undefined) checkCoordinates(o.location, 'location');
  } catch (error) {
    throw new TypeError(`${SCOPE}: option ${(error as Error).message.slice(10)}`);
  }
  const map = o.edgeMap;
  if (map !== undefined && (typeof map?.url !== 'string' || typeof map.publicKey !== 'object' || !map.publicKey)) fail('edgeMap', '{ url, publicKey }', map);
  if (o.hedge !== undefined && typeof o.hedge?.delay !== 'number') fail('hedge', '{ delay, max? }', o.hedge);
  const r: ResolvedOptions = {
    ...CLIENT_DEFAULTS,
    ...(o as Partial<ResolvedOptions>),
    edges,
    edgeMap: map && { ...CLIENT_DEFAULTS.edgeMap, ...map },
    probe: o.probe !== false && { ...CLIENT_DEFAULTS.probe, ...o.probe },
    breaker: { ...CLIENT_DEFAULTS.breaker, ...o.breaker },
    hedge: o.hedge && { ...CLIENT_DEFAULTS.hedge, ...o.hedge },
    retryBudget: o.retryBudget ?? CLIENT_DEFAULTS.retryBudget,
    idempotentMethods: new Set((o.idempotentMethods ?? CLIENT_DEFAULTS.idempotentMethods).map((m) => (typeof m === 'string' ? m.toUpperCase() : fail('idempotentMethods', 'an array of method names', m)))),
    retryStatuses: new Set(o.retryStatuses ?? CLIENT_DEFAULTS.retryStatuses),
    // Called through a wrapper: browsers refuse a `fetch` called with another `this` (Illegal invocation).
    fetch: o.fetch ?? ((input, init) => globalThis.fetch(input, init)),
    clock: o.clock ?? systemClock,
    random: o.random ?? Math.random,
    environment: o.environment ?? defaultEnvironment,
    storage: o.storage ?? createMemoryStorage(),
    onListenerError: o.onListenerError ?? ((error: unknown, event: string) => console.error(`${SCOPE}: a "${event}" listener threw`, error)),
  };
  for (const [path, min, max = Infinity, integer] of RANGES) {
    const [section, field] = path.split('.') as [keyof ResolvedOptions, string?];
    const value = field === undefined ? r[section] : (r[section] as Record<string, unknown> | undefined)?.[field];
    if (value !== undefined && !(typeof value === 'number' && value >= min && value <= max && (!integer || Number.isInteger(value)))) {
      fail(path, `${integer ? 'an integer' : 'a number'} in [${min}, ${max}]`, value, RangeError);
    }
  }
  if (r.probe && !r.probe.path.startsWith?.('/')) fail('probe.path', 'a path starting with "/"', r.probe.path);
  for (const name of ['region', 'regionHint', 'storageKey'] as const) if (r[name] !== undefined && (typeof r[name] !== 'string' || !r[name])) fail(name, 'a non-empty string', r[name]);
  if (r.region !== undefined && !map && !edges.some((e) => e.region === r.region)) fail('region', 'the region of an edge', r.region, RangeError);
  for (const name of ['fetch', 'random'] as const) if (typeof r[name] !== 'function') fail(name, 'a function', r[name]);
  if (typeof globalThis.fetch !== 'function' && o.fetch === undefined) fail('fetch', 'given where there is no global fetch', o.fetch);
  for (const status of r.retryStatuses) if (!(status >= 100 && status <= 599)) fail('retryStatuses', 'an array of HTTP statuses', status);
  return r;
}
