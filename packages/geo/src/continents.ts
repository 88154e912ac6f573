/** The seven continent codes used by geolocation databases (MaxMind, GeoNames, OpenTelemetry `geo.continent.code`). */
export const CONTINENT_CODES = Object.freeze(['AF', 'AN', 'AS', 'EU', 'NA', 'OC', 'SA'] as const);

/** Africa, Antarctica, Asia, Europe, North America, Oceania, South America. */
export type ContinentCode = (typeof CONTINENT_CODES)[number];

/** True when `value` is one of {@link CONTINENT_CODES}. */
export function isContinentCode(value: unknown): value is ContinentCode {
  return typeof value === 'string' && (CONTINENT_CODES as readonly string[]).includes(value);
}
