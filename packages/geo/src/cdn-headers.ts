import { describeValue } from '@edgekit/core';
import type { RequestLike } from './client-ip.js';
import { normalizeCountry } from './countries.js';
import { type GeoLocation, toGeoLocation } from './location.js';

const SCOPE = '@edgekit/geo';

/** Headers a CDN or platform sets with the client's location. Believed only from a trusted proxy, and only when configured. */
export interface CdnHeaderOptions {
  /** Header names (lower case) holding an ISO country code; the first with a valid value wins. */
  country?: readonly string[];
  /**
   * Pairs of header names (lower case) holding latitude and longitude in degrees; the first valid
   * pair wins. Read when a country header was found (CDNs send both), or when `country` is empty.
   */
  coordinates?: ReadonlyArray<readonly [latitude: string, longitude: string]>;
}

/** CDNs and platforms whose location headers {@link CDN_PRESETS} knows. */
export type CdnName = 'cloudflare' | 'cloudfront' | 'vercel' | 'appengine';

/**
 * The location headers each CDN writes: Cloudflare (`CF-IPCountry`, and `CF-IPLatitude`/`-Longitude`
 * from its visitor location headers), Amazon CloudFront (`CloudFront-Viewer-Country`, `-Latitude`,
 * `-Longitude`), Vercel (`X-Vercel-IP-Country`, `-Latitude`, `-Longitude`) and Google App Engine
 * (`X-AppEngine-Country`).
 */
export const CDN_PRESETS: Readonly<Record<CdnName, Readonly<Required<CdnHeaderOptions>>>> = Object.freeze({
  cloudflare: Object.freeze({ country: Object.freeze(['cf-ipcountry']), coordinates: Object.freeze([Object.freeze(['cf-iplatitude', 'cf-iplongitude'] as const)]) }),
  cloudfront: Object.freeze({
    country: Object.freeze(['cloudfront-viewer-country']),
    coordinates: Object.freeze([Object.freeze(['cloudfront-viewer-latitude', 'cloudfront-viewer-longitude'] as const)]),
  }),
  vercel: Object.freeze({ country: Object.freeze(['x-vercel-ip-country']), coordinates: Object.freeze([Object.freeze(['x-vercel-ip-latitude', 'x-vercel-ip-longitude'] as const)]) }),
  appengine: Object.freeze({ country: Object.freeze(['x-appengine-country']), coordinates: Object.freeze([]) }),
});

/**
 * Which CDN's location headers to believe: a name from {@link CDN_PRESETS}, several names (the
 * first header with a valid value wins), or the header names a CDN or your edge writes. A CDN
 * passes through headers it does not set itself (a client's `X-Vercel-IP-Country` reaches you
 * unchanged through Cloudflare), so name only the CDN in front of you.
 */
export type CdnOption = CdnName | readonly CdnName[] | CdnHeaderOptions;

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

function compileCustom(options: CdnHeaderOptions, name: string): CompiledCdnHeaders {
  const country = options.country ?? [];
  const coordinates = options.coordinates ?? [];
  if (!Array.isArray(country)) throw new TypeError(`${SCOPE}: option "${name}.country" must be an array of header names (got ${describeValue(country)})`);
  if (!Array.isArray(coordinates)) {
    throw new TypeError(`${SCOPE}: option "${name}.coordinates" must be an array of [latitude, longitude] header name pairs (got ${describeValue(coordinates)})`);
  }
  if (country.length === 0 && coordinates.length === 0) {
    throw new TypeError(`${SCOPE}: option "${name}" names no header: give country or coordinates header names`);
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

function presetNamed(value: unknown, name: string): Readonly<Required<CdnHeaderOptions>> {
  if (typeof value === 'string' && Object.hasOwn(CDN_PRESETS, value)) return CDN_PRESETS[value as CdnName];
  throw new TypeError(`${SCOPE}: option "${name}" must name a CDN (${Object.keys(CDN_PRESETS).join(', ')}) or give header names (got ${describeValue(value)})`);
}

/**
 * Validates a {@link CdnOption}: `undefined` (no CDN named) gives `undefined`, so no location header
 * is believed. Throws `TypeError` naming the bad entry.
 */
export function compileCdnHeaders(options: CdnOption | undefined, name = 'cdn'): CompiledCdnHeaders | undefined {
  if (options === undefined) return undefined;
  if (typeof options === 'string') return presetNamed(options, name);
  if (Array.isArray(options)) {
    if (options.length === 0) return undefined;
    const presets = options.map((entry: unknown, i) => presetNamed(entry, `${name}[${i}]`));
    return { country: presets.flatMap((preset) => preset.country), coordinates: presets.flatMap((preset) => preset.coordinates) };
  }
  if (options === null || typeof options !== 'object') {
    throw new TypeError(`${SCOPE}: option "${name}" must name a CDN (${Object.keys(CDN_PRESETS).join(', ')}), a list of them, or give header names (got ${describeValue(options)})`);
  }
  return compileCustom(options as CdnHeaderOptions, name);
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
