import { EdgekitError, brandError } from '@edgekit/core/errors';

/**
 * Stable codes of {@link EdgeClientError}:
 * - `EBADSIGNATURE`: an edge map's signature does not verify with the configured key.
 * - `ESTALEMAP`: an edge map has expired, or is older than the one in use (a rollback).
 * - `EBADMAP`: an edge map is malformed, or its fetch failed.
 * - `EUNAVAILABLE`: no edge may be tried (none known, pinned region empty, breakers open, `Retry-After`).
 * - `EUPSTREAM`: every edge tried failed at the network level.
 * - `ETIMEDOUT`: an edge tried did not answer in time and no other one answered.
 * - `ECLOSED`: the client is closed.
 */
export type EdgeClientErrorCode = 'EBADSIGNATURE' | 'ESTALEMAP' | 'EBADMAP' | 'EUNAVAILABLE' | 'EUPSTREAM' | 'ETIMEDOUT' | 'ECLOSED';

/** Context of an {@link EdgeClientError}. */
export interface EdgeClientErrorInit {
  cause?: unknown;
  /** Edge ids a network attempt went to, in order. */
  edgesTried?: readonly string[];
  /** The pinned region, when one is set. */
  region?: string | undefined;
  /** Milliseconds until an edge may be tried again (`Retry-After`, breaker reset). */
  retryAfter?: number | undefined;
}

/**
 * Every error the client throws on purpose: an `EdgekitError` from `@edgekit/core`'s Node-free
 * `errors` entry, so the browser build stays free of Node built-ins.
 */
export class EdgeClientError extends EdgekitError {
  declare readonly code: EdgeClientErrorCode;
  /** Edge ids a network attempt went to, in order. */
  readonly edgesTried: readonly string[];
  /** The pinned region, when one is set. */
  readonly region: string | undefined;
  /** Milliseconds until an edge may be tried again, when known. */
  readonly retryAfter: number | undefined;

  constructor(code: EdgeClientErrorCode, message: string, init: EdgeClientErrorInit = {}) {
    super(code, message, init);
    // Literal, not the class's own name: browser bundles are minified and rename classes.
    this.name = 'EdgeClientError';
    this.edgesTried = init.edgesTried ?? [];
    this.region = init.region;
    this.retryAfter = init.retryAfter;
  }
}

/** True for an {@link EdgeClientError}, also one from another copy of the package. */
export const isEdgeClientError: (value: unknown) => value is EdgeClientError = brandError(EdgeClientError, 'edgekit.client.error');
