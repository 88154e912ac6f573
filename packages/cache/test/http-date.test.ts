import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseHttpDate } from '../src/http-date.js';

const NOW = Date.UTC(2026, 0, 1);

describe('HTTP-date (RFC 9110 §5.6.7)', () => {
  it('parses the three formats to the same instant', () => {
    const ms = Date.UTC(1994, 10, 6, 8, 49, 37);
    expect(parseHttpDate('Sun, 06 Nov 1994 08:49:37 GMT', NOW)).toBe(ms);
    expect(parseHttpDate('Sunday, 06-Nov-94 08:49:37 GMT', NOW)).toBe(ms);
    expect(parseHttpDate('Sun Nov  6 08:49:37 1994', NOW)).toBe(ms);
  });

  it('reads GMT, day and month names case-insensitively', () => {
    const ms = Date.UTC(2050, 7, 18, 2, 1, 18);
    expect(parseHttpDate('Thu, 18 Aug 2050 02:01:18 gMT', NOW)).toBe(ms);
    expect(parseHttpDate('THU, 18 Aug 2050 02:01:18 GMT', NOW)).toBe(ms);
    expect(parseHttpDate('Thu, 18 AUG 2050 02:01:18 GMT', NOW)).toBe(ms);
    expect(parseHttpDate('THURSDAY, 18-aug-50 02:01:18 GMT', NOW)).toBe(ms);
    expect(parseHttpDate('thu aug 18 02:01:18 2050', NOW)).toBe(ms);
  });

  it('takes an RFC 850 two-digit year more than 50 years ahead as the most recent past year with those digits', () => {
    // In 2026: "50" is 2050 (24 years ahead), "77" would be 2077 (51 ahead) and is therefore 1977.
    expect(new Date(parseHttpDate('Thursday, 18-Aug-50 02:01:18 GMT', NOW)!).getUTCFullYear()).toBe(2050);
    expect(new Date(parseHttpDate('Sunday, 01-Jan-77 00:00:00 GMT', NOW)!).getUTCFullYear()).toBe(1977);
    expect(new Date(parseHttpDate('Tuesday, 01-Jan-76 00:00:00 GMT', NOW)!).getUTCFullYear()).toBe(2076);
  });

  it.each([
    ['missing comma', 'Thu 18 Aug 2050 02:01:18 GMT'],
    ['double spaces', 'Thu, 18  Aug  2050 02:01:18 GMT'],
    ['dashes in IMF-fixdate', 'Thu, 18-Aug-2050 02:01:18 GMT'],
    ['periods in the time', 'Thu, 18 Aug 2050 02.01.18 GMT'],
    ['one-digit hour', 'Thu, 18 Aug 2050 2:01:18 GMT'],
    ['two-digit year in IMF-fixdate', 'Thu, 18 Aug 50 02:01:18 GMT'],
    ['UTC zone', 'Thu, 18 Aug 2050 02:01:18 UTC'],
    ['a number', '0'],
    ['a day the month lacks', 'Mon, 31 Feb 2050 02:01:18 GMT'],
    ['an hour past 23', 'Thu, 18 Aug 2050 24:01:18 GMT'],
    ['ISO 8601', '2050-08-18T02:01:18Z'],
  ])('rejects %s', (_what, value) => {
    expect(parseHttpDate(value, NOW)).toBeUndefined();
  });

  it('rejects a field sent on several lines', () => {
    expect(parseHttpDate(['Thu, 18 Aug 2050 02:01:18 GMT', 'Thu, 18 Aug 2050 02:01:18 GMT'], NOW)).toBeUndefined();
    expect(parseHttpDate(['Thu, 18 Aug 2050 02:01:18 GMT'], NOW)).toBe(Date.UTC(2050, 7, 18, 2, 1, 18));
  });

  it('round-trips every IMF-fixdate it formats', () => {
    fc.assert(
      fc.property(fc.integer({ min: Date.UTC(1970, 0, 1), max: Date.UTC(9999, 11, 31) }), (ms) => {
        const whole = Math.floor(ms / 1000) * 1000;
        expect(parseHttpDate(new Date(whole).toUTCString(), NOW)).toBe(whole);
      }),
    );
  });
});
