import type { IncomingMessage, ServerResponse } from 'node:http';
import type { CacheEntry } from './entry.js';
import { parseHttpDate } from './http-date.js';

/** Inclusive byte offsets of a satisfiable range. */
export interface ByteRange {
  readonly start: number;
  readonly end: number;
}

const BYTE_RANGE = /^bytes[ \t]*=[ \t]*(\d*)[ \t]*-[ \t]*(\d*)[ \t]*$/i;

/**
 * The single byte range a `Range` value asks of a representation `length` bytes long (RFC 9110
 * §14.1.2): `first-last`, `first-` or the suffix `-n`, with `last` clipped to the end. `undefined`
 * for anything else (another unit, several ranges, a range that is invalid or unsatisfiable): the
 * cache then answers with the whole response, as RFC 9110 §14.2 lets a server ignore `Range`.
 */
export function parseByteRange(value: string, length: number): ByteRange | undefined {
  const m = BYTE_RANGE.exec(value);
  if (m === null || length === 0) return undefined;
  const first = m[1]!;
  const last = m[2]!;
  if (first.length === 0) {
    if (last.length === 0) return undefined;
    const suffix = Number(last);
    if (suffix === 0) return undefined;
    return { start: Math.max(0, length - suffix), end: length - 1 };
  }
  const start = Number(first);
  if (start >= length) return undefined;
  if (last.length === 0) return { start, end: length - 1 };
  const end = Number(last);
  if (end < start) return undefined;
  return { start, end: Math.min(end, length - 1) };
}

function storedField(entry: CacheEntry, name: string): string | undefined {
  const headers = entry.headers;
  for (let i = 0; i < headers.length; i += 2) if (headers[i] === name) return headers[i + 1];
  return undefined;
}

/**
 * RFC 9110 §13.1.5: `If-Range` lets the range apply only while the stored response is the one the
 * client has: a strong entity-tag equal to the stored `ETag`, or a date equal to the stored
 * `Last-Modified`. Anything else means the whole response.
 */
function ifRangeHolds(ifRange: string, entry: CacheEntry): boolean {
  const value = ifRange.trim();
  if (value.startsWith('"')) return entry.etag !== undefined && !entry.etag.startsWith('W/') && entry.etag === value;
  if (value.startsWith('W/')) return false;
  const lastModified = storedField(entry, 'last-modified');
  const date = parseHttpDate(value);
  return lastModified !== undefined && date !== undefined && parseHttpDate(lastModified) === date;
}

// Message framing (RFC 9112 §6) and the stored Content-Range of no concern to a 206 built here.
const REPLACED = new Set(['content-length', 'transfer-encoding', 'content-range']);

/**
 * Answers a GET for a byte range of a stored 200 with `206 Partial Content` (RFC 9110 §15.3.7):
 * the stored fields, `Content-Range` and the slice of the body. Returns false, sending nothing,
 * when the request has no usable single range; the caller then sends the whole response.
 */
export function sendStoredRange(req: IncomingMessage, res: ServerResponse, entry: CacheEntry, age: number, cacheStatus: string): boolean {
  const header = req.headers.range;
  if (header === undefined || req.method !== 'GET' || entry.status !== 200) return false;
  const ifRange = req.headers['if-range'];
  // A repeated If-Range is not one valid validator: answer with the whole response.
  if (ifRange !== undefined && (typeof ifRange !== 'string' || !ifRangeHolds(ifRange, entry))) return false;
  const body = entry.body;
  const range = parseByteRange(header, body.length);
  if (range === undefined) return false;
  const list: string[] = [];
  const stored = entry.headers;
  for (let i = 0; i < stored.length; i += 2) if (!REPLACED.has(stored[i]!)) list.push(stored[i]!, stored[i + 1]!);
  list.push(
    'content-range',
    `bytes ${range.start}-${range.end}/${body.length}`,
    'content-length',
    String(range.end - range.start + 1),
    'age',
    String(Math.floor(age / 1000)),
    'cache-status',
    cacheStatus,
  );
  res.sendDate = false;
  res.writeHead(206, list);
  res.end(body.subarray(range.start, range.end + 1));
  return true;
}
