import type { IncomingMessage } from 'node:http';
import type { Readable } from 'node:stream';
import type { CacheError } from './errors.js';
import type { InvalidationNotice } from './invalidation.js';

/** What an origin answers: exactly `@edgekit/proxy`'s `ForwardResponse` (`region` is optional here). */
export interface OriginResponse {
  statusCode: number;
  headers: Record<string, string | string[] | number | undefined>;
  body: Readable;
  region?: string;
  /** The origin's trailers (gRPC's `grpc-status`), read once `body` has ended; relayed on streamed answers. */
  trailers?: Record<string, string | string[]> | undefined;
}

/**
 * The origin behind the cache: `@edgekit/proxy`'s `forward(req, { signal })`, or any function of
 * that shape. It may reject; an error with a numeric `status` and an RFC 9457 `problem` (a
 * `ForwardError`) is answered with that problem.
 */
export type Origin = (req: IncomingMessage, options: OriginOptions) => Promise<OriginResponse>;

/** What the cache passes to its origin: `@edgekit/proxy`'s `ForwardOptions`. */
export interface OriginOptions {
  signal: AbortSignal;
  /** Receives 1xx interim responses (`103 Early Hints`) for the client that caused the fetch; absent when no client waits. */
  onInformational?: (statusCode: number, headers: Record<string, string | string[]>) => void;
}

/** How a request was answered, for the `lookup` event and telemetry. */
export type LookupStatus = 'hit' | 'miss' | 'stale' | 'bypass';

/** Payload of the `lookup` event. */
export interface LookupEvent {
  status: LookupStatus;
  /** The matched route pattern (`GET /api/products/:id`), or the normalised path when none matched. Never a raw path. */
  route: string;
  /** Where a hit came from. */
  tier: 'l1' | 'l2' | undefined;
  /** The `Cache-Status` detail, when there is one (`stale-while-revalidate`, `no-route`, `set-cookie`, ...). */
  detail: string | undefined;
}

/** Payload of the `store` event. */
export interface StoreEvent {
  /** The store key. */
  key: string;
  route: string;
  /** Body bytes. */
  size: number;
  /** How long it is kept, in ms. */
  ttl: number;
  tags: readonly string[];
}

/** Events of the cache. */
export type CacheEvents = {
  /** Every request answered through `handler()` and every `wrap()` call. */
  lookup: [event: LookupEvent];
  /** An entry was stored. */
  store: [event: StoreEvent];
  /** This node applied an invalidation (its own or another node's). */
  invalidate: [notice: InvalidationNotice];
  /** The bus may have missed messages (`disconnected`: L1 bypassed) or is back (`reconnected`: L1 flushed). */
  gap: [gap: { kind: 'disconnected' | 'reconnected' }];
  /** A store, bus or origin failure the cache absorbed. Never thrown at clients. */
  error: [error: CacheError | Error];
};

/** Counters of {@link EdgeCache.stats}. */
export interface CacheStats {
  hits: number;
  misses: number;
  stale: number;
  bypasses: number;
  /** Entries stored. */
  stores: number;
  /** Misses that waited for another request's origin call instead of making their own. */
  collapsed: number;
  /** Origin calls made. */
  originRequests: number;
  /** Invalidations applied on this node. */
  invalidations: number;
  errors: number;
  l1: { entries: number; bytes: number; usable: boolean } | undefined;
}
