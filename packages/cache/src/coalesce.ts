/**
 * The seam between the cache and request coalescing. The cache decides HTTP freshness itself; the
 * coalescer only makes sure one origin call runs per key (per process, and across processes when
 * it is backed by Redis), in the foreground for misses and in the background for stale entries.
 * `after` is the `createdAt` of the entry the caller already holds: a result another process
 * stored counts only when it is newer (a forced revalidation is not answered by the same entry).
 */
export interface Coalescer<V> {
  /** Runs `fetch` once for concurrent callers of `key`; callers that did not run it share its result. */
  run(key: string, fetch: (signal: AbortSignal) => Promise<V>, after?: number): Promise<V>;
  /** Starts `fetch` in the background unless a fetch of `key` is already running (here or in another process). */
  refresh(key: string, fetch: (signal: AbortSignal) => Promise<V>, onDone: (error: unknown, value?: V) => void, after?: number): void;
  close(): Promise<void>;
}
