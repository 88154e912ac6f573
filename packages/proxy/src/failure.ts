import { ProxyError } from './errors.js';
import type { FailureKind } from './events.js';

/** How an attempt's error is handled: a failure kind, or `invalid` when the request itself is at fault. */
export type ErrorClass = FailureKind | 'invalid';

const PROTOCOL_CODES: ReadonlySet<string> = new Set([
  'UND_ERR_HEADERS_OVERFLOW',
  'UND_ERR_RES_CONTENT_LENGTH_MISMATCH',
  'UND_ERR_RES_EXCEEDED_MAX_SIZE',
  'HPE_INVALID_CONSTANT',
  'HPE_INVALID_VERSION',
  'HPE_INVALID_STATUS',
  'HPE_INVALID_HEADER_TOKEN',
  'HPE_INVALID_CONTENT_LENGTH',
  'HPE_INVALID_CHUNK_SIZE',
  'HPE_UNEXPECTED_CONTENT_LENGTH',
  'HPE_HEADER_OVERFLOW',
  'HPE_INVALID_TRANSFER_ENCODING',
  'HPE_CR_EXPECTED',
  'HPE_LF_EXPECTED',
]);

function codeOf(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

/**
 * Classifies an undici error. `connected` says whether undici had started writing the request on a
 * connection (its `onConnect` ran): before that nothing reached the upstream, whatever the error.
 */
export function classifyError(error: unknown, connected: boolean): ErrorClass {
  const code = codeOf(error);
  // The request was refused before it was sent (bad header value, unsupported field): the request's fault.
  if (code === 'UND_ERR_INVALID_ARG' || code === 'UND_ERR_NOT_SUPPORTED') return 'invalid';
  if (code === 'UND_ERR_CONNECT_TIMEOUT') return 'connect';
  if (!connected || isRefusedStream(error)) return 'connect';
  if (code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT') return 'timeout';
  if (code !== undefined && (PROTOCOL_CODES.has(code) || code.startsWith('HPE_'))) return 'protocol';
  return 'reset';
}

/**
 * RFC 9113 §8.7: a stream reset with REFUSED_STREAM, or one above the last stream id of a GOAWAY
 * (which nghttp2 closes with the same code), was never processed: safe to send elsewhere, whatever
 * the method. Node reports it as `ERR_HTTP2_STREAM_ERROR` naming the code.
 */
export function isRefusedStream(error: unknown): boolean {
  return codeOf(error) === 'ERR_HTTP2_STREAM_ERROR' && String((error as Error).message).includes('NGHTTP2_REFUSED_STREAM');
}

/** True for errors that are timeouts (for a 504 answer rather than 502). */
export function isTimeout(error: unknown): boolean {
  const code = codeOf(error);
  return code === 'UND_ERR_CONNECT_TIMEOUT' || code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT' || code === 'ETIMEDOUT';
}

// undici names the field it refuses: `invalid x-name header`.
const INVALID_HEADER = /^invalid ([!#$%&'*+\-.^_`|~0-9A-Za-z]{1,64}) header$/;

/** The problem detail for a request undici refused: names the header at fault when there is one. */
export function invalidDetail(error: unknown): string {
  const message = (error as { message?: unknown } | null)?.message;
  const match = typeof message === 'string' ? INVALID_HEADER.exec(message) : null;
  return match === null ? 'the request cannot be forwarded as it is' : `the request header "${match[1]!.toLowerCase()}" cannot be forwarded`;
}

/** A status the breaker or the failover logic treats as a failure, as an error for `permit.failure()`. */
export class UpstreamStatusError extends ProxyError {
  constructor(readonly region: string, readonly status: number) {
    super('EUPSTREAMSTATUS', `region ${region} answered ${status}`, { region });
  }
}

/** A gRPC status the breaker or the failover logic treats as a failure (UNAVAILABLE by default). */
export class GrpcStatusError extends ProxyError {
  constructor(readonly region: string, readonly grpcStatus: number) {
    super('EUPSTREAMSTATUS', `region ${region} answered grpc-status ${grpcStatus}`, { region });
  }
}
