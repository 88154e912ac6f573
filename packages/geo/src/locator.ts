import { type Disposable, checkOptionsObject, describeValue, optionalFunction, optionalNumber } from '@edgekit/core';
import { type CdnOption, type CompiledCdnHeaders, compileCdnHeaders, locationFromHeaders } from './cdn-headers.js';
import { type ClientIpOptions, type ClientIpResolver, type RequestLike, compileClientIp } from './client-ip.js';
import { GeoError } from './errors.js';
import { createGeoipLiteResolver } from './geoip-lite-resolver.js';
import { AddressParser, isPublicWords } from './ip.js';
import type { GeoLocation } from './location.js';
import { LruMap } from './lru.js';
import { type GeoLookupFunction, type GeoResolver, createCustomResolver } from './resolver.js';

const SCOPE = '@edgekit/geo';

/**
 * Resolver shorthands: geoip-lite with its city or its country data set (the optional peer
 * `geoip-lite` must be installed), or `'none'`: no address lookups, for locators that only read
 * CDN headers.
 */
export type GeoResolverName = 'geoip-lite' | 'geoip-lite-country' | 'none';

/** Options of {@link createGeoLocator}. */
export interface GeoLocatorOptions extends ClientIpOptions {
  /**
   * Where IP locations come from: a {@link GeoResolver} (such as {@link createMmdbResolver}), a
   * lookup function (wrapped with {@link createCustomResolver}), `'geoip-lite'` (city data) or
   * `'geoip-lite-country'` (country data only; both need the optional peer `geoip-lite`) or
   * `'none'` (every address unknown: locate by CDN headers only). Default: `'geoip-lite'`. The locator owns the
   * resolver: `close()` closes it.
   */
  resolver?: GeoResolver | GeoLookupFunction | GeoResolverName;
  /** Most addresses kept in the LRU cache, answers and "unknown" alike; `0` disables it. Default: `10_000`. */
  max?: number;
  /**
   * The CDN in front of you, whose location headers {@link GeoLocator.locateRequest} believes
   * when the request's socket peer is one of `trustedProxies`: `'cloudflare'`, `'cloudfront'`,
   * `'vercel'`, `'appengine'`, a list of them, or `{ country, coordinates }` header names. Default:
   * none, so no location header is believed (a header a client wrote passes through proxies that do
   * not set it, and would choose its own region).
   */
  cdn?: CdnOption;
  /**
   * Called when a resolver throws for one address (the lookup then answers `null`, uncached).
   * A `GeoError` (not ready, closed, data or peer missing) is thrown to the caller instead.
   * Default: a process warning.
   */
  onError?: (error: unknown, ip: string) => void;
}

/** Defaults of {@link GeoLocatorOptions}. */
export const GEO_LOCATOR_DEFAULTS = Object.freeze({
  resolver: 'geoip-lite' as GeoResolverName,
  max: 10_000,
  /** Inputs longer than this are not addresses and are answered `null` without touching the cache. */
  maxAddressLength: 100,
});

/** Cache counters of a {@link GeoLocator}. */
export interface GeoLocatorStats {
  /** Lookups answered from the cache. */
  hits: number;
  /** Lookups that went to the resolver. */
  misses: number;
  /** Entries in the cache now, answers and "unknown" alike. */
  size: number;
}

/** Locates clients by IP address through a resolver, with an LRU cache in front. */
export interface GeoLocator {
  /** The resolver behind the cache. */
  readonly resolver: GeoResolver;
  /**
   * The location of an address, or `null` for private, loopback, link-local, documentation and
   * other non-public addresses, for non-addresses, and for addresses the data does not know.
   * Synchronous; answers (including `null`) are cached. The returned object is frozen and shared.
   */
  lookup(ip: string): GeoLocation | null;
  /**
   * The location of a request's client: the CDN's location headers when the socket peer is a
   * trusted proxy and they hold a valid value, otherwise {@link GeoLocator.lookup} of
   * {@link GeoLocator.clientIp}. Safe to pass around unbound.
   */
  locateRequest(req: RequestLike): GeoLocation | null;
  /** The client address of a request, with the locator's `trustedProxies`, `header` and `maxHops`. */
  clientIp(req: RequestLike): string;
  /** Loads the resolver's data (required before lookups for file-based resolvers such as mmdb). */
  ready(): Promise<void>;
  /** Cache counters. */
  stats(): GeoLocatorStats;
  /** Empties the cache (done automatically when the resolver reports new data). */
  clear(): void;
  /** Closes the resolver and empties the cache; later lookups throw `ECLOSED`. */
  close(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

/** Stands for "no location" in the cache, which cannot store `null`. */
const UNKNOWN: GeoLocation = Object.freeze({ source: 'unknown' });
/** A lookup that failed: answered `null`, never cached, so the next lookup asks again. */
const FAILED: GeoLocation = Object.freeze({ source: 'failed' });

function toResolver(value: GeoLocatorOptions['resolver']): GeoResolver {
  if (value === undefined || value === 'geoip-lite') return createGeoipLiteResolver({ dataset: 'city' });
  if (value === 'geoip-lite-country') return createGeoipLiteResolver({ dataset: 'country' });
  if (value === 'none') return createCustomResolver(() => null, { name: 'none' });
  if (typeof value === 'function') return createCustomResolver(value);
  if (value !== null && typeof value === 'object' && typeof value.lookup === 'function' && typeof value.name === 'string') return value;
  throw new TypeError(
    `${SCOPE}: option "resolver" must be 'geoip-lite', 'geoip-lite-country', 'none', a lookup function or an object with name and lookup(ip) (got ${describeValue(value)})`,
  );
}

const defaultOnError = (error: unknown, ip: string): void => {
  const err = error instanceof Error ? error : new Error(String(error));
  process.emitWarning(err, { code: 'EDGEKIT_GEO_LOOKUP', detail: `geolocation lookup of ${ip} failed` });
};

/**
 * Creates a {@link GeoLocator}: synchronous, cached IP geolocation plus request location from
 * trusted CDN headers. Nothing is loaded until `ready()` or the first lookup.
 *
 * @example
 * const locator = createGeoLocator({ trustedProxies: ['loopback'] });
 * await locator.ready();
 * locator.lookup('8.8.8.8'); // { country: 'US', continent: 'NA', lat: 37.751, lon: -97.822, source: 'geoip-lite', ... }
 */
export function createGeoLocator(options?: GeoLocatorOptions): GeoLocator {
  const opts = checkOptionsObject<GeoLocatorOptions>(SCOPE, options);
  const max = optionalNumber(SCOPE, 'max', opts.max, GEO_LOCATOR_DEFAULTS.max, { min: 0, integer: true });
  const onError = optionalFunction<(error: unknown, ip: string) => void, typeof defaultOnError>(SCOPE, 'onError', opts.onError, defaultOnError);
  const ipResolver: ClientIpResolver = compileClientIp({ trustedProxies: opts.trustedProxies, header: opts.header, maxHops: opts.maxHops });
  const cdnHeaders: CompiledCdnHeaders | undefined = compileCdnHeaders(opts.cdn);
  const resolver = toResolver(opts.resolver);
  const cache = max > 0 ? new LruMap<string, GeoLocation>(max) : undefined;
  const parser = new AddressParser();
  let hits = 0;
  let misses = 0;
  let closed = false;
  const reloadSubscription: Disposable | undefined = resolver.onReload?.(() => cache?.clear());

  const resolve = (ip: string): GeoLocation => {
    const family = parser.parse(ip);
    if (!isPublicWords(family, parser.words)) return UNKNOWN;
    const normalized = parser.format(ip, family);
    try {
      return resolver.lookup(normalized) ?? UNKNOWN;
    } catch (error) {
      // GeoErrors are set-up problems (not ready, closed, data or peer missing) the caller must see;
      // anything else is one failed lookup.
      if (error instanceof GeoError) throw error;
      onError(error, normalized);
      return FAILED;
    }
  };

  const lookup = (ip: string): GeoLocation | null => {
    if (closed) throw new GeoError('ECLOSED', `${SCOPE}: the geo locator is closed`, { resolver: resolver.name });
    if (typeof ip !== 'string' || ip.length > GEO_LOCATOR_DEFAULTS.maxAddressLength) return null;
    if (cache === undefined) {
      misses++;
      const location = resolve(ip);
      return location === UNKNOWN || location === FAILED ? null : location;
    }
    const cached = cache.get(ip);
    if (cached !== undefined) {
      hits++;
      return cached === UNKNOWN ? null : cached;
    }
    misses++;
    const location = resolve(ip);
    if (location === FAILED) return null;
    cache.set(ip, location);
    return location === UNKNOWN ? null : location;
  };

  const locator: GeoLocator = {
    resolver,
    lookup,
    clientIp: (req) => ipResolver.resolve(req),
    locateRequest(req) {
      const ip = ipResolver.resolve(req);
      if (cdnHeaders !== undefined && ipResolver.peerTrusted) {
        const fromHeaders = locationFromHeaders(req.headers, cdnHeaders);
        if (fromHeaders !== null) return fromHeaders;
      }
      return lookup(ip);
    },
    async ready() {
      if (closed) throw new GeoError('ECLOSED', `${SCOPE}: the geo locator is closed`, { resolver: resolver.name });
      await resolver.ready?.();
    },
    stats: () => ({ hits, misses, size: cache?.size ?? 0 }),
    clear() {
      cache?.clear();
    },
    async close() {
      if (closed) return;
      closed = true;
      reloadSubscription?.dispose();
      cache?.clear();
      await resolver.close?.();
    },
    [Symbol.asyncDispose]() {
      return locator.close();
    },
  };
  return locator;
}
