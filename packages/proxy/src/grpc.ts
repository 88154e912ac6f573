import type { ServerResponse } from 'node:http';
import type { Http2ServerResponse } from 'node:http2';
import type { ForwardErrorCode } from './errors.js';

/** gRPC status codes the forwarder writes or acts on (grpc/doc/statuscodes.md). */
export const GRPC_STATUS = Object.freeze({
  OK: 0,
  CANCELLED: 1,
  UNKNOWN: 2,
  DEADLINE_EXCEEDED: 4,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  INTERNAL: 13,
  UNAVAILABLE: 14,
  UNAUTHENTICATED: 16,
});

/** True for `application/grpc`, `application/grpc+proto` and the like (not `application/grpc-web`, which HTTP/1.1 clients speak). */
export function isGrpcContentType(value: string | undefined): boolean {
  if (value === undefined || value.length < 16) return false;
  if (value.slice(0, 16).toLowerCase() !== 'application/grpc') return false;
  if (value.length === 16) return true;
  const next = value.charCodeAt(16);
  // `+` (sub-type) or `;` (parameters); `-` would be grpc-web.
  return next === 43 || next === 59;
}

const TIMEOUT_UNIT_MS: Readonly<Record<string, number>> = Object.freeze({ H: 3_600_000, M: 60_000, S: 1_000, m: 1, u: 0.001, n: 0.000_001 });

/**
 * Parses a `grpc-timeout` value (gRPC over HTTP/2: `TimeoutValue TimeoutUnit`, 1 to 8 ASCII digits
 * then one of `H M S m u n`) into milliseconds, rounded up so a deadline never comes early.
 * `undefined` for anything else, which is then ignored as grpc-go and Envoy do.
 */
export function parseGrpcTimeout(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const length = value.length;
  if (length < 2 || length > 9) return undefined;
  let digits = 0;
  for (let i = 0; i < length - 1; i++) {
    const c = value.charCodeAt(i);
    if (c < 48 || c > 57) return undefined;
    digits = digits * 10 + (c - 48);
  }
  const perUnit = TIMEOUT_UNIT_MS[value[length - 1]!];
  if (perUnit === undefined) return undefined;
  return Math.ceil(digits * perUnit);
}

/**
 * The gRPC status for an error the forwarder answers itself. Follows gRPC's HTTP-to-gRPC mapping
 * (502, 503 → UNAVAILABLE; 400 → INTERNAL) except where the cause is known better: the forwarder's
 * own deadline is DEADLINE_EXCEEDED, and a client over its in-flight cap is RESOURCE_EXHAUSTED.
 */
export function grpcStatusOf(code: ForwardErrorCode): number {
  switch (code) {
    case 'ETIMEDOUT':
    case 'ECLIENTTIMEOUT':
      return GRPC_STATUS.DEADLINE_EXCEEDED;
    case 'ECLIENTLIMIT':
      return GRPC_STATUS.RESOURCE_EXHAUSTED;
    case 'EBADREQUEST':
      return GRPC_STATUS.INTERNAL;
    default:
      return GRPC_STATUS.UNAVAILABLE;
  }
}

/**
 * gRPC's `grpc-message` is percent-encoded (gRPC over HTTP/2, "Responses"): bytes outside
 * printable ASCII and `%` itself are escaped.
 */
export function encodeGrpcMessage(message: string): string {
  let out = '';
  for (const byte of Buffer.from(message, 'utf8')) {
    out += byte >= 0x20 && byte <= 0x7e && byte !== 0x25 ? String.fromCharCode(byte) : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

/** The `grpc-status` in a flat `[name, value, ...]` list of lower-case names, or -1 when absent or malformed. */
export function grpcStatusIn(flat: readonly string[] | undefined): number {
  if (flat === undefined) return -1;
  for (let i = 0; i + 1 < flat.length; i += 2) {
    if (flat[i] !== 'grpc-status') continue;
    const value = flat[i + 1]!;
    return /^\d{1,2}$/.test(value) ? Number(value) : -1;
  }
  return -1;
}

/** The `grpc-status` among undici's raw response headers, or -1 when absent or malformed. */
export function grpcStatusInRaw(raw: ReadonlyArray<Buffer | string> | null): number {
  if (raw === null) return -1;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i]!;
    if (name.length !== 11 || name.toString().toLowerCase() !== 'grpc-status') continue;
    const value = raw[i + 1]!.toString();
    return /^\d{1,2}$/.test(value) ? Number(value) : -1;
  }
  return -1;
}

/**
 * Answers a gRPC call with a status and no message, as gRPC's "Trailers-Only" response: HTTP 200,
 * `content-type: application/grpc`, `grpc-status` and `grpc-message` in the one header block that
 * ends the stream (over HTTP/2). Over HTTP/1.1 the same fields go in the header of an empty response.
 */
export function sendGrpcStatus(res: ServerResponse | Http2ServerResponse, status: number, message: string): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const headers = { 'content-type': 'application/grpc', 'grpc-status': String(status), 'grpc-message': encodeGrpcMessage(message) };
  const stream = (res as Http2ServerResponse).stream;
  if (stream !== undefined && typeof stream.respond === 'function') {
    if (stream.destroyed || stream.headersSent) return;
    stream.respond({ ':status': 200, ...headers }, { endStream: true });
    return;
  }
  (res as ServerResponse).writeHead(200, { ...headers, 'content-length': 0 });
  res.end();
}
