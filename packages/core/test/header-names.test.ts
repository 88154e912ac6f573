import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { HeaderNameSet } from '../src/index.js';

describe('HeaderNameSet', () => {
  const set = new HeaderNameSet(['X-HTTP-Method-Override', 'x-original-url', 'x-client-cert', 'x-original-url']);

  it('keeps the names lower-case, once each, in the order given', () => {
    expect(set.names).toEqual(['x-http-method-override', 'x-original-url', 'x-client-cert']);
  });

  it('finds a name in a raw header list in any case, and only whole names', () => {
    expect(set.firstIn(['Host', 'a', 'X-Original-URL', '/admin'])).toBe('x-original-url');
    expect(set.firstIn(['host', 'a', 'x-client-cert', 'CN=x', 'x-original-url', '/'])).toBe('x-client-cert');
    expect(set.firstIn(['Host', 'a', 'X-Original-URLs', '/admin', 'x-client-cer', 'v'])).toBeUndefined();
    // Same length as a name of the set, different letters.
    expect(set.firstIn(['x-client-cer7', 'v', 'y-client-cert', 'v'])).toBeUndefined();
    expect(set.firstIn([])).toBeUndefined();
    expect(set.match('X-CLIENT-CERT')).toBe('x-client-cert');
  });

  it('never mistakes a value for a name', () => {
    expect(set.firstIn(['via', 'x-client-cert'])).toBeUndefined();
  });

  it('matches "_" spellings of "-" names and the other way round, which CGI-style origins read alike', () => {
    const names = new HeaderNameSet(['x-original-url', 'x_custom_flag']);
    expect(names.firstIn(['X_Original_URL', '/admin'])).toBe('x-original-url');
    expect(names.firstIn(['x-original_url', '/admin'])).toBe('x-original-url');
    expect(names.firstIn(['X-Custom-Flag', '1'])).toBe('x_custom_flag');
    expect(names.firstIn(['x.original.url', '/admin'])).toBeUndefined();
  });

  it('agrees with lower-casing every name, reading "_" as "-", and comparing', () => {
    const token = fc.stringMatching(/^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,24}$/);
    const normal = (name: string): string => name.toLowerCase().replaceAll('_', '-');
    fc.assert(
      fc.property(fc.uniqueArray(token, { minLength: 1, maxLength: 6, selector: (n) => n.toLowerCase() }), fc.array(fc.tuple(token, fc.string()), { maxLength: 12 }), (names, raw) => {
        const lookup = new HeaderNameSet(names);
        const normalNames = names.map(normal);
        const found = raw.map(([name]) => normal(name)).find((name) => normalNames.includes(name));
        expect(lookup.firstIn(raw.flat())).toBe(found === undefined ? undefined : names[normalNames.indexOf(found)]!.toLowerCase());
      }),
    );
  });

  it('refuses names that are not non-empty strings', () => {
    expect(() => new HeaderNameSet(['ok', ''])).toThrow(TypeError);
    expect(() => new HeaderNameSet([42 as unknown as string])).toThrow(/header name/);
  });
});
