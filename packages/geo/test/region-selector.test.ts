import { createManualClock } from '@edgekit/core/testing';
import { describe, expect, it } from 'vitest';
import { type GeoLocation, type Region, type RegionSelectorOptions, createGeoLocator, createRegionSelector, distanceKm, estimateRttMs } from '../src/index.js';

const FRANKFURT: Region = { name: 'eu-central', url: 'https://eu-central.example.com', location: { lat: 50.11, lon: 8.68 } };
const DUBLIN: Region = { name: 'eu-west', url: 'https://eu-west.example.com', location: { lat: 53.35, lon: -6.26 } };
const VIRGINIA: Region = { name: 'us-east', url: 'https://us-east.example.com', location: { lat: 39.04, lon: -77.49 } };
const OREGON: Region = { name: 'us-west', url: 'https://us-west.example.com', location: { lat: 45.84, lon: -119.7 } };
const SINGAPORE: Region = { name: 'ap-southeast', url: 'https://ap-southeast.example.com', location: { lat: 1.35, lon: 103.82 } };
const REGIONS = [FRANKFURT, DUBLIN, VIRGINIA, OREGON, SINGAPORE];

const at = (lat: number, lon: number, extra: Partial<GeoLocation> = {}): GeoLocation => ({ lat, lon, source: 'test', ...extra });
const names = (regions: Region[]) => regions.map((r) => r.name);

describe('createRegionSelector: primary region', () => {
  const selector = createRegionSelector({
    regions: REGIONS,
    rules: { countries: { GB: 'eu-central', ie: 'us-east' }, continents: { SA: 'us-east', OC: 'us-west' } },
    defaultRegion: 'us-east',
  });

  it('applies a country rule before anything else', () => {
    // London is nearest to Dublin, but the country rule says Frankfurt.
    const result = selector.select(at(51.5, -0.13, { country: 'GB', continent: 'EU' }));
    expect(result.primary.name).toBe('eu-central');
    expect(result.reason).toBe('country');
  });

  it('accepts lower-case rule keys and location countries', () => {
    expect(selector.select({ country: 'ie', source: 'test' }).primary.name).toBe('us-east');
  });

  it('applies a continent rule when no country rule matches, deriving the continent from the country', () => {
    const saoPaulo = selector.select(at(-23.55, -46.63, { country: 'BR' }));
    expect(saoPaulo.primary.name).toBe('us-east');
    expect(saoPaulo.reason).toBe('continent');
    expect(selector.select({ continent: 'OC', source: 'test' }).primary.name).toBe('us-west');
  });

  it('picks the nearest region by great-circle distance when no rule matches', () => {
    const tokyo = selector.select(at(35.68, 139.69, { country: 'JP', continent: 'AS' }));
    expect(tokyo.primary.name).toBe('ap-southeast');
    expect(tokyo.reason).toBe('nearest');
    expect(selector.select(at(47.6, -122.33)).primary.name).toBe('us-west');
    expect(selector.select(at(48.85, 2.35)).primary.name).toBe('eu-central');
    expect(selector.select(at(53.8, -1.55)).primary.name).toBe('eu-west');
  });

  it('estimates coordinates from the country when the source gives none', () => {
    const result = selector.select({ country: 'JP', source: 'geoip-lite' });
    expect(result.primary.name).toBe('ap-southeast');
    expect(result.reason).toBe('nearest');
    const off = createRegionSelector({ regions: REGIONS, useCountryLocation: false, defaultRegion: 'eu-west' });
    expect(off.select({ country: 'JP', source: 'geoip-lite' }).reason).toBe('default');
  });

  it('falls back to the default region for unknown clients', () => {
    for (const location of [null, undefined, { source: 'test' }, { country: 'XX', source: 'test' }, at(Number.NaN, 0)]) {
      const result = selector.select(location as GeoLocation | null);
      expect(result.primary.name).toBe('us-east');
      expect(result.reason).toBe('default');
    }
  });

  it('sends private and loopback addresses to the default region', () => {
    const locator = createGeoLocator({ resolver: () => ({ country: 'JP' }) });
    for (const ip of ['10.0.0.1', '192.168.1.9', '127.0.0.1', '::1', 'fd00::1']) {
      expect(selector.select(locator.lookup(ip)).reason, ip).toBe('default');
    }
    expect(selector.select(locator.lookup('8.8.8.8')).primary.name).toBe('ap-southeast');
  });

  it('uses the first region as the default when none is configured', () => {
    expect(createRegionSelector({ regions: REGIONS }).select(null).primary.name).toBe('eu-central');
  });
});

describe('createRegionSelector: fallback order', () => {
  it('lists every region once, primary first, fallbacks by distance from the client', () => {
    const selector = createRegionSelector({ regions: REGIONS });
    const chicago = selector.select(at(41.88, -87.63));
    expect(names(chicago.regions)).toEqual(['us-east', 'us-west', 'eu-west', 'eu-central', 'ap-southeast']);
    const rome = selector.select(at(41.9, 12.5));
    expect(names(rome.regions)).toEqual(['eu-central', 'eu-west', 'us-east', 'us-west', 'ap-southeast']);
  });

  it('orders fallbacks by distance from the client even when a rule chose the primary', () => {
    const selector = createRegionSelector({ regions: REGIONS, rules: { countries: { DE: 'ap-southeast' } } });
    expect(names(selector.select(at(52.52, 13.4, { country: 'DE' })).regions)).toEqual(['ap-southeast', 'eu-central', 'eu-west', 'us-east', 'us-west']);
  });

  it('orders fallbacks by measured latency (EWMA) where measured, by estimated latency elsewhere', () => {
    const clock = createManualClock(0);
    const selector = createRegionSelector({ regions: REGIONS, clock, latencySmoothing: 0.5 });
    const paris = at(48.85, 2.35);
    expect(names(selector.select(paris).regions)).toEqual(['eu-central', 'eu-west', 'us-east', 'us-west', 'ap-southeast']);
    // Dublin is congested; Singapore answers fast from where this gateway runs.
    selector.recordLatency('eu-west', 400);
    selector.recordLatency('ap-southeast', 20);
    expect(names(selector.select(paris).regions)).toEqual(['eu-central', 'ap-southeast', 'us-east', 'us-west', 'eu-west']);
    // The estimate for Virginia from Paris is about 93 ms; an EWMA of (400 + 50) / 2 = 225 ms for Dublin still ranks after it.
    selector.recordLatency('eu-west', 50);
    expect(selector.latencies()['eu-west']).toMatchObject({ rttMs: 225, samples: 2, fresh: true });
    const virginiaEstimate = estimateRttMs(distanceKm(paris as { lat: number; lon: number }, VIRGINIA.location), 1.5);
    expect(virginiaEstimate).toBeGreaterThan(80);
    expect(virginiaEstimate).toBeLessThan(120);
    expect(names(selector.select(paris).regions)).toEqual(['eu-central', 'ap-southeast', 'us-east', 'us-west', 'eu-west']);
    selector.recordLatency('eu-west', 10);
    expect(names(selector.select(paris).regions)).toEqual(['eu-central', 'ap-southeast', 'us-east', 'eu-west', 'us-west']);
  });

  it('forgets measurements older than latencyMaxAge, and restarts the average after', () => {
    const clock = createManualClock(0);
    const selector = createRegionSelector({ regions: REGIONS, clock, latencyMaxAge: 60_000 });
    const paris = at(48.85, 2.35);
    selector.recordLatency('eu-west', 900);
    expect(names(selector.select(paris).regions).at(-1)).toBe('eu-west');
    clock.advance(60_001);
    expect(names(selector.select(paris).regions)[1]).toBe('eu-west');
    expect(selector.latencies()['eu-west']!.fresh).toBe(false);
    selector.recordLatency('eu-west', 5);
    expect(selector.latencies()['eu-west']!.rttMs).toBe(5);
  });

  it('resets measured latencies', () => {
    const selector = createRegionSelector({ regions: REGIONS });
    selector.recordLatency('eu-west', 900);
    selector.recordLatency('us-east', 900);
    selector.resetLatency('eu-west');
    expect(Object.keys(selector.latencies())).toEqual(['us-east']);
    selector.resetLatency();
    expect(selector.latencies()).toEqual({});
  });

  it('orders fallbacks of an unknown client by distance from the gateway when its origin is configured', () => {
    const selector = createRegionSelector({ regions: REGIONS, defaultRegion: 'us-east', origin: { lat: 1.3, lon: 103.8 } });
    const result = selector.select(null);
    expect(result.primary.name).toBe('us-east');
    expect(names(result.regions)).toEqual(['us-east', 'ap-southeast', 'eu-central', 'eu-west', 'us-west']);
  });

  it('orders fallbacks of an unknown client by distance from the primary region without an origin', () => {
    const selector = createRegionSelector({ regions: REGIONS, defaultRegion: 'us-west' });
    expect(names(selector.select(null).regions)).toEqual(['us-west', 'us-east', 'eu-west', 'eu-central', 'ap-southeast']);
  });

  it('returns a fresh array each time, so callers may change it', () => {
    const selector = createRegionSelector({ regions: REGIONS });
    const first = selector.select(null).regions;
    first.pop();
    expect(selector.select(null).regions).toHaveLength(5);
    expect(selector.regions).toEqual(REGIONS);
    expect(Object.isFrozen(selector.regions)).toBe(true);
  });

  it('works with a single region', () => {
    const selector = createRegionSelector({ regions: [VIRGINIA] });
    expect(names(selector.select(at(35, 139)).regions)).toEqual(['us-east']);
  });
});

describe('createRegionSelector: validation', () => {
  const build = (options: Partial<RegionSelectorOptions>) => () => createRegionSelector({ regions: REGIONS, ...options } as RegionSelectorOptions);

  it.each([
    ['no regions', { regions: [] }, TypeError, /"regions"/],
    ['regions not an array', { regions: 'eu' }, TypeError, /"regions"/],
    ['a duplicate name', { regions: [FRANKFURT, { ...DUBLIN, name: 'eu-central' }] }, RangeError, /"regions\[1\]\.name".*regions\[0\]/],
    ['an empty name', { regions: [{ ...FRANKFURT, name: '' }] }, TypeError, /"regions\[0\]\.name"/],
    ['an invalid URL', { regions: [FRANKFURT, { ...DUBLIN, url: 'not a url' }] }, TypeError, /"regions\[1\]\.url"/],
    ['a non-http URL', { regions: [{ ...FRANKFURT, url: 'ftp://eu.example.com' }] }, TypeError, /"regions\[0\]\.url"/],
    ['a latitude out of range', { regions: [{ ...FRANKFURT, location: { lat: 91, lon: 0 } }] }, RangeError, /"regions\[0\]\.location\.lat".*91/],
    ['a longitude that is not a number', { regions: [{ ...FRANKFURT, location: { lat: 0, lon: '8' } }] }, TypeError, /"regions\[0\]\.location\.lon"/],
    ['a missing location', { regions: [{ name: 'x', url: 'https://x.example.com' }] }, TypeError, /"regions\[0\]\.location"/],
    ['an unknown default region', { defaultRegion: 'mars' }, RangeError, /"defaultRegion".*"mars"/],
    ['a country rule to an unknown region', { rules: { countries: { DE: 'eu-centrl' } } }, RangeError, /"rules\.countries\.DE".*"eu-centrl"/],
    ['a country rule with a bad code', { rules: { countries: { Germany: 'eu-central' } } }, TypeError, /"rules\.countries\.Germany"/],
    ['a continent rule to an unknown region', { rules: { continents: { EU: 'nowhere' } } }, RangeError, /"rules\.continents\.EU"/],
    ['a continent rule with a bad code', { rules: { continents: { Europe: 'eu-central' } } }, TypeError, /"rules\.continents\.Europe"/],
    ['a route factor below 1', { routeFactor: 0.5 }, RangeError, /"routeFactor"/],
    ['a smoothing of 0', { latencySmoothing: 0 }, RangeError, /"latencySmoothing"/],
    ['an origin out of range', { origin: { lat: 0, lon: 200 } }, RangeError, /"origin\.lon"/],
  ])('rejects %s with an error naming the field', (_name, options, type, message) => {
    expect(build(options as Partial<RegionSelectorOptions>)).toThrow(type);
    expect(build(options as Partial<RegionSelectorOptions>)).toThrow(message);
  });

  it('rejects latency samples for unknown regions and impossible round trips', () => {
    const selector = createRegionSelector({ regions: REGIONS });
    expect(() => selector.recordLatency('mars', 10)).toThrow(RangeError);
    expect(() => selector.recordLatency('eu-west', -1)).toThrow(RangeError);
    expect(() => selector.recordLatency('eu-west', Number.NaN)).toThrow(RangeError);
    expect(selector.latencies()).toEqual({});
  });
});
