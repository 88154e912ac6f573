import { util as undiciUtil } from 'undici';
import type { ForwardedHeaderMode } from '@edgekit/geo';
import { HOP_BY_HOP_HEADERS, connectionTokens, removeNamedHeaders } from './hop-by-hop.js';

const lowerName = undiciUtil.headerNameToString as (name: string | Buffer) => string;

/** What {@link scanRequestHeaders} learns about the request besides the header list. */
export interface RequestScan {
  /** Declared `Content-Length`, or -1 when absent or unparsable. */
  contentLength: number;
  /** The request carries `Transfer-Encoding` (a body of unknown length). */
  chunked: boolean;
  /** The client's `Host`. */
  host: string | undefined;
  /** Incoming `X-Forwarded-For`, repeated lines joined with `, `. */
  xForwardedFor: string | undefined;
  /** Incoming `Forwarded`, repeated lines joined with `, `. */
  forwarded: string | undefined;
  xForwardedProto: string | undefined;
  xForwardedHost: string | undefined;
  via: string | undefined;
  /**
   * Incoming claims about the client other than `X-Forwarded-*`/`Forwarded` (`X-Real-IP`,
   * `True-Client-IP`, `X-Forwarded-Port`, ...), as `name, value` pairs, or `undefined` when there are
   * none: forwarded only from a trusted peer.
   */
  clientClaims: string[] | undefined;
  /** `Content-Type`, to recognise gRPC (`application/grpc*`). */
  contentType: string | undefined;
  /** `grpc-timeout`, the gRPC deadline as sent (see `parseGrpcTimeout`). */
  grpcTimeout: string | undefined;
  /** `Accept`, to recognise a request for an event stream. */
  accept: string | undefined;
  /** The request carries `Expect: 100-continue`. */
  expectContinue: boolean;
}

/** Settings of {@link scanRequestHeaders} and {@link appendForwardingHeaders} fixed at forwarder construction. */
export interface RequestHeaderSettings {
  /** Pseudonym written to `Via`, or `undefined` for no `Via`. */
  readonly via: string | undefined;
  /** Forward the client's `Host` instead of letting the upstream URL decide it. */
  readonly preserveHost: boolean;
  /**
   * Which chain a trusted peer's `X-Forwarded-For` and `Forwarded` are believed for (`@edgekit/geo`'s
   * `header`): with `x-forwarded-for` or `forwarded` only that header is extended and the other is
   * replaced, as from an untrusted peer, so a client's own line passed through by the proxy is not
   * vouched for. The `prefer-*` modes extend both.
   */
  readonly forwardedHeader: ForwardedHeaderMode;
}

/** The client side of one request, as the forwarding headers describe it (see {@link appendForwardingHeaders}). */
export interface ClientSide {
  /** Normalised socket peer address, `''` when unknown. */
  readonly peer: string;
  /** The peer is a trusted proxy, so its forwarding headers are extended rather than replaced. */
  readonly peerTrusted: boolean;
  /** The client connection is TLS. */
  readonly encrypted: boolean;
  /** `1.1`, `1.0` or `2` as received, for `Via`. */
  readonly protocolVersion: string;
}

// RFC 9110 §5.6.2 tchar: what may appear unquoted as a Forwarded parameter value (RFC 7239 §4).
const TCHAR = new Uint8Array(128);
for (const c of "!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz") TCHAR[c.charCodeAt(0)] = 1;

/** An RFC 7239 parameter value: a token as is, anything else as a quoted-string with `"` and `\` escaped. */
export function forwardedValue(value: string): string {
  let token = value.length > 0;
  for (let i = 0; i < value.length && token; i++) {
    const c = value.charCodeAt(i);
    token = c < 128 && TCHAR[c] === 1;
  }
  if (token) return value;
  let quoted = '"';
  for (let i = 0; i < value.length; i++) {
    const ch = value[i]!;
    quoted += ch === '"' || ch === '\\' ? `\\${ch}` : ch;
  }
  return `${quoted}"`;
}

/** RFC 7239 §6: an IPv4 node as is, IPv6 bracketed and quoted, `unknown` when there is no address. */
export function forwardedNode(address: string): string {
  if (address.length === 0) return 'unknown';
  return address.includes(':') ? `"[${address}]"` : address;
}

const CH_COLON = 58;

// Fields this hop writes or vouches for. An `_` spelling of one (`X_Forwarded_Host`) is the same
// `HTTP_*` variable to CGI-style origins (WSGI, Rack, PHP), so it is dropped, as nginx drops every
// name with `_` by default.
const CLIENT_CLAIMS: ReadonlySet<string> = new Set([
  'x-real-ip', 'true-client-ip', 'x-client-ip', 'cf-connecting-ip', 'fastly-client-ip', 'x-cluster-client-ip', 'x-original-forwarded-for',
  'x-forwarded-port', 'x-forwarded-prefix', 'x-forwarded-ssl', 'x-forwarded-scheme', 'x-forwarded-protocol', 'x-forwarded-server', 'x-url-scheme', 'front-end-https',
]);
const MANAGED_FIELDS: ReadonlySet<string> = new Set(['x-forwarded-for', 'forwarded', 'x-forwarded-proto', 'x-forwarded-host', 'via', ...CLIENT_CLAIMS]);

/** Whether `lower` is an `_` spelling of a field this hop manages or removes. */
function isUnderscoreSpelling(lower: string): boolean {
  if (!lower.includes('_')) return false;
  const dashed = lower.replaceAll('_', '-');
  return MANAGED_FIELDS.has(dashed) || HOP_BY_HOP_HEADERS.has(dashed);
}

function append(previous: string | undefined, value: string): string {
  return previous === undefined ? value : `${previous}, ${value}`;
}

/**
 * First half of the header list sent upstream, from the client's raw headers: hop-by-hop fields
 * (RFC 9110 §7.6.1) and every field named in `Connection` are removed; `Host` and `Expect` are left
 * to the upstream connection; the forwarding fields are taken out into `scan`, to be rewritten by
 * {@link appendForwardingHeaders} once the client address is known.
 */
export function scanRequestHeaders(rawHeaders: readonly string[], settings: RequestHeaderSettings, scan: RequestScan): string[] {
  const out: string[] = [];
  let connection: string | undefined;
  let authority: string | undefined;
  scan.contentLength = -1;
  scan.chunked = false;
  scan.host = undefined;
  scan.xForwardedFor = undefined;
  scan.forwarded = undefined;
  scan.xForwardedProto = undefined;
  scan.xForwardedHost = undefined;
  scan.via = undefined;
  scan.clientClaims = undefined;
  scan.contentType = undefined;
  scan.grpcTimeout = undefined;
  scan.accept = undefined;
  scan.expectContinue = false;
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    const name = rawHeaders[i]!;
    const value = rawHeaders[i + 1]!;
    // RFC 9113 §8.3: HTTP/2 pseudo-header fields describe the request; `:authority` stands for `Host`.
    if (name.charCodeAt(0) === CH_COLON) {
      if (name === ':authority') authority = value;
      continue;
    }
    const lower = lowerName(name);
    if (isUnderscoreSpelling(lower)) continue;
    if (HOP_BY_HOP_HEADERS.has(lower)) {
      if (lower === 'connection') connection = append(connection, value);
      else if (lower === 'transfer-encoding') scan.chunked = true;
      continue;
    }
    switch (lower) {
      case 'host':
        scan.host ??= value;
        if (settings.preserveHost) break;
        continue;
      case 'expect':
        // RFC 9110 §10.1.1: the forwarder answers `100-continue` itself once an upstream takes the body.
        if (value.trim().toLowerCase() === '100-continue') scan.expectContinue = true;
        continue;
      case 'content-type':
        scan.contentType ??= value;
        break;
      case 'grpc-timeout':
        scan.grpcTimeout ??= value;
        break;
      case 'accept':
        scan.accept = append(scan.accept, value);
        break;
      case 'x-forwarded-for':
        scan.xForwardedFor = append(scan.xForwardedFor, value);
        continue;
      case 'forwarded':
        scan.forwarded = append(scan.forwarded, value);
        continue;
      case 'x-forwarded-proto':
        scan.xForwardedProto ??= value;
        continue;
      case 'x-forwarded-host':
        scan.xForwardedHost ??= value;
        continue;
      case 'via':
        scan.via = append(scan.via, value);
        continue;
      case 'content-length': {
        const length = Number(value);
        scan.contentLength = Number.isSafeInteger(length) && length >= 0 ? length : -1;
        break;
      }
      default:
        if (CLIENT_CLAIMS.has(lower)) {
          (scan.clientClaims ??= []).push(name, value);
          continue;
        }
    }
    out.push(name, value);
  }
  if (scan.host === undefined && authority !== undefined) {
    scan.host = authority;
    if (settings.preserveHost) out.push('host', authority);
  }
  if (connection !== undefined) {
    const named = connectionTokens(connection);
    if (named.length > 0) removeNamedHeaders(out, named);
  }
  return out;
}

/**
 * Second half: writes `X-Forwarded-For/Proto/Host`, `Forwarded` (RFC 7239) and `Via` (RFC 9110
 * §7.6.3) to `out`. A trusted peer's forwarding chain is extended; an untrusted peer's is replaced,
 * because a client can write anything there. Other claims about the client (`X-Real-IP`, ...) are
 * passed on from a trusted peer only.
 */
export function appendForwardingHeaders(out: string[], scan: RequestScan, client: ClientSide, settings: RequestHeaderSettings): void {
  const trusted = client.peerTrusted;
  const peer = client.peer;
  const host = scan.host;
  const proto = client.encrypted ? 'https' : 'http';
  const xff = scan.xForwardedFor;
  const chain = settings.forwardedHeader;
  out.push('x-forwarded-for', trusted && xff !== undefined && chain !== 'forwarded' ? `${xff}, ${peer || 'unknown'}` : peer || 'unknown');
  out.push('x-forwarded-proto', trusted && scan.xForwardedProto !== undefined ? scan.xForwardedProto : proto);
  const forwardedHost = trusted && scan.xForwardedHost !== undefined ? scan.xForwardedHost : host;
  if (forwardedHost !== undefined) out.push('x-forwarded-host', forwardedHost);
  let element = `for=${forwardedNode(peer)}`;
  if (host !== undefined) element += `;host=${forwardedValue(host)}`;
  element += `;proto=${proto}`;
  out.push('forwarded', trusted && scan.forwarded !== undefined && chain !== 'x-forwarded-for' ? `${scan.forwarded}, ${element}` : element);
  // Claims about the client's address, scheme, port or prefix are a proxy's to make, not a client's.
  const claims = scan.clientClaims;
  if (trusted && claims !== undefined) for (let i = 0; i < claims.length; i++) out.push(claims[i]!);
  if (settings.via !== undefined) out.push('via', append(scan.via, `${client.protocolVersion} ${settings.via}`));
  else if (scan.via !== undefined) out.push('via', scan.via);
}
