import type { GeoLocationLike } from './sources.js';

/** Label value for a name outside the configured set. */
export const OTHER = 'other';
/** Label value when there is nothing to name (no location, no region tried). */
export const UNKNOWN = 'unknown';

/** Continent codes, the default `client_region` values besides `unknown` and `other`. */
export const CONTINENTS: readonly string[] = Object.freeze(['AF', 'AN', 'AS', 'EU', 'NA', 'OC', 'SA']);

/** The `status` label values: one per HTTP status class, and `aborted` for a client that went away. */
export type StatusLabel = '1xx' | '2xx' | '3xx' | '4xx' | '5xx' | 'aborted';

const CLASSES: readonly StatusLabel[] = ['1xx', '2xx', '3xx', '4xx', '5xx'];

/** The status class of an HTTP status (`503` → `5xx`); anything that is not a status counts as `5xx`. */
export function statusClass(status: number): StatusLabel {
  const index = Math.floor(status / 100) - 1;
  return index >= 0 && index < 5 && Number.isInteger(status) ? CLASSES[index]! : '5xx';
}

/** Maps names to themselves when they are in the allowed set, anything else to `other`: a bounded label. */
export class BoundedLabel {
  readonly #allowed: ReadonlySet<string>;

  constructor(allowed: Iterable<string>) {
    this.#allowed = new Set(allowed);
  }

  of(name: string | undefined | null): string {
    if (name === undefined || name === null || name === '') return UNKNOWN;
    return this.#allowed.has(name) ? name : OTHER;
  }

  has(name: string): boolean {
    return this.#allowed.has(name);
  }

  values(): string[] {
    return [...this.#allowed];
  }
}

/** The default `client_region` of a location: its continent code, or `unknown` when not located. */
export function continentOf(location: GeoLocationLike | null | undefined): string {
  return location?.continent ?? UNKNOWN;
}
