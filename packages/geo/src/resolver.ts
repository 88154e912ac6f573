import type { Disposable } from '@edgekit/core';
import { describeValue, optionalString } from '@edgekit/core';
import { type GeoLocation, type RawGeoFields, toGeoLocation } from './location.js';

/**
 * Turns a normalised public IP address into a location, synchronously. Data that must be loaded
 * asynchronously is loaded in `ready()`. Implementations: {@link createGeoipLiteResolver},
 * {@link createMmdbResolver}, {@link createCustomResolver}, or any object of this shape.
 */
export interface GeoResolver {
  /** Reported as `GeoLocation.source`. */
  readonly name: string;
  /** The location of `ip` (already normalised, public), or `null` when the data has none. Never throws for an unknown address. */
  lookup(ip: string): GeoLocation | null;
  /** Loads the data. Resolvers without it are ready at once. */
  ready?(): Promise<void>;
  /** Calls `listener` after the data changed, so caches in front of the resolver can drop stale answers. */
  onReload?(listener: () => void): Disposable;
  /** Releases watchers and data. */
  close?(): Promise<void>;
}

/** A lookup function for {@link createCustomResolver}: return location fields, or `null`/`undefined` when unknown. */
export type GeoLookupFunction = (ip: string) => RawGeoFields | null | undefined;

/** Options of {@link createCustomResolver}. */
export interface CustomResolverOptions {
  /** Reported as `GeoLocation.source`. Default: `'custom'`. */
  name?: string;
}

/** Defaults of {@link CustomResolverOptions}. */
export const CUSTOM_RESOLVER_DEFAULTS = Object.freeze({ name: 'custom' });

/**
 * Wraps a lookup function as a {@link GeoResolver}: the answer is cleaned like every other source
 * (country upper-cased and validated, continent derived, bad coordinates dropped).
 *
 * @example createCustomResolver((ip) => (ip.startsWith('81.') ? { country: 'gb' } : null))
 */
export function createCustomResolver(lookup: GeoLookupFunction, options: CustomResolverOptions = {}): GeoResolver {
  if (typeof lookup !== 'function') {
    throw new TypeError(`@edgekit/geo: option "resolver" must be a function or a GeoResolver (got ${describeValue(lookup)})`);
  }
  const name = optionalString('@edgekit/geo', 'name', options.name, CUSTOM_RESOLVER_DEFAULTS.name);
  return {
    name,
    lookup(ip) {
      const raw = lookup(ip);
      return raw === null || raw === undefined || typeof raw !== 'object' ? null : toGeoLocation(name, raw);
    },
  };
}
