import { createManualClock } from '@edgekit/core/testing';
import { type GeoLocation, createRegionSelector, createRequestSelector } from '@edgekit/geo';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

const regions = [
  { name: 'eu', url: 'http://eu.internal', location: { lat: 50.11, lon: 8.68 } },
  { name: 'us', url: 'http://us.internal', location: { lat: 39.04, lon: -77.49 } },
  { name: 'ap', url: 'http://ap.internal', location: { lat: 1.35, lon: 103.82 } },
];
const SECRET = 'x'.repeat(32);
const TOKYO: GeoLocation = { country: 'JP', continent: 'AS', lat: 35.68, lon: 139.69, source: 'custom' };

describe('request selector', () => {
  it('puts a region hint it signed first, and ignores forged, expired or foreign-tenant hints', () => {
    const clock = createManualClock(1_000_000);
    const selector = createRequestSelector({
      selector: createRegionSelector({ regions }),
      hint: { secrets: [SECRET], subject: (req) => req.headers['x-tenant'] as string | undefined },
      clock,
    });
    const hint = selector.signHint('us', { subject: 'acme', ttl: 60_000 });
    const pick = (headers: Record<string, string>) => selector.select(TOKYO, { headers });
    expect(pick({ 'x-edgekit-region': hint, 'x-tenant': 'acme' })).toMatchObject({ reason: 'hint', primary: { name: 'us' } });
    expect(pick({ cookie: `a=1; edgekit_region=${hint}`, 'x-tenant': 'acme' }).primary.name).toBe('us');
    expect(pick({ 'x-edgekit-region': hint, 'x-tenant': 'other' }).primary.name).toBe('ap');
    expect(pick({ 'x-edgekit-region': hint.replace(/^us/, 'eu'), 'x-tenant': 'acme' }).primary.name).toBe('ap');
    expect(pick({ 'x-edgekit-region': `${hint.slice(0, -2)}AA`, 'x-tenant': 'acme' }).primary.name).toBe('ap');
    expect(pick({ 'x-edgekit-region': 'us.9999999999999.abc', 'x-tenant': 'acme' }).primary.name).toBe('ap');
    clock.advance(60_000);
    expect(pick({ 'x-edgekit-region': hint, 'x-tenant': 'acme' }).primary.name).toBe('ap');
  });

  it('verifies hints signed with an older secret during rotation', () => {
    const old = createRequestSelector({ selector: createRegionSelector({ regions }), hint: { secrets: [SECRET] } });
    const rotated = createRequestSelector({ selector: createRegionSelector({ regions }), hint: { secrets: ['y'.repeat(32), SECRET] } });
    expect(rotated.select(TOKYO, { headers: { 'x-edgekit-region': old.signHint('eu') } }).primary.name).toBe('eu');
  });

  it('keeps a tenant inside its allowed regions, home first, and answers with no region when none is allowed', () => {
    const selector = createRequestSelector({
      selector: createRegionSelector({ regions }),
      residency: (req) => (req.headers['x-tenant'] === 'eu-bank' ? { home: 'eu', allowed: ['eu'] } : req.headers['x-tenant'] === 'none' ? { allowed: [] } : { home: 'us' }),
    });
    expect(selector.select(TOKYO, { headers: { 'x-tenant': 'eu-bank' } })).toMatchObject({ reason: 'home', regions: [{ name: 'eu' }] });
    expect(selector.select(TOKYO, { headers: { 'x-tenant': 'retail' } }).regions.map((r) => r.name)).toEqual(['us', 'ap', 'eu']);
    expect(selector.select(TOKYO, { headers: { 'x-tenant': 'none' } }).regions).toEqual([]);
  });

  it('locates the client from the request when asked (CDN headers)', () => {
    const selector = createRequestSelector({
      selector: createRegionSelector({ regions }),
      locate: (req) => (req.headers['cf-ipcountry'] === 'DE' ? { country: 'DE', continent: 'EU', lat: 51, lon: 10, source: 'header' } : null),
    });
    expect(selector.select(TOKYO, { headers: { 'cf-ipcountry': 'DE' } }).primary.name).toBe('eu');
    expect(selector.select(TOKYO, { headers: {} }).primary.name).toBe('ap');
  });

  it('never returns a region outside the allowed set, whatever the hint, home and location (property)', () => {
    const selector = createRequestSelector({
      selector: createRegionSelector({ regions }),
      hint: { secrets: [SECRET] },
      residency: (req) => JSON.parse(req.headers['x-residency'] as string),
    });
    const names = regions.map((r) => r.name);
    fc.assert(
      fc.property(
        fc.subarray(names),
        fc.option(fc.constantFrom(...names), { nil: undefined }),
        fc.option(fc.constantFrom(...names), { nil: undefined }),
        fc.constantFrom<GeoLocation | null>(null, TOKYO, { country: 'US', source: 'custom' }),
        (allowed, home, hinted, location) => {
          const headers: Record<string, string> = { 'x-residency': JSON.stringify({ allowed, home }) };
          if (hinted !== undefined) headers['x-edgekit-region'] = selector.signHint(hinted);
          const picked = selector.select(location, { headers }).regions.map((r) => r.name);
          expect(picked.every((n) => allowed.includes(n))).toBe(true);
          expect(new Set(picked)).toEqual(new Set(allowed));
        },
      ),
      { numRuns: 300 },
    );
  });

  it('rejects bad options with the option named', () => {
    expect(() => createRequestSelector({} as never)).toThrow(/selector/);
    expect(() => createRequestSelector({ selector: createRegionSelector({ regions }), hint: { secrets: ['short'] } })).toThrow(/hint\.secrets\[0\]/);
    expect(() => createRequestSelector({ selector: createRegionSelector({ regions }), residency: 3 as never })).toThrow(/residency/);
  });
});
