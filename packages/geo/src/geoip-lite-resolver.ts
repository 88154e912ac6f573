import { copyFileSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { checkOptionsObject, optionalOneOf } from '@edgekit/core';
import { GeoError } from './errors.js';
import { type GeoLocation, toGeoLocation } from './location.js';
import { resolvePeer } from './peer.js';
import type { GeoResolver } from './resolver.js';

/** The geoip-lite data set to load: `'city'` (country, region, city, coordinates) or `'country'` (country only). */
export type GeoipLiteDataset = 'city' | 'country';

/** Options of {@link createGeoipLiteResolver}. */
export interface GeoipLiteResolverOptions {
  /**
   * `'city'` loads geoip-lite's full data set (about 146 MB of buffers); `'country'` loads only its
   * country files (about 14 MB), which give no coordinates. Default: `'city'`.
   */
  dataset?: GeoipLiteDataset;
}

/** Defaults of {@link GeoipLiteResolverOptions}. */
export const GEOIP_LITE_DEFAULTS = Object.freeze({ dataset: 'city' as GeoipLiteDataset });

/** A {@link GeoResolver} backed by geoip-lite. */
export interface GeoipLiteResolver extends GeoResolver {
  readonly name: 'geoip-lite';
  readonly dataset: GeoipLiteDataset;
  /** True once the data is in memory. */
  readonly loaded: boolean;
  /** Loads the data now instead of on the first lookup (it is read synchronously either way). */
  ready(): Promise<void>;
  close(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

/** The part of geoip-lite's module this resolver uses. */
interface GeoipLiteModule {
  lookup(ip: string): {
    country: string;
    region: string;
    timezone: string;
    city: string;
    ll: [number | null, number | null];
    area?: number;
  } | null;
}

const COUNTRY_FILES = ['geoip-country.dat', 'geoip-country6.dat'] as const;

function placeFile(source: string, target: string): void {
  try {
    symlinkSync(source, target);
  } catch {
    copyFileSync(source, target);
  }
}

/**
 * geoip-lite reads its data synchronously when its module is first required, from
 * `global.geodatadir`, `GEODATADIR` or its own `data/` folder, and falls back to the country files
 * only when the city files are missing. The country-only data set is therefore a private instance
 * of the module, required from a temporary folder that holds nothing but the two country files.
 * The module cache entry and `global.geodatadir` are restored right after, so the rest of the
 * process still gets the usual city instance. The folder is removed at once: the data is in memory.
 */
function loadCountryInstance(require: NodeJS.Require, main: string): GeoipLiteModule {
  const holder = globalThis as { geodatadir?: string };
  const configured = holder.geodatadir ?? process.env.GEODATADIR ?? '../data/';
  const dataDir = resolve(dirname(main), configured);
  const folder = mkdtempSync(join(tmpdir(), 'edgekit-geoip-country-'));
  const hadGlobal = Object.hasOwn(holder, 'geodatadir');
  const previousGlobal = holder.geodatadir;
  const previousModule = require.cache[main];
  try {
    for (const file of COUNTRY_FILES) placeFile(join(dataDir, file), join(folder, file));
    delete require.cache[main];
    holder.geodatadir = folder;
    return require(main) as GeoipLiteModule;
  } finally {
    if (previousModule) require.cache[main] = previousModule;
    else delete require.cache[main];
    if (hadGlobal) holder.geodatadir = previousGlobal;
    else delete holder.geodatadir;
    rmSync(folder, { recursive: true, force: true });
  }
}

/**
 * Geolocation from the geoip-lite package, an optional peer dependency (`npm install geoip-lite`;
 * without it the first lookup throws `EMISSINGPEER`). Its bundled GeoLite2 data is frozen at the
 * package's release, years old; see the README for fresher sources. Nothing is loaded when this module is imported:
 * the data is read on the first lookup or on `ready()`. The city data set is geoip-lite's shared
 * module instance; the country data set is a private instance holding only the country files.
 *
 * @example
 * const resolver = createGeoipLiteResolver({ dataset: 'country' });
 * await resolver.ready();
 * resolver.lookup('81.2.69.160'); // { country: 'GB', continent: 'EU', source: 'geoip-lite' }
 */
export function createGeoipLiteResolver(options?: GeoipLiteResolverOptions): GeoipLiteResolver {
  const opts = checkOptionsObject<GeoipLiteResolverOptions>('@edgekit/geo', options);
  const dataset = optionalOneOf('@edgekit/geo', 'dataset', opts.dataset, ['city', 'country'], GEOIP_LITE_DEFAULTS.dataset);
  let geoip: GeoipLiteModule | undefined;
  let closed = false;

  const load = (): GeoipLiteModule => {
    if (closed) throw new GeoError('ECLOSED', '@edgekit/geo: the geoip-lite resolver is closed', { resolver: 'geoip-lite' });
    if (geoip !== undefined) return geoip;
    const main = resolvePeer({ specifier: 'geoip-lite', range: '1', resolver: 'geoip-lite' });
    const require = createRequire(main);
    try {
      geoip = dataset === 'city' ? (require(main) as GeoipLiteModule) : loadCountryInstance(require, main);
    } catch (error) {
      throw new GeoError('EGEODATA', `@edgekit/geo: cannot load geoip-lite ${dataset} data: ${(error as Error)?.message ?? String(error)}`, {
        resolver: 'geoip-lite',
        cause: error,
      });
    }
    return geoip;
  };

  const resolver: GeoipLiteResolver = {
    name: 'geoip-lite',
    dataset,
    get loaded() {
      return geoip !== undefined;
    },
    lookup(ip: string): GeoLocation | null {
      const data = (geoip ?? load()).lookup(ip);
      if (data === null) return null;
      return toGeoLocation('geoip-lite', {
        country: data.country,
        lat: data.ll?.[0],
        lon: data.ll?.[1],
        city: data.city,
        subdivision: data.region,
        timezone: data.timezone,
        accuracyRadiusKm: data.area,
      });
    },
    async ready() {
      load();
    },
    async close() {
      closed = true;
      geoip = undefined;
    },
    [Symbol.asyncDispose]() {
      return resolver.close();
    },
  };
  return resolver;
}
