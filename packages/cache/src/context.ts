import { type Clock, TypedEmitter } from '@edgekit/core';
import type { Coalescer } from './coalesce.js';
import type { CacheEntry } from './entry.js';
import type { CacheError } from './errors.js';
import type { InvalidationBus } from './invalidation.js';
import type { ResolvedOptions } from './options.js';
import type { AnalysisSettings } from './semantics.js';
import type { Tiers } from './tiers.js';
import type { TargetTable } from './target.js';
import type { TopMisses } from './top-misses.js';
import type { CacheEvents, LookupEvent, LookupStatus } from './types.js';
import type { Outcome } from './fetch.js';

/** Counters behind {@link EdgeCache.stats}. */
export interface Counts {
  hits: number;
  misses: number;
  stale: number;
  bypasses: number;
  stores: number;
  collapsed: number;
  originRequests: number;
  invalidations: number;
  errors: number;
}

/** What the cache's layers share: options, tiers, invalidation, single flight, events and counters. */
export class CacheContext {
  readonly options: ResolvedOptions;
  readonly clock: Clock;
  /** The cache's name in `Cache-Status`. */
  readonly name: string;
  readonly events = new TypedEmitter<CacheEvents>();
  readonly counts: Counts = { hits: 0, misses: 0, stale: 0, bypasses: 0, stores: 0, collapsed: 0, originRequests: 0, invalidations: 0, errors: 0 };
  /** Entries written to the stores by this process's fetches: what another process can read after a coalesced fetch. */
  readonly stored = new WeakSet<CacheEntry>();
  readonly settings: AnalysisSettings;
  readonly unkeyed: ReadonlySet<string>;
  /** Clients' `Cache-Control` may force revalidation (`requestCacheControl: 'honor'`). */
  readonly honorRequest: boolean;
  tiers!: Tiers;
  invalidation!: InvalidationBus;
  coalescer!: Coalescer<Outcome>;
  targets!: TargetTable;
  misses!: TopMisses;

  constructor(options: ResolvedOptions) {
    this.options = options;
    this.clock = options.clock;
    this.name = options.name;
    this.honorRequest = options.requestCacheControl === 'honor';
    this.unkeyed = new Set(options.unkeyedHeaders);
    this.settings = {
      cacheableStatuses: options.cacheableStatuses,
      tagHeaders: options.tagHeaders,
      exposeTagHeaders: options.exposeTagHeaders,
      maxTags: options.maxTags,
      maxTagLength: 256,
      maxTtl: options.maxTtl,
      targetedCacheControl: options.targetedCacheControl,
    };
  }

  /** Counts and emits an absorbed failure. */
  report(error: unknown): void {
    this.counts.errors++;
    this.events.emit('error', error instanceof Error ? (error as CacheError | Error) : new Error(String(error)));
  }

  /** Counts a lookup and emits the `lookup` event when anyone listens. */
  lookupEvent(status: LookupStatus, route: string, tier: 'l1' | 'l2' | undefined, detail: string | undefined): void {
    if (status === 'hit') this.counts.hits++;
    else if (status === 'miss') this.counts.misses++;
    else if (status === 'stale') this.counts.stale++;
    else this.counts.bypasses++;
    if (this.events.hasListeners('lookup')) this.events.emit('lookup', { status, route, tier, detail } satisfies LookupEvent);
  }
}
