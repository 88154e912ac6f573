import type { IncomingHttpHeaders } from 'node:http';
import { describeValue } from '@edgekit/core';
import { discardBody } from './body.js';
import type { CacheContext } from './context.js';
import { CacheError } from './errors.js';
import { OriginStatusError, PassThrough, type StorageFetcher, fetchContext } from './fetch.js';
import { SCOPE } from './options.js';
import type { Origin } from './types.js';

/** Options of {@link EdgeCache.warm}. */
export interface WarmOptions {
  /** The origin to ask. Default: the cache's `origin` option, or the origin of the first `handler()`. */
  origin?: Origin;
  /** Concurrent origin requests. Default: the cache's `warmConcurrency`. */
  concurrency?: number;
  /** Host for relative URLs. Default: the cache's `host` option. */
  host?: string;
  /** Request headers sent with every warming request (for `Vary`-selected variants). Default: none. */
  headers?: Record<string, string>;
  /** Fetch even when a fresh entry exists. Default: false. */
  force?: boolean;
  /** Ask every other node to copy the warmed entries from L2 into its L1. Default: true. */
  announce?: boolean;
}

/** What {@link EdgeCache.warm} did. */
export interface WarmReport {
  /** URLs now stored (fetched, or already fresh). */
  warmed: string[];
  /** URLs not stored, and why (`no-route`, `private`, `set-cookie`, ...). */
  skipped: Array<{ url: string; reason: string }>;
  /** URLs whose fetch failed. */
  failed: Array<{ url: string; error: Error }>;
}

/** One of {@link EdgeCache.topMisses}. */
export interface TopMiss {
  /** Readable primary key. */
  key: string;
  host: string;
  /** Normalised origin-form target. */
  url: string;
  route: string;
  /** Estimated misses (Space-Saving: overestimated by at most `error`). */
  count: number;
  error: number;
}

/** What the miss counters remember about a key. */
export interface MissData {
  host: string;
  url: string;
  route: string;
  primary: string;
}

/** Warming: fetching URLs into the stores ahead of clients, and copying other nodes' warmed keys into L1. */
export class Warmer {
  readonly #cx: CacheContext;
  readonly #fetcher: StorageFetcher;
  readonly #defaultOrigin: () => Origin | undefined;
  #closed = false;

  constructor(cx: CacheContext, fetcher: StorageFetcher, defaultOrigin: () => Origin | undefined) {
    this.#cx = cx;
    this.#fetcher = fetcher;
    this.#defaultOrigin = defaultOrigin;
  }

  async warm(urls: Iterable<string>, options: WarmOptions = {}): Promise<WarmReport> {
    const cx = this.#cx;
    const origin = options.origin ?? this.#defaultOrigin();
    if (typeof origin !== 'function') throw new TypeError(`${SCOPE}: warm() needs an origin (option "origin", or call handler(origin) first)`);
    const concurrency = options.concurrency ?? cx.options.warmConcurrency;
    if (!Number.isInteger(concurrency) || concurrency < 1) throw new RangeError(`${SCOPE}: warm() option "concurrency" must be an integer >= 1 (got ${describeValue(concurrency)})`);
    const list = [...urls];
    const report: WarmReport = { warmed: [], skipped: [], failed: [] };
    const written: string[] = [];
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < list.length && !this.#closed) {
        const url = list[next++]!;
        try {
          const result = await this.#warmOne(url, origin, options);
          if (result.stored) {
            report.warmed.push(url);
            written.push(...result.keys);
          } else report.skipped.push({ url, reason: result.reason });
        } catch (error) {
          report.failed.push({ url, error: error instanceof Error ? error : new Error(String(error)) });
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(concurrency, list.length) }, worker));
    if (options.announce !== false && written.length > 0) {
      try {
        await cx.invalidation.announceWarm(written);
      } catch (error) {
        cx.report(error);
      }
    }
    return report;
  }

  async #warmOne(url: string, origin: Origin, options: WarmOptions): Promise<{ stored: true; keys: string[] } | { stored: false; reason: string }> {
    const cx = this.#cx;
    const { tiers, targets } = cx;
    const { host, target: path } = targets.splitUrl(url, options.host);
    const target = targets.target(host, path);
    const route = target.route;
    if (!route) return { stored: false, reason: 'no-route' };
    const headers: IncomingHttpHeaders = { ...lowerCaseKeys(options.headers ?? {}) };
    if (host !== undefined) headers.host = host;
    const first = await tiers.get(target.storeKey);
    const record = first?.entry.kind === 'vary' ? first.entry : undefined;
    if (!options.force && first !== undefined) {
      const key = record ? targets.variantKey(target, record, headers) : target.storeKey;
      const found = record ? await tiers.get(key) : first;
      if (found?.entry.kind === 'response' && found.entry.age(cx.clock.now()) < found.entry.fresh) {
        return { stored: true, keys: record ? [target.storeKey, key] : [key] };
      }
    }
    const ctx = fetchContext(undefined, headers, target, route, origin, undefined, record);
    // A forced warm-up wants a fetch made now, not an entry stored before it began.
    const after = options.force ? cx.clock.now() - 1 : undefined;
    const outcome = await cx.coalescer.run(targets.coalesceKey(target, route, record, headers), (signal) => this.#fetcher.fetch(ctx, signal, false), after).catch((error: unknown) => {
      if (error instanceof OriginStatusError) {
        discardBody(error.response.body);
        throw new CacheError('ECACHESTORE', `warming ${url}: origin answered ${error.status}`, { operation: 'warm', key: target.primary, cause: error });
      }
      throw error;
    });
    if (outcome instanceof PassThrough) {
      discardBody(outcome.response.body);
      return { stored: false, reason: outcome.detail };
    }
    if (ctx.ran && ctx.leader && !ctx.leader.stored) return { stored: false, reason: ctx.leader.detail ?? 'not-stored' };
    return { stored: true, keys: ctx.written };
  }

  /** A warming announcement from another node: copy the keys from L2 into L1. */
  async loadIntoL1(keys: readonly string[]): Promise<void> {
    const cx = this.#cx;
    if (!cx.tiers.l2 || !cx.tiers.l1) return;
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < keys.length && !this.#closed) await cx.tiers.get(keys[next++]!);
    };
    await Promise.all(Array.from({ length: Math.min(cx.options.warmConcurrency, keys.length) }, worker));
  }

  topMisses(n: number): TopMiss[] {
    if (!Number.isInteger(n) || n < 0) throw new RangeError(`${SCOPE}: topMisses() needs an integer >= 0 (got ${describeValue(n)})`);
    return this.#cx.misses.top(n).map((m) => {
      const data = m.data as MissData;
      return { key: data.primary, host: data.host, url: data.url, route: data.route, count: m.count, error: m.error };
    });
  }

  async warmTopMisses(n: number, options: WarmOptions = {}): Promise<WarmReport> {
    const misses = this.#cx.misses;
    const byUrl = new Map<string, string>();
    const urls: string[] = [];
    for (const m of misses.top(n)) {
      const data = m.data as MissData;
      const url = `http://${data.host}${data.url}`;
      byUrl.set(url, m.key);
      urls.push(url);
    }
    const report = await this.warm(urls, options);
    for (const url of report.warmed) {
      const key = byUrl.get(url);
      if (key !== undefined) misses.delete(key);
    }
    return report;
  }

  close(): void {
    this.#closed = true;
  }
}

function lowerCaseKeys(headers: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) out[name.toLowerCase()] = value;
  return out;
}
