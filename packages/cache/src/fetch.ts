import { randomBytes } from 'node:crypto';
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import { writeInformational } from '@edgekit/core';
import { discardBody, readBody } from './body.js';
import type { CacheContext } from './context.js';
import { CacheEntry } from './entry.js';
import { CacheError } from './errors.js';
import { formatHttpDate } from './http-date.js';
import { createOriginRequest } from './origin-request.js';
import type { CompiledRoute, ResolvedPolicy } from './routes.js';
import { type OriginHeaders, type ResponseAnalysis, analyzeResponse, forwardHeaders } from './semantics.js';
import type { Target } from './target.js';
import type { Origin, OriginResponse } from './types.js';

/** A stored response or a response that must not be stored (streamed by the request that fetched it). */
export type Outcome = CacheEntry | PassThrough;

/** A response the cache will not store; only the request that caused the fetch may consume its body. */
export class PassThrough {
  constructor(
    readonly owner: FetchContext,
    readonly response: OriginResponse,
    readonly prefix: readonly Buffer[],
    readonly detail: string,
  ) {}
}

/**
 * An origin answer of 5xx (code `EORIGINSTATUS`), thrown so coalesced requests and stale-if-error
 * see a failure. A small, cookie-free error body is buffered and shared with coalesced requests;
 * otherwise only the owner may send it (the rest of `response.body` follows `prefix`).
 */
export class OriginStatusError extends CacheError {
  constructor(
    readonly status: number,
    readonly headers: string[],
    readonly prefix: readonly Buffer[],
    readonly complete: boolean,
    readonly shareable: boolean,
    readonly response: OriginResponse,
    readonly owner: FetchContext,
  ) {
    super('EORIGINSTATUS', `origin answered ${status}`, { operation: 'fetch', key: owner.target.primary });
  }
}

/** One origin fetch made for storage. */
export interface FetchContext {
  readonly client: IncomingMessage | undefined;
  /** The response of the client that caused the fetch: 1xx interim responses are relayed to it. */
  readonly res: ServerResponse | undefined;
  /** The request headers keys are built from (the client's, plus the principal on per-principal routes). */
  readonly headers: IncomingHttpHeaders;
  readonly target: Target;
  readonly route: CompiledRoute;
  readonly origin: Origin;
  /** The stored entry being revalidated, whose validators go to the origin. */
  readonly stale: CacheEntry | undefined;
  /** The vary record found for the URL, if any. */
  readonly record: CacheEntry | undefined;
  /** Set when this context's fetch actually ran (it is the leader of the coalesced group). */
  ran: boolean;
  /** What the leader sends its own client (its `Set-Cookie`, the origin status). */
  leader: { headers: string[]; status: number; stored: boolean; detail: string | undefined } | undefined;
  /** Store keys written by the fetch (for warming announcements). */
  written: string[];
}

// Request headers never copied to a fetch made for storage: hop-by-hop, body framing, the client's
// own conditions and ranges (the cache fetches complete responses and evaluates them itself), and
// its Cache-Control and Pragma (a stored entry serves everyone; one client's directives must not shape it).
const FETCH_DROPPED = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'te',
  'trailer',
  'upgrade',
  'content-length',
  'expect',
  'if-none-match',
  'if-modified-since',
  'if-match',
  'if-unmodified-since',
  'if-range',
  'range',
  'cache-control',
  'pragma',
  ':principal',
]);

/** Builds a {@link FetchContext}. */
export function fetchContext(
  client: IncomingMessage | undefined,
  headers: IncomingHttpHeaders,
  target: Target,
  route: CompiledRoute,
  origin: Origin,
  stale: CacheEntry | undefined,
  record: CacheEntry | undefined,
  res?: ServerResponse,
): FetchContext {
  return { client, res, headers, target, route, origin, stale, record, ran: false, leader: undefined, written: [] };
}

/** The origin fetch behind every miss and revalidation: fetch, analyse (RFC 9111), buffer, store. */
export class StorageFetcher {
  readonly #cx: CacheContext;

  constructor(cx: CacheContext) {
    this.#cx = cx;
  }

  /** Headers of a fetch made for storage: the client's, minus what the key does not cover. */
  #originHeaders(headers: IncomingHttpHeaders, policy: ResolvedPolicy, stale: CacheEntry | undefined): IncomingHttpHeaders {
    const out: IncomingHttpHeaders = {};
    const keyed = policy.vary;
    const unkeyed = this.#cx.unkeyed;
    for (const name in headers) {
      if (FETCH_DROPPED.has(name)) continue;
      if (unkeyed.has(name) && !keyed.includes(name) && !(name === 'cookie' && !policy.shared)) continue;
      // `X_Forwarded_Host` is `X-Forwarded-Host` to CGI-style origins (WSGI, Rack, PHP): no spelling of an unkeyed name is kept.
      if (name.includes('_') && unkeyed.has(name.replaceAll('_', '-'))) continue;
      out[name] = headers[name];
    }
    if (stale !== undefined) {
      // RFC 9111 §4.3.1: revalidate with the stored validators.
      if (stale.etag !== undefined) out['if-none-match'] = stale.etag;
      if (stale.lastModified !== undefined) out['if-modified-since'] = formatHttpDate(stale.lastModified);
    }
    return out;
  }

  /**
   * The single origin call of a coalesced group. Returns the entry (stored, or shareable but
   * unstored when the store is unavailable) or a {@link PassThrough}; throws {@link OriginStatusError} on 5xx.
   */
  async fetch(ctx: FetchContext, signal: AbortSignal, noStore: boolean): Promise<Outcome> {
    const cx = this.#cx;
    ctx.ran = true;
    const { target, route } = ctx;
    const policy = route.policy;
    const gen = await cx.tiers.generation();
    const requestTime = cx.clock.now();
    const req = createOriginRequest({ method: 'GET', url: target.url, headers: this.#originHeaders(ctx.headers, policy, ctx.stale), from: ctx.client });
    cx.counts.originRequests++;
    const client = ctx.client;
    const res = ctx.res;
    const response = await ctx.origin(
      req,
      client === undefined || res === undefined ? { signal } : { signal, onInformational: (status, headers) => writeInformational(client, res, status, headers) },
    );
    const responseTime = cx.clock.now();

    if (response.statusCode === 304 && ctx.stale !== undefined) {
      discardBody(response.body);
      return this.#refresh(ctx, response, gen, requestTime, responseTime, noStore);
    }
    const analysis = analyzeResponse(response.statusCode, response.headers, policy, cx.settings, { requestTime, responseTime });
    // A 5xx is an origin failure (stale-if-error, coalesced waiters), unless the origin gave it
    // explicit freshness and no stored response is being revalidated: then RFC 9111 §3 lets it be
    // stored like any other response.
    if (response.statusCode >= 500 && (ctx.stale !== undefined || analysis.notStorable !== undefined)) {
      const headers = forwardHeaders(response.headers, cx.settings);
      const buffered = await readBody(response.body, Math.min(cx.options.maxBodySize, 64 * 1024));
      const shareable = buffered.complete && !headers.includes('set-cookie');
      throw new OriginStatusError(response.statusCode, headers, buffered.chunks, buffered.complete, shareable, response, ctx);
    }
    if (analysis.notStorable !== undefined) return new PassThrough(ctx, response, [], analysis.notStorable);
    if (analysis.contentLength !== undefined && analysis.contentLength > cx.options.maxBodySize) return new PassThrough(ctx, response, [], 'too-large');
    const buffered = await readBody(response.body, cx.options.maxBodySize);
    if (!buffered.complete) return new PassThrough(ctx, response, buffered.chunks, 'too-large');
    const body = buffered.chunks.length === 1 ? buffered.chunks[0]! : Buffer.concat(buffered.chunks, buffered.size);
    return this.#store(ctx, analysis, response.statusCode, body, gen, responseTime, noStore);
  }

  /** RFC 9111 §4.3.4: a 304 freshens the stored response with the headers it carries. */
  async #refresh(ctx: FetchContext, response: OriginResponse, gen: number | undefined, requestTime: number, responseTime: number, noStore: boolean): Promise<Outcome> {
    const stale = ctx.stale!;
    const merged: OriginHeaders = {};
    const stored = stale.headers;
    for (let i = 0; i < stored.length; i += 2) {
      const name = stored[i]!;
      const value = stored[i + 1]!;
      const existing = merged[name];
      merged[name] = existing === undefined ? value : Array.isArray(existing) ? [...existing, value] : [String(existing), value];
    }
    let dated = false;
    for (const [rawName, value] of Object.entries(response.headers)) {
      const name = rawName.toLowerCase();
      if (name === 'content-length' || name === 'content-encoding' || name === 'content-type' || value === undefined) continue;
      merged[name] = value;
      if (name === 'date') dated = true;
    }
    // A 304 without Date was generated now; the stored Date would make the refreshed entry look old.
    if (!dated) delete merged.date;
    const analysis = analyzeResponse(stale.status, merged, ctx.route.policy, this.#cx.settings, { requestTime, responseTime });
    if (analysis.notStorable !== undefined) {
      // The origin no longer allows storage: answer from the validated body once, store nothing,
      // and forget the stored response. RFC 9111 §4.3.4 updates it with the 304's fields, and once
      // updated it may not be stored (§3): kept, it would still answer others (fresh, or within
      // its stale windows) under the directives the origin has just withdrawn.
      this.#cx.invalidation.invalidateKeys([ctx.target.storeKey]).catch((error: unknown) => this.#cx.report(error));
      const entry = this.#buildEntry(ctx, analysis, stale.status, stale.body, gen ?? 0, responseTime);
      ctx.leader = { headers: analysis.clientHeaders, status: 304, stored: false, detail: analysis.notStorable };
      return entry;
    }
    return this.#store(ctx, analysis, stale.status, stale.body, gen, responseTime, noStore, 304);
  }

  #buildEntry(ctx: FetchContext, analysis: ResponseAnalysis, status: number, body: Buffer, gen: number, responseTime: number, vary: readonly string[] = [], variant = ''): CacheEntry {
    const tags = ctx.route.tags(ctx.target.params);
    for (const tag of analysis.tags) if (!tags.includes(tag)) tags.push(tag);
    return new CacheEntry({
      kind: 'response',
      status,
      headers: analysis.storedHeaders,
      body,
      tags,
      gen,
      createdAt: responseTime,
      initialAge: analysis.initialAge,
      fresh: analysis.fresh,
      swr: analysis.swr,
      sie: analysis.sie,
      mustRevalidate: analysis.mustRevalidate,
      etag: analysis.etag,
      lastModified: analysis.lastModified,
      vary,
      token: variant,
    });
  }

  async #store(
    ctx: FetchContext,
    analysis: ResponseAnalysis,
    status: number,
    body: Buffer,
    gen: number | undefined,
    responseTime: number,
    noStore: boolean,
    originStatus = status,
  ): Promise<CacheEntry> {
    const cx = this.#cx;
    const { target, route } = ctx;
    const names = cx.targets.varyNames(route.policy, analysis.vary);
    const variant = names.length === 0 ? '' : cx.targets.variantSuffix(names, ctx.headers);
    const entry = this.#buildEntry(ctx, analysis, status, body, gen ?? 0, responseTime, names, variant);
    let detail: string | undefined;
    if (gen === undefined) detail = 'store-unavailable';
    else if (noStore) detail = 'request-no-store';
    else if (cx.invalidation.invalidatedSince(target.storeKey, target.storeKey, gen)) detail = 'invalidated';
    let stored = false;
    if (detail === undefined) {
      const { maxTtl, keepStale } = cx.options;
      const ttl = Math.min(entry.remaining(cx.clock.now(), keepStale), maxTtl + keepStale);
      if (ttl > 0) {
        let key = target.storeKey;
        if (names.length > 0) {
          const record = ctx.record !== undefined && sameList(ctx.record.vary, names) ? ctx.record : varyRecord(names, gen!, responseTime);
          const recordTtl = Math.max(ttl, record === ctx.record ? record.remaining(cx.clock.now(), 0) : 0);
          await cx.tiers.set(target.storeKey, record, Math.min(recordTtl, maxTtl + keepStale));
          ctx.written.push(target.storeKey);
          key = `${target.storeKey}v${record.token}:${variant}`;
        }
        await cx.tiers.set(key, entry, ttl);
        ctx.written.push(key);
        stored = true;
        cx.stored.add(entry);
        cx.counts.stores++;
        if (cx.events.hasListeners('store')) cx.events.emit('store', { key, route: route.name, size: body.length, ttl, tags: entry.tags });
      } else detail = 'stale';
    }
    ctx.leader = { headers: analysis.clientHeaders, status: originStatus, stored, detail };
    return entry;
  }
}

/** A URL's vary record: the request headers its variants are selected by, and a token naming this generation of variants. */
function varyRecord(names: readonly string[], gen: number, now: number): CacheEntry {
  return new CacheEntry({
    kind: 'vary',
    status: 0,
    headers: [],
    body: Buffer.alloc(0),
    tags: [],
    gen,
    createdAt: now,
    initialAge: 0,
    fresh: 0,
    swr: 0,
    sie: 0,
    mustRevalidate: false,
    etag: undefined,
    lastModified: undefined,
    vary: names,
    token: randomBytes(6).toString('base64url'),
  });
}

function sameList(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

/** Drops the body of an outcome or error nobody will send. */
export function discardOutcome(error: unknown, outcome?: Outcome): void {
  if (outcome instanceof PassThrough) discardBody(outcome.response.body);
  if (error instanceof OriginStatusError) discardBody(error.response.body);
}
