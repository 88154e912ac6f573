import type { Coordinates } from './edge-map.js';

/** Where an edge's latency figure comes from. */
export type LatencySource = 'probe' | 'persisted' | 'geography' | 'unknown';

/** The smoothed round-trip time of one edge. */
export interface LatencyRecord {
  /** Exponentially weighted moving average of the round-trip time, in milliseconds. */
  rtt: number;
  /** Samples behind the average in this session (`0` for a persisted figure). */
  samples: number;
  /** Unix milliseconds of the last sample. */
  at: number;
  /** True while the only sample of the session is the one that opened the connection. */
  provisional?: boolean;
}

/** Smoothed round-trip times by edge id (EWMA), serializable for the next session. */
export class LatencyTable {
  readonly #records = new Map<string, LatencyRecord>();
  readonly #alpha: number;
  // The last three samples of each edge in this session, for the median.
  readonly #recent = new Map<string, number[]>();

  constructor(alpha: number) {
    this.#alpha = alpha;
  }

  /**
   * Adds a sample. The first sample of a session paid for a new connection (DNS, TCP, TLS), which
   * later probes on the kept-alive connection do not: it is ignored where a persisted figure exists,
   * used provisionally otherwise, and the second sample replaces it. Later samples go through a
   * median of the last three, so one stalled probe (a GC pause, a throttled tab) moves nothing, and
   * then into the average (EWMA).
   */
  record(edgeId: string, rtt: number, now: number): LatencyRecord {
    const previous = this.#records.get(edgeId);
    const recent = this.#recent.get(edgeId);
    let next = previous;
    if (recent === undefined) {
      this.#recent.set(edgeId, []);
      if (previous === undefined) next = { rtt, samples: 1, at: now, provisional: true };
    } else {
      if (recent.push(rtt) > 3) recent.shift();
      const sample = recent.length === 3 ? [...recent].sort((x, y) => x - y)[1]! : rtt;
      if (previous === undefined || previous.provisional) next = { rtt, samples: 2, at: now };
      else {
        // Queueing only ever adds delay, so a sample below the average is the better evidence and weighs more.
        const alpha = sample < previous.rtt ? Math.max(this.#alpha, 0.5) : this.#alpha;
        next = { rtt: previous.rtt + alpha * (sample - previous.rtt), samples: previous.samples + 1, at: now };
      }
    }
    this.#records.set(edgeId, next!);
    return next!;
  }

  get(edgeId: string): LatencyRecord | undefined {
    return this.#records.get(edgeId);
  }

  /** Restores persisted averages no older than `maxAge`; malformed entries are ignored. */
  restore(saved: unknown, now: number, maxAge: number): void {
    if (typeof saved !== 'object' || saved === null) return;
    for (const [id, value] of Object.entries(saved as Record<string, { rtt?: unknown; at?: unknown }>)) {
      const { rtt, at } = value ?? {};
      if (typeof rtt === 'number' && rtt >= 0 && typeof at === 'number' && now - at <= maxAge && !this.#records.has(id)) {
        this.#records.set(id, { rtt, samples: 0, at });
      }
    }
  }

  toJSON(): Record<string, { rtt: number; at: number }> {
    const out: Record<string, { rtt: number; at: number }> = {};
    for (const [id, { rtt, at }] of this.#records) out[id] = { rtt: Math.round(rtt * 10) / 10, at };
    return out;
  }
}

const EARTH_RADIUS_KM = 6371;
const rad = (deg: number): number => (deg * Math.PI) / 180;

/** Great-circle distance in kilometres (haversine). */
export function distanceKm(a: Coordinates, b: Coordinates): number {
  const h = Math.sin(rad(b.lat - a.lat) / 2) ** 2 + Math.cos(rad(a.lat)) * Math.cos(rad(b.lat)) * Math.sin(rad(b.lon - a.lon) / 2) ** 2;
  return 2 * EARTH_RADIUS_KM * Math.asin(Math.min(1, Math.sqrt(h)));
}

/**
 * Round-trip time a distance suggests before any probe: light in fibre covers about 200 km per
 * millisecond, routes are rarely straight (× 1.5 is assumed), and every exchange pays a few ms.
 */
export function estimateRtt(from: Coordinates, to: Coordinates): number {
  return 5 + (2 * 1.5 * distanceKm(from, to)) / 200;
}
