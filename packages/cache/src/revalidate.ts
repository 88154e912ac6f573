import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import { bypass } from './bypass.js';
import { type CacheControl, parseCacheControl } from './cache-control.js';
import { type ForwardReason, forwardStatus, hitStatus } from './cache-status.js';
import type { CacheContext } from './context.js';
import type { CacheEntry } from './entry.js';
import { type FetchContext, OriginStatusError, type Outcome, PassThrough, type StorageFetcher, discardOutcome, fetchContext } from './fetch.js';
import { discardBody } from './body.js';
import { sendBuffered, sendOriginFailure, sendStored, streamResponse } from './respond.js';
import type { CompiledRoute } from './routes.js';
import { forwardHeaders } from './semantics.js';
import { MAX_MEMO_KEY, type Target } from './target.js';
import type { Origin } from './types.js';

/** Misses and revalidation of the HTTP adapter: one origin fetch per key, answered to every waiting client. */
export class Revalidator {
  readonly #cx: CacheContext;
  readonly #fetcher: StorageFetcher;

  constructor(cx: CacheContext, fetcher: StorageFetcher) {
    this.#cx = cx;
    this.#fetcher = fetcher;
  }

  /** Fetches (or joins the fetch of) `target` and answers the client from what it stored. */
  async fetchAndRespond(
    req: IncomingMessage,
    res: ServerResponse,
    keyHeaders: IncomingHttpHeaders,
    origin: Origin,
    target: Target,
    route: CompiledRoute,
    stale: CacheEntry | undefined,
    record: CacheEntry | undefined,
    fwd: ForwardReason,
    directives: CacheControl | undefined,
    retried: boolean,
  ): Promise<void> {
    const cx = this.#cx;
    const ctx = fetchContext(req, keyHeaders, target, route, origin, stale, record, res);
    if (!stale && target.url.length <= MAX_MEMO_KEY) cx.misses.add(target.storeKey, { host: target.host, url: target.url, route: route.name, primary: target.primary });
    let outcome: Outcome;
    try {
      outcome = await cx.coalescer.run(cx.targets.coalesceKey(target, route, record, keyHeaders), (signal) => this.#fetcher.fetch(ctx, signal, directives?.noStore === true), stale?.createdAt);
    } catch (error) {
      this.#answerFailure(req, res, origin, target, route, ctx, stale, fwd, error);
      return;
    }
    if (outcome instanceof PassThrough) {
      if (outcome.owner === ctx) {
        const headers = forwardHeaders(outcome.response.headers, cx.settings);
        headers.push('cache-status', forwardStatus(cx.name, fwd, { status: outcome.response.statusCode, detail: outcome.detail }));
        streamResponse(res, outcome.response, headers, outcome.prefix, req.method === 'HEAD');
        cx.lookupEvent('miss', route.name, undefined, outcome.detail);
      } else {
        // Another request's answer was not storable: it was streamed to that client alone.
        void bypass(cx, req, res, origin, target, fwd, 'uncacheable');
      }
      return;
    }
    const collapsed = !ctx.ran;
    if (collapsed) cx.counts.collapsed++;
    if (collapsed && outcome.vary.length > 0 && outcome.token !== cx.targets.variantSuffix(outcome.vary, keyHeaders)) {
      // The shared answer is another variant; look again now that the URL's vary record exists.
      if (!retried) {
        await this.#retryVariant(req, res, keyHeaders, origin, target, route, directives);
        return;
      }
      void bypass(cx, req, res, origin, target, 'vary-miss', 'variant');
      return;
    }
    const leader = ctx.leader;
    const status = forwardStatus(cx.name, fwd, {
      status: leader?.status ?? outcome.status,
      ttlMs: outcome.ttl(cx.clock.now()),
      stored: leader ? leader.stored : true,
      collapsed,
      detail: leader?.detail,
    });
    sendStored(req, res, outcome, cx.clock.now(), status, leader?.headers);
    cx.lookupEvent('miss', route.name, undefined, leader?.detail ?? (collapsed ? 'collapsed' : undefined));
  }

  async #retryVariant(req: IncomingMessage, res: ServerResponse, keyHeaders: IncomingHttpHeaders, origin: Origin, target: Target, route: CompiledRoute, directives: CacheControl | undefined): Promise<void> {
    const cx = this.#cx;
    const first = await cx.tiers.get(target.storeKey);
    const record = first?.entry.kind === 'vary' ? first.entry : undefined;
    let entry: CacheEntry | undefined;
    if (record) {
      const found = await cx.tiers.get(cx.targets.variantKey(target, record, keyHeaders));
      if (found?.entry.kind === 'response' && found.entry.age(cx.clock.now()) < found.entry.fresh) entry = found.entry;
    }
    if (entry) {
      sendStored(req, res, entry, cx.clock.now(), hitStatus(cx.name, entry.ttl(cx.clock.now())));
      cx.lookupEvent('hit', route.name, 'l2', undefined);
      return;
    }
    await this.fetchAndRespond(req, res, keyHeaders, origin, target, route, undefined, record, 'vary-miss', directives, true);
  }

  #answerFailure(req: IncomingMessage, res: ServerResponse, origin: Origin, target: Target, route: CompiledRoute, ctx: FetchContext, stale: CacheEntry | undefined, fwd: ForwardReason, error: unknown): void {
    const cx = this.#cx;
    const failed = error instanceof OriginStatusError ? error : undefined;
    // A must-revalidate entry has no stale-if-error window; an s-maxage one only the origin's own.
    if (stale !== undefined && (!stale.mustRevalidate || stale.sie > 0)) {
      const age = stale.age(cx.clock.now());
      if (age - stale.fresh < staleIfErrorFor(req, stale.sie)) {
        if (failed?.owner === ctx && !failed.complete) discardBody(failed.response.body);
        // RFC 5861 §4: stale-if-error.
        sendStored(req, res, stale, cx.clock.now(), forwardStatus(cx.name, 'stale', { status: failed?.status, ttlMs: stale.fresh - age, detail: 'stale-if-error' }));
        cx.lookupEvent('stale', route.name, undefined, 'stale-if-error');
        return;
      }
    }
    if (failed) {
      const owner = failed.owner === ctx;
      const cacheStatus = forwardStatus(cx.name, fwd, { status: failed.status, collapsed: !owner });
      const headers = [...failed.headers, 'cache-status', cacheStatus];
      if (owner && !failed.complete) streamResponse(res, failed.response, headers, failed.prefix, req.method === 'HEAD');
      else if (owner || failed.shareable) sendBuffered(res, failed.status, headers, Buffer.concat(failed.prefix), req.method === 'HEAD');
      else {
        void bypass(cx, req, res, origin, target, fwd, 'origin-error');
        return;
      }
      cx.lookupEvent('miss', route.name, undefined, 'origin-error');
      return;
    }
    cx.report(error);
    sendOriginFailure(res, error, forwardStatus(cx.name, fwd, { detail: 'origin-error' }));
    cx.lookupEvent('miss', route.name, undefined, 'origin-error');
  }

  /** Serves nothing: refreshes a stale entry with one background fetch (stale-while-revalidate). */
  inBackground(keyHeaders: IncomingHttpHeaders, target: Target, route: CompiledRoute, origin: Origin, stale: CacheEntry, record: CacheEntry | undefined): void {
    const cx = this.#cx;
    // A copy of what the fetch needs: the client request may be gone by the time it runs.
    const headers = { ...keyHeaders };
    const ctx = fetchContext(undefined, headers, target, route, origin, stale, record);
    cx.coalescer.refresh(
      cx.targets.coalesceKey(target, route, record, headers),
      (signal) => this.#fetcher.fetch(ctx, signal, false),
      (error, outcome) => {
        discardOutcome(error, outcome);
        if (error !== undefined && !(error instanceof OriginStatusError)) cx.report(error);
      },
      stale.createdAt,
    );
  }
}

/**
 * The stale-if-error window for this request: the stored one, narrowed by the request's own
 * `stale-if-error` (RFC 5861 §4: the client accepts a stale answer that long). Narrowing only makes
 * stale answers rarer, so it holds whatever `requestCacheControl` says.
 */
function staleIfErrorFor(req: IncomingMessage, stored: number): number {
  const header = req.headers['cache-control'];
  if (header === undefined) return stored;
  const requested = parseCacheControl(header).staleIfError;
  return requested === undefined ? stored : Math.min(stored, requested * 1000);
}
