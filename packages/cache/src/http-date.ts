// RFC 9110 §5.6.7 HTTP-date: exactly three formats, parsed strictly. Day names, month names and
// "GMT" are case-sensitive in the grammar but matched case-insensitively ("THU", "AUG", "gmt"),
// as the spec encourages recipients to be robust where it costs nothing.
const DAY_NAMES = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'];
const DAY_NAMES_LONG = ['monday', 'tuesday', 'wednesday', 'thursday', 'friday', 'saturday', 'sunday'];
const MONTHS = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'];

// IMF-fixdate: Sun, 06 Nov 1994 08:49:37 GMT
const IMF_FIXDATE = /^([A-Za-z]{3}), (\d{2}) ([A-Za-z]{3}) (\d{4}) (\d{2}):(\d{2}):(\d{2}) ([Gg][Mm][Tt])$/;
// rfc850-date: Sunday, 06-Nov-94 08:49:37 GMT
const RFC850 = /^([A-Za-z]{6,9}), (\d{2})-([A-Za-z]{3})-(\d{2}) (\d{2}):(\d{2}):(\d{2}) ([Gg][Mm][Tt])$/;
// asctime-date: Sun Nov  6 08:49:37 1994 (no zone; defined as UTC)
const ASCTIME = /^([A-Za-z]{3}) ([A-Za-z]{3}) ([ \d]\d) (\d{2}):(\d{2}):(\d{2}) (\d{4})$/;

function build(year: number, monthName: string, day: number, hour: number, minute: number, second: number): number | undefined {
  const month = MONTHS.indexOf(monthName.toLowerCase());
  if (month === -1 || day < 1 || hour > 23 || minute > 59 || second > 60) return undefined;
  const ms = Date.UTC(year, month, day, hour, minute, Math.min(second, 59));
  // Rejects days the month does not have (31 Feb): Date.UTC would roll them over.
  if (new Date(ms).getUTCDate() !== day) return undefined;
  return ms;
}

/**
 * RFC 9110 §5.6.7: a two-digit year that appears more than 50 years in the future is the most
 * recent year in the past with the same last two digits.
 */
function fullYear(twoDigits: number, now: number): number {
  const current = new Date(now).getUTCFullYear();
  let year = current - (current % 100) + twoDigits;
  if (year > current + 50) year -= 100;
  return year;
}

/**
 * Parses an HTTP-date (RFC 9110 §5.6.7: IMF-fixdate, the obsolete RFC 850 and asctime forms) into
 * milliseconds since the epoch, or `undefined` when the value is not exactly one of them. A field
 * received on several lines (an array) is invalid. `now` resolves RFC 850's two-digit years.
 */
export function parseHttpDate(value: string | readonly string[] | undefined, now: number = Date.now()): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string') {
    if (value.length !== 1) return undefined;
    value = value[0]!;
  }
  const text = value.trim();
  if (text.length < 24 || text.length > 40) return undefined;
  let m = IMF_FIXDATE.exec(text);
  if (m !== null) {
    if (!DAY_NAMES.includes(m[1]!.toLowerCase())) return undefined;
    return build(Number(m[4]), m[3]!, Number(m[2]), Number(m[5]), Number(m[6]), Number(m[7]));
  }
  m = RFC850.exec(text);
  if (m !== null) {
    if (!DAY_NAMES_LONG.includes(m[1]!.toLowerCase())) return undefined;
    return build(fullYear(Number(m[4]), now), m[3]!, Number(m[2]), Number(m[5]), Number(m[6]), Number(m[7]));
  }
  m = ASCTIME.exec(text);
  if (m !== null) {
    if (!DAY_NAMES.includes(m[1]!.toLowerCase())) return undefined;
    const day = m[3]!;
    // date3 is "month SP ( 2DIGIT / ( SP DIGIT ) )": " 6" or "06"/"16", never "6 " or " 06".
    if (day.charCodeAt(0) === 32 && day.charCodeAt(1) === 48) return undefined;
    return build(Number(m[7]), m[2]!, Number(day.trim()), Number(m[4]), Number(m[5]), Number(m[6]));
  }
  return undefined;
}

/** Formats milliseconds since the epoch as an IMF-fixdate. */
export function formatHttpDate(ms: number): string {
  return new Date(ms).toUTCString();
}
