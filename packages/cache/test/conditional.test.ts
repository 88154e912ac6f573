import { describe, expect, it } from 'vitest';
import { ifNoneMatchMatches, notModified } from '../src/conditional.js';
import { parseHttpDate } from '../src/http-date.js';

describe('ifNoneMatchMatches (weak comparison)', () => {
  it('matches strong and weak forms of the same opaque tag', () => {
    expect(ifNoneMatchMatches('"abc"', '"abc"')).toBe(true);
    expect(ifNoneMatchMatches('W/"abc"', '"abc"')).toBe(true);
    expect(ifNoneMatchMatches('"abc"', 'W/"abc"')).toBe(true);
    expect(ifNoneMatchMatches('"abd"', '"abc"')).toBe(false);
  });

  it('finds a tag in a list, including tags that contain commas', () => {
    expect(ifNoneMatchMatches('"x", W/"a,b" , "y"', '"a,b"')).toBe(true);
    expect(ifNoneMatchMatches('"x", "y"', '"a,b"')).toBe(false);
  });

  it('matches * whenever a representation exists, and nothing without an ETag', () => {
    expect(ifNoneMatchMatches('*', undefined)).toBe(true);
    expect(ifNoneMatchMatches('"abc"', undefined)).toBe(false);
    expect(ifNoneMatchMatches('garbage', '"abc"')).toBe(false);
  });
});

describe('notModified', () => {
  const lastModified = Date.parse('Tue, 01 Jul 2025 10:00:00 GMT');
  const parse = (v: string) => parseHttpDate(v);

  it('answers If-Modified-Since from Last-Modified', () => {
    expect(notModified(undefined, 'Tue, 01 Jul 2025 10:00:00 GMT', { etag: undefined, lastModified }, parse)).toBe(true);
    expect(notModified(undefined, 'Tue, 01 Jul 2025 09:59:59 GMT', { etag: undefined, lastModified }, parse)).toBe(false);
  });

  it('ignores If-Modified-Since when If-None-Match is present', () => {
    expect(notModified('"other"', 'Tue, 01 Jul 2025 10:00:00 GMT', { etag: '"abc"', lastModified }, parse)).toBe(false);
  });

  it('treats an invalid date as false', () => {
    expect(notModified(undefined, 'yesterday', { etag: undefined, lastModified }, parse)).toBe(false);
  });
});

describe('parseHttpDate', () => {
  it('reads the three HTTP-date forms and rejects others', () => {
    const t = Date.UTC(1994, 10, 6, 8, 49, 37);
    expect(parseHttpDate('Sun, 06 Nov 1994 08:49:37 GMT')).toBe(t);
    expect(parseHttpDate('Sunday, 06-Nov-94 08:49:37 GMT')).toBe(t);
    expect(parseHttpDate('Sun Nov  6 08:49:37 1994')).toBe(t);
    expect(parseHttpDate('0')).toBeUndefined();
    expect(parseHttpDate('2024-01-01T00:00:00Z')).toBeUndefined();
  });
});
