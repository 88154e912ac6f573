import type { IncomingMessage } from 'node:http';
import { HOP_BY_HOP_HEADERS } from './hop-by-hop.js';

/** A request body that may end with trailer fields (HTTP/2, chunked HTTP/1.1), read once the body ended. */
export interface RequestTrailerSource {
  requestTrailers(): Record<string, string | string[]> | undefined;
}

/**
 * RFC 9110 §6.5.1: fields a sender must not put in trailers (framing, routing, request modifiers,
 * authentication, content processing), and the forwarding fields the proxy itself vouches for in
 * the header section. Any of these in a client's trailers is dropped, never forwarded: an origin
 * that (against RFC 9110 §6.5.2) merged trailers into headers would otherwise believe them.
 */
const NOT_IN_TRAILERS: ReadonlySet<string> = new Set([
  ...HOP_BY_HOP_HEADERS,
  'content-length',
  'content-type',
  'content-encoding',
  'content-range',
  'host',
  'authorization',
  'cookie',
  'set-cookie',
  'expect',
  'max-forwards',
  'cache-control',
  'pragma',
  'range',
  'if-match',
  'if-none-match',
  'if-modified-since',
  'if-unmodified-since',
  'if-range',
  'forwarded',
  'x-forwarded-for',
  'x-forwarded-host',
  'x-forwarded-proto',
  'x-real-ip',
  'x-forwarded-client-cert',
  'via',
]);

/** The client request's trailers that may go upstream (see {@link NOT_IN_TRAILERS}), or `undefined` for none. */
export function forwardableTrailers(req: IncomingMessage): Record<string, string | string[]> | undefined {
  const raw = req.rawTrailers;
  if (raw === undefined || raw.length === 0) return undefined;
  let out: Record<string, string | string[]> | undefined;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i]!.toLowerCase();
    if (name.charCodeAt(0) === 58 || NOT_IN_TRAILERS.has(name)) continue;
    out ??= {};
    const previous = out[name];
    const value = raw[i + 1]!;
    out[name] = previous === undefined ? value : Array.isArray(previous) ? [...previous, value] : [previous, value];
  }
  return out;
}
