import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import { type ProblemDetails, sendProblem } from '@edgekit/core';
import { hitStatus } from './cache-status.js';
import { notModified } from './conditional.js';
import { type CacheEntry, ONE_WRITE_BODY } from './entry.js';
import { parseHttpDate } from './http-date.js';
import { sendStoredRange } from './range.js';
import type { OriginResponse } from './types.js';

/** The head of a hit, cached on the entry while its Age and ttl (whole seconds) stay the same. */
interface HitHeaders {
  age: number;
  ttl: number;
  headers: string[];
  /** The body as latin1, for bodies up to {@link ONE_WRITE_BODY} bytes. */
  text: string | undefined;
}

/** Whether the client's `If-None-Match`/`If-Modified-Since` hold for a stored response (RFC 9110 §13.2.2). */
export function conditionMet(headers: IncomingHttpHeaders, entry: CacheEntry): boolean {
  const lastModified = entry.lastModified ?? entry.createdAt;
  return notModified(headers['if-none-match'], headers['if-modified-since'], { etag: entry.etag, lastModified: Math.floor(lastModified / 1000) * 1000 }, parseHttpDate);
}

/** Answers a fresh hit from L1: one `writeHead` and one `end`, the head list reused while Age and ttl stay the same. */
export function sendHit(req: IncomingMessage, res: ServerResponse, entry: CacheEntry, age: number, head: boolean, name: string): void {
  const ageSeconds = Math.floor(age / 1000);
  const ttlSeconds = Math.floor((entry.fresh - age) / 1000);
  const headers = req.headers;
  if ((headers['if-none-match'] !== undefined || headers['if-modified-since'] !== undefined) && entry.status < 300 && conditionMet(headers, entry)) {
    sendNotModified(res, entry, age, hitStatus(name, entry.fresh - age));
    return;
  }
  if (headers.range !== undefined && sendStoredRange(req, res, entry, age, hitStatus(name, entry.fresh - age))) return;
  let cached = entry.sendCache as HitHeaders | undefined;
  if (cached === undefined || cached.age !== ageSeconds || cached.ttl !== ttlSeconds) {
    const list = entry.headers.slice();
    if (entry.status !== 204) list.push('content-length', String(entry.body.length));
    list.push('age', String(ageSeconds), 'cache-status', `${name}; hit; ttl=${ttlSeconds}`);
    // A small body is kept as a latin1 string (a lossless copy of the bytes): node:http then sends
    // headers and body in one write instead of a writev of two buffers.
    const text = cached?.text ?? (entry.body.length <= ONE_WRITE_BODY ? entry.body.toString('latin1') : undefined);
    cached = { age: ageSeconds, ttl: ttlSeconds, headers: list, text };
    entry.sendCache = cached;
  }
  res.sendDate = false;
  res.writeHead(entry.status, cached.headers);
  if (head || entry.status === 204) res.end();
  else if (cached.text !== undefined) {
    // write() sends head and body in one write(2) on the uncorked socket; end() on the next tick
    // then has nothing to flush. end(body) would cork, queue an empty chunk after the body and
    // leave through the writev path.
    res.write(cached.text, 'latin1');
    process.nextTick(endResponse, res);
  } else res.end(entry.body);
}

function endResponse(res: ServerResponse): void {
  res.end();
}

/** Sends a stored response: 304 when the client's conditions hold. `headers` replaces the stored list (the fetching client's own). */
export function sendStored(req: IncomingMessage, res: ServerResponse, entry: CacheEntry, now: number, cacheStatus: string, headers?: readonly string[]): void {
  const age = entry.age(now);
  if (entry.status < 300 && (req.headers['if-none-match'] !== undefined || req.headers['if-modified-since'] !== undefined) && conditionMet(req.headers, entry)) {
    sendNotModified(res, entry, age, cacheStatus);
    return;
  }
  if (req.headers.range !== undefined && headers === undefined && sendStoredRange(req, res, entry, age, cacheStatus)) return;
  sendEntry(res, entry, age, cacheStatus, req.method === 'HEAD', headers);
}

// RFC 9110 §15.4.5: the fields a 304 carries from the stored response.
const NOT_MODIFIED_FIELDS = new Set(['cache-control', 'content-location', 'date', 'etag', 'expires', 'vary', 'last-modified']);

/** Statuses that never carry a body or Content-Length (RFC 9110 §8.6). */
function bodiless(status: number): boolean {
  return status === 204 || status === 304 || (status >= 100 && status < 200);
}

/** Writes a stored response with one `writeHead` and one `end`. `headers` replaces the stored list (the fetching client's own headers). */
export function sendEntry(res: ServerResponse, entry: CacheEntry, age: number, cacheStatus: string, head: boolean, headers?: readonly string[]): void {
  const list = withoutFraming(headers ?? entry.headers);
  if (!bodiless(entry.status)) list.push('content-length', String(entry.body.length));
  list.push('age', String(Math.floor(age / 1000)), 'cache-status', cacheStatus);
  res.sendDate = false;
  res.writeHead(entry.status, list);
  res.end(head || bodiless(entry.status) ? undefined : entry.body);
}

/** Answers 304 from a stored response. */
export function sendNotModified(res: ServerResponse, entry: CacheEntry, age: number, cacheStatus: string): void {
  const list: string[] = [];
  const stored = entry.headers;
  for (let i = 0; i < stored.length; i += 2) if (NOT_MODIFIED_FIELDS.has(stored[i]!)) list.push(stored[i]!, stored[i + 1]!);
  list.push('age', String(Math.floor(age / 1000)), 'cache-status', cacheStatus);
  res.sendDate = false;
  res.writeHead(304, list);
  res.end();
}

/** Streams an origin response to the client without buffering (after `prefix`, chunks already read). */
export function streamResponse(res: ServerResponse, response: OriginResponse, headers: string[], prefix: readonly Buffer[], head: boolean): void {
  res.writeHead(response.statusCode, headers);
  if (head || bodiless(response.statusCode)) {
    response.body.on('error', () => {});
    response.body.resume();
    res.end();
    return;
  }
  for (const chunk of prefix) res.write(chunk);
  // The response ends here rather than when the body does, so that the origin's trailers (known
  // only once its body ended) are relayed first (RFC 9110 §6.5; gRPC's status travels in them).
  const body = response.body;
  const finish = (): void => {
    const trailers = response.trailers;
    if (trailers !== undefined && Object.keys(trailers).length > 0) res.addTrailers(trailers);
    res.end();
  };
  // The body may have ended, or failed, while nobody listened: its last bytes came with the chunk
  // that went over `maxBodySize` (see readBody), so 'end' was emitted before this point.
  if (body.readableEnded) {
    finish();
    return;
  }
  if (body.errored !== null || body.destroyed) {
    res.destroy(body.errored ?? undefined);
    return;
  }
  body.pipe(res, { end: false });
  body.once('end', finish);
  // An origin error truncates the answer; a client gone aborts the origin's body.
  body.once('error', (error) => res.destroy(error));
  res.once('close', () => {
    if (!body.readableEnded) body.destroy();
  });
}

// Message framing (RFC 9112 §6): a buffered body is framed by the length the cache writes, never by the origin's.
const FRAMING = new Set(['content-length', 'transfer-encoding']);

/** `headers` (a flat list) without framing fields. */
function withoutFraming(headers: readonly string[]): string[] {
  const list: string[] = [];
  for (let i = 0; i < headers.length; i += 2) {
    const name = headers[i]!;
    if (!FRAMING.has(name.toLowerCase())) list.push(name, headers[i + 1]!);
  }
  return list;
}

/** Writes a buffered origin response (an error answer shared by coalesced requests). */
export function sendBuffered(res: ServerResponse, status: number, headers: string[], body: Buffer, head: boolean): void {
  const list = withoutFraming(headers);
  if (!bodiless(status)) list.push('content-length', String(body.length));
  res.writeHead(status, list);
  res.end(head || bodiless(status) ? undefined : body);
}

function isProblem(value: unknown): value is ProblemDetails {
  return typeof value === 'object' && value !== null && typeof (value as ProblemDetails).title === 'string' && typeof (value as ProblemDetails).status === 'number';
}

const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

/**
 * The headers an origin error asks to be sent with its problem (a `ForwardError`'s `headers()`:
 * `Retry-After` on 429 and 503, `Connection: close` on 408), valid fields only.
 */
function errorHeaders(error: { headers?: unknown } | undefined): Record<string, string | number> {
  if (typeof error?.headers !== 'function') return {};
  let fields: unknown;
  try {
    fields = (error.headers as () => unknown).call(error);
  } catch {
    return {};
  }
  const out: Record<string, string | number> = {};
  if (fields === null || typeof fields !== 'object') return out;
  for (const [name, value] of Object.entries(fields)) {
    if (!HEADER_NAME.test(name)) continue;
    if (typeof value === 'number' && Number.isFinite(value)) out[name.toLowerCase()] = value;
    else if (typeof value === 'string' && !/[\r\n\0]/.test(value)) out[name.toLowerCase()] = value;
  }
  return out;
}

/**
 * Answers an origin failure: the error's RFC 9457 problem when it has one (a `ForwardError`), else
 * 502, with the headers the error carries (`Retry-After`, `Connection: close`).
 */
export function sendOriginFailure(res: ServerResponse, error: unknown, cacheStatus: string): void {
  const candidate = error as { status?: unknown; problem?: unknown; headers?: unknown } | undefined;
  const status = typeof candidate?.status === 'number' && candidate.status >= 500 && candidate.status <= 599 ? candidate.status : 502;
  const problem: ProblemDetails = isProblem(candidate?.problem) ? candidate.problem : { title: status === 504 ? 'Gateway Timeout' : 'Bad Gateway', status };
  sendProblem(res, problem, { ...errorHeaders(candidate), 'cache-status': cacheStatus });
}
