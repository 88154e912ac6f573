import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { RequestTargetError, canonicalizeRequestTarget } from '../src/index.js';

const canonical = (target: string, options?: Parameters<typeof canonicalizeRequestTarget>[1]) => canonicalizeRequestTarget(target, options).target;
const refusal = (target: string, options?: Parameters<typeof canonicalizeRequestTarget>[1]): string | undefined => {
  try {
    canonicalizeRequestTarget(target, options);
    return undefined;
  } catch (error) {
    expect(error).toBeInstanceOf(RequestTargetError);
    return (error as RequestTargetError).reason;
  }
};

describe('canonicalizeRequestTarget', () => {
  it('keeps a plain origin-form target as it is', () => {
    const result = canonicalizeRequestTarget('/api/products/42?sort=asc&x=%2F');
    expect(result).toEqual({ form: 'origin', path: '/api/products/42', query: '?sort=asc&x=%2F', target: '/api/products/42?sort=asc&x=%2F', changed: false });
  });

  it('reduces absolute-form to its path and query, whatever the authority', () => {
    expect(canonicalizeRequestTarget('http://anything/api/admin/secret')).toMatchObject({ form: 'absolute', target: '/api/admin/secret', changed: false });
    expect(canonicalizeRequestTarget('http://x/a/../b')).toMatchObject({ form: 'absolute', target: '/b', changed: true });
    expect(canonical('HTTPS://user@evil.example:99/a?b=1')).toBe('/a?b=1');
    expect(canonical('http://host')).toBe('/');
    expect(canonical('http://host?x=1')).toBe('/?x=1');
  });

  it('removes dot segments, decoded or not (RFC 3986 §5.2.4)', () => {
    expect(canonical('/api/x/../admin/secret')).toBe('/api/admin/secret');
    expect(canonical('/api/%2e%2e/api/admin')).toBe('/api/admin');
    expect(canonical('/api/x/.%2e/admin')).toBe('/api/admin');
    expect(canonical('/api/x/%2E%2E/admin')).toBe('/api/admin');
    expect(canonical('/api/./admin')).toBe('/api/admin');
    expect(canonical('/api/%2e/admin')).toBe('/api/admin');
    expect(canonical('/../../etc/passwd')).toBe('/etc/passwd');
    expect(canonical('/a/b/..')).toBe('/a/');
    expect(canonical('/a/.')).toBe('/a/');
    expect(canonical('/.hidden/x.y/..z')).toBe('/.hidden/x.y/..z');
  });

  it('merges runs of slashes and keeps a trailing one', () => {
    expect(canonical('//api///admin//')).toBe('/api/admin/');
    expect(canonical('/')).toBe('/');
  });

  it('decodes unreserved escapes only and upper-cases the hex of the others', () => {
    expect(canonical('/%61pi/%41dmin%7e%2d')).toBe('/api/Admin~-');
    expect(canonical('/a%3bb/c%3fd/%e2%82%ac')).toBe('/a%3Bb/c%3Fd/%E2%82%AC');
    expect(canonical('/%252e%252e/x')).toBe('/%252e%252e/x');
  });

  it('encodes raw characters a path may not hold', () => {
    expect(canonical('/a b/{x}|"y"')).toBe('/a%20b/%7Bx%7D%7C%22y%22');
    expect(canonical('/caf\u00e9')).toBe('/caf%E9');
    expect(canonical('/\u20ac')).toBe('/%E2%82%AC');
  });

  it('keeps case: paths are case-sensitive', () => {
    expect(canonical('/API/Admin')).toBe('/API/Admin');
  });

  it('refuses what origins read in different ways', () => {
    expect(refusal('/api%2Fadmin')).toBe('encoded-slash');
    expect(refusal('/api%2fadmin')).toBe('encoded-slash');
    expect(refusal('/api%5cadmin')).toBe('backslash');
    expect(refusal('/api\\admin')).toBe('backslash');
    expect(refusal('/api/%00')).toBe('control');
    expect(refusal('/api/%0d%0aX: y')).toBe('control');
    expect(refusal('/api/\u0001')).toBe('control');
    expect(refusal('/%c0%ae%c0%ae/admin')).toBe('overlong');
    expect(refusal('/api/%zz')).toBe('malformed-percent');
    expect(refusal('/api/%4')).toBe('malformed-percent');
    expect(refusal('/api#frag')).toBe('fragment');
    expect(refusal('/api/public/..;/admin')).toBe('dot-segment-parameter');
    expect(refusal('/api/.%2e;x/admin')).toBe('dot-segment-parameter');
    expect(refusal('api/admin')).toBe('form');
    expect(refusal('')).toBe('form');
    expect(refusal('ftp://x/api')).toBe('form');
    expect(refusal('http://a\\b/x')).toBe('backslash');
  });

  it('refuses every overlong UTF-8 form and characters whose compatibility form is path syntax', () => {
    // "." as two, three and four bytes; "/" as three bytes.
    for (const target of ['/%c0%ae/x', '/%E0%80%AE%E0%80%AE/admin', '/%e0%80%af/admin', '/%F0%80%80%AE/x', '/\u00e0\u0080\u00ae/x']) {
      expect(refusal(target), target).toBe('overlong');
    }
    // Fullwidth "．" "／" "＼", two-dot leader "‥", small full stop "﹒", raw (as Node hands them over) or escaped.
    for (const target of ['/api/%EF%BC%8E%EF%BC%8E/admin', '/api%EF%BC%8Fadmin', '/api/%ef%bc%bcadmin', '/api/%E2%80%A5/admin', '/api/%EF%B9%92%EF%B9%92/x', '/api/\u00ef\u00bc\u008e\u00ef\u00bc\u008e/admin']) {
      expect(refusal(target), target).toBe('compatibility-form');
    }
    // Valid UTF-8 that NFKC leaves without new path syntax is kept: "é", "ｱ" (fullwidth katakana), "ﬁ", "€".
    for (const target of ['/caf%C3%A9', '/%EF%BD%B1', '/%EF%AC%81le', '/%E2%82%AC', '/%E0%A4%95', '/%F0%9F%98%80', '/latin1-%FF']) {
      expect(canonical(target), target).toBe(target);
    }
  });

  it('keeps ";" parameters by default and refuses them when told to', () => {
    expect(canonical('/api;v=1/items')).toBe('/api;v=1/items');
    expect(refusal('/api;v=1/items', { pathParameters: 'refuse' })).toBe('path-parameter');
  });

  it('accepts "*" only for OPTIONS and authority-form only for CONNECT', () => {
    expect(canonicalizeRequestTarget('*', { method: 'OPTIONS' })).toMatchObject({ form: 'asterisk', target: '*' });
    expect(refusal('*', { method: 'GET' })).toBe('form');
    expect(canonicalizeRequestTarget('example.com:443', { method: 'CONNECT' })).toMatchObject({ form: 'authority', target: 'example.com:443' });
    expect(refusal('/x', { method: 'CONNECT' })).toBe('form');
    expect(refusal('example.com:443', { method: 'GET' })).toBe('form');
  });

  it('describes a refusal as a 400 problem that does not echo the target', () => {
    try {
      canonicalizeRequestTarget('/<script>%2F');
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(RequestTargetError);
      const problem = (error as RequestTargetError).problem;
      expect(problem).toMatchObject({ status: 400, reason: 'encoded-slash' });
      expect(JSON.stringify(problem)).not.toContain('script');
      expect((error as RequestTargetError).code).toBe('EBADTARGET');
    }
  });
});

// ---------------------------------------------------------------- properties

/** How an aggressive origin reads a path: every escape decoded, "\" as "/", ";" parameters stripped, slashes merged, dots resolved. */
function aggressiveOrigin(target: string, stripParameters: boolean): string {
  let path = target.replace(/^https?:\/\/[^/?#]*/i, '');
  const query = path.indexOf('?');
  if (query !== -1) path = path.slice(0, query);
  let decoded: string;
  try {
    decoded = decodeURIComponent(path);
  } catch {
    decoded = unescape(path);
  }
  const out: string[] = [];
  for (let segment of decoded.replaceAll('\\', '/').split('/')) {
    if (stripParameters) segment = segment.split(';')[0]!;
    if (segment === '' || segment === '.') continue;
    if (segment === '..') out.pop();
    else out.push(segment);
  }
  return `/${out.join('/')}`.toLowerCase();
}

const under = (path: string, prefix: string): boolean => path === prefix || path.startsWith(`${prefix}/`);

const hex = (code: number, upper: boolean): string => {
  const text = code.toString(16).padStart(2, '0');
  return `%${upper ? text.toUpperCase() : text}`;
};
/** One character, raw or percent-encoded with either hex case. */
const encodedChar = (ch: string) =>
  fc.constantFrom<'raw' | 'lower' | 'upper'>('raw', 'lower', 'upper').map((how) => (how === 'raw' ? ch : hex(ch.charCodeAt(0), how === 'upper')));
const encodedWord = (word: string) => fc.tuple(...[...word].map(encodedChar)).map((chars) => chars.join(''));
const caseOf = (word: string) => fc.array(fc.boolean(), { minLength: word.length, maxLength: word.length }).map((flags) => [...word].map((c, i) => (flags[i] ? c.toUpperCase() : c)).join(''));
const separator = fc.constantFrom('/', '/', '/', '//', '\\', '%2f', '%2F', '%5c', '/./', '/%2e/', '/%2E/');
/** Segments that resolve to nothing: "x/.." in many spellings, "." and parameters on them. */
const noise = fc.oneof(
  fc.constant(''),
  fc.tuple(fc.constantFrom('x', 'public', '%78'), fc.constantFrom('..', '.%2e', '%2e.', '%2E%2e', '%2e%2e', '..;', '..;x=1', '.%2E;'), separator).map(([a, dots, sep]) => `${a}/${dots}${sep}`),
  fc.constantFrom('./', '%2e/', '.;/', '//'),
);
const segment = (word: string) => fc.tuple(noise, caseOf(word).chain(encodedWord)).map(([n, w]) => `${n}${w}`);
const authority = fc.stringMatching(/^[a-zA-Z0-9.:@\-_~!$&'()*+,;=%[\]]{0,30}$/);
const protectedTarget = fc
  .tuple(
    fc.option(fc.tuple(fc.constantFrom('http', 'HTTP', 'https', 'hTtP'), authority), { nil: undefined }),
    segment('api'),
    separator,
    segment('admin'),
    separator,
    segment('secret'),
    fc.option(fc.constantFrom(';jsessionid=1', '/', '/.', '/..', '?q=%2e%2e/x'), { nil: undefined }),
  )
  .map(([absolute, api, sep1, admin, sep2, secret, tail]) => `${absolute === undefined ? '' : `${absolute[0]}://${absolute[1]}`}/${api}${sep1}${admin}${sep2}${secret}${tail ?? ''}`);

describe('canonicalizeRequestTarget properties', () => {
  it('every spelling an origin resolves under a protected prefix is either refused or canonicalised under it', () => {
    for (const pathParameters of ['keep', 'refuse'] as const) {
      fc.assert(
        fc.property(protectedTarget, (target) => {
          const origin = aggressiveOrigin(target, pathParameters === 'refuse');
          if (!under(origin, '/api/admin')) return;
          let result;
          try {
            result = canonicalizeRequestTarget(target, { pathParameters });
          } catch (error) {
            expect(error).toBeInstanceOf(RequestTargetError);
            return;
          }
          expect(under(result.path.toLowerCase(), '/api/admin'), `${target} -> ${result.path}`).toBe(true);
        }),
        { numRuns: 3_000 },
      );
    }
  });

  it('a canonical path is what the aggressive origin reads, up to case and escapes of reserved characters', () => {
    fc.assert(
      fc.property(protectedTarget, (target) => {
        let result;
        try {
          result = canonicalizeRequestTarget(target, { pathParameters: 'refuse' });
        } catch {
          return;
        }
        expect(aggressiveOrigin(result.path, true)).toBe(aggressiveOrigin(target, true).replace(/\/$/, '') || '/');
      }),
      { numRuns: 2_000 },
    );
  });

  it('any string: a RequestTargetError or a canonical fixed point with no dot segment, empty segment or encoded slash', () => {
    const anyTarget = fc.oneof(
      fc.string({ unit: 'binary-ascii', maxLength: 40 }).map((s) => `/${s}`),
      fc.string({ unit: 'grapheme', maxLength: 20 }).map((s) => `/${s}`),
      fc.array(fc.constantFrom('/', '.', '..', '%2e', '%2E', '%', '2', 'e', 'f', '5c', ';', '?', '#', 'a', '\\', '%00', 'http://h'), { maxLength: 16 }).map((parts) => parts.join('')),
    );
    fc.assert(
      fc.property(anyTarget, (target) => {
        let result;
        try {
          result = canonicalizeRequestTarget(target);
        } catch (error) {
          expect(error).toBeInstanceOf(RequestTargetError);
          return;
        }
        if (result.form !== 'origin' && result.form !== 'absolute') return;
        const again = canonicalizeRequestTarget(result.target);
        expect(again.target).toBe(result.target);
        expect(again.changed).toBe(false);
        const segments = result.path.split('/').slice(1, -1);
        expect(segments.every((s) => s !== '' && s !== '.' && s !== '..')).toBe(true);
        expect(result.path).toMatch(/^\/[A-Za-z0-9\-._~!$&'()*+,;=:@/%]*$/);
        expect(result.path).not.toMatch(/%(2F|5C|[01][0-9A-F]|7F|C0|C1)/);
        expect(result.path).not.toMatch(/%[0-9A-F]?[a-f]/);
      }),
      { numRuns: 5_000 },
    );
  });
});
