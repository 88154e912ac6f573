import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MAX_DELTA_SECONDS, parseCacheControl } from '../src/cache-control.js';

describe('parseCacheControl', () => {
  it('reads the directives a shared cache acts on', () => {
    const cc = parseCacheControl('public, max-age=60, s-maxage=120, stale-while-revalidate=30, stale-if-error=600, must-revalidate');
    expect(cc).toMatchObject({ public: true, maxAge: 60, sMaxAge: 120, staleWhileRevalidate: 30, staleIfError: 600, mustRevalidate: true, noStore: false });
  });

  it('is case-insensitive on names and tolerates spaces and empty list members', () => {
    const cc = parseCacheControl(' ,NO-STORE ,  Private,,Max-Age = 5 ');
    expect(cc.noStore).toBe(true);
    expect(cc.private).toBe(true);
    expect(cc.maxAge).toBe(5);
  });

  it('treats qualified no-cache and private as their unqualified forms', () => {
    const cc = parseCacheControl('no-cache="Set-Cookie, X-Foo", private="Authorization"');
    expect(cc.noCache).toBe(true);
    expect(cc.private).toBe(true);
  });

  it('keeps the first occurrence of a repeated directive', () => {
    expect(parseCacheControl('max-age=10, max-age=1000').maxAge).toBe(10);
    expect(parseCacheControl(['max-age=10', 'max-age=1000']).maxAge).toBe(10);
  });

  it('makes an invalid delta-seconds stale (0) rather than fresh', () => {
    expect(parseCacheControl('max-age=abc').maxAge).toBe(0);
    expect(parseCacheControl('max-age=-5').maxAge).toBe(0);
    expect(parseCacheControl('s-maxage=').sMaxAge).toBe(0);
    expect(parseCacheControl('max-age="30"').maxAge).toBe(30);
  });

  it('caps delta-seconds at 2^31 (RFC 9111 §1.2.2)', () => {
    expect(parseCacheControl('max-age=99999999999999999999').maxAge).toBe(MAX_DELTA_SECONDS);
  });

  it('reads request directives, max-stale without a value meaning any staleness', () => {
    const cc = parseCacheControl('max-stale, min-fresh=10, only-if-cached');
    expect(cc.maxStale).toBe(Number.POSITIVE_INFINITY);
    expect(cc.minFresh).toBe(10);
    expect(cc.onlyIfCached).toBe(true);
  });

  it('never throws and always yields non-negative integers for delta directives', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 200 }), (text) => {
        const cc = parseCacheControl(text);
        for (const value of [cc.maxAge, cc.sMaxAge, cc.staleIfError, cc.staleWhileRevalidate, cc.minFresh]) {
          if (value !== undefined) expect(Number.isInteger(value) && value >= 0).toBe(true);
        }
      }),
    );
  });

  it('round-trips any max-age it is given', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 31 }), fc.constantFrom('', 'public, ', 'no-transform, '), (n, lead) => {
        expect(parseCacheControl(`${lead}max-age=${n}`).maxAge).toBe(n);
      }),
    );
  });
});
