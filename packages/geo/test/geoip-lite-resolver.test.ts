import { fileURLToPath } from 'node:url';
import { spawnTs } from '@edgekit/test-utils';
import { describe, expect, it } from 'vitest';
import { createGeoipLiteResolver } from '../src/index.js';
import { describeResolverConformance } from './resolver-conformance.js';

const KNOWN = [
  ['8.8.8.8', 'US'],
  ['81.2.69.160', 'GB'],
  ['::ffff:81.2.69.160', 'GB'],
  ['2001:4860:4860::8888', 'US'],
  ['200.160.2.3', 'BR'],
] as const;

describeResolverConformance('geoip-lite city data', {
  create: () => createGeoipLiteResolver(),
  known: KNOWN,
  unknown: ['10.0.0.1', '192.168.0.1'],
});

describeResolverConformance('geoip-lite country data', {
  create: () => createGeoipLiteResolver({ dataset: 'country' }),
  known: KNOWN,
  unknown: ['10.0.0.1', '192.168.0.1'],
});

describe('createGeoipLiteResolver', () => {
  it('does not load geoip-lite at import or construction, only on ready() or the first lookup, and keeps the country data private', async () => {
    const child = spawnTs(fileURLToPath(new URL('./fixtures/lazy-geoip.ts', import.meta.url)));
    try {
      const stage = async (name: string) => JSON.parse(await child.waitForLine((line) => line.includes(`"stage":"${name}"`), 60_000));
      const imported = await stage('imported');
      const created = await stage('created');
      const countryReady = await stage('country-ready');
      const cityLookup = await stage('city-first-lookup');
      expect(imported.loaded).toBe(false);
      expect(created.loaded).toBe(false);
      // The country data set is a private module instance: the shared module stays unloaded.
      expect(countryReady).toMatchObject({ loaded: false, country: 'GB', lat: null });
      expect(countryReady.rssMb - created.rssMb).toBeLessThan(60);
      expect(cityLookup).toMatchObject({ loaded: true, country: 'GB', hasCoordinates: true });
      expect(cityLookup.rssMb - countryReady.rssMb).toBeGreaterThan(100);
    } finally {
      await child.stop();
    }
  }, 90_000);

  it('gives city, subdivision, time zone and coordinates from the city data', async () => {
    const resolver = createGeoipLiteResolver();
    expect(resolver.loaded).toBe(false);
    const location = resolver.lookup('81.2.69.160');
    expect(resolver.loaded).toBe(true);
    expect(location).toMatchObject({ country: 'GB', continent: 'EU', source: 'geoip-lite', timezone: 'Europe/London' });
    expect(location!.lat).toBeGreaterThan(49);
    expect(location!.accuracyRadiusKm).toBeGreaterThan(0);
  });

  it('gives no coordinates from the country data, not even the 0,0 placeholder geoip-lite uses for IPv6', async () => {
    const resolver = createGeoipLiteResolver({ dataset: 'country' });
    await resolver.ready();
    expect(resolver.lookup('2001:4860:4860::8888')).toEqual({ country: 'US', continent: 'NA', source: 'geoip-lite' });
    await resolver.close();
  });

  it('rejects an unknown data set naming the option', () => {
    expect(() => createGeoipLiteResolver({ dataset: 'asn' as never })).toThrow(/"dataset"/);
  });
});
