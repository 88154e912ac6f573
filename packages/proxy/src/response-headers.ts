import { util as undiciUtil } from 'undici';
import { HOP_BY_HOP_HEADERS, connectionTokens, removeNamedHeaders } from './hop-by-hop.js';

const lowerName = undiciUtil.headerNameToString as (name: string | Buffer) => string;

/** Settings of {@link buildResponseHeaders} fixed at forwarder construction. */
export interface ResponseHeaderSettings {
  /** `Via` entry appended to responses (`1.1 edgekit`), or `undefined` for none. */
  readonly viaEntry: string | undefined;
  /** Lower-case name of the header naming the region that answered, or `undefined` for none. */
  readonly servedByHeader: string | undefined;
}

function text(value: Buffer | string): string {
  return typeof value === 'string' ? value : value.toString('latin1');
}

/**
 * Turns undici's raw response headers into the flat `[name, value, ...]` list written to the client:
 * lower-case names, hop-by-hop fields (RFC 9110 §7.6.1) and the fields named in `Connection`
 * removed, this hop's `Via` entry appended (RFC 9110 §7.6.3) and the serving region named.
 */
export function buildResponseHeaders(raw: ReadonlyArray<Buffer | string> | null, region: string, settings: ResponseHeaderSettings): string[] {
  const out: string[] = [];
  const servedBy = settings.servedByHeader;
  let connection: string | undefined;
  if (raw !== null) {
    for (let i = 0; i + 1 < raw.length; i += 2) {
      const name = lowerName(raw[i]!);
      if (HOP_BY_HOP_HEADERS.has(name)) {
        if (name === 'connection') connection = connection === undefined ? text(raw[i + 1]!) : `${connection}, ${text(raw[i + 1]!)}`;
        continue;
      }
      if (name === servedBy) continue;
      out.push(name, text(raw[i + 1]!));
    }
  }
  if (connection !== undefined) {
    const named = connectionTokens(connection);
    if (named.length > 0) removeNamedHeaders(out, named);
  }
  // Field lines of one name combine in order (RFC 9110 §5.3): ours comes after the upstream's.
  if (settings.viaEntry !== undefined) out.push('via', settings.viaEntry);
  if (servedBy !== undefined) out.push(servedBy, region);
  return out;
}

/**
 * Headers of a `101 Switching Protocols` relayed to the client: those of {@link buildResponseHeaders}
 * plus the upstream's `Upgrade` and `Connection: upgrade`, which belong to the switch itself.
 */
export function upgradeHeaders(raw: ReadonlyArray<Buffer | string> | null, region: string, settings: ResponseHeaderSettings): string[] {
  const out = buildResponseHeaders(raw, region, settings);
  let upgrade: string | undefined;
  if (raw !== null) {
    for (let i = 0; i + 1 < raw.length; i += 2) {
      if (lowerName(raw[i]!) === 'upgrade') upgrade = upgrade === undefined ? text(raw[i + 1]!) : `${upgrade}, ${text(raw[i + 1]!)}`;
    }
  }
  out.push('connection', 'upgrade');
  if (upgrade !== undefined) out.push('upgrade', upgrade);
  return out;
}

/** The flat list as an object: one key per lower-case name, repeated fields as arrays. */
export function headersToObject(flat: readonly string[]): Record<string, string | string[]> {
  const headers: Record<string, string | string[]> = Object.create(null);
  for (let i = 0; i + 1 < flat.length; i += 2) {
    const name = flat[i]!;
    const value = flat[i + 1]!;
    const previous = headers[name];
    if (previous === undefined) headers[name] = value;
    else if (typeof previous === 'string') headers[name] = [previous, value];
    else previous.push(value);
  }
  return headers;
}

/**
 * Upstream trailers as a flat `[name, value, ...]` list of lower-case names, or `undefined` when
 * there are none. undici hands HTTP/1.1 trailers as raw name/value pairs and HTTP/2 trailers as
 * an object; pseudo-fields and hop-by-hop fields (RFC 9110 §6.5.1) are not relayed.
 */
export function trailerList(trailers: unknown): string[] | undefined {
  if (trailers == null) return undefined;
  const out: string[] = [];
  if (Array.isArray(trailers)) {
    for (let i = 0; i + 1 < trailers.length; i += 2) pushTrailer(out, lowerName(trailers[i] as Buffer | string), text(trailers[i + 1] as Buffer | string));
  } else if (typeof trailers === 'object') {
    for (const [name, value] of Object.entries(trailers as Record<string, unknown>)) {
      if (Array.isArray(value)) for (const item of value) pushTrailer(out, name.toLowerCase(), String(item));
      else if (value !== undefined) pushTrailer(out, name.toLowerCase(), String(value));
    }
  }
  return out.length === 0 ? undefined : out;
}

function pushTrailer(out: string[], name: string, value: string): void {
  if (name.charCodeAt(0) === 58 || HOP_BY_HOP_HEADERS.has(name) || name === 'content-length') return;
  out.push(name, value);
}

/**
 * Whether a response is a long-lived stream: an event stream (`text/event-stream`), a gRPC
 * response, or, for a request the `streaming` option picked (`flagged`), any response without
 * `content-length`.
 */
export function isStreamingResponse(flat: readonly string[], flagged: boolean): boolean {
  let length = false;
  for (let i = 0; i + 1 < flat.length; i += 2) {
    const name = flat[i]!;
    if (name === 'content-type') {
      const type = flat[i + 1]!.toLowerCase();
      if (type.startsWith('text/event-stream') || type.startsWith('application/grpc')) return true;
    } else if (name === 'content-length') {
      length = true;
    }
  }
  return flagged && !length;
}

/** A flat trailer list as the object `addTrailers` takes, repeated names as arrays. */
export function trailerPairs(flat: readonly string[]): Record<string, string | string[]> {
  return headersToObject(flat);
}
