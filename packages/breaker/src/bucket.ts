// The slices of a breaker's rolling window and the totals over them, in opossum's shapes.

/** Counters of one slice of the rolling window, in opossum's shape. */
export interface Bucket {
  failures: number;
  fallbacks: number;
  successes: number;
  rejects: number;
  fires: number;
  timeouts: number;
  cacheHits: number;
  cacheMisses: number;
  coalesceCacheHits: number;
  coalesceCacheMisses: number;
  semaphoreRejections: number;
  /** Always `{}` in a bucket; filled in {@link Stats}. */
  percentiles: { [percentile: number]: number };
  /** Latency samples in milliseconds (see `latencySampleSize`). */
  latencyTimes: number[];
  /** Present once the breaker opened (`true`) or closed (`false`) during this slice. */
  isCircuitBreakerOpen?: boolean;
}

/** Totals over the rolling window: the bucket counters plus latency percentiles and mean. */
export interface Stats extends Bucket {
  /** Mean of the latency samples; `-1` when `rollingPercentilesEnabled` is false. */
  latencyMean: number;
}

/** Names of the numeric counters of a {@link Bucket}. */
export type BucketCounter =
  | 'failures'
  | 'fallbacks'
  | 'successes'
  | 'rejects'
  | 'fires'
  | 'timeouts'
  | 'cacheHits'
  | 'cacheMisses'
  | 'coalesceCacheHits'
  | 'coalesceCacheMisses'
  | 'semaphoreRejections';

export const COUNTERS: readonly BucketCounter[] = [
  'failures',
  'fallbacks',
  'successes',
  'rejects',
  'fires',
  'timeouts',
  'cacheHits',
  'cacheMisses',
  'coalesceCacheHits',
  'coalesceCacheMisses',
  'semaphoreRejections',
];

export const PERCENTILES = [0, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 0.995, 1] as const;

/** One slice of the window. Internal: the breaker increments its fields directly. */
export class Slot {
  failures = 0;
  fallbacks = 0;
  successes = 0;
  rejects = 0;
  fires = 0;
  timeouts = 0;
  cacheHits = 0;
  cacheMisses = 0;
  coalesceCacheHits = 0;
  coalesceCacheMisses = 0;
  semaphoreRejections = 0;
  latencyTimes: number[] = [];
  isCircuitBreakerOpen: boolean | undefined = undefined;
  /** Other fields of restored `stats` (`percentiles`, `latencyMean`, ...), shown in this slice until it rotates out, as opossum shows them. */
  extras: Record<string, unknown> | undefined = undefined;

  reset(): void {
    for (const counter of COUNTERS) this[counter] = 0;
    this.latencyTimes = [];
    this.isCircuitBreakerOpen = undefined;
    this.extras = undefined;
  }

  isEmpty(): boolean {
    for (const counter of COUNTERS) if (this[counter] !== 0) return false;
    return this.isCircuitBreakerOpen === undefined && this.extras === undefined;
  }

  toBucket(): Bucket {
    const bucket = this.extras === undefined ? emptyBucket() : Object.assign(emptyBucket(), this.extras);
    for (const counter of COUNTERS) bucket[counter] = this[counter];
    bucket.latencyTimes = this.latencyTimes.slice();
    if (this.isCircuitBreakerOpen !== undefined) bucket.isCircuitBreakerOpen = this.isCircuitBreakerOpen;
    return bucket;
  }
}

export function emptyBucket(): Bucket {
  return {
    failures: 0,
    fallbacks: 0,
    successes: 0,
    rejects: 0,
    fires: 0,
    timeouts: 0,
    cacheHits: 0,
    cacheMisses: 0,
    coalesceCacheHits: 0,
    coalesceCacheMisses: 0,
    semaphoreRejections: 0,
    percentiles: {},
    latencyTimes: [],
  };
}

// opossum's percentile rule, kept so stats read the same.
export function percentile(p: number, sorted: readonly number[]): number {
  if (p === 0) return sorted[0] ?? 0;
  return sorted[Math.ceil(p * sorted.length) - 1] ?? 0;
}
