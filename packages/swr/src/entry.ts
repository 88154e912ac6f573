/**
 * A stored value and its windows, as absolute clock readings in ms. An entry is fresh before
 * `freshUntil`, served stale (with a background refresh) before `staleUntil`, and served when the
 * origin fails before `errorUntil`. Stores keep it until the later of the last two, never longer.
 */
export interface SwrEntry<V = unknown> {
  value: V;
  /** When the value was fetched. */
  createdAt: number;
  /** End of freshness: `createdAt + ttl`. */
  freshUntil: number;
  /** End of the stale-while-revalidate window: `freshUntil + staleWhileRevalidate`. */
  staleUntil: number;
  /** End of the stale-if-error window: `freshUntil + staleIfError`. */
  errorUntil: number;
}

/** How long a value is fresh and how long it may be served stale. Durations are milliseconds. */
export interface SwrPolicy {
  /** Freshness lifetime (> 0). */
  ttl: number;
  /** After `ttl`, serve the stale value for this long while one background fetch refreshes it. Default: 0. */
  staleWhileRevalidate?: number;
  /** After `ttl`, serve the stale value for this long when the fetch fails. Default: 0. */
  staleIfError?: number;
  /** Aborts this caller's wait (not a fetch other callers share). */
  signal?: AbortSignal;
}

/** How a value was obtained. */
export type SwrStatus = 'fresh' | 'stale' | 'miss' | 'stale-error';

/** What {@link Swr.resolve} returns. */
export interface SwrResult<V> {
  value: V;
  status: SwrStatus;
  entry: SwrEntry<V>;
}

/** Builds an entry for a value fetched at `now`. */
export function makeEntry<V>(value: V, now: number, ttl: number, staleWhileRevalidate: number, staleIfError: number): SwrEntry<V> {
  const freshUntil = now + ttl;
  return { value, createdAt: now, freshUntil, staleUntil: freshUntil + staleWhileRevalidate, errorUntil: freshUntil + staleIfError };
}

/** How long a store keeps `entry` from `now`: until its last window closes (ttl + max(staleWhileRevalidate, staleIfError)). */
export function retention(entry: SwrEntry, now: number): number {
  return Math.max(entry.staleUntil, entry.errorUntil, entry.freshUntil) - now;
}

/** True for a structurally valid entry (stores decode untrusted data). */
export function isEntry(value: unknown): value is SwrEntry {
  if (typeof value !== 'object' || value === null) return false;
  const e = value as SwrEntry;
  return (
    'value' in e &&
    Number.isFinite(e.createdAt) &&
    Number.isFinite(e.freshUntil) &&
    Number.isFinite(e.staleUntil) &&
    Number.isFinite(e.errorUntil)
  );
}
