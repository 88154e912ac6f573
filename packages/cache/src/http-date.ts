// asctime-date (RFC 9110 §5.6.7) carries no zone and is defined as UTC.
const ASCTIME = /^[A-Za-z]{3} [A-Za-z]{3} [ \d]\d \d{2}:\d{2}:\d{2} \d{4}$/;

/**
 * Parses an HTTP-date (RFC 9110 §5.6.7: IMF-fixdate, obsolete RFC 850 and asctime forms) into
 * milliseconds since the epoch, or `undefined` when the value is not a valid HTTP-date.
 */
export function parseHttpDate(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const text = value.trim();
  if (text.length < 20 || text.length > 40) return undefined;
  let ms: number;
  if (text.endsWith(' GMT')) ms = Date.parse(text);
  else if (ASCTIME.test(text)) ms = Date.parse(`${text} GMT`);
  else return undefined;
  return Number.isFinite(ms) ? ms : undefined;
}

/** Formats milliseconds since the epoch as an IMF-fixdate. */
export function formatHttpDate(ms: number): string {
  return new Date(ms).toUTCString();
}
