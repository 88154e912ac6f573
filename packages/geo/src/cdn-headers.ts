import { describeValue } from '@edgekit/core';
import type { RequestLike } from './client-ip.js';
import { normalizeCountry } from './countries.js';
import { type GeoLocation, toGeoLocation } from './location.js';

const SCOPE = '@edgekit/geo';

/** Headers a CDN or platform sets with the client's location. Believed only from a trusted proxy. */
export interface CdnHeaderOptions {
  /** Header names (lower case) holding an ISO country code; the first with a valid value wins. */
  country?: readonly string[];
  /**
   * Pairs of header names (lower case) holding latitude and longitude in degrees; the first valid
   * pair wins. Read when a country header was found (CDNs send both), or when `country` is empty.
   */
  coordinates?: ReadonlyArray<readonly [latitude: string, longitude: string]>;
}

/**
 * Defaults of {@link CdnHeaderOptions}: Cloudflare (`CF-IPCountry`, and `CF-IPLatitude`/`-Longitude`
 * from its visitor location headers), Amazon CloudFront, Vercel, Google App Engine, and the
 * `X-Country-Code` convention of Fastly and Akamai configurations.
 */
export const CDN_HEADER_DEFAULTS = Object.freeze({
  country: Object.freeze(['cf-ipcountry', 'cloudfront-viewer-country', 'x-vercel-ip-country', 'x-appengine-country', 'x-country-code']) as readonly string[],
  coordinates: Object.freeze([
    Object.freeze(['cloudfront-viewer-latitude', 'cloudfront-viewer-longitude'] as const),
    Object.freeze(['x-vercel-ip-latitude', 'x-vercel-ip-longitude'] as const),
    Object.freeze(['cf-iplatitude', 'cf-iplongitude'] as const),
  ]) as ReadonlyArray<readonly [string, string]>,
});

const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9a-z-]+$/;

function checkHeaderName(name: string, value: unknown): string {
  if (typeof value !== 'string' || !HEADER_NAME.test(value)) {
    throw new TypeError(`${SCOPE}: option "${name}" must be a lower-case header name (got ${describeValue(value)})`);
  }
  return value;
}

/** Validated {@link CdnHeaderOptions}. */
export interface CompiledCdnHeaders {
  readonly country: readonly string[];
  readonly coordinates: ReadonlyArray<readonly [string, string]>;
}

/** Validates {@link CdnHeaderOptions}; throws `TypeError` naming the bad entry. */
export function compileCdnHeaders(options: CdnHeaderOptions, name = 'cdnHeaders'): CompiledCdnHeaders {
  if (options === null || typeof options !== 'object') {
    throw new TypeError(`${SCOPE}: option "${name}" must be an object or false (got ${describeValue(options)})`);
  }
  const country = options.country ?? CDN_HEADER_DEFAULTS.country;
  const coordinates = options.coordinates ?? CDN_HEADER_DEFAULTS.coordinates;
  if (!Array.isArray(country)) throw new TypeError(`${SCOPE}: option "${name}.country" must be an array of header names (got ${describeValue(country)})`);
  if (!Array.isArray(coordinates)) {
    throw new TypeError(`${SCOPE}: option "${name}.coordinates" must be an array of [latitude, longitude] header name pairs (got ${describeValue(coordinates)})`);
  }
  return {
    country: country.map((header: unknown, i) => checkHeaderName(`${name}.country[${i}]`, header)),
    coordinates: coordinates.map((pair: unknown, i) => {
      if (!Array.isArray(pair) || pair.length !== 2) {
        throw new TypeError(`${SCOPE}: option "${name}.coordinates[${i}]" must be a [latitude, longitude] pair of header names (got ${describeValue(pair)})`);
      }
      return [checkHeaderName(`${name}.coordinates[${i}][0]`, pair[0]), checkHeaderName(`${name}.coordinates[${i}][1]`, pair[1])] as const;
    }),
  };
}

/** A single header value; repeated headers are ambiguous (someone besides the CDN wrote one) and yield `undefined`. */
function single(headers: RequestLike['headers'], name: string): string | undefined {
  const value = headers[name];
  if (typeof value !== 'string' || value.length === 0 || value.length > 32 || value.includes(',')) return undefined;
  return value.trim();
}

function degrees(text: string | undefined): number {
  if (text === undefined || text === '') return Number.NaN;
  return Number(text);
}

/**
 * The location a CDN reported in request headers, or `null` when none of the configured country
 * headers holds a valid value (coordinates are read with a country; alone only when no country
 * headers are configured). The caller checks that the request came from a trusted proxy first.
 */
export function locationFromHeaders(headers: RequestLike['headers'], config: CompiledCdnHeaders): GeoLocation | null {
  if (headers === null || typeof headers !== 'object') return null;
  let country: string | undefined;
  for (const name of config.country) {
    // `XX` (unknown) and `T1` (Tor) are not countries: keep looking, then fall back to the IP.
    country = normalizeCountry(single(headers, name));
    if (country !== undefined) break;
  }
  let lat = Number.NaN;
  let lon = Number.NaN;
  // CDNs send coordinates together with the country; without one, skip the lookups (hot path).
  if (country === undefined && config.country.length > 0) return null;
  for (const [latName, lonName] of config.coordinates) {
    const a = degrees(single(headers, latName));
    const b = degrees(single(headers, lonName));
    if (Number.isFinite(a) && Number.isFinite(b)) {
      lat = a;
      lon = b;
      break;
    }
  }
  if (country === undefined && Number.isNaN(lat)) return null;
  return toGeoLocation('header', { country, lat, lon });
}
