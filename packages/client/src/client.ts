import { EdgeMapSource } from './discovery.js';
import type { Edge } from './edge-map.js';
import { EdgeClientError } from './errors.js';
import { type Disposable, Emitter } from './emitter.js';
import type { EdgeClientEvents } from './events.js';
import { type EdgeClientOptions, resolveOptions } from './options.js';
import { Prober } from './prober.js';
import { send } from './request.js';
import { createRetryBudget, type RetryBudget } from './retry-budget.js';
import { EdgeSelection, type RankedEdge } from './selection.js';

/** What {@link EdgeClient.explain} reports: why the current edge is the current edge. */
export interface EdgeClientExplanation {
  /** Id of the edge requests go to first, if any. */
  current: string | undefined;
  /** The last selection decision, in words. */
  reason: string;
  /** The pinned region, if any. */
  region: string | undefined;
  /** Version of the edge map in use (`undefined`: edges from configuration). */
  mapVersion: number | undefined;
  /** Why probing is paused, if it is. */
  probing: 'on' | 'off' | 'hidden' | 'saveData';
  /** Every edge, usable ones first, best first. */
  edges: RankedEdge[];
}

/** A client that sends each request to the nearest healthy edge and fails over safely. */
export interface EdgeClient {
  /** Sends a request to `path` on the best edge, failing over as the options allow. */
  fetch(path: string, init?: RequestInit): Promise<Response>;
  /** Resolves once edges are known (the first map verified, or at once with configured edges). */
  ready(): Promise<void>;
  /** Probes every edge now and re-evaluates the choice. */
  probe(): Promise<void>;
  /** Fetches the edge map now; rejects with the refusal, keeping the last good map. */
  refreshMap(): Promise<void>;
  /** The edge requests go to first. */
  current(): Edge | undefined;
  /** Why the current edge was chosen, with every edge's figures. */
  explain(): EdgeClientExplanation;
  /** Adds a listener; the result removes it. */
  on<K extends keyof EdgeClientEvents>(event: K, listener: (payload: EdgeClientEvents[K]) => void): Disposable;
  /** Stops probing and refreshing, aborts what is in flight of them, saves latency figures. */
  close(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

interface Persisted {
  latency?: unknown;
  map?: string;
}

/**
 * Creates an {@link EdgeClient}.
 *
 * @example
 * const client = createEdgeClient({ edgeMap: { url: 'https://api.example.com/.well-known/edge-map', publicKey: jwk }, storage: localStorage });
 * const res = await client.fetch('/v1/orders/42');
 */
export function createEdgeClient(options: EdgeClientOptions): EdgeClient {
  const o = resolveOptions(options);
  const { clock } = o;
  const events = new Emitter<EdgeClientEvents>(o.onListenerError);
  const selection = new EdgeSelection(o.smoothing, o.hysteresis, o.region, o.location);
  const b = o.retryBudget;
  const budget: RetryBudget | undefined = b === false ? undefined : 'tryRetry' in b ? b : createRetryBudget(clock, b);
  let closed = false;
  const probeAborts = new AbortController();

  let saved: Persisted;
  try {
    saved = JSON.parse(o.storage.getItem(o.storageKey) ?? '{}') ?? {};
  } catch {
    saved = {};
  }
  const save = (patch: Persisted): void => {
    Object.assign(saved, patch);
    try {
      o.storage.setItem(o.storageKey, JSON.stringify(saved));
    } catch {
      // Storage full or denied (private browsing): figures live for this session only.
    }
  };

  const reselect = (): void => {
    const change = selection.reselect(clock.now());
    if (change !== undefined) events.emit('select', change);
  };
  selection.onHalfOpen = (edge) => events.emit('breaker', { edge, state: 'halfOpen' });

  const outcome = (edge: Edge, ok: boolean): void => {
    const health = selection.health.get(edge.id);
    if (health === undefined) return;
    const state = ok ? health.success() : health.failure(clock.now(), o.breaker.failureThreshold, o.breaker.resetTimeout);
    if (state !== undefined) {
      events.emit('breaker', { edge: edge.id, state });
      reselect();
    }
  };

  // One edge probed on its own is compared at once; a round of all edges is compared when it is
  // complete, so an edge measured a moment before the others does not win on staggered figures.
  const probeEdge = async (edge: Edge, inRound?: boolean): Promise<void> => {
    if (o.probe === false || closed) return;
    const controller = new AbortController();
    const onClose = (): void => controller.abort();
    probeAborts.signal.addEventListener('abort', onClose, { once: true });
    const timer = clock.setTimeout(() => controller.abort(), o.probe.timeout);
    const startedAt = clock.now();
    try {
      const response = await o.fetch(edge.url + o.probe.path, { method: 'GET', cache: 'no-store', signal: controller.signal } as RequestInit);
      const rtt = clock.now() - startedAt;
      await response.arrayBuffer();
      if (closed) return;
      const ok = response.status < 500;
      if (ok) selection.latency.record(edge.id, rtt, clock.now());
      events.emit('probe', { edge: edge.id, rtt, status: response.status });
      outcome(edge, ok);
    } catch (error) {
      if (closed) return;
      events.emit('probe', { edge: edge.id, error });
      outcome(edge, false);
    } finally {
      clock.clearTimeout(timer);
      probeAborts.signal.removeEventListener('abort', onClose);
    }
    if (!inRound) reselect();
  };

  const prober =
    o.probe === false
      ? undefined
      : new Prober({
          interval: o.probe.interval,
          jitter: o.probe.jitter,
          clock,
          random: o.random,
          environment: o.environment,
          edges: () => selection.edges,
          probe: probeEdge,
          skipped: (edge, why) => events.emit('probe', { edge: edge.id, skipped: why }),
        });

  const probeRound = async (): Promise<void> => {
    await prober?.probeAll();
    reselect();
  };

  const persistLatency = (): void => save({ latency: selection.latency.toJSON() });

  const useEdges = (edges: Edge[], regionHint: string | undefined): void => {
    selection.setEdges(edges);
    selection.applyRegionHint(regionHint ?? o.regionHint);
    reselect();
  };

  selection.latency.restore(saved.latency, clock.now(), o.maxLatencyAge);
  if (o.edges.length > 0) useEdges(o.edges, undefined);

  let mapSource: EdgeMapSource | undefined;
  let ready: Promise<void>;
  if (o.edgeMap === undefined) ready = Promise.resolve();
  else {
    mapSource = new EdgeMapSource({
      ...o.edgeMap,
      fetch: o.fetch,
      clock,
      random: o.random,
      onMap: (map, token, hint) => {
        save({ map: token });
        useEdges(map.edges, hint);
        events.emit('map', { version: map.version, edges: map.edges.length, regionHint: hint });
        void probeRound();
      },
      onReject: (error) => events.emit('mapRejected', { error }),
    });
    const source = mapSource;
    // The last good map of an earlier session is verified again before use: it may have expired.
    const restored = typeof saved.map === 'string' ? source.accept(saved.map, undefined).catch(() => undefined) : Promise.resolve(undefined);
    ready = restored.then(async (map) => {
      if (closed) return;
      const fresh = source.start();
      if (map === undefined && selection.edges.length === 0) await fresh;
      else fresh.catch(() => undefined);
    });
    ready.catch(() => undefined);
  }
  if (prober !== undefined) {
    if (selection.edges.length > 0) void probeRound();
    prober.start();
  }

  const client: EdgeClient = {
    fetch(path, init) {
      if (closed) return Promise.reject(new EdgeClientError('ECLOSED', 'the client is closed'));
      return send({ options: o, selection, events, budget, outcome, reselect }, path, init);
    },
    ready: () => ready,
    async probe() {
      await probeRound();
      persistLatency();
    },
    async refreshMap() {
      if (mapSource === undefined) throw new EdgeClientError('EBADMAP', 'no edge map configured');
      await mapSource.refresh();
    },
    current: () => selection.current,
    explain() {
      const paused = prober?.paused();
      return {
        current: selection.current?.id,
        reason: selection.lastReason,
        region: o.region,
        mapVersion: mapSource?.current?.version,
        probing: prober === undefined ? 'off' : (paused ?? 'on'),
        edges: selection.rank(clock.now()),
      };
    },
    on: (event, listener) => events.on(event, listener),
    async close() {
      if (closed) return;
      closed = true;
      prober?.close();
      mapSource?.close();
      probeAborts.abort();
      persistLatency();
      events.clear();
    },
    [Symbol.asyncDispose]: () => client.close(),
  };
  return client;
}
