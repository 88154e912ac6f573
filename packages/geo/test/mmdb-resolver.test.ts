import { copyFileSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createManualClock } from '@edgekit/core/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { GeoError, type MmdbReloadEvent, type MmdbResolver, createGeoLocator, createMmdbResolver, mapMmdbRecord } from '../src/index.js';
import { describeResolverConformance } from './resolver-conformance.js';

// A real, current country database from the registry (CC0 ip-location-db build), dual stack and IPv4-only.
const dataDir = dirname(createRequire(import.meta.url).resolve('@ip-location-db/geo-whois-asn-country-mmdb/package.json'));
const DUAL_STACK = join(dataDir, 'geo-whois-asn-country.mmdb');
const IPV4_ONLY = join(dataDir, 'geo-whois-asn-country-ipv4.mmdb');
const IPV6_PROBE = '2001:4860:4860::8888';

describeResolverConformance('mmdb (ip-location-db country)', {
  create: () => createMmdbResolver({ path: DUAL_STACK, watch: false }),
  known: [
    ['8.8.8.8', 'US'],
    ['81.2.69.160', 'GB'],
    [IPV6_PROBE, 'US'],
  ],
  unknown: ['10.0.0.1', '127.0.0.1', '::1'],
  needsReady: true,
});

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

function workspace(): { dir: string; file: string } {
  const dir = mkdtempSync(join(tmpdir(), 'edgekit-geo-mmdb-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return { dir, file: join(dir, 'country.mmdb') };
}

function track(resolver: MmdbResolver): MmdbResolver {
  cleanups.push(() => resolver.close());
  return resolver;
}

/** Resolves with the next reload event, or rejects after a generous deadline (real file system events). */
function nextReload(resolver: MmdbResolver, timeoutMs = 15_000): Promise<MmdbReloadEvent> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      subscription.dispose();
      reject(new Error(`no reload within ${timeoutMs} ms`));
    }, timeoutMs);
    const subscription = resolver.on('reload', (event) => {
      clearTimeout(timer);
      subscription.dispose();
      resolve(event);
    });
  });
}

/** Replaces a file the way download tools do: write beside it, then rename over it. */
function replaceAtomically(source: string, target: string): void {
  const temporary = `${target}.tmp`;
  copyFileSync(source, temporary);
  renameSync(temporary, target);
}

describe('createMmdbResolver: reload without a restart', () => {
  it('swaps in a file that is replaced atomically (fs.watch on the folder)', async () => {
    const { file } = workspace();
    copyFileSync(DUAL_STACK, file);
    const resolver = track(createMmdbResolver({ path: file, reloadDelay: 50 }));
    await resolver.ready();
    expect(resolver.lookup(IPV6_PROBE)?.country).toBe('US');

    const reloaded = nextReload(resolver);
    replaceAtomically(IPV4_ONLY, file);
    const event = await reloaded;
    expect(event.path).toBe(file);
    expect(resolver.metadata?.ipVersion).toBe(4);
    // The IPv4-only file has no IPv6 data: the answer changed without a restart.
    expect(resolver.lookup(IPV6_PROBE)).toBeNull();
    expect(resolver.lookup('8.8.8.8')?.country).toBe('US');
  });

  it('swaps in a file overwritten in place', async () => {
    const { file } = workspace();
    copyFileSync(IPV4_ONLY, file);
    const resolver = track(createMmdbResolver({ path: file, reloadDelay: 100 }));
    await resolver.ready();
    expect(resolver.lookup(IPV6_PROBE)).toBeNull();
    const reloaded = nextReload(resolver);
    copyFileSync(DUAL_STACK, file);
    await reloaded;
    expect(resolver.lookup(IPV6_PROBE)?.country).toBe('US');
  });

  it('notices changes by polling when asked to', async () => {
    const { file } = workspace();
    copyFileSync(DUAL_STACK, file);
    const resolver = track(createMmdbResolver({ path: file, pollInterval: 50, reloadDelay: 10 }));
    await resolver.ready();
    const reloaded = nextReload(resolver);
    replaceAtomically(IPV4_ONLY, file);
    await reloaded;
    expect(resolver.lookup(IPV6_PROBE)).toBeNull();
  });

  it('polls on its clock: a change is seen at the next poll, then read after the reload delay', async () => {
    const { file } = workspace();
    copyFileSync(DUAL_STACK, file);
    const clock = createManualClock();
    const resolver = track(createMmdbResolver({ path: file, clock, pollInterval: 1_000, reloadDelay: 500 }));
    await resolver.ready();
    let reloads = 0;
    resolver.on('reload', () => reloads++);
    replaceAtomically(IPV4_ONLY, file);
    clock.advance(999);
    expect(clock.pendingTimers()).toBe(1); // only the poll: nothing noticed yet
    clock.advance(1);
    const deadline = Date.now() + 15_000;
    // The poll stats the file (real I/O), then schedules the reload and the next poll.
    while (clock.pendingTimers() < 2 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
    expect(reloads).toBe(0);
    const reloaded = nextReload(resolver);
    clock.advance(500);
    await reloaded;
    expect(reloads).toBe(1);
    expect(resolver.lookup(IPV6_PROBE)).toBeNull();
    await resolver.close();
    expect(clock.pendingTimers()).toBe(0);
  });

  it('reads the file once after a burst of changes, when the reload delay has passed on its clock', async () => {
    const { file } = workspace();
    copyFileSync(DUAL_STACK, file);
    const clock = createManualClock();
    const resolver = track(createMmdbResolver({ path: file, clock, reloadDelay: 1_000 }));
    await resolver.ready();
    let reloads = 0;
    resolver.on('reload', () => reloads++);
    for (let i = 0; i < 3; i++) replaceAtomically(i % 2 === 0 ? IPV4_ONLY : DUAL_STACK, file);
    replaceAtomically(IPV4_ONLY, file);
    const deadline = Date.now() + 15_000;
    while (clock.pendingTimers() === 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
    expect(clock.pendingTimers()).toBe(1);
    // Let straggling events of the burst arrive: they only push the single timer back.
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(clock.pendingTimers()).toBe(1);
    const reloaded = nextReload(resolver);
    clock.advance(1_000);
    await reloaded;
    expect(reloads).toBe(1);
    expect(resolver.lookup(IPV6_PROBE)).toBeNull();
  });

  it('keeps the previous data and emits error when the new file is not a MaxMind DB', async () => {
    const { file } = workspace();
    copyFileSync(DUAL_STACK, file);
    const resolver = track(createMmdbResolver({ path: file, reloadDelay: 20 }));
    await resolver.ready();
    const failed = new Promise<GeoError>((resolve) => resolver.on('error', resolve));
    writeFileSync(file, 'this is not a database');
    const error = await failed;
    expect(error).toBeInstanceOf(GeoError);
    expect(error.code).toBe('EGEODATA');
    expect(error.path).toBe(file);
    expect(resolver.lookup(IPV6_PROBE)?.country).toBe('US');
    await expect(resolver.reload()).rejects.toMatchObject({ code: 'EGEODATA' });
  });

  it('does not watch when watch is false, but reloads on demand', async () => {
    const { file } = workspace();
    copyFileSync(DUAL_STACK, file);
    const resolver = track(createMmdbResolver({ path: file, watch: false, reloadDelay: 0 }));
    await resolver.ready();
    let reloads = 0;
    resolver.on('reload', () => reloads++);
    replaceAtomically(IPV4_ONLY, file);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(reloads).toBe(0);
    expect(resolver.lookup(IPV6_PROBE)?.country).toBe('US');
    await resolver.reload();
    expect(reloads).toBe(1);
    expect(resolver.lookup(IPV6_PROBE)).toBeNull();
  });

  it('drops cached answers of a locator when the data is reloaded', async () => {
    const { file } = workspace();
    copyFileSync(DUAL_STACK, file);
    const resolver = createMmdbResolver({ path: file, reloadDelay: 20 });
    const locator = createGeoLocator({ resolver });
    cleanups.push(() => locator.close());
    await locator.ready();
    expect(locator.lookup(IPV6_PROBE)?.country).toBe('US');
    expect(locator.lookup(IPV6_PROBE)?.country).toBe('US');
    expect(locator.stats()).toMatchObject({ hits: 1, misses: 1, size: 1 });
    const reloaded = nextReload(resolver);
    replaceAtomically(IPV4_ONLY, file);
    await reloaded;
    expect(locator.stats().size).toBe(0);
    expect(locator.lookup(IPV6_PROBE)).toBeNull();
  });
});

describe('createMmdbResolver: errors', () => {
  it('rejects ready() with EGEODATA for a missing file, and succeeds on a later call once it exists', async () => {
    const { file } = workspace();
    const resolver = track(createMmdbResolver({ path: file, watch: false }));
    await expect(resolver.ready()).rejects.toMatchObject({ code: 'EGEODATA', path: file });
    copyFileSync(DUAL_STACK, file);
    await resolver.ready();
    expect(resolver.lookup('8.8.8.8')?.country).toBe('US');
  });

  it('rejects ready() for a file that is not a MaxMind DB', async () => {
    const { file } = workspace();
    writeFileSync(file, Buffer.alloc(1024, 7));
    const resolver = track(createMmdbResolver({ path: file, watch: false }));
    await expect(resolver.ready()).rejects.toThrow(/not a valid MaxMind DB file/);
  });

  it('validates its options, naming them', () => {
    expect(() => createMmdbResolver({} as never)).toThrow(/"path"/);
    expect(() => createMmdbResolver({ path: DUAL_STACK, pollInterval: 0 })).toThrow(/"pollInterval"/);
    expect(() => createMmdbResolver({ path: DUAL_STACK, reloadDelay: -1 })).toThrow(/"reloadDelay"/);
    expect(() => createMmdbResolver({ path: DUAL_STACK, watch: 'yes' as never })).toThrow(/"watch"/);
  });

  it('uses a custom record mapper and name', async () => {
    const resolver = track(createMmdbResolver({ path: DUAL_STACK, watch: false, name: 'whois', map: (record) => ({ country: record.country_code === 'US' ? 'CA' : record.country_code }) }));
    await resolver.ready();
    expect(resolver.lookup('8.8.8.8')).toEqual({ country: 'CA', continent: 'NA', source: 'whois' });
  });
});

describe('mapMmdbRecord', () => {
  it('reads the MaxMind GeoIP2 / GeoLite2 / DB-IP layout', () => {
    const record = {
      continent: { code: 'EU', names: { en: 'Europe' } },
      country: { iso_code: 'GB', names: { en: 'United Kingdom' } },
      city: { names: { en: 'London' } },
      location: { latitude: 51.5142, longitude: -0.0931, accuracy_radius: 5, time_zone: 'Europe/London' },
      subdivisions: [{ iso_code: 'ENG' }],
    };
    expect(mapMmdbRecord(record)).toEqual({
      country: 'GB',
      continent: 'EU',
      lat: 51.5142,
      lon: -0.0931,
      accuracyRadiusKm: 5,
      timezone: 'Europe/London',
      city: 'London',
      subdivision: 'ENG',
    });
  });

  it('falls back to the registered country, and reads the flat ip-location-db layout', () => {
    expect(mapMmdbRecord({ registered_country: { iso_code: 'DE' } })?.country).toBe('DE');
    expect(mapMmdbRecord({ country_code: 'FR', latitude: 48.85, longitude: 2.35, city: 'Paris' })).toMatchObject({ country: 'FR', lat: 48.85, lon: 2.35, city: 'Paris' });
  });
});
