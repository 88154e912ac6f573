import type { EntryCodec } from '@edgekit/swr';
/** Response bodies up to this many bytes are also kept as a string, so a hit is sent in one write. */
export const ONE_WRITE_BODY = 16 * 1024;

/** What an entry holds: an HTTP response, a `wrap()` value, or the list of headers a URL varies on. */
export type EntryKind = 'response' | 'value' | 'vary';

/** The serializable fields of a {@link CacheEntry}. Times and durations are milliseconds. */
export interface EntryData {
  readonly kind: EntryKind;
  /** HTTP status (0 for values and vary records). */
  readonly status: number;
  /** Stored response headers as a flat `[name, value, ...]` list with lower-case names. */
  readonly headers: readonly string[];
  /** Response body, or the JSON of a value. */
  readonly body: Buffer;
  readonly tags: readonly string[];
  /** Invalidation generation read before the origin was asked; tags invalidated later make the entry invalid. */
  readonly gen: number;
  /** When the response was received (RFC 9111 `response_time`), on the writer's clock. */
  readonly createdAt: number;
  /** RFC 9111 §4.2.3 `corrected_initial_age`. */
  readonly initialAge: number;
  /** Freshness lifetime. */
  readonly fresh: number;
  /** stale-while-revalidate window after `fresh`. */
  readonly swr: number;
  /** stale-if-error window after `fresh`. */
  readonly sie: number;
  /** Must not be served stale (`must-revalidate`, `proxy-revalidate`, `no-cache`), or, for `s-maxage`, only within the origin's own stale windows. */
  readonly mustRevalidate: boolean;
  readonly etag: string | undefined;
  /** `Last-Modified` (or `Date`) in ms, for `If-Modified-Since`. */
  readonly lastModified: number | undefined;
  /** For vary records: the request headers that select a variant, sorted. */
  readonly vary: readonly string[];
  /** For vary records: distinguishes this record's variants from those of an earlier, deleted record. */
  readonly token: string;
}

/**
 * A stored entry. The serializable part is {@link EntryData}; the rest are per-process caches
 * used by the hit path (pre-built headers), never stored.
 */
export class CacheEntry implements EntryData {
  readonly kind: EntryKind;
  readonly status: number;
  readonly headers: readonly string[];
  readonly body: Buffer;
  readonly tags: readonly string[];
  readonly gen: number;
  readonly createdAt: number;
  readonly initialAge: number;
  readonly fresh: number;
  readonly swr: number;
  readonly sie: number;
  readonly mustRevalidate: boolean;
  readonly etag: string | undefined;
  readonly lastModified: number | undefined;
  readonly vary: readonly string[];
  readonly token: string;
  /** Set by the HTTP adapter: header lists built once per Age second. */
  sendCache: unknown;
  #value: unknown;
  #parsed = false;

  constructor(data: EntryData) {
    this.kind = data.kind;
    this.status = data.status;
    this.headers = data.headers;
    this.body = data.body;
    this.tags = data.tags;
    this.gen = data.gen;
    this.createdAt = data.createdAt;
    this.initialAge = data.initialAge;
    this.fresh = data.fresh;
    this.swr = data.swr;
    this.sie = data.sie;
    this.mustRevalidate = data.mustRevalidate;
    this.etag = data.etag;
    this.lastModified = data.lastModified;
    this.vary = data.vary;
    this.token = data.token;
    this.sendCache = undefined;
  }

  /** RFC 9111 §4.2.3 `current_age` at `now`. */
  age(now: number): number {
    const resident = now - this.createdAt;
    return this.initialAge + (resident > 0 ? resident : 0);
  }

  /** Remaining freshness at `now`; negative once stale. */
  ttl(now: number): number {
    return this.fresh - this.age(now);
  }

  /** How long, from `now`, the entry may still be of use (fresh, stale windows or revalidation). */
  remaining(now: number, keepStale: number): number {
    const windows = Math.max(this.swr, this.sie, this.etag !== undefined || this.lastModified !== undefined ? keepStale : 0);
    return this.fresh + windows - this.age(now);
  }

  /** The parsed value of a `'value'` entry (parsed once per process, then shared). */
  value(): unknown {
    if (!this.#parsed) {
      this.#value = this.body.length === 0 ? undefined : JSON.parse(this.body.toString('utf8'));
      this.#parsed = true;
    }
    return this.#value;
  }

  /** Approximate memory footprint in bytes, for the memory store's byte bound. */
  size(): number {
    // Small response bodies are counted twice: the HTTP hit path keeps a one-write copy of them.
    let size = 256 + this.body.length + (this.kind === 'response' && this.body.length <= ONE_WRITE_BODY ? this.body.length : 0);
    for (const h of this.headers) size += h.length;
    for (const t of this.tags) size += t.length;
    for (const v of this.vary) size += v.length;
    return size;
  }

  /** The same data with some fields changed (a refreshed entry after a 304). */
  with(changes: Partial<EntryData>): CacheEntry {
    return new CacheEntry({ ...this.data(), ...changes });
  }

  /** The serializable fields. */
  data(): EntryData {
    return {
      kind: this.kind,
      status: this.status,
      headers: this.headers,
      body: this.body,
      tags: this.tags,
      gen: this.gen,
      createdAt: this.createdAt,
      initialAge: this.initialAge,
      fresh: this.fresh,
      swr: this.swr,
      sie: this.sie,
      mustRevalidate: this.mustRevalidate,
      etag: this.etag,
      lastModified: this.lastModified,
      vary: this.vary,
      token: this.token,
    };
  }
}

const MAGIC = 0xec;
const VERSION = 1;
const KINDS: readonly EntryKind[] = ['response', 'value', 'vary'];

interface WireMeta {
  k: number;
  s: number;
  h: string[];
  t: string[];
  g: number;
  c: number;
  a: number;
  f: number;
  w: number;
  e: number;
  m: 0 | 1;
  et?: string;
  lm?: number;
  v: string[];
  tk: string;
}

/** Encodes an entry as `[magic, version, u32 meta length, meta JSON, body]` for a byte store such as Redis. */
export function encodeEntry(entry: EntryData): Buffer {
  const meta: WireMeta = {
    k: KINDS.indexOf(entry.kind),
    s: entry.status,
    h: entry.headers as string[],
    t: entry.tags as string[],
    g: entry.gen,
    c: entry.createdAt,
    a: entry.initialAge,
    f: entry.fresh,
    w: entry.swr,
    e: entry.sie,
    m: entry.mustRevalidate ? 1 : 0,
    v: entry.vary as string[],
    tk: entry.token,
  };
  if (entry.etag !== undefined) meta.et = entry.etag;
  if (entry.lastModified !== undefined) meta.lm = entry.lastModified;
  const json = Buffer.from(JSON.stringify(meta), 'utf8');
  const head = Buffer.allocUnsafe(6);
  head[0] = MAGIC;
  head[1] = VERSION;
  head.writeUInt32BE(json.length, 2);
  return Buffer.concat([head, json, entry.body]);
}

const isNumber = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);
const isStringArray = (v: unknown): v is string[] => Array.isArray(v) && v.every((x) => typeof x === 'string');

/** Decodes {@link encodeEntry} output; returns `undefined` for anything malformed (treated as a miss). */
export function decodeEntry(buffer: Buffer): CacheEntry | undefined {
  if (buffer.length < 6 || buffer[0] !== MAGIC || buffer[1] !== VERSION) return undefined;
  const length = buffer.readUInt32BE(2);
  if (6 + length > buffer.length) return undefined;
  let meta: WireMeta;
  try {
    meta = JSON.parse(buffer.subarray(6, 6 + length).toString('utf8')) as WireMeta;
  } catch {
    return undefined;
  }
  const kind = KINDS[meta?.k];
  if (
    kind === undefined ||
    !isNumber(meta.s) ||
    !isStringArray(meta.h) ||
    meta.h.length % 2 !== 0 ||
    !isStringArray(meta.t) ||
    !isNumber(meta.g) ||
    !isNumber(meta.c) ||
    !isNumber(meta.a) ||
    !isNumber(meta.f) ||
    !isNumber(meta.w) ||
    !isNumber(meta.e) ||
    !isStringArray(meta.v) ||
    typeof meta.tk !== 'string' ||
    (meta.et !== undefined && typeof meta.et !== 'string') ||
    (meta.lm !== undefined && !isNumber(meta.lm))
  ) {
    return undefined;
  }
  return new CacheEntry({
    kind,
    status: meta.s,
    headers: meta.h,
    body: buffer.subarray(6 + length),
    tags: meta.t,
    gen: meta.g,
    createdAt: meta.c,
    initialAge: meta.a,
    fresh: meta.f,
    swr: meta.w,
    sie: meta.e,
    mustRevalidate: meta.m === 1,
    etag: meta.et,
    lastModified: meta.lm,
    vary: meta.v,
    token: meta.tk,
  });
}

/** How cache entries are written to a shared store and measured in memory: the codec of `@edgekit/swr`'s stores for the cache. */
export const CACHE_ENTRY_CODEC: EntryCodec<CacheEntry> = Object.freeze({
  encode: (entry: CacheEntry): Buffer => encodeEntry(entry),
  decode: (bytes: Buffer): CacheEntry | undefined => decodeEntry(bytes),
  size: (entry: CacheEntry): number => entry.size(),
});
