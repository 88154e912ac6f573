import type { ContinentCode } from './continents.js';

/** Continent, then the latitude and longitude of a representative point. */
export type CountryFacts = readonly [continent: ContinentCode, lat: number, lon: number];

/**
 * Every officially assigned ISO 3166-1 alpha-2 code (249), with its continent and a representative
 * point. Continents follow the GeoNames / MaxMind convention that geolocation databases report
 * (Russia and Cyprus in Europe; Turkey, Armenia, Azerbaijan and Georgia in Asia; Central America and
 * the Caribbean in North America; Timor-Leste in Oceania; AQ, BV, GS, HM and TF in Antarctica).
 * Points are geographic centres, except population centres where the geographic one misleads routing
 * (AU, CA, CN, GL, ID, RU, US); two decimals (about 1 km) is far finer than country-level routing needs.
 */
export const ISO_COUNTRIES: Readonly<Record<string, CountryFacts>> = Object.freeze({
  AD: ['EU', 42.55, 1.6], AE: ['AS', 23.42, 53.85], AF: ['AS', 33.94, 67.71], AG: ['NA', 17.06, -61.8], AI: ['NA', 18.22, -63.07],
  AL: ['EU', 41.15, 20.17], AM: ['AS', 40.07, 45.04], AO: ['AF', -11.2, 17.87], AQ: ['AN', -75.25, -0.07], AR: ['SA', -38.42, -63.62],
  AS: ['OC', -14.27, -170.13], AT: ['EU', 47.52, 14.55], AU: ['OC', -32, 146], AW: ['NA', 12.52, -69.97], AX: ['EU', 60.18, 19.92],
  AZ: ['AS', 40.14, 47.58], BA: ['EU', 43.92, 17.68], BB: ['NA', 13.19, -59.54], BD: ['AS', 23.68, 90.36], BE: ['EU', 50.5, 4.47],
  BF: ['AF', 12.24, -1.56], BG: ['EU', 42.73, 25.49], BH: ['AS', 25.93, 50.64], BI: ['AF', -3.37, 29.92], BJ: ['AF', 9.31, 2.32],
  BL: ['NA', 17.9, -62.83], BM: ['NA', 32.32, -64.76], BN: ['AS', 4.54, 114.73], BO: ['SA', -16.29, -63.59], BQ: ['NA', 12.18, -68.24],
  BR: ['SA', -14.24, -51.93], BS: ['NA', 25.03, -77.4], BT: ['AS', 27.51, 90.43], BV: ['AN', -54.42, 3.41], BW: ['AF', -22.33, 24.68],
  BY: ['EU', 53.71, 27.95], BZ: ['NA', 17.19, -88.5], CA: ['NA', 46, -85], CC: ['AS', -12.16, 96.87], CD: ['AF', -4.04, 21.76],
  CF: ['AF', 6.61, 20.94], CG: ['AF', -0.23, 15.83], CH: ['EU', 46.82, 8.23], CI: ['AF', 7.54, -5.55], CK: ['OC', -21.24, -159.78],
  CL: ['SA', -35.68, -71.54], CM: ['AF', 7.37, 12.35], CN: ['AS', 32, 113], CO: ['SA', 4.57, -74.3], CR: ['NA', 9.75, -83.75],
  CU: ['NA', 21.52, -77.78], CV: ['AF', 16, -24.01], CW: ['NA', 12.17, -68.99], CX: ['OC', -10.45, 105.69], CY: ['EU', 35.13, 33.43],
  CZ: ['EU', 49.82, 15.47], DE: ['EU', 51.17, 10.45], DJ: ['AF', 11.83, 42.59], DK: ['EU', 56.26, 9.5], DM: ['NA', 15.41, -61.37],
  DO: ['NA', 18.74, -70.16], DZ: ['AF', 28.03, 1.66], EC: ['SA', -1.83, -78.18], EE: ['EU', 58.6, 25.01], EG: ['AF', 26.82, 30.8],
  EH: ['AF', 24.22, -12.89], ER: ['AF', 15.18, 39.78], ES: ['EU', 40.46, -3.75], ET: ['AF', 9.15, 40.49], FI: ['EU', 61.92, 25.75],
  FJ: ['OC', -16.58, 179.41], FK: ['SA', -51.8, -59.52], FM: ['OC', 7.43, 150.55], FO: ['EU', 61.89, -6.91], FR: ['EU', 46.23, 2.21],
  GA: ['AF', -0.8, 11.61], GB: ['EU', 55.38, -3.44], GD: ['NA', 12.26, -61.6], GE: ['AS', 42.32, 43.36], GF: ['SA', 3.93, -53.13],
  GG: ['EU', 49.47, -2.59], GH: ['AF', 7.95, -1.02], GI: ['EU', 36.14, -5.35], GL: ['NA', 64.18, -51.72], GM: ['AF', 13.44, -15.31],
  GN: ['AF', 9.95, -9.7], GP: ['NA', 17, -62.07], GQ: ['AF', 1.65, 10.27], GR: ['EU', 39.07, 21.82], GS: ['AN', -54.43, -36.59],
  GT: ['NA', 15.78, -90.23], GU: ['OC', 13.44, 144.79], GW: ['AF', 11.8, -15.18], GY: ['SA', 4.86, -58.93], HK: ['AS', 22.4, 114.11],
  HM: ['AN', -53.08, 73.5], HN: ['NA', 15.2, -86.24], HR: ['EU', 45.1, 15.2], HT: ['NA', 18.97, -72.29], HU: ['EU', 47.16, 19.5],
  ID: ['AS', -6.5, 110], IE: ['EU', 53.41, -8.24], IL: ['AS', 31.05, 34.85], IM: ['EU', 54.24, -4.55], IN: ['AS', 20.59, 78.96],
  IO: ['AS', -6.34, 71.88], IQ: ['AS', 33.22, 43.68], IR: ['AS', 32.43, 53.69], IS: ['EU', 64.96, -19.02], IT: ['EU', 41.87, 12.57],
  JE: ['EU', 49.21, -2.13], JM: ['NA', 18.11, -77.3], JO: ['AS', 30.59, 36.24], JP: ['AS', 36.2, 138.25], KE: ['AF', -0.02, 37.91],
  KG: ['AS', 41.2, 74.77], KH: ['AS', 12.57, 104.99], KI: ['OC', -3.37, -168.73], KM: ['AF', -11.88, 43.87], KN: ['NA', 17.36, -62.78],
  KP: ['AS', 40.34, 127.51], KR: ['AS', 35.91, 127.77], KW: ['AS', 29.31, 47.48], KY: ['NA', 19.51, -80.57], KZ: ['AS', 48.02, 66.92],
  LA: ['AS', 19.86, 102.5], LB: ['AS', 33.85, 35.86], LC: ['NA', 13.91, -60.98], LI: ['EU', 47.17, 9.56], LK: ['AS', 7.87, 80.77],
  LR: ['AF', 6.43, -9.43], LS: ['AF', -29.61, 28.23], LT: ['EU', 55.17, 23.88], LU: ['EU', 49.82, 6.13], LV: ['EU', 56.88, 24.6],
  LY: ['AF', 26.34, 17.23], MA: ['AF', 31.79, -7.09], MC: ['EU', 43.75, 7.41], MD: ['EU', 47.41, 28.37], ME: ['EU', 42.71, 19.37],
  MF: ['NA', 18.08, -63.05], MG: ['AF', -18.77, 46.87], MH: ['OC', 7.13, 171.18], MK: ['EU', 41.61, 21.75], ML: ['AF', 17.57, -4],
  MM: ['AS', 21.91, 95.96], MN: ['AS', 46.86, 103.85], MO: ['AS', 22.2, 113.54], MP: ['OC', 17.33, 145.38], MQ: ['NA', 14.64, -61.02],
  MR: ['AF', 21.01, -10.94], MS: ['NA', 16.74, -62.19], MT: ['EU', 35.94, 14.38], MU: ['AF', -20.35, 57.55], MV: ['AS', 3.2, 73.22],
  MW: ['AF', -13.25, 34.3], MX: ['NA', 23.63, -102.55], MY: ['AS', 4.21, 101.98], MZ: ['AF', -18.67, 35.53], NA: ['AF', -22.96, 18.49],
  NC: ['OC', -20.9, 165.62], NE: ['AF', 17.61, 8.08], NF: ['OC', -29.04, 167.95], NG: ['AF', 9.08, 8.68], NI: ['NA', 12.87, -85.21],
  NL: ['EU', 52.13, 5.29], NO: ['EU', 60.47, 8.47], NP: ['AS', 28.39, 84.12], NR: ['OC', -0.52, 166.93], NU: ['OC', -19.05, -169.87],
  NZ: ['OC', -40.9, 174.89], OM: ['AS', 21.51, 55.92], PA: ['NA', 8.54, -80.78], PE: ['SA', -9.19, -75.02], PF: ['OC', -17.68, -149.41],
  PG: ['OC', -6.31, 143.96], PH: ['AS', 12.88, 121.77], PK: ['AS', 30.38, 69.35], PL: ['EU', 51.92, 19.15], PM: ['NA', 46.94, -56.27],
  PN: ['OC', -24.7, -127.44], PR: ['NA', 18.22, -66.59], PS: ['AS', 31.95, 35.23], PT: ['EU', 39.4, -8.22], PW: ['OC', 7.51, 134.58],
  PY: ['SA', -23.44, -58.44], QA: ['AS', 25.35, 51.18], RE: ['AF', -21.12, 55.54], RO: ['EU', 45.94, 24.97], RS: ['EU', 44.02, 21.01],
  RU: ['EU', 55, 45], RW: ['AF', -1.94, 29.87], SA: ['AS', 23.89, 45.08], SB: ['OC', -9.65, 160.16], SC: ['AF', -4.68, 55.49],
  SD: ['AF', 12.86, 30.22], SE: ['EU', 60.13, 18.64], SG: ['AS', 1.35, 103.82], SH: ['AF', -15.96, -5.71], SI: ['EU', 46.15, 15],
  SJ: ['EU', 77.55, 23.67], SK: ['EU', 48.67, 19.7], SL: ['AF', 8.46, -11.78], SM: ['EU', 43.94, 12.46], SN: ['AF', 14.5, -14.45],
  SO: ['AF', 5.15, 46.2], SR: ['SA', 3.92, -56.03], SS: ['AF', 6.88, 31.31], ST: ['AF', 0.19, 6.61], SV: ['NA', 13.79, -88.9],
  SX: ['NA', 18.04, -63.07], SY: ['AS', 34.8, 39], SZ: ['AF', -26.52, 31.47], TC: ['NA', 21.69, -71.8], TD: ['AF', 15.45, 18.73],
  TF: ['AN', -49.28, 69.35], TG: ['AF', 8.62, 0.82], TH: ['AS', 15.87, 100.99], TJ: ['AS', 38.86, 71.28], TK: ['OC', -8.97, -171.86],
  TL: ['OC', -8.87, 125.73], TM: ['AS', 38.97, 59.56], TN: ['AF', 33.89, 9.54], TO: ['OC', -21.18, -175.2], TR: ['AS', 38.96, 35.24],
  TT: ['NA', 10.69, -61.22], TV: ['OC', -7.11, 177.65], TW: ['AS', 23.7, 120.96], TZ: ['AF', -6.37, 34.89], UA: ['EU', 48.38, 31.17],
  UG: ['AF', 1.37, 32.29], UM: ['OC', 19.28, 166.65], US: ['NA', 37.4, -92.2], UY: ['SA', -32.52, -55.77], UZ: ['AS', 41.38, 64.59],
  VA: ['EU', 41.9, 12.45], VC: ['NA', 12.98, -61.29], VE: ['SA', 6.42, -66.59], VG: ['NA', 18.42, -64.64], VI: ['NA', 18.34, -64.9],
  VN: ['AS', 14.06, 108.28], VU: ['OC', -15.38, 166.96], WF: ['OC', -13.77, -177.16], WS: ['OC', -13.76, -172.1], YE: ['AS', 15.55, 48.52],
  YT: ['AF', -12.83, 45.17], ZA: ['AF', -30.56, 22.94], ZM: ['AF', -13.13, 27.85], ZW: ['AF', -19.02, 29.15],
});

/**
 * Codes that are not assigned ISO 3166-1 codes but appear in geolocation data: Kosovo (XK, a
 * user-assigned code used by the EU and every major database), the legacy GeoIP pseudo-codes for
 * "somewhere in Europe" (EU) and "somewhere in Asia/Pacific" (AP), and reserved codes that some
 * sources still emit. AN (Netherlands Antilles, deleted in 2010) is deliberately absent: the same
 * letters are the Antarctica continent code, and a stale database row should not look like one.
 */
export const EXTRA_COUNTRIES: Readonly<Record<string, CountryFacts>> = Object.freeze({
  XK: ['EU', 42.6, 20.9],
  EU: ['EU', 50, 10],
  AP: ['AS', 15, 110],
  // ISO 3166-1 exceptionally reserved codes.
  AC: ['AF', -7.95, -14.36],
  CP: ['NA', 10.3, -109.22],
  DG: ['AS', -7.31, 72.41],
  EA: ['AF', 35.89, -5.32],
  FX: ['EU', 46.23, 2.21],
  IC: ['AF', 28.29, -16.63],
  TA: ['AF', -37.11, -12.28],
  // ISO 3166-3 transitional codes of countries that split or were renamed.
  CS: ['EU', 44.02, 21.01],
  YU: ['EU', 44.02, 21.01],
  SU: ['EU', 55, 45],
  TP: ['OC', -8.87, 125.73],
});

/** Aliases that name an assigned code: `UK` is exceptionally reserved for the United Kingdom (GB). */
const ALIASES: Readonly<Record<string, string>> = Object.freeze({ UK: 'GB' });

/** Placeholders databases and CDNs use for "no country" (Cloudflare's XX, MaxMind's legacy ZZ). */
const UNKNOWN_COUNTRIES = new Set(['XX', 'ZZ']);

function isUpperLetter(c: number): boolean {
  return c >= 65 && c <= 90;
}

/**
 * Normalises a country code from a database or header: two ASCII letters, upper-cased, `UK` → `GB`.
 * Returns `undefined` for anything else, including the "unknown" placeholders `XX` and `ZZ` and
 * pseudo-codes with digits (`A1`, `A2`, `O1`, `T1` for Tor).
 */
export function normalizeCountry(code: unknown): string | undefined {
  if (typeof code !== 'string' || code.length !== 2) return undefined;
  let upper = code;
  if (!isUpperLetter(code.charCodeAt(0)) || !isUpperLetter(code.charCodeAt(1))) {
    upper = code.toUpperCase();
    if (!isUpperLetter(upper.charCodeAt(0)) || !isUpperLetter(upper.charCodeAt(1))) return undefined;
  }
  if (UNKNOWN_COUNTRIES.has(upper)) return undefined;
  return Object.hasOwn(ALIASES, upper) ? ALIASES[upper] : upper;
}

/** The table row of a country code after {@link normalizeCountry}, or `undefined` when unknown. */
export function countryFacts(country: string | null | undefined): CountryFacts | undefined {
  const code = normalizeCountry(country);
  if (code === undefined) return undefined;
  if (Object.hasOwn(ISO_COUNTRIES, code)) return ISO_COUNTRIES[code];
  return Object.hasOwn(EXTRA_COUNTRIES, code) ? EXTRA_COUNTRIES[code] : undefined;
}

/** True when `code` is one of the 249 officially assigned ISO 3166-1 alpha-2 codes (case-insensitive). */
export function isCountryCode(code: unknown): boolean {
  if (typeof code !== 'string') return false;
  const normalized = normalizeCountry(code);
  // `UK` normalises to `GB` but is not itself an assigned code.
  return normalized !== undefined && normalized === code.toUpperCase() && Object.hasOwn(ISO_COUNTRIES, normalized);
}

/**
 * The continent of a country code, for data sources that report no continent (geoip-lite, most
 * country-only databases, CDN headers).
 *
 * @example continentOf('br') // 'SA'
 */
export function continentOf(country: string | null | undefined): ContinentCode | undefined {
  return countryFacts(country)?.[0];
}

/** A representative point of a country, used to estimate distance when a source reports only the country. */
export function countryLocation(country: string | null | undefined): { lat: number; lon: number } | undefined {
  const facts = countryFacts(country);
  return facts === undefined ? undefined : { lat: facts[1], lon: facts[2] };
}
