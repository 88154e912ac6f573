import { type FSWatcher, watch } from 'node:fs';
import { open, stat } from 'node:fs/promises';
import { basename, dirname } from 'node:path';
import {
  type Clock,
  type ClockTimer,
  type Disposable,
  TypedEmitter,
  checkNumber,
  checkOptionsObject,
  describeValue,
  optionalBoolean,
  optionalFunction,
  optionalNumber,
  optionalString,
  systemClock,
} from '@edgekit/core';
import { GeoError } from './errors.js';
import { AddressParser } from './ip.js';
import { type GeoLocation, type RawGeoFields, toGeoLocation } from './location.js';
import { requirePeer } from './peer.js';
import type { GeoResolver } from './resolver.js';

const SCOPE = '@edgekit/geo';

/** Maps one record of an `.mmdb` file to location fields. */
export type MmdbRecordMapper = (record: Record<string, unknown>) => RawGeoFields | null | undefined;

/** Options of {@link createMmdbResolver}. */
export interface MmdbResolverOptions {
  /** Path of the `.mmdb` file (MaxMind GeoIP2/GeoLite2, DB-IP, ip-location-db or any MaxMind DB file). Required. */
  path: string;
  /** Reload the file when it changes, without a restart. Default: `true`. */
  watch?: boolean;
  /**
   * Check the file's inode, size and modification time every this many milliseconds (on `clock`)
   * instead of relying on file system events, for network file systems and bind mounts where
   * events do not arrive. Default: `undefined` (events through `fs.watch` on the file's folder,
   * which also sees atomic renames).
   */
  pollInterval?: number;
  /** Milliseconds to wait after the last change before reading, so a file being written is read once. Default: `250`. */
  reloadDelay?: number;
  /** Maps a record to location fields. Default: {@link mapMmdbRecord}. */
  map?: MmdbRecordMapper;
  /** Reported as `GeoLocation.source`. Default: `'mmdb'`. */
  name?: string;
  /** Clock for the reload delay. Default: `systemClock`. */
  clock?: Clock;
}

/** Defaults of {@link MmdbResolverOptions}. */
export const MMDB_DEFAULTS = Object.freeze({ watch: true, pollInterval: undefined as number | undefined, reloadDelay: 250, name: 'mmdb' });

/** What a reload loaded. */
export interface MmdbReloadEvent {
  path: string;
  /** `databaseType` from the file's metadata, such as `'GeoLite2-Country'`. */
  databaseType: string;
  /** When the file was built, from its metadata. */
  buildEpoch: Date;
}

/** Events of {@link MmdbResolver}. */
export type MmdbResolverEvents = {
  /** The file was read again and lookups now use it. */
  reload: [event: MmdbReloadEvent];
  /** A reload failed; lookups keep using the previous data. Without a listener this becomes a process warning. */
  error: [error: GeoError];
};

/** A {@link GeoResolver} reading a MaxMind DB file through the optional `maxmind` peer dependency. */
export interface MmdbResolver extends GeoResolver {
  readonly path: string;
  /** Reads the file and starts watching it. Lookups before it resolves throw `ENOTREADY`. */
  ready(): Promise<void>;
  /** Reads the file again now. Rejects (keeping the current data) when the file is unreadable or invalid. */
  reload(): Promise<void>;
  /** Metadata of the loaded file, or `undefined` before `ready()`. */
  readonly metadata: { databaseType: string; buildEpoch: Date; ipVersion: number } | undefined;
  on<K extends keyof MmdbResolverEvents>(event: K, listener: (...args: MmdbResolverEvents[K]) => void): Disposable;
  onReload(listener: () => void): Disposable;
  close(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

/** The part of maxmind's `Reader` this resolver uses. */
interface MmdbReader {
  get(ip: string): unknown;
  metadata: { databaseType: string; buildEpoch: Date; ipVersion: number };
}
type MmdbReaderConstructor = new (database: Buffer) => MmdbReader;

/** Identifies one version of the file: a replaced or rewritten file differs in at least one field. */
interface FileStamp {
  readonly ino: number;
  readonly size: number;
  readonly mtimeMs: number;
}

function sameStamp(a: FileStamp | undefined, b: FileStamp | undefined): boolean {
  return a !== undefined && b !== undefined && a.ino === b.ino && a.size === b.size && a.mtimeMs === b.mtimeMs;
}

function field(value: unknown, key: string): unknown {
  return value !== null && typeof value === 'object' ? (value as Record<string, unknown>)[key] : undefined;
}

/**
 * The default {@link MmdbRecordMapper}. Understands the MaxMind GeoIP2/GeoLite2 layout (also used by
 * DB-IP: `country.iso_code`, `continent.code`, `location.latitude`, `city.names.en`, ...), falling
 * back to `registered_country` when `country` is absent, and the flat ip-location-db layout
 * (`country_code`, `latitude`, `longitude`, `city`, `timezone`).
 */
export function mapMmdbRecord(record: Record<string, unknown>): RawGeoFields | null {
  if (record === null || typeof record !== 'object') return null;
  const location = field(record, 'location');
  const city = field(record, 'city');
  const subdivisions = field(record, 'subdivisions');
  return {
    country: field(field(record, 'country'), 'iso_code') ?? field(field(record, 'registered_country'), 'iso_code') ?? field(record, 'country_code'),
    continent: field(field(record, 'continent'), 'code'),
    lat: field(location, 'latitude') ?? field(record, 'latitude'),
    lon: field(location, 'longitude') ?? field(record, 'longitude'),
    accuracyRadiusKm: field(location, 'accuracy_radius'),
    timezone: field(location, 'time_zone') ?? field(record, 'timezone'),
    city: typeof city === 'string' ? city : field(field(city, 'names'), 'en'),
    subdivision: Array.isArray(subdivisions) ? field(subdivisions[0], 'iso_code') : undefined,
  };
}

function loadReaderClass(name: string, path: string): MmdbReaderConstructor {
  const maxmind = requirePeer<{ Reader?: MmdbReaderConstructor }>({ specifier: 'maxmind', range: '5', resolver: name, path });
  if (typeof maxmind.Reader !== 'function') {
    throw new GeoError('EMISSINGPEER', `${SCOPE}: the installed "maxmind" exports no Reader: run npm install maxmind@5`, { resolver: name, path });
  }
  return maxmind.Reader;
}

/**
 * Geolocation from a MaxMind DB (`.mmdb`) file, read through the `maxmind` package. The file is
 * read in `ready()`, then watched: when it changes it is read again after `reloadDelay`, checked,
 * and swapped in without a restart (a file that fails to parse keeps the previous data and emits
 * `error`). Lookups are synchronous.
 *
 * @example
 * const resolver = createMmdbResolver({ path: '/var/lib/geo/dbip-country.mmdb' });
 * await resolver.ready();
 * resolver.lookup('8.8.8.8'); // { country: 'US', continent: 'NA', source: 'mmdb' }
 */
export function createMmdbResolver(options: MmdbResolverOptions): MmdbResolver {
  const opts = checkOptionsObject<MmdbResolverOptions>(SCOPE, options);
  if (typeof opts.path !== 'string' || opts.path.length === 0) {
    throw new TypeError(`${SCOPE}: option "path" must be the path of an .mmdb file (got ${describeValue(opts.path)})`);
  }
  const path = opts.path;
  const shouldWatch = optionalBoolean(SCOPE, 'watch', opts.watch, MMDB_DEFAULTS.watch);
  const pollInterval = opts.pollInterval === undefined ? undefined : checkNumber(SCOPE, 'pollInterval', opts.pollInterval, { min: 1 });
  const reloadDelay = optionalNumber(SCOPE, 'reloadDelay', opts.reloadDelay, MMDB_DEFAULTS.reloadDelay, { min: 0 });
  const map = optionalFunction<MmdbRecordMapper, MmdbRecordMapper>(SCOPE, 'map', opts.map, mapMmdbRecord);
  const name = optionalString(SCOPE, 'name', opts.name, MMDB_DEFAULTS.name);
  const clock = opts.clock ?? systemClock;
  const emitter = new TypedEmitter<MmdbResolverEvents>();
  const parser = new AddressParser();

  let reader: MmdbReader | undefined;
  let readyPromise: Promise<void> | undefined;
  let closed = false;
  let generation = 0;
  let watcher: FSWatcher | undefined;
  let pollTimer: ClockTimer | undefined;
  let reloadTimer: ClockTimer | undefined;
  /** The version of the file the current data came from, and the last version that failed to load. */
  let loadedStamp: FileStamp | undefined;
  let failedStamp: FileStamp | undefined;
  let inFlight = 0;

  const reportError = (error: unknown): void => {
    const geoError =
      error instanceof GeoError ? error : new GeoError('EGEODATA', `${SCOPE}: watching ${path} failed: ${(error as Error)?.message ?? String(error)}`, { resolver: name, path, cause: error });
    if (!emitter.emit('error', geoError)) process.emitWarning(geoError);
  };

  const read = async (): Promise<{ reader: MmdbReader; stamp: FileStamp }> => {
    const Reader = loadReaderClass(name, path);
    let buffer: Buffer;
    let stamp: FileStamp;
    try {
      // Stat and read through one handle, so the stamp describes exactly the bytes read.
      const handle = await open(path, 'r');
      try {
        const stats = await handle.stat();
        stamp = { ino: stats.ino, size: stats.size, mtimeMs: stats.mtimeMs };
        buffer = await handle.readFile();
      } finally {
        await handle.close();
      }
    } catch (error) {
      throw new GeoError('EGEODATA', `${SCOPE}: cannot read ${path}: ${(error as Error)?.message}`, { resolver: name, path, cause: error });
    }
    try {
      return { reader: new Reader(buffer), stamp };
    } catch (error) {
      failedStamp = stamp;
      throw new GeoError('EGEODATA', `${SCOPE}: ${path} is not a valid MaxMind DB file: ${(error as Error)?.message}`, { resolver: name, path, cause: error });
    }
  };

  const reload = async (): Promise<void> => {
    if (closed) throw new GeoError('ECLOSED', `${SCOPE}: the mmdb resolver for ${path} is closed`, { resolver: name, path });
    const mine = ++generation;
    inFlight++;
    let next: Awaited<ReturnType<typeof read>>;
    try {
      next = await read();
    } finally {
      inFlight--;
    }
    // A newer reload started meanwhile, or the resolver closed: that one wins.
    if (closed || mine !== generation) return;
    reader = next.reader;
    loadedStamp = next.stamp;
    emitter.emit('reload', { path, databaseType: next.reader.metadata.databaseType, buildEpoch: next.reader.metadata.buildEpoch });
  };

  /** Reloads `reloadDelay` after the last call, so a burst of change events reads the file once. */
  const scheduleReload = (): void => {
    if (closed) return;
    clock.clearTimeout(reloadTimer);
    reloadTimer = clock.setTimeout(() => {
      reloadTimer = undefined;
      reload().catch(reportError);
    }, reloadDelay);
  };

  /** Compares the file on disk with the loaded version; schedules a reload when it differs and is not known to be bad. */
  const checkFile = async (): Promise<void> => {
    let current: FileStamp;
    try {
      const stats = await stat(path);
      current = { ino: stats.ino, size: stats.size, mtimeMs: stats.mtimeMs };
    } catch {
      return; // Missing for a moment (being replaced): keep the data, look again later.
    }
    if (closed || inFlight > 0 || reloadTimer !== undefined || sameStamp(current, loadedStamp) || sameStamp(current, failedStamp)) return;
    scheduleReload();
  };

  const poll = (interval: number): void => {
    pollTimer = clock.setTimeout(() => {
      checkFile()
        .catch(reportError)
        .finally(() => {
          if (!closed) poll(interval);
        });
    }, interval);
  };

  const startWatching = (): void => {
    if (pollInterval !== undefined) {
      poll(pollInterval);
    } else {
      // Watch the folder, not the file: tools that replace the file atomically (write + rename) change its inode.
      const file = basename(path);
      watcher = watch(dirname(path), { persistent: false }, (_event, changed) => {
        if (changed === null || changed === file) scheduleReload();
      });
      watcher.on('error', reportError);
    }
  };

  const resolver: MmdbResolver = {
    name,
    path,
    get metadata() {
      return reader?.metadata;
    },
    lookup(ip: string): GeoLocation | null {
      const current = reader;
      if (current === undefined) {
        throw closed
          ? new GeoError('ECLOSED', `${SCOPE}: the mmdb resolver for ${path} is closed`, { resolver: name, path })
          : new GeoError('ENOTREADY', `${SCOPE}: await ready() before looking up addresses in ${path}`, { resolver: name, path });
      }
      const family = parser.parse(ip);
      if (family === 0) return null;
      // mmdb-lib walks the first 32 bits of an IPv6 address through an IPv4-only tree and answers
      // for an unrelated IPv4 network: an IPv4-only file has no answer for IPv6.
      if (family === 6 && current.metadata.ipVersion === 4) return null;
      let record: unknown;
      try {
        record = current.get(parser.format(ip, family));
      } catch {
        // mmdb-lib throws for an IPv6 address in an IPv4-only file and for malformed input.
        return null;
      }
      if (record === null || typeof record !== 'object') return null;
      const fields = map(record as Record<string, unknown>);
      return fields ? toGeoLocation(name, fields) : null;
    },
    ready() {
      if (closed) return Promise.reject(new GeoError('ECLOSED', `${SCOPE}: the mmdb resolver for ${path} is closed`, { resolver: name, path }));
      readyPromise ??= (async () => {
        const first = await read();
        if (closed) return;
        reader = first.reader;
        loadedStamp = first.stamp;
        if (shouldWatch) {
          startWatching();
          // The file may have changed between the first read and the start of watching.
          await checkFile();
        }
      })().catch((error: unknown) => {
        readyPromise = undefined;
        throw error;
      });
      return readyPromise;
    },
    reload,
    on(event, listener) {
      return emitter.on(event, listener);
    },
    onReload(listener) {
      return emitter.on('reload', () => listener());
    },
    async close() {
      if (closed) return;
      closed = true;
      clock.clearTimeout(reloadTimer);
      clock.clearTimeout(pollTimer);
      watcher?.close();
      reader = undefined;
      emitter.removeAllListeners();
    },
    [Symbol.asyncDispose]() {
      return resolver.close();
    },
  };
  return resolver;
}
