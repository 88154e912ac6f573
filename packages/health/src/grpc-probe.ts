import http2 from 'node:http2';
import { HealthCheckError } from './errors.js';
import type { HealthProbe, ProbeContext } from './targets.js';

/** Options of {@link createGrpcHealthProbe}. */
export interface GrpcHealthProbeOptions {
  /** The service asked about in `HealthCheckRequest.service`; `''` asks about the server as a whole. Default: `''`. */
  service?: string;
  /** Extra request metadata (an auth token, a `:authority` override is not allowed). Default: `{}`. */
  metadata?: Record<string, string>;
}

/** Defaults of {@link GrpcHealthProbeOptions}. */
export const GRPC_HEALTH_PROBE_DEFAULTS = Object.freeze({ service: '' });

const SERVING = 1;
const STATUS_NAMES = ['UNKNOWN', 'SERVING', 'NOT_SERVING', 'SERVICE_UNKNOWN'];
const CHECK_PATH = '/grpc.health.v1.Health/Check';
const { NGHTTP2_CANCEL } = http2.constants;

/** `HealthCheckRequest { string service = 1; }` in protobuf, in one gRPC length-prefixed frame. */
function checkRequestFrame(service: string): Buffer {
  const name = Buffer.from(service, 'utf8');
  const message: number[] = [];
  if (name.length > 0) {
    message.push(0x0a);
    for (let n = name.length; ; n >>>= 7) {
      if (n < 0x80) {
        message.push(n);
        break;
      }
      message.push((n & 0x7f) | 0x80);
    }
  }
  const body = Buffer.concat([Buffer.from(message), name]);
  const frame = Buffer.alloc(5 + body.length);
  frame.writeUInt32BE(body.length, 1);
  body.copy(frame, 5);
  return frame;
}

/** `HealthCheckResponse.status` (field 1, a varint) from one gRPC frame; `0` (UNKNOWN) when absent. */
function servingStatus(frame: Buffer): number {
  if (frame.length < 5 || frame[0] !== 0) return -1;
  const length = frame.readUInt32BE(1);
  const message = frame.subarray(5, 5 + length);
  let i = 0;
  while (i < message.length) {
    const tag = message[i++]!;
    let value = 0;
    let shift = 0;
    let byte: number;
    do {
      byte = message[i++] ?? 0;
      value += (byte & 0x7f) * 2 ** shift;
      shift += 7;
    } while (byte & 0x80 && i < message.length);
    if (tag === 0x08) return value;
    // Only varint fields are expected in this message; anything else ends the scan.
    if ((tag & 7) !== 0) break;
  }
  return 0;
}

/**
 * A {@link HealthProbe} speaking the gRPC health checking protocol (`grpc.health.v1.Health/Check`)
 * over HTTP/2 to the target's URL (`http:` in the clear with prior knowledge, `https:` over TLS).
 * It passes when the call ends with `grpc-status: 0` and the status is `SERVING`; anything else
 * (`NOT_SERVING`, `SERVICE_UNKNOWN`, an UNIMPLEMENTED health service, a refused connection) fails it
 * with `EPROBEFAILED`. One short-lived connection per probe, closed with it.
 *
 * @example
 * createHealthChecker({ targets: [{ name: 'eu', url: 'http://eu.internal:50051' }], probe: createGrpcHealthProbe({ service: 'shop.Cart' }) });
 */
export function createGrpcHealthProbe(options: GrpcHealthProbeOptions = {}): HealthProbe {
  if (options === null || typeof options !== 'object') throw new TypeError(`@edgekit/health: createGrpcHealthProbe options must be an object (got ${String(options)})`);
  const service = options.service ?? GRPC_HEALTH_PROBE_DEFAULTS.service;
  if (typeof service !== 'string') throw new TypeError(`@edgekit/health: option "service" must be a string (got ${typeof service})`);
  const metadata = { ...(options.metadata ?? {}) };
  const frame = checkRequestFrame(service);
  return (context: ProbeContext) => check(context, frame, metadata);
}

function check(context: ProbeContext, frame: Buffer, metadata: Record<string, string>): Promise<true> {
  const { name, url, signal } = context;
  if (url === undefined) return Promise.reject(new HealthCheckError('EPROBEFAILED', `gRPC health probe of ${name}: the target has no url`, { target: name }));
  return new Promise<true>((resolve, reject) => {
    const session = http2.connect(url);
    const chunks: Buffer[] = [];
    let grpcStatus: string | undefined;
    let grpcMessage: string | undefined;
    let settled = false;
    const finish = (error: Error | undefined): void => {
      if (settled) return;
      settled = true;
      signal.removeEventListener('abort', onAbort);
      session.destroy();
      if (error === undefined) resolve(true);
      else reject(error);
    };
    const fail = (message: string, cause?: unknown): void => finish(new HealthCheckError('EPROBEFAILED', `gRPC health probe of ${name}: ${message}`, { target: name, cause }));
    const onAbort = (): void => fail('aborted', signal.reason);
    if (signal.aborted) {
      onAbort();
      return;
    }
    signal.addEventListener('abort', onAbort);
    session.on('error', (error) => fail(error.message, error));
    const stream = session.request({ ...metadata, ':method': 'POST', ':path': CHECK_PATH, 'content-type': 'application/grpc', te: 'trailers' });
    stream.end(frame);
    const readStatus = (headers: http2.IncomingHttpHeaders): void => {
      if (headers['grpc-status'] !== undefined) grpcStatus = String(headers['grpc-status']);
      if (headers['grpc-message'] !== undefined) grpcMessage = decodeURIComponent(String(headers['grpc-message']));
    };
    stream.on('response', (headers) => {
      if (headers[':status'] !== 200) {
        stream.close(NGHTTP2_CANCEL);
        fail(`HTTP status ${headers[':status']}`);
        return;
      }
      readStatus(headers);
    });
    stream.on('trailers', readStatus);
    stream.on('data', (chunk: Buffer) => chunks.push(chunk));
    stream.on('error', (error) => fail(error.message, error));
    // 'close' comes after the trailers and the body alike.
    stream.on('close', () => {
      if (settled) return;
      if (grpcStatus !== '0') {
        fail(grpcStatus === undefined ? 'no grpc-status' : `grpc-status ${grpcStatus}${grpcMessage ? ` (${grpcMessage})` : ''}`);
        return;
      }
      const status = servingStatus(Buffer.concat(chunks));
      if (status === SERVING) finish(undefined);
      else fail(`the service is ${STATUS_NAMES[status] ?? `in status ${status}`}`);
    });
  });
}
