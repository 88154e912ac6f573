import { describe, expect, it } from 'vitest';
import { CONTINENT_CODES, EXTRA_COUNTRIES, ISO_COUNTRIES, continentOf, countryLocation, distanceKm, isCountryCode, normalizeCountry } from '../src/index.js';

/** The officially assigned ISO 3166-1 alpha-2 codes, in the order of the standard's English short names. */
const OFFICIAL_ALPHA_2 = [
  'AF', 'AX', 'AL', 'DZ', 'AS', 'AD', 'AO', 'AI', 'AQ', 'AG', 'AR', 'AM', 'AW', 'AU', 'AT', 'AZ', 'BS', 'BH', 'BD',
  'BB', 'BY', 'BE', 'BZ', 'BJ', 'BM', 'BT', 'BO', 'BQ', 'BA', 'BW', 'BV', 'BR', 'IO', 'BN', 'BG', 'BF', 'BI', 'KH',
  'CM', 'CA', 'CV', 'KY', 'CF', 'TD', 'CL', 'CN', 'CX', 'CC', 'CO', 'KM', 'CG', 'CD', 'CK', 'CR', 'CI', 'HR', 'CU',
  'CW', 'CY', 'CZ', 'DK', 'DJ', 'DM', 'DO', 'EC', 'EG', 'SV', 'GQ', 'ER', 'EE', 'ET', 'FK', 'FO', 'FJ', 'FI', 'FR',
  'GF', 'PF', 'TF', 'GA', 'GM', 'GE', 'DE', 'GH', 'GI', 'GR', 'GL', 'GD', 'GP', 'GU', 'GT', 'GG', 'GN', 'GW', 'GY',
  'HT', 'HM', 'VA', 'HN', 'HK', 'HU', 'IS', 'IN', 'ID', 'IR', 'IQ', 'IE', 'IM', 'IL', 'IT', 'JM', 'JP', 'JE', 'JO',
  'KZ', 'KE', 'KI', 'KP', 'KR', 'KW', 'KG', 'LA', 'LV', 'LB', 'LS', 'LR', 'LY', 'LI', 'LT', 'LU', 'MO', 'MK', 'MG',
  'MW', 'MY', 'MV', 'ML', 'MT', 'MH', 'MQ', 'MR', 'MU', 'YT', 'MX', 'FM', 'MD', 'MC', 'MN', 'ME', 'MS', 'MA', 'MZ',
  'MM', 'NA', 'NR', 'NP', 'NL', 'NC', 'NZ', 'NI', 'NE', 'NG', 'NU', 'NF', 'MP', 'NO', 'OM', 'PK', 'PW', 'PS', 'PA',
  'PG', 'PY', 'PE', 'PH', 'PN', 'PL', 'PT', 'PR', 'QA', 'RE', 'RO', 'RU', 'RW', 'BL', 'SH', 'KN', 'LC', 'MF', 'PM',
  'VC', 'WS', 'SM', 'ST', 'SA', 'SN', 'RS', 'SC', 'SL', 'SG', 'SX', 'SK', 'SI', 'SB', 'SO', 'ZA', 'GS', 'SS', 'ES',
  'LK', 'SD', 'SR', 'SJ', 'SZ', 'SE', 'CH', 'SY', 'TW', 'TJ', 'TZ', 'TH', 'TL', 'TG', 'TK', 'TO', 'TT', 'TN', 'TR',
  'TM', 'TC', 'TV', 'UG', 'UA', 'AE', 'GB', 'US', 'UM', 'UY', 'UZ', 'VU', 'VE', 'VN', 'VG', 'VI', 'WF', 'EH', 'YE',
  'ZM', 'ZW',
];

describe('country table', () => {
  it('covers exactly the 249 officially assigned ISO 3166-1 alpha-2 codes', () => {
    expect(new Set(OFFICIAL_ALPHA_2).size).toBe(249);
    expect(Object.keys(ISO_COUNTRIES).sort()).toEqual([...OFFICIAL_ALPHA_2].sort());
  });

  it('names only regions the Unicode CLDR knows', () => {
    const names = new Intl.DisplayNames(['en'], { type: 'region' });
    for (const code of [...Object.keys(ISO_COUNTRIES), 'XK']) expect(names.of(code), code).not.toBe(code);
  });

  it('reaches every continent, Antarctica included', () => {
    const reached = new Set(Object.keys(ISO_COUNTRIES).map((code) => continentOf(code)));
    expect([...reached].sort()).toEqual([...CONTINENT_CODES].sort());
    expect(['AQ', 'BV', 'GS', 'HM', 'TF'].map((code) => continentOf(code))).toEqual(['AN', 'AN', 'AN', 'AN', 'AN']);
  });

  it.each([
    ['US', 'NA'], ['MX', 'NA'], ['PA', 'NA'], ['JM', 'NA'], ['GL', 'NA'],
    ['BR', 'SA'], ['AR', 'SA'], ['GF', 'SA'], ['FK', 'SA'],
    ['DE', 'EU'], ['RU', 'EU'], ['CY', 'EU'], ['IS', 'EU'], ['XK', 'EU'],
    ['JP', 'AS'], ['TR', 'AS'], ['IL', 'AS'], ['KZ', 'AS'], ['GE', 'AS'],
    ['EG', 'AF'], ['ZA', 'AF'], ['RE', 'AF'], ['EH', 'AF'],
    ['AU', 'OC'], ['NZ', 'OC'], ['FJ', 'OC'], ['UM', 'OC'],
  ])('places %s in %s', (country, continent) => {
    expect(continentOf(country)).toBe(continent);
  });

  it('handles non-ISO codes that geolocation data uses', () => {
    expect(continentOf('EU')).toBe('EU');
    expect(continentOf('AP')).toBe('AS');
    expect(continentOf('UK')).toBe('EU');
    expect(continentOf('AN')).toBeUndefined();
    expect(continentOf('XX')).toBeUndefined();
    expect(continentOf('T1')).toBeUndefined();
    expect(continentOf('A1')).toBeUndefined();
    expect(continentOf('QZ')).toBeUndefined();
    expect(continentOf(undefined)).toBeUndefined();
    expect(continentOf('')).toBeUndefined();
    expect(continentOf('constructor')).toBeUndefined();
    expect(Object.keys(EXTRA_COUNTRIES).some((code) => code in ISO_COUNTRIES)).toBe(false);
  });

  it('gives every country a plausible point', () => {
    for (const code of [...Object.keys(ISO_COUNTRIES), ...Object.keys(EXTRA_COUNTRIES)]) {
      const point = countryLocation(code)!;
      expect(Math.abs(point.lat), code).toBeLessThanOrEqual(90);
      expect(Math.abs(point.lon), code).toBeLessThanOrEqual(180);
    }
    // Spot checks: the point is in or near the country.
    expect(distanceKm(countryLocation('GB')!, { lat: 51.5, lon: -0.13 })).toBeLessThan(600);
    expect(distanceKm(countryLocation('RU')!, { lat: 55.75, lon: 37.62 })).toBeLessThan(600);
    expect(distanceKm(countryLocation('SG')!, { lat: 1.29, lon: 103.85 })).toBeLessThan(50);
  });
});

describe('normalizeCountry', () => {
  it('upper-cases, maps UK to GB and drops placeholders', () => {
    expect(normalizeCountry('de')).toBe('DE');
    expect(normalizeCountry('UK')).toBe('GB');
    expect(normalizeCountry('XX')).toBeUndefined();
    expect(normalizeCountry('ZZ')).toBeUndefined();
    expect(normalizeCountry('T1')).toBeUndefined();
    expect(normalizeCountry('DEU')).toBeUndefined();
    expect(normalizeCountry(49)).toBeUndefined();
    expect(normalizeCountry('ß')).toBeUndefined();
  });

  it('recognises assigned codes only', () => {
    expect(isCountryCode('de')).toBe(true);
    expect(isCountryCode('UK')).toBe(false);
    expect(isCountryCode('XK')).toBe(false);
    expect(isCountryCode('EU')).toBe(false);
  });
});
