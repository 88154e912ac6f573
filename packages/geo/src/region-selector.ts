import { type Clock, checkNumber, checkOptionsObject, describeValue, optionalBoolean, optionalNumber, systemClock } from '@edgekit/core';
import { type ContinentCode, isContinentCode } from './continents.js';
import { continentOf, countryFacts, normalizeCountry } from './countries.js';
import { EARTH_RADIUS_KM, estimateRttMs, writeUnitVector } from './distance.js';
import type { GeoLocation } from './location.js';

const SCOPE = '@edgekit/geo';

/** A deployment that can serve requests. */
export interface Region {
  /** Unique name, used by rules, health checks and breakers. */
  name: string;
  /** Base URL requests are forwarded to (http or https). */
  url: string;
  /** Where the region runs. */
  location: { lat: number; lon: number };
}

/** Fixed assignments that win over distance. Values are region names. */
export interface RegionRules {
  /** ISO 3166-1 alpha-2 country code → region name (`{ DE: 'eu-central' }`). Checked first. */
  countries?: Readonly<Record<string, string>>;
  /** Continent code → region name (`{ SA: 'us-east' }`). Checked when no country rule matched. */
  continents?: Readonly<Partial<Record<ContinentCode, string>>>;
}

/** Options of {@link createRegionSelector}. */
export interface RegionSelectorOptions {
  /** The regions, at least one. Read once: later changes to these objects are not seen. */
  regions: readonly Region[];
  /** Country and continent rules. Default: none. */
  rules?: RegionRules;
  /** Region for clients with no usable location (private, loopback, unknown). Default: the first region. */
  defaultRegion?: string;
  /**
   * This gateway's own location. When the client's location is unknown, fallbacks are ordered by
   * distance from here. Default: none (distance from the primary region is used instead).
   */
  origin?: { lat: number; lon: number };
  /** How much longer than the great circle network paths are, for RTT estimates. Default: `1.5`. */
  routeFactor?: number;
  /** Weight of a new sample in the latency EWMA, in (0, 1]. Default: `0.3`. */
  latencySmoothing?: number;
  /** Milliseconds after which a region's measured latency is stale and distance is used again. Default: `300_000`. */
  latencyMaxAge?: number;
  /** Estimate the client's coordinates from its country when the resolver gives none (country-only data, CDN headers). Default: `true`. */
  useCountryLocation?: boolean;
  /** Clock for latency ages. Default: `systemClock`. */
  clock?: Clock;
}

/** Defaults of {@link RegionSelectorOptions}. */
export const REGION_SELECTOR_DEFAULTS = Object.freeze({
  routeFactor: 1.5,
  latencySmoothing: 0.3,
  latencyMaxAge: 300_000,
  useCountryLocation: true,
});

/** Why the primary region was chosen. */
export type SelectionReason = 'country' | 'continent' | 'nearest' | 'default';

/** The answer of {@link RegionSelector.select}. */
export interface RegionSelection {
  /** The region that should serve the client. */
  primary: Region;
  /** Every region: the primary first, then the fallbacks by expected latency. A new array on every call. */
  regions: Region[];
  reason: SelectionReason;
}

/** A region's measured latency. */
export interface RegionLatency {
  /** Exponentially weighted moving average of the round trips, in milliseconds. */
  rttMs: number;
  /** Samples recorded. */
  samples: number;
  /** Milliseconds since the last sample, on the selector's clock. */
  ageMs: number;
  /** False when older than `latencyMaxAge`: ordering uses distance again. */
  fresh: boolean;
}

/** Chooses which region serves a client, and in which order to fail over. */
export interface RegionSelector {
  /** The configured regions, in declaration order. */
  readonly regions: readonly Region[];
  /**
   * The regions for a client location: primary by country rule, then continent rule, then nearest
   * by great-circle distance, then the default; fallbacks by measured latency where fresh, by
   * estimated latency from distance otherwise. `null`/`undefined` (private, loopback, unknown
   * addresses) gets the default region.
   */
  select(location: GeoLocation | null | undefined): RegionSelection;
  /** Feeds one measured round trip to `region`, in milliseconds, into its EWMA. */
  recordLatency(region: string, rttMs: number): void;
  /** Forgets measured latencies: of one region, or of all. */
  resetLatency(region?: string): void;
  /** Measured latencies by region name (regions without samples are absent). */
  latencies(): Record<string, RegionLatency>;
  /** Nothing to release; present so every long-lived edgekit object can be closed alike. */
  close(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

function dotAt(vectors: Float64Array, a: number, b: number): number {
  return vectors[a]! * vectors[b]! + vectors[a + 1]! * vectors[b + 1]! + vectors[a + 2]! * vectors[b + 2]!;
}

function dotToKm(dot: number): number {
  return Math.acos(dot > 1 ? 1 : dot < -1 ? -1 : dot) * EARTH_RADIUS_KM;
}

function checkCoordinates(name: string, value: unknown): { lat: number; lon: number } {
  if (value === null || typeof value !== 'object') {
    throw new TypeError(`${SCOPE}: option "${name}" must be an object with lat and lon (got ${describeValue(value)})`);
  }
  const point = value as { lat?: unknown; lon?: unknown };
  return {
    lat: checkNumber(SCOPE, `${name}.lat`, point.lat, { min: -90, max: 90 }),
    lon: checkNumber(SCOPE, `${name}.lon`, point.lon, { min: -180, max: 180 }),
  };
}

function checkRegions(value: unknown): Region[] {
  if (!Array.isArray(value) || value.length === 0) {
    throw new TypeError(`${SCOPE}: option "regions" must be a non-empty array of regions (got ${describeValue(value)})`);
  }
  const seen = new Map<string, number>();
  return value.map((region: unknown, i) => {
    const at = `regions[${i}]`;
    if (region === null || typeof region !== 'object') throw new TypeError(`${SCOPE}: option "${at}" must be an object with name, url and location (got ${describeValue(region)})`);
    const { name, url, location } = region as Partial<Region>;
    if (typeof name !== 'string' || name.length === 0) throw new TypeError(`${SCOPE}: option "${at}.name" must be a non-empty string (got ${describeValue(name)})`);
    const previous = seen.get(name);
    if (previous !== undefined) throw new RangeError(`${SCOPE}: option "${at}.name" repeats the name ${describeValue(name)} of regions[${previous}]`);
    seen.set(name, i);
    if (typeof url !== 'string' || !URL.canParse(url) || !/^https?:$/.test(new URL(url).protocol)) {
      throw new TypeError(`${SCOPE}: option "${at}.url" must be an absolute http or https URL (got ${describeValue(url)})`);
    }
    checkCoordinates(`${at}.location`, location);
    return region as Region;
  });
}

/**
 * Creates a {@link RegionSelector}. Rules, region coordinates and lookup tables are prepared once;
 * `select()` costs a few multiplications and one `acos` per region, and sorts a handful of indices
 * in preallocated typed arrays.
 *
 * @example
 * const selector = createRegionSelector({
 *   regions: [
 *     { name: 'eu', url: 'https://eu.example.com', location: { lat: 50.11, lon: 8.68 } },
 *     { name: 'us', url: 'https://us.example.com', location: { lat: 39.04, lon: -77.49 } },
 *   ],
 *   rules: { countries: { GB: 'eu' } },
 * });
 * selector.select({ country: 'BR', continent: 'SA', source: 'geoip-lite' }).primary.name; // 'us'
 */
export function createRegionSelector(options: RegionSelectorOptions): RegionSelector {
  const opts = checkOptionsObject<RegionSelectorOptions>(SCOPE, options);
  const regions = checkRegions(opts.regions);
  const count = regions.length;
  const indexByName = new Map<string, number>(regions.map((r, i) => [r.name, i]));
  const regionIndex = (option: string, name: unknown): number => {
    const index = typeof name === 'string' ? indexByName.get(name) : undefined;
    if (index === undefined) {
      throw new RangeError(`${SCOPE}: option "${option}" names no configured region (got ${describeValue(name)}; regions are ${regions.map((r) => r.name).join(', ')})`);
    }
    return index;
  };

  const defaultIndex = opts.defaultRegion === undefined ? 0 : regionIndex('defaultRegion', opts.defaultRegion);
  const origin = opts.origin === undefined ? undefined : checkCoordinates('origin', opts.origin);
  const routeFactor = optionalNumber(SCOPE, 'routeFactor', opts.routeFactor, REGION_SELECTOR_DEFAULTS.routeFactor, { min: 1 });
  const smoothing = optionalNumber(SCOPE, 'latencySmoothing', opts.latencySmoothing, REGION_SELECTOR_DEFAULTS.latencySmoothing, { min: 0, exclusiveMin: true, max: 1 });
  const maxAge = optionalNumber(SCOPE, 'latencyMaxAge', opts.latencyMaxAge, REGION_SELECTOR_DEFAULTS.latencyMaxAge, { min: 0, allowInfinity: true });
  const useCountryLocation = optionalBoolean(SCOPE, 'useCountryLocation', opts.useCountryLocation, REGION_SELECTOR_DEFAULTS.useCountryLocation);
  const clock = opts.clock ?? systemClock;

  const countryRule = new Map<string, number>();
  const continentRule = new Map<string, number>();
  const rules = checkOptionsObject<RegionRules>(SCOPE, opts.rules);
  if (rules.countries !== undefined) {
    const countries = checkOptionsObject<Record<string, string>>(SCOPE, rules.countries);
    for (const [code, name] of Object.entries(countries)) {
      const normalized = normalizeCountry(code);
      if (normalized === undefined || normalized !== code.toUpperCase()) {
        throw new TypeError(`${SCOPE}: option "rules.countries.${code}" must be keyed by an ISO 3166-1 alpha-2 country code (got ${describeValue(code)})`);
      }
      countryRule.set(normalized, regionIndex(`rules.countries.${code}`, name));
    }
  }
  if (rules.continents !== undefined) {
    const continents = checkOptionsObject<Record<string, string>>(SCOPE, rules.continents);
    for (const [code, name] of Object.entries(continents)) {
      if (!isContinentCode(code)) {
        throw new TypeError(`${SCOPE}: option "rules.continents.${code}" must be keyed by a continent code: AF, AN, AS, EU, NA, OC or SA (got ${describeValue(code)})`);
      }
      continentRule.set(code, regionIndex(`rules.continents.${code}`, name));
    }
  }

  // Unit vectors: region i at [3i, 3i+3); the client (or reference point) at slot `count`.
  const vectors = new Float64Array((count + 2) * 3);
  regions.forEach((r, i) => writeUnitVector(r.location.lat, r.location.lon, vectors, i * 3));
  const clientSlot = count * 3;
  const originSlot = (count + 1) * 3;
  if (origin !== undefined) writeUnitVector(origin.lat, origin.lon, vectors, originSlot);

  // Latency state and sort scratch, reused by every call (select runs to completion).
  const ewma = new Float64Array(count);
  const samples = new Float64Array(count);
  const updatedAt = new Float64Array(count);
  let measured = 0;
  const expected = new Float64Array(count);
  const order = new Int32Array(count);

  const select = (location: GeoLocation | null | undefined): RegionSelection => {
    let primary = -1;
    let reason: SelectionReason = 'default';
    let referenceSlot = -1;
    if (location !== null && location !== undefined && typeof location === 'object') {
      const country = normalizeCountry(location.country);
      if (country !== undefined) {
        const byCountry = countryRule.get(country);
        if (byCountry !== undefined) {
          primary = byCountry;
          reason = 'country';
        }
      }
      if (primary === -1 && continentRule.size > 0) {
        const continent = isContinentCode(location.continent) ? location.continent : continentOf(country);
        const byContinent = continent === undefined ? undefined : continentRule.get(continent);
        if (byContinent !== undefined) {
          primary = byContinent;
          reason = 'continent';
        }
      }
      const { lat, lon } = location;
      if (typeof lat === 'number' && typeof lon === 'number' && Math.abs(lat) <= 90 && Math.abs(lon) <= 180) {
        writeUnitVector(lat, lon, vectors, clientSlot);
        referenceSlot = clientSlot;
      } else if (useCountryLocation && country !== undefined) {
        const facts = countryFacts(country);
        if (facts !== undefined) {
          writeUnitVector(facts[1], facts[2], vectors, clientSlot);
          referenceSlot = clientSlot;
        }
      }
    }
    if (referenceSlot === -1 && origin !== undefined) referenceSlot = originSlot;

    // Closeness per region: the dot product of unit vectors (larger is nearer) needs no acos, and
    // orders exactly like distance. Only a fresh measured latency needs milliseconds to compare to.
    const now = measured > 0 ? clock.now() : 0;
    let nearest = -1;
    let nearestDot = Number.NEGATIVE_INFINITY;
    if (referenceSlot !== -1) {
      for (let i = 0; i < count; i++) {
        const dot = dotAt(vectors, i * 3, referenceSlot);
        if (referenceSlot === clientSlot && dot > nearestDot) {
          nearestDot = dot;
          nearest = i;
        }
        expected[i] = dot;
      }
    }
    if (primary === -1 && nearest !== -1) {
      primary = nearest;
      reason = 'nearest';
    }
    if (primary === -1) primary = defaultIndex;
    // No client or gateway location: order fallbacks by distance from the primary region.
    if (referenceSlot === -1) for (let i = 0; i < count; i++) expected[i] = dotAt(vectors, i * 3, primary * 3);
    if (measured === 0) {
      for (let i = 0; i < count; i++) expected[i] = -expected[i]!;
    } else {
      for (let i = 0; i < count; i++) {
        expected[i] = samples[i]! > 0 && now - updatedAt[i]! <= maxAge ? ewma[i]! : estimateRttMs(dotToKm(expected[i]!), routeFactor);
      }
    }

    // Insertion sort of the fallbacks (stable: ties keep declaration order); N is small.
    let n = 0;
    for (let i = 0; i < count; i++) {
      if (i === primary) continue;
      const key = expected[i]!;
      let j = n - 1;
      while (j >= 0 && expected[order[j]!]! > key) {
        order[j + 1] = order[j]!;
        j--;
      }
      order[j + 1] = i;
      n++;
    }
    const ordered = new Array<Region>(count);
    ordered[0] = regions[primary]!;
    for (let k = 0; k < n; k++) ordered[k + 1] = regions[order[k]!]!;
    return { primary: regions[primary]!, regions: ordered, reason };
  };

  const selector: RegionSelector = {
    regions: Object.freeze(regions.slice()),
    select,
    recordLatency(region: string, rttMs: number): void {
      const index = indexByName.get(region);
      if (index === undefined) throw new RangeError(`${SCOPE}: recordLatency() got an unknown region ${describeValue(region)}`);
      if (typeof rttMs !== 'number' || !Number.isFinite(rttMs) || rttMs < 0) {
        throw new RangeError(`${SCOPE}: recordLatency() needs a finite round-trip time >= 0 in milliseconds for ${describeValue(region)} (got ${describeValue(rttMs)})`);
      }
      const now = clock.now();
      // A stale average says little about now: restart it from this sample.
      const fresh = samples[index]! > 0 && now - updatedAt[index]! <= maxAge;
      if (samples[index] === 0) measured++;
      ewma[index] = fresh ? smoothing * rttMs + (1 - smoothing) * ewma[index]! : rttMs;
      samples[index] = samples[index]! + 1;
      updatedAt[index] = now;
    },
    resetLatency(region?: string): void {
      if (region === undefined) {
        samples.fill(0);
        measured = 0;
        return;
      }
      const index = indexByName.get(region);
      if (index === undefined) throw new RangeError(`${SCOPE}: resetLatency() got an unknown region ${describeValue(region)}`);
      if (samples[index]! > 0) measured--;
      samples[index] = 0;
    },
    latencies() {
      const now = clock.now();
      const out: Record<string, RegionLatency> = {};
      for (let i = 0; i < count; i++) {
        if (samples[i] === 0) continue;
        const ageMs = now - updatedAt[i]!;
        out[regions[i]!.name] = { rttMs: ewma[i]!, samples: samples[i]!, ageMs, fresh: ageMs <= maxAge };
      }
      return out;
    },
    async close() {},
    [Symbol.asyncDispose]() {
      return selector.close();
    },
  };
  return selector;
}
