import { createHmac, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { type Clock, checkOptionsObject, describeValue, firstHeader, optionalFunction, optionalNumber, optionalString, systemClock } from '@edgekit/core';
import type { GeoLocation } from './location.js';
import type { Region } from './region-selector.js';

const SCOPE = '@edgekit/geo: request selector';

/** The request parts a request selector reads (Node's `IncomingMessage` fits). */
export interface SelectableRequest {
  readonly headers: IncomingHttpHeaders;
}

/** Where a tenant's data may be served: its home region first, never outside `allowed`. */
export interface Residency {
  /** Region tried first for this tenant. */
  home?: string | undefined;
  /** Regions that may serve the tenant; failover never leaves this set. Default: every region. */
  allowed?: readonly string[] | undefined;
}

/** What a request selector builds on: `createRegionSelector(...)` fits. */
export interface LocationSelector {
  readonly regions?: readonly Region[];
  select(location: GeoLocation | null | undefined): { primary: Region; regions: readonly Region[]; reason: string };
  recordLatency?(region: string, rttMs: number): void;
}

/** A signed region hint ("sticky region"): header or cookie, HMAC-SHA256 over region, subject and expiry. */
export interface RegionHintOptions {
  /** Secret of at least 32 bytes; the first signs, every one verifies (rotation). */
  secrets: readonly (string | Buffer)[];
  /** Request header carrying the hint. Default `'x-edgekit-region'`. */
  header?: string;
  /** Cookie carrying the hint. Default `'edgekit_region'`. */
  cookie?: string;
  /** The subject a hint is bound to (tenant, user): a hint signed for another subject is ignored. Default: none. */
  subject?: (req: SelectableRequest) => string | undefined;
}

/** Options of {@link createRequestSelector}. */
export interface RequestSelectorOptions {
  /** The location-based selector to refine. */
  selector: LocationSelector;
  /** Locates the client from the request itself (CDN headers), e.g. `locator.locateRequest`; wins over the forwarder's location. */
  locate?: (req: SelectableRequest) => GeoLocation | null | undefined;
  /** The residency of the request's tenant, or `undefined` for none. */
  residency?: (req: SelectableRequest) => Residency | undefined;
  /** A signed sticky-region hint. Default: none. */
  hint?: RegionHintOptions;
  /** Clock for hint expiry. Default `systemClock`. */
  clock?: Clock;
}

/** Why the first region was chosen by a request selector: the location selector's reason, or one of these. */
export type RequestSelectionReason = 'hint' | 'home' | 'residency';

/** A region selector that sees the request: signed hint, tenant residency, `locate` from headers. */
export interface RequestSelector extends LocationSelector {
  readonly regions: readonly Region[];
  /** Regions for the request, first to try first; empty when residency allows none. */
  select(location: GeoLocation | null | undefined, req?: SelectableRequest): { primary: Region; regions: Region[]; reason: string };
  /** A hint value for `region`, valid `ttl` ms, bound to `subject`: send it as the header or cookie. */
  signHint(region: string, options?: { subject?: string; ttl?: number }): string;
}

/** Defaults of {@link createRequestSelector}. */
export const REQUEST_SELECTOR_DEFAULTS = Object.freeze({ header: 'x-edgekit-region', cookie: 'edgekit_region', hintTtl: 86_400_000 });

function cookieOf(header: string | string[] | undefined, name: string): string | undefined {
  const text = Array.isArray(header) ? header.join('; ') : header;
  if (text === undefined) return undefined;
  for (const part of text.split(';')) {
    const eq = part.indexOf('=');
    if (eq !== -1 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

/** Creates a {@link RequestSelector} over a location selector. */
export function createRequestSelector(options: RequestSelectorOptions): RequestSelector {
  const o = checkOptionsObject<RequestSelectorOptions>(SCOPE, options);
  const base = o.selector;
  if (base === null || typeof base !== 'object' || typeof base.select !== 'function') {
    throw new TypeError(`${SCOPE}: option "selector" must be a region selector with select() (got ${describeValue(base)})`);
  }
  const locate = optionalFunction<NonNullable<RequestSelectorOptions['locate']>, undefined>(SCOPE, 'locate', o.locate, undefined);
  const residencyOf = optionalFunction<NonNullable<RequestSelectorOptions['residency']>, undefined>(SCOPE, 'residency', o.residency, undefined);
  const clock = o.clock ?? systemClock;
  const regions = base.regions ?? [];
  const known = new Set(regions.map((r) => r.name));

  let secrets: Buffer[] = [];
  let header: string = REQUEST_SELECTOR_DEFAULTS.header;
  let cookie: string = REQUEST_SELECTOR_DEFAULTS.cookie;
  let subjectOf: ((req: SelectableRequest) => string | undefined) | undefined;
  if (o.hint !== undefined) {
    const hint = checkOptionsObject<RegionHintOptions>(`${SCOPE}: option "hint"`, o.hint);
    if (!Array.isArray(hint.secrets) || hint.secrets.length === 0) throw new TypeError(`${SCOPE}: option "hint.secrets" must be a non-empty array (got ${describeValue(hint.secrets)})`);
    secrets = hint.secrets.map((secret, i) => {
      const bytes = typeof secret === 'string' ? Buffer.from(secret, 'utf8') : secret;
      if (!Buffer.isBuffer(bytes) || bytes.length < 32) throw new RangeError(`${SCOPE}: option "hint.secrets[${i}]" must be at least 32 bytes`);
      return bytes;
    });
    header = optionalString(SCOPE, 'hint.header', hint.header, header).toLowerCase();
    cookie = optionalString(SCOPE, 'hint.cookie', hint.cookie, cookie);
    subjectOf = optionalFunction<NonNullable<RegionHintOptions['subject']>, undefined>(SCOPE, 'hint.subject', hint.subject, undefined);
  }

  const mac = (secret: Buffer, payload: string): Buffer => createHmac('sha256', secret).update(payload).digest();

  // Hint: `region.expiresAtMs.signature` (base64url HMAC-SHA256 of `region.expiresAtMs.subject`).
  const verifiedHint = (req: SelectableRequest): string | undefined => {
    if (secrets.length === 0) return undefined;
    const value = firstHeader(req.headers, header) ?? cookieOf(req.headers.cookie, cookie);
    if (value === undefined) return undefined;
    const parts = value.split('.');
    if (parts.length !== 3) return undefined;
    const [region, expires, signature] = parts as [string, string, string];
    if (!known.has(region) || !/^\d{1,15}$/.test(expires) || Number(expires) <= clock.now()) return undefined;
    const given = Buffer.from(signature, 'base64url');
    const payload = `${region}.${expires}.${subjectOf?.(req) ?? ''}`;
    for (const secret of secrets) {
      const expected = mac(secret, payload);
      if (given.length === expected.length && timingSafeEqual(given, expected)) return region;
    }
    return undefined;
  };

  const moveFirst = (list: Region[], name: string | undefined): boolean => {
    if (name === undefined) return false;
    const index = list.findIndex((r) => r.name === name);
    if (index <= 0) return index === 0;
    list.unshift(...list.splice(index, 1));
    return true;
  };

  return {
    regions,
    recordLatency: base.recordLatency?.bind(base),
    select(location, req) {
      const located = req !== undefined && locate !== undefined ? (locate(req) ?? location) : location;
      const selection = base.select(located);
      if (req === undefined) return { primary: selection.primary, regions: [...selection.regions], reason: selection.reason };
      let list = [...selection.regions];
      let reason: string = selection.reason;
      const residency = residencyOf?.(req);
      if (residency?.allowed !== undefined) {
        const allowed = new Set(residency.allowed);
        list = list.filter((r) => allowed.has(r.name));
        reason = 'residency';
      }
      const hinted = verifiedHint(req);
      if (moveFirst(list, hinted) && hinted !== undefined) reason = 'hint';
      else if (moveFirst(list, residency?.home)) reason = 'home';
      return { primary: list[0] ?? selection.primary, regions: list, reason };
    },
    signHint(region, signOptions = {}) {
      if (secrets.length === 0) throw new TypeError(`${SCOPE}: signHint() needs option "hint.secrets"`);
      if (!known.has(region)) throw new TypeError(`${SCOPE}: signHint(): unknown region ${describeValue(region)}`);
      const ttl = optionalNumber(SCOPE, 'signHint ttl', signOptions.ttl, REQUEST_SELECTOR_DEFAULTS.hintTtl, { min: 1 });
      const expires = String(Math.floor(clock.now() + ttl));
      return `${region}.${expires}.${mac(secrets[0]!, `${region}.${expires}.${signOptions.subject ?? ''}`).toString('base64url')}`;
    },
  };
}
