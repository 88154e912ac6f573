import type { BreakerState } from './health.js';
import type { EdgeClientError } from './errors.js';

/** Events of an edge client: one for every decision it takes. */
export interface EdgeClientEvents {
  /** The current edge changed (or was chosen for the first time). */
  select: { from: string | undefined; to: string; reason: string };
  /** A probe answered (`rtt`), failed (`error`), or was skipped because the page is hidden or data is saved. */
  probe: { edge: string; rtt?: number; status?: number; error?: unknown; skipped?: 'hidden' | 'saveData' };
  /** An edge's breaker changed state. */
  breaker: { edge: string; state: BreakerState };
  /** A verified edge map was taken into use. */
  map: { version: number; edges: number; regionHint: string | undefined };
  /** An edge map was refused (bad signature, stale, malformed) or could not be fetched; the last good one stays. */
  mapRejected: { error: EdgeClientError };
  /** A request moved to another edge after a failure. */
  failover: { from: string; to: string; reason: string };
  /** A copy of a slow idempotent request was sent to another edge. */
  hedge: { waiting: string; to: string };
  /** A retry or hedge was refused by the retry budget. */
  budgetExhausted: { edge: string; kind: 'retry' | 'hedge' };
  /** An edge asked not to be called for a while (`Retry-After`). */
  retryAfter: { edge: string; until: number };
  /** A request got its answer. */
  response: { edge: string; status: number; attempts: number; duration: number };
}
