import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { boundKey, escapeKeyText, normalizeHost, normalizeRequestTarget, normalizeUrlComponent, normalizeVaryValue } from '../src/key.js';

const target = (t: string, ignore?: string[]): string => {
  const { path, query } = normalizeRequestTarget(t, ignore ? { ignoreQueryParams: ignore } : {});
  return path + query;
};

describe('normalizeRequestTarget', () => {
  it('is stable under query-parameter order', () => {
    expect(target('/search?q=laptop&sort=price')).toBe(target('/search?sort=price&q=laptop'));
  });

  it('keeps repeated parameters in their order among themselves', () => {
    expect(target('/s?b=1&a=2&a=1&b=0')).toBe('/s?a=2&a=1&b=1&b=0');
    expect(target('/s?a=2&a=1')).not.toBe(target('/s?a=1&a=2'));
  });

  it('decodes percent-encoded unreserved characters and upper-cases the rest', () => {
    expect(target('/%61pi/%7Euser?q=%6c%61ptop')).toBe('/api/~user?q=laptop');
    expect(target('/a%2fb')).toBe('/a%2Fb');
  });

  it('never merges %2F with /', () => {
    expect(target('/a%2Fb')).not.toBe(target('/a/b'));
  });

  it('drops the fragment and empty parameters, and keeps "a" distinct from "a="', () => {
    expect(target('/x?&a=1&&b=2#frag')).toBe('/x?a=1&b=2');
    expect(target('/x?a')).not.toBe(target('/x?a='));
  });

  it('encodes characters that may not appear literally, including raw latin1 bytes as sent on the wire', () => {
    expect(target('/caf\u00c3\u00a9')).toBe('/caf%C3%A9');
    expect(target('/caf%c3%a9')).toBe('/caf%C3%A9');
    expect(target('/a b{c}"')).toBe('/a%20b%7Bc%7D%22');
  });

  it('leaves out ignored parameters, with prefix rules', () => {
    expect(target('/p?utm_source=x&id=1&fbclid=9', ['utm_*', 'fbclid'])).toBe('/p?id=1');
  });

  it('produces only printable ASCII without braces for any input', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 100, unit: 'binary' }), (text) => {
        const out = target(`/${text}`);
        expect(out).toMatch(/^[\x21-\x7a|~]*$/);
      }),
    );
  });

  it('is idempotent', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 60 }), (text) => {
        const once = target(`/${text}`);
        expect(target(once)).toBe(once);
      }),
    );
  });

  it('gives the same key for any permutation of distinct parameters', () => {
    fc.assert(
      fc.property(fc.uniqueArray(fc.stringMatching(/^[a-z]{1,5}$/), { minLength: 1, maxLength: 6 }), fc.integer(), (names, seed) => {
        const params = names.map((n, i) => `${n}=${i}`);
        const shuffled = [...params].sort(() => ((seed = (seed * 1103515245 + 12345) | 0) & 1 ? 1 : -1));
        expect(target(`/p?${shuffled.join('&')}`)).toBe(target(`/p?${params.join('&')}`));
      }),
    );
  });
});

describe('normalizeUrlComponent', () => {
  it('keeps malformed percent sequences as sent', () => {
    expect(normalizeUrlComponent('/100%')).toBe('/100%');
    expect(normalizeUrlComponent('/%zz')).toBe('/%zz');
  });
});

describe('normalizeHost', () => {
  it('lower-cases and encodes anything a host cannot contain', () => {
    expect(normalizeHost('Example.COM:8080')).toBe('example.com:8080');
    expect(normalizeHost('evil.com/../admin')).toBe('evil.com%2F..%2Fadmin');
    expect(normalizeHost(undefined)).toBe('');
  });
});

describe('escapeKeyText', () => {
  it('never lets CR, LF, spaces or braces through', () => {
    expect(escapeKeyText('a\r\nb c{d}')).toBe('a%0D%0Ab%20c%7Bd%7D');
  });

  it('is injective', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 30, unit: 'binary' }), fc.string({ maxLength: 30, unit: 'binary' }), (a, b) => {
        if (a !== b) expect(escapeKeyText(a)).not.toBe(escapeKeyText(b));
      }),
    );
  });
});

describe('boundKey', () => {
  it('keeps short keys and hashes long ones behind a readable prefix', () => {
    expect(boundKey('short', 100)).toBe('short');
    const long = `GET example.com/${'x'.repeat(5000)}`;
    const bounded = boundKey(long, 256);
    expect(bounded.length).toBe(256);
    expect(bounded.startsWith('GET example.com/xxx')).toBe(true);
    expect(boundKey(`${long}y`, 256)).not.toBe(bounded);
  });
});

describe('normalizeVaryValue', () => {
  it('joins duplicate lines, collapses list whitespace and folds case for Accept headers', () => {
    expect(normalizeVaryValue('accept-encoding', ['GZIP,  br', ' deflate'])).toBe('gzip,br,deflate');
    expect(normalizeVaryValue('accept-language', '  en-US ,  fr  ')).toBe('en-us,fr');
    expect(normalizeVaryValue('x-flavour', 'Dark  Mode')).toBe('Dark%20Mode');
  });

  it('hashes credentials so they never appear in a key', () => {
    const value = normalizeVaryValue('authorization', 'Bearer secret-token');
    expect(value).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(value).not.toContain('secret');
  });
});
