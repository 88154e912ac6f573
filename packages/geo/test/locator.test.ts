import type { Disposable } from '@edgekit/core';
import { describe, expect, it, vi } from 'vitest';
import { GeoError, type GeoResolver, type RequestLike, createCustomResolver, createGeoLocator, createMmdbResolver } from '../src/index.js';
import { describeResolverConformance } from './resolver-conformance.js';

const TABLE: Record<string, string> = { '8.8.8.8': 'US', '81.2.69.160': 'GB', '2001:4860:4860::8888': 'US' };

describeResolverConformance('custom function', {
  create: () => createCustomResolver((ip) => (TABLE[ip] ? { country: TABLE[ip]!.toLowerCase() } : null)),
  known: Object.entries(TABLE),
  unknown: ['1.1.1.1'],
});

/** A resolver that counts its calls, answers from a table and can announce a data reload. */
function countingResolver(table: Record<string, string> = TABLE) {
  const listeners = new Set<() => void>();
  const calls: string[] = [];
  const resolver: GeoResolver & { calls: string[]; reload(): void; closed: boolean } = {
    name: 'table',
    calls,
    closed: false,
    lookup(ip) {
      calls.push(ip);
      const country = table[ip];
      return country ? { country, source: 'table' } : null;
    },
    onReload(listener): Disposable {
      listeners.add(listener);
      const dispose = () => listeners.delete(listener);
      return { dispose, [Symbol.dispose]: dispose };
    },
    reload() {
      for (const listener of listeners) listener();
    },
    async close() {
      resolver.closed = true;
    },
  };
  return resolver;
}

describe('createGeoLocator: cache', () => {
  it('answers repeated lookups from the LRU cache and counts hits and misses', () => {
    const resolver = countingResolver();
    const locator = createGeoLocator({ resolver });
    expect(locator.lookup('8.8.8.8')?.country).toBe('US');
    expect(locator.lookup('8.8.8.8')?.country).toBe('US');
    expect(locator.lookup('81.2.69.160')?.country).toBe('GB');
    expect(resolver.calls).toEqual(['8.8.8.8', '81.2.69.160']);
    expect(locator.stats()).toEqual({ hits: 1, misses: 2, size: 2 });
  });

  it('caches negative answers too', () => {
    const resolver = countingResolver();
    const locator = createGeoLocator({ resolver });
    expect(locator.lookup('1.1.1.1')).toBeNull();
    expect(locator.lookup('1.1.1.1')).toBeNull();
    expect(resolver.calls).toEqual(['1.1.1.1']);
    expect(locator.stats()).toEqual({ hits: 1, misses: 1, size: 1 });
  });

  it('keeps at most max entries, evicting the least recently used', () => {
    const resolver = countingResolver();
    const locator = createGeoLocator({ resolver, max: 2 });
    locator.lookup('8.8.8.8');
    locator.lookup('81.2.69.160');
    locator.lookup('8.8.8.8');
    locator.lookup('2001:4860:4860::8888');
    expect(locator.stats().size).toBe(2);
    locator.lookup('8.8.8.8');
    locator.lookup('81.2.69.160');
    expect(resolver.calls).toEqual(['8.8.8.8', '81.2.69.160', '2001:4860:4860::8888', '81.2.69.160']);
  });

  it('asks the resolver every time when the cache is disabled', () => {
    const resolver = countingResolver();
    const locator = createGeoLocator({ resolver, max: 0 });
    locator.lookup('8.8.8.8');
    locator.lookup('8.8.8.8');
    expect(resolver.calls).toHaveLength(2);
    expect(locator.stats()).toEqual({ hits: 0, misses: 2, size: 0 });
  });

  it('drops cached answers when the resolver reports new data, and on clear()', () => {
    const table = { ...TABLE };
    const resolver = countingResolver(table);
    const locator = createGeoLocator({ resolver });
    expect(locator.lookup('8.8.8.8')?.country).toBe('US');
    table['8.8.8.8'] = 'CA';
    expect(locator.lookup('8.8.8.8')?.country).toBe('US');
    resolver.reload();
    expect(locator.stats().size).toBe(0);
    expect(locator.lookup('8.8.8.8')?.country).toBe('CA');
    locator.clear();
    expect(locator.stats().size).toBe(0);
  });

  it('returns frozen, cleaned locations with the continent derived from the country', () => {
    const locator = createGeoLocator({ resolver: () => ({ country: 'br', lat: -23.5, lon: -46.6 }) });
    const location = locator.lookup('200.160.2.3')!;
    expect(location).toEqual({ country: 'BR', continent: 'SA', lat: -23.5, lon: -46.6, source: 'custom' });
    expect(Object.isFrozen(location)).toBe(true);
  });
});

describe('createGeoLocator: addresses', () => {
  it('never asks the resolver about private, loopback, link-local or invalid addresses', () => {
    const resolver = countingResolver();
    const locator = createGeoLocator({ resolver });
    for (const ip of ['10.0.0.1', '172.16.5.4', '192.168.1.1', '127.0.0.1', '::1', 'fe80::1', 'fd00::2', '100.64.0.1', '', 'nope', 'x'.repeat(1000)]) {
      expect(locator.lookup(ip), ip).toBeNull();
    }
    expect(resolver.calls).toEqual([]);
  });

  it('hands the resolver normalised addresses', () => {
    const resolver = countingResolver();
    const locator = createGeoLocator({ resolver });
    expect(locator.lookup('::ffff:8.8.8.8')?.country).toBe('US');
    expect(locator.lookup('[2001:4860:4860:0:0:0:0:8888]:443')?.country).toBe('US');
    expect(resolver.calls).toEqual(['8.8.8.8', '2001:4860:4860::8888']);
  });

  it('answers null and reports the error when a resolver throws for one address, without caching it', () => {
    const onError = vi.fn();
    let fail = true;
    const locator = createGeoLocator({
      onError,
      resolver: () => {
        if (fail) throw new Error('backend down');
        return { country: 'US' };
      },
    });
    expect(locator.lookup('8.8.8.8')).toBeNull();
    expect(onError).toHaveBeenCalledWith(expect.objectContaining({ message: 'backend down' }), '8.8.8.8');
    fail = false;
    expect(locator.lookup('8.8.8.8')?.country).toBe('US');
  });

  it('throws set-up errors (GeoError) to the caller instead of answering null', () => {
    const onError = vi.fn();
    const locator = createGeoLocator({
      onError,
      resolver: {
        name: 'broken',
        lookup() {
          throw new GeoError('EGEODATA', 'data file missing', { resolver: 'broken', path: '/data/x.mmdb' });
        },
      },
    });
    expect(() => locator.lookup('8.8.8.8')).toThrow(expect.objectContaining({ code: 'EGEODATA', path: '/data/x.mmdb' }));
    expect(onError).not.toHaveBeenCalled();
    expect(locator.stats().size).toBe(0);
  });

  it('throws ENOTREADY when a file-based resolver is used before ready()', () => {
    const locator = createGeoLocator({ resolver: createMmdbResolver({ path: '/nonexistent.mmdb', watch: false }) });
    expect(() => locator.lookup('8.8.8.8')).toThrow(expect.objectContaining({ code: 'ENOTREADY' }));
  });
});

describe('createGeoLocator: locateRequest', () => {
  const request = (remoteAddress: string, headers: RequestLike['headers'] = {}): RequestLike => ({ socket: { remoteAddress }, headers });
  const make = (extra = {}) => createGeoLocator({ resolver: countingResolver(), trustedProxies: ['10.0.0.0/8'], ...extra });

  it('believes a CDN country header from a trusted proxy, deriving the continent', () => {
    const locator = make({ cdn: 'cloudflare' });
    const location = locator.locateRequest(request('10.0.0.1', { 'x-forwarded-for': '8.8.8.8', 'cf-ipcountry': 'de' }));
    expect(location).toEqual({ country: 'DE', continent: 'EU', source: 'header' });
  });

  it('believes no location header, from any peer, when no CDN is named', () => {
    const locator = make();
    for (const header of ['cf-ipcountry', 'x-vercel-ip-country', 'cloudfront-viewer-country', 'x-appengine-country', 'x-country-code']) {
      expect(locator.locateRequest(request('10.0.0.1', { 'x-forwarded-for': '81.2.69.160', [header]: 'JP' }))?.country, header).toBe('GB');
    }
  });

  it("believes only the named CDN's headers: through Cloudflare, a client's own x-vercel-ip-country is ignored", () => {
    const locator = make({ cdn: 'cloudflare' });
    expect(locator.locateRequest(request('10.0.0.1', { 'x-forwarded-for': '81.2.69.160', 'x-vercel-ip-country': 'JP' }))?.country).toBe('GB');
    const both = make({ cdn: ['cloudflare', 'vercel'] });
    expect(both.locateRequest(request('10.0.0.1', { 'x-forwarded-for': '81.2.69.160', 'x-vercel-ip-country': 'JP' }))?.country).toBe('JP');
  });

  it('reads coordinates headers when the CDN sends them', () => {
    const locator = make({ cdn: 'cloudfront' });
    const location = locator.locateRequest(
      request('10.0.0.1', { 'cloudfront-viewer-country': 'JP', 'cloudfront-viewer-latitude': '35.68', 'cloudfront-viewer-longitude': '139.69' }),
    );
    expect(location).toEqual({ country: 'JP', continent: 'AS', lat: 35.68, lon: 139.69, source: 'header' });
  });

  it('ignores CDN headers sent straight by a client, locating its socket address instead', () => {
    const locator = make({ cdn: 'cloudflare' });
    expect(locator.locateRequest(request('8.8.8.8', { 'cf-ipcountry': 'DE', 'x-forwarded-for': '81.2.69.160' }))?.country).toBe('US');
  });

  it('ignores CDN headers when no trusted proxies are configured', () => {
    const locator = createGeoLocator({ resolver: countingResolver(), cdn: 'cloudflare' });
    expect(locator.locateRequest(request('8.8.8.8', { 'cf-ipcountry': 'DE' }))?.country).toBe('US');
  });

  it('falls back to the client address when the header says unknown (XX) or Tor (T1), or is repeated', () => {
    const locator = make({ cdn: 'cloudflare' });
    for (const value of ['XX', 'T1', 'DE, FR', ['DE', 'FR'], '', 'Germany']) {
      expect(locator.locateRequest(request('10.0.0.1', { 'x-forwarded-for': '81.2.69.160', 'cf-ipcountry': value }))?.country, String(value)).toBe('GB');
    }
  });

  it('uses the header names given for a CDN without a preset', () => {
    const own = make({ cdn: { country: ['x-geo'] } });
    expect(own.locateRequest(request('10.0.0.1', { 'x-geo': 'FR', 'cf-ipcountry': 'DE' }))?.country).toBe('FR');
    expect(own.locateRequest(request('10.0.0.1', { 'x-forwarded-for': '8.8.8.8', 'cf-ipcountry': 'DE' }))?.country).toBe('US');
  });

  it('locates the client address from the forwarding chain, and works unbound', () => {
    const locator = make();
    const { locateRequest, clientIp } = locator;
    const req = request('10.0.0.1', { 'x-forwarded-for': '6.6.6.6, 81.2.69.160' });
    expect(clientIp(req)).toBe('81.2.69.160');
    expect(locateRequest(req)?.country).toBe('GB');
    expect(locateRequest(request('10.0.0.1'))).toBeNull();
  });
});

describe('createGeoLocator: lifecycle and options', () => {
  it('closes its resolver, and refuses lookups after close', async () => {
    const resolver = countingResolver();
    const locator = createGeoLocator({ resolver });
    locator.lookup('8.8.8.8');
    await locator[Symbol.asyncDispose]();
    expect(resolver.closed).toBe(true);
    expect(() => locator.lookup('8.8.8.8')).toThrow(GeoError);
    await expect(locator.ready()).rejects.toMatchObject({ code: 'ECLOSED' });
    await locator.close();
  });

  it.each([
    [{ max: -1 }, RangeError, /"max"/],
    [{ max: 1.5 }, RangeError, /"max"/],
    [{ resolver: 'maxmind' }, TypeError, /"resolver"/],
    [{ resolver: { lookup: 1 } }, TypeError, /"resolver"/],
    [{ cdn: { country: ['CF-IPCountry'] } }, TypeError, /"cdn\.country\[0\]"/],
    [{ cdn: { coordinates: [['a']] } }, TypeError, /"cdn\.coordinates\[0\]"/],
    [{ cdn: {} }, TypeError, /"cdn" names no header/],
    [{ cdn: 'akamai' }, TypeError, /"cdn" must name a CDN \(cloudflare, cloudfront, vercel, appengine\)/],
    [{ cdn: ['vercel', 'fastly'] }, TypeError, /"cdn\[1\]"/],
    [{ cdn: 7 }, TypeError, /"cdn"/],
    [{ trustedProxies: ['10.0.0.0/99'] }, RangeError, /"trustedProxies\[0\]"/],
    [{ onError: 'log' }, TypeError, /"onError"/],
  ])('rejects %j naming the option', (options, type, message) => {
    expect(() => createGeoLocator(options as never)).toThrow(type);
    expect(() => createGeoLocator(options as never)).toThrow(message);
  });
});
