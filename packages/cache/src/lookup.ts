import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import { bypass } from './bypass.js';
import { type CacheControl, parseCacheControl } from './cache-control.js';
import { type ForwardReason, forwardStatus, hitStatus } from './cache-status.js';
import type { CacheContext } from './context.js';
import type { CacheEntry } from './entry.js';
import { sendHit, sendOriginFailure, sendStored } from './respond.js';
import type { Revalidator } from './revalidate.js';
import type { CompiledRoute } from './routes.js';
import { PRINCIPAL, type Target, hashText } from './target.js';
import type { Origin } from './types.js';

/** A principal function that threw: the request is private, with no identity to key it by. */
const UNKNOWN_PRINCIPAL = '\0';

/**
 * Lookup, the front of the HTTP adapter: answers fresh L1 hits synchronously, then reads the tiers,
 * serves stale content within its windows, and hands misses to the {@link Revalidator}.
 */
export class Lookup {
  readonly #cx: CacheContext;
  readonly #revalidator: Revalidator;

  constructor(cx: CacheContext, revalidator: Revalidator) {
    this.#cx = cx;
    this.#revalidator = revalidator;
  }

  handle(req: IncomingMessage, res: ServerResponse, origin: Origin): void {
    const cx = this.#cx;
    const method = req.method;
    const head = method === 'HEAD';
    if (method !== 'GET' && !head) {
      void bypass(cx, req, res, origin, undefined, 'method', undefined);
      return;
    }
    const url = req.url;
    if (url === undefined || url.charCodeAt(0) !== 47) {
      void bypass(cx, req, res, origin, undefined, 'bypass', 'request-target');
      return;
    }
    const headers = req.headers;
    const targets = cx.targets;
    const target = targets.target(cx.options.host ?? headers.host, url);
    const route = target.route;
    if (route === undefined) {
      void bypass(cx, req, res, origin, target, 'bypass', 'no-route');
      return;
    }
    const policy = route.policy;
    let keyHeaders = headers;
    if (targets.perPrincipalPossible) {
      const principal = this.#principalOf(req);
      if (principal !== undefined && (principal === UNKNOWN_PRINCIPAL || (policy.shared && policy.authenticated !== 'per-principal'))) {
        // Nothing stored may answer this request, and only-if-cached keeps it from the origin too.
        if (headers['cache-control'] !== undefined && parseCacheControl(headers['cache-control']).onlyIfCached) {
          this.#onlyIfCachedMiss(res, route, 'bypass');
          return;
        }
        void bypass(cx, req, res, origin, target, 'bypass', 'authenticated');
        return;
      }
      if (!policy.shared || policy.authenticated === 'per-principal') keyHeaders = { ...headers, [PRINCIPAL]: principal ?? '' };
    }
    let directives: CacheControl | undefined;
    if (headers['cache-control'] !== undefined || headers.pragma !== undefined) directives = this.#requestDirectives(headers);
    if (directives === undefined || !this.#mustForward(directives)) {
      let entry = cx.tiers.peek(target.storeKey);
      if (entry !== undefined && entry.kind === 'vary') entry = cx.tiers.peek(targets.variantKey(target, entry, keyHeaders));
      if (entry !== undefined && entry.kind === 'response') {
        const age = entry.age(cx.clock.now());
        if (age < entry.fresh && (directives === undefined || this.#freshEnough(directives, entry, age))) {
          sendHit(req, res, entry, age, head, cx.name);
          cx.lookupEvent('hit', route.name, 'l1', undefined);
          return;
        }
      }
    }
    void this.#slow(req, res, origin, target, route, directives, keyHeaders);
  }

  /**
   * The request's principal hashed (`p:` from the `principal` option, `h:` from a credential
   * header), `UNKNOWN_PRINCIPAL` when the principal function threw, or `undefined` when anonymous.
   */
  #principalOf(req: IncomingMessage): string | undefined {
    const { principal: find, credentialHeaders: names } = this.#cx.options;
    if (find !== undefined) {
      let principal: string | undefined;
      try {
        principal = find(req);
      } catch (error) {
        this.#cx.report(error);
        return UNKNOWN_PRINCIPAL;
      }
      if (typeof principal === 'string' && principal.length > 0) return `p:${hashText(principal)}`;
    }
    for (let i = 0; i < names.length; i++) {
      const value = req.headers[names[i]!];
      if (value !== undefined) return `h:${hashText(`${names[i]}=${String(value)}`)}`;
    }
    return undefined;
  }

  /** Request directives that matter under the configured `requestCacheControl`. */
  /** RFC 9111 §5.2.1.7: a request with `only-if-cached` that nothing stored answers gets 504, without the origin. */
  #onlyIfCachedMiss(res: ServerResponse, route: CompiledRoute, fwd: ForwardReason): void {
    const cx = this.#cx;
    sendOriginFailure(res, { status: 504, problem: { title: 'Gateway Timeout', status: 504, detail: 'only-if-cached and nothing usable is stored' } }, forwardStatus(cx.name, fwd, { detail: 'only-if-cached' }));
    cx.lookupEvent(fwd === 'bypass' ? 'bypass' : 'miss', route.name, undefined, 'only-if-cached');
  }

  #requestDirectives(headers: IncomingHttpHeaders): CacheControl {
    const cc = parseCacheControl(headers['cache-control']);
    if (this.#cx.honorRequest && cc.noCache === false && headers['cache-control'] === undefined) {
      // RFC 9111 §5.4: Pragma: no-cache only without Cache-Control.
      const pragma = headers.pragma;
      if (typeof pragma === 'string' && /(^|,)\s*no-cache\s*(,|$)/i.test(pragma)) return { ...cc, noCache: true };
    }
    return cc;
  }

  #mustForward(cc: CacheControl): boolean {
    return this.#cx.honorRequest && (cc.noCache || cc.maxAge === 0);
  }

  /** Client freshness demands (`max-age`, `min-fresh`), honoured only in `'honor'` mode. */
  #freshEnough(cc: CacheControl, entry: CacheEntry, age: number): boolean {
    if (!this.#cx.honorRequest) return true;
    if (cc.maxAge !== undefined && age > cc.maxAge * 1000) return false;
    if (cc.minFresh !== undefined && entry.fresh - age < cc.minFresh * 1000) return false;
    return true;
  }

  /** How far past freshness the client accepts (`max-stale`), in `'honor'` mode. */
  #staleAllowed(cc: CacheControl | undefined, staleness: number): boolean {
    if (!this.#cx.honorRequest || cc?.maxStale === undefined) return false;
    return staleness <= cc.maxStale * 1000;
  }

  async #slow(req: IncomingMessage, res: ServerResponse, origin: Origin, target: Target, route: CompiledRoute, directives: CacheControl | undefined, keyHeaders: IncomingHttpHeaders): Promise<void> {
    const cx = this.#cx;
    const { tiers, targets, clock } = cx;
    try {
      let fwd: ForwardReason = 'uri-miss';
      let record: CacheEntry | undefined;
      let entry: CacheEntry | undefined;
      let tier: 'l1' | 'l2' | undefined;
      const first = await tiers.get(target.storeKey);
      if (first !== undefined) {
        if (first.entry.kind === 'vary') {
          record = first.entry;
          const second = await tiers.get(targets.variantKey(target, record, keyHeaders));
          if (second !== undefined && second.entry.kind === 'response') ({ entry, tier } = second);
          else fwd = 'vary-miss';
        } else if (first.entry.kind === 'response') ({ entry, tier } = first);
      }
      const forced = directives !== undefined && this.#mustForward(directives);
      if (entry !== undefined && tier === 'l1' && !forced && entry.age(clock.now()) >= entry.fresh && tiers.l2Available) {
        // Another node may already have refreshed this entry in L2.
        const shared = await tiers.getShared(record ? targets.variantKey(target, record, keyHeaders) : target.storeKey);
        if (shared !== undefined && shared.entry.kind === 'response' && shared.entry.createdAt > entry.createdAt) ({ entry, tier } = shared);
      }
      if (entry !== undefined) {
        const age = entry.age(clock.now());
        // In 'honor' mode the client's max-age and min-fresh bound fresh and stale answers alike.
        const acceptable = directives === undefined || this.#freshEnough(directives, entry, age);
        if (!forced && age < entry.fresh && acceptable) {
          sendStored(req, res, entry, clock.now(), hitStatus(cx.name, entry.fresh - age));
          cx.lookupEvent('hit', route.name, tier, undefined);
          return;
        }
        const staleness = age - entry.fresh;
        // Only a stale entry is served within its stale windows: a fresh one the client refused goes to the origin.
        // must-revalidate, proxy-revalidate and no-cache entries have no stale windows; s-maxage ones keep
        // the origin's explicit windows, but neither is served stale on the client's max-stale.
        if (!forced && acceptable && staleness >= 0 && (staleness < entry.swr || (!entry.mustRevalidate && this.#staleAllowed(directives, staleness)))) {
          const detail = staleness < entry.swr ? 'stale-while-revalidate' : 'max-stale';
          sendStored(req, res, entry, clock.now(), hitStatus(cx.name, entry.fresh - age, detail));
          cx.lookupEvent('stale', route.name, tier, detail);
          this.#revalidator.inBackground(keyHeaders, target, route, origin, entry, record);
          return;
        }
        fwd = forced || staleness < 0 ? 'request' : 'stale';
      }
      if (directives?.onlyIfCached) {
        this.#onlyIfCachedMiss(res, route, fwd);
        return;
      }
      await this.#revalidator.fetchAndRespond(req, res, keyHeaders, origin, target, route, entry, record, fwd, directives, false);
    } catch (error) {
      cx.report(error);
      if (!res.headersSent) sendOriginFailure(res, error, forwardStatus(cx.name, 'miss', { detail: 'error' }));
      else res.destroy();
    }
  }
}
