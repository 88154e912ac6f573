import type { Coordinates, Edge } from './edge-map.js';
import { type BreakerState, EdgeHealth } from './health.js';
import { type LatencySource, LatencyTable, estimateRtt } from './latency.js';

/** One edge as the client sees it, in {@link EdgeSelection.rank} order. */
export interface RankedEdge {
  id: string;
  region: string;
  /** Round-trip estimate in ms (`undefined`: nothing known yet). */
  rtt: number | undefined;
  /** Where `rtt` comes from. */
  source: LatencySource;
  /** `rtt / weight`; lower is better. */
  score: number;
  weight: number;
  breaker: BreakerState;
  /** Milliseconds until the edge may be called again (breaker or `Retry-After`). */
  waitFor: number;
  /** Why the edge cannot take requests now, if it cannot. */
  excluded?: 'region' | 'breaker' | 'retryAfter' | 'drained';
}

/** The edges, their health and latency, and the choice of the current one with hysteresis. */
export class EdgeSelection {
  edges: Edge[] = [];
  readonly health = new Map<string, EdgeHealth>();
  readonly latency: LatencyTable;
  current: Edge | undefined;
  lastReason = 'no edge chosen yet';
  location: Coordinates | undefined;
  /** Told when an open breaker's reset time has come and it half-opens. */
  onHalfOpen: (edgeId: string) => void = () => {};
  readonly #region: string | undefined;
  readonly #hysteresis: number;

  constructor(smoothing: number, hysteresis: number, region: string | undefined, location: Coordinates | undefined) {
    this.latency = new LatencyTable(smoothing);
    this.#hysteresis = hysteresis;
    this.#region = region;
    this.location = location;
  }

  /** Replaces the edge list; health of edges that stay is kept. */
  setEdges(edges: Edge[]): void {
    this.edges = edges;
    for (const id of [...this.health.keys()]) if (!edges.some((e) => e.id === id)) this.health.delete(id);
    for (const e of edges) if (!this.health.has(e.id)) this.health.set(e.id, new EdgeHealth());
    if (this.current !== undefined) this.current = edges.find((e) => e.id === this.current!.id);
  }

  /** Uses the coordinates of the hinted region's edges as the client's location, unless one is known. */
  applyRegionHint(region: string | undefined): void {
    if (this.location !== undefined || region === undefined) return;
    const located = this.edges.filter((e) => e.region === region && e.location !== undefined);
    if (located.length === 0) return;
    this.location = {
      lat: located.reduce((sum, e) => sum + e.location!.lat, 0) / located.length,
      lon: located.reduce((sum, e) => sum + e.location!.lon, 0) / located.length,
    };
  }

  healthOf(edge: Edge): EdgeHealth {
    return this.health.get(edge.id)!;
  }

  /** Every edge with its figures, usable ones first, each group by score (stable: configuration order breaks ties). */
  rank(now: number): RankedEdge[] {
    const ranked = this.edges.map((edge): RankedEdge => {
      const health = this.healthOf(edge);
      if (health.tick(now)) this.onHalfOpen(edge.id);
      const record = this.latency.get(edge.id);
      let rtt: number | undefined = record?.rtt;
      let source: LatencySource = record === undefined ? 'unknown' : record.samples > 0 ? 'probe' : 'persisted';
      if (rtt === undefined && this.location !== undefined && edge.location !== undefined) {
        rtt = estimateRtt(this.location, edge.location);
        source = 'geography';
      }
      const weight = edge.weight ?? 1;
      const entry: RankedEdge = {
        id: edge.id,
        region: edge.region,
        rtt,
        source,
        score: weight === 0 ? Infinity : (rtt ?? Number.MAX_VALUE) / weight,
        weight,
        breaker: health.state,
        waitFor: health.waitFor(now),
      };
      if (this.#region !== undefined && edge.region !== this.#region) entry.excluded = 'region';
      else if (now < health.coolingUntil) entry.excluded = 'retryAfter';
      else if (!health.usable(now)) entry.excluded = 'breaker';
      else if (weight === 0) entry.excluded = 'drained';
      return entry;
    });
    return ranked.sort((a, b) => Number(a.excluded !== undefined) - Number(b.excluded !== undefined) || Number(a.breaker !== 'closed') - Number(b.breaker !== 'closed') || a.score - b.score);
  }

  /**
   * Re-evaluates the current edge: it stays unless it can no longer take requests or another closed
   * edge beats its score by more than `hysteresis`. Returns the change, if any.
   */
  reselect(now: number): { from: string | undefined; to: string; reason: string } | undefined {
    const ranked = this.rank(now);
    const best = ranked.find((r) => r.excluded === undefined && r.breaker === 'closed') ?? ranked.find((r) => r.excluded === undefined);
    if (best === undefined) return undefined;
    const current = this.current === undefined ? undefined : ranked.find((r) => r.id === this.current!.id);
    let reason: string;
    if (current === undefined) reason = `first choice: lowest ${best.source} latency`;
    else if (current.excluded !== undefined || current.breaker !== 'closed') reason = `${current.id} unavailable (${current.excluded ?? current.breaker})`;
    else if (best.id !== current.id && best.score < current.score * (1 - this.#hysteresis)) {
      reason = `${best.id} faster by ${Math.round((1 - best.score / current.score) * 100)} % (${fmt(best.rtt)} vs ${fmt(current.rtt)} ms)`;
    } else {
      if (best.id !== current.id) this.lastReason = `kept ${current.id}: ${best.id} within ${Math.round(this.#hysteresis * 100)} % hysteresis`;
      return undefined;
    }
    if (best.id === current?.id) return undefined;
    const from = this.current?.id;
    this.current = this.edges.find((e) => e.id === best.id);
    this.lastReason = reason;
    return { from, to: best.id, reason };
  }

  /** Edges a request may try, in order: the current one first, then the others by rank. */
  candidates(now: number): Edge[] {
    const usable = this.rank(now).filter((r) => r.excluded === undefined);
    const order = usable.map((r) => this.edges.find((e) => e.id === r.id)!);
    const current = this.current === undefined ? -1 : order.indexOf(this.current);
    if (current > 0) order.unshift(...order.splice(current, 1));
    return order;
  }
}

const fmt = (rtt: number | undefined): string => (rtt === undefined ? '?' : rtt.toFixed(1));
