/**
 * Conditional request evaluation for a cache answering from a stored response
 * (RFC 9110 §13.1.2 and §13.2.2, RFC 9111 §4.3.2).
 */

/** The opaque part of an entity-tag, without `W/`; `undefined` when the value is not an entity-tag. */
function opaqueTag(tag: string): string | undefined {
  let start = 0;
  if (tag.startsWith('W/')) start = 2;
  if (tag.length - start < 2 || tag.charCodeAt(start) !== 34 || tag.charCodeAt(tag.length - 1) !== 34) return undefined;
  return tag.slice(start);
}

/**
 * True when `If-None-Match` matches `etag` with the weak comparison function (RFC 9110 §8.8.3.2),
 * or is `*` and a representation exists. Entity-tags may contain commas, so the list is split
 * outside quotes only.
 */
export function ifNoneMatchMatches(header: string, etag: string | undefined): boolean {
  const trimmed = header.trim();
  if (trimmed === '*') return true;
  if (etag === undefined) return false;
  const stored = opaqueTag(etag);
  if (stored === undefined) return false;
  const length = header.length;
  let i = 0;
  while (i < length) {
    while (i < length && (header.charCodeAt(i) === 32 || header.charCodeAt(i) === 9 || header.charCodeAt(i) === 44)) i++;
    const start = i;
    if (header.startsWith('W/', i)) i += 2;
    if (i < length && header.charCodeAt(i) === 34) {
      i++;
      while (i < length && header.charCodeAt(i) !== 34) i++;
      i++;
    } else {
      while (i < length && header.charCodeAt(i) !== 44) i++;
    }
    const candidate = header.slice(start, Math.min(i, length)).trim();
    if (candidate.length > 0 && opaqueTag(candidate) === stored) return true;
    while (i < length && header.charCodeAt(i) !== 44) i++;
  }
  return false;
}

/** What a stored response offers for conditional evaluation. */
export interface Validators {
  /** The stored `ETag`, if any. */
  etag: string | undefined;
  /** The stored `Last-Modified` in ms, or else its `Date`, or else the time it was received. */
  lastModified: number | undefined;
}

/**
 * Decides whether a GET/HEAD request with conditional headers can be answered 304 from a stored
 * response. `If-None-Match` takes precedence; `If-Modified-Since` is evaluated only without it.
 */
export function notModified(ifNoneMatch: string | undefined, ifModifiedSince: string | undefined, validators: Validators, parseDate: (v: string) => number | undefined): boolean {
  if (ifNoneMatch !== undefined) return ifNoneMatchMatches(ifNoneMatch, validators.etag);
  if (ifModifiedSince === undefined || validators.lastModified === undefined) return false;
  const since = parseDate(ifModifiedSince);
  // RFC 9110 §13.1.3: an invalid date makes the condition false (send the full response).
  if (since === undefined) return false;
  return validators.lastModified <= since;
}
