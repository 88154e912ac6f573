import type { ContinentCode } from './continents.js';
import { isContinentCode } from './continents.js';
import { continentOf, normalizeCountry } from './countries.js';

/** Where a client is, as far as a resolver can tell. Objects returned by a locator are frozen and shared. */
export interface GeoLocation {
  /** ISO 3166-1 alpha-2, upper case. */
  country?: string;
  /** Derived from the country when the resolver reports none. */
  continent?: ContinentCode;
  /** Latitude in degrees (WGS 84). */
  lat?: number;
  /** Longitude in degrees (WGS 84). */
  lon?: number;
  /** Which resolver answered: `'geoip-lite'`, `'mmdb'`, `'header'`, `'custom'` or a custom resolver's name. */
  source: string;
  /** City name, when the data has one. */
  city?: string;
  /** First-level subdivision code without the country prefix (`'CA'` for California), when known. */
  subdivision?: string;
  /** IANA time zone, when known. */
  timezone?: string;
  /** Radius in kilometres around `lat`/`lon` within which the address probably is, when known. */
  accuracyRadiusKm?: number;
}

/** Loosely typed location fields from a data source, before {@link toGeoLocation} cleans them. */
export interface RawGeoFields {
  country?: unknown;
  continent?: unknown;
  lat?: unknown;
  lon?: unknown;
  city?: unknown;
  subdivision?: unknown;
  timezone?: unknown;
  accuracyRadiusKm?: unknown;
}

function text(value: unknown): string | undefined {
  return typeof value === 'string' && value.length > 0 && value.length <= 200 ? value : undefined;
}

/**
 * Cleans raw fields into a frozen {@link GeoLocation}: upper-cases and validates the country, fills
 * the continent from the country, drops coordinates out of range or at exactly 0,0 (the "no
 * location" placeholder of several databases). Returns `null` when neither a country, a continent
 * nor coordinates remain.
 */
export function toGeoLocation(source: string, raw: RawGeoFields): GeoLocation | null {
  const country = normalizeCountry(raw.country);
  const continentRaw = typeof raw.continent === 'string' ? raw.continent.toUpperCase() : undefined;
  const continent = isContinentCode(continentRaw) ? continentRaw : continentOf(country);
  let lat = typeof raw.lat === 'number' ? raw.lat : typeof raw.lat === 'string' && raw.lat !== '' ? Number(raw.lat) : Number.NaN;
  let lon = typeof raw.lon === 'number' ? raw.lon : typeof raw.lon === 'string' && raw.lon !== '' ? Number(raw.lon) : Number.NaN;
  const validCoordinates = Number.isFinite(lat) && Number.isFinite(lon) && Math.abs(lat) <= 90 && Math.abs(lon) <= 180 && !(lat === 0 && lon === 0);
  if (!validCoordinates) {
    lat = Number.NaN;
    lon = Number.NaN;
  }
  if (country === undefined && continent === undefined && !validCoordinates) return null;
  const location: GeoLocation = { source };
  if (country !== undefined) location.country = country;
  if (continent !== undefined) location.continent = continent;
  if (validCoordinates) {
    location.lat = lat;
    location.lon = lon;
  }
  const city = text(raw.city);
  if (city !== undefined) location.city = city;
  const subdivision = text(raw.subdivision);
  if (subdivision !== undefined) location.subdivision = subdivision;
  const timezone = text(raw.timezone);
  if (timezone !== undefined) location.timezone = timezone;
  if (typeof raw.accuracyRadiusKm === 'number' && Number.isFinite(raw.accuracyRadiusKm) && raw.accuracyRadiusKm > 0) {
    location.accuracyRadiusKm = raw.accuracyRadiusKm;
  }
  return Object.freeze(location);
}
