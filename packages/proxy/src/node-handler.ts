import type { IncomingMessage, ServerResponse } from 'node:http';
import { sendProblem, writeInformational } from '@edgekit/core';
import type { ForwardError } from './errors.js';
import { Exchange } from './exchange.js';
import type { ForwarderCore } from './forwarder-core.js';
import { GRPC_STATUS, grpcStatusOf, sendGrpcStatus } from './grpc.js';
import { headersToObject, trailerPairs } from './response-headers.js';
import { type Http2ServerResponse, constants as http2Constants } from 'node:http2';

const kExchange = Symbol('edgekit.proxy.exchange');

type TrackedResponse = ServerResponse & { [kExchange]?: NodeExchange | undefined };

// Shared listeners find their exchange on the response: no closure per request.
function onResponseClose(this: TrackedResponse): void {
  const exchange = this[kExchange];
  if (exchange === undefined) return;
  this[kExchange] = undefined;
  exchange.clientGone();
}

function endResponse(res: ServerResponse): void {
  res.end();
}

function onResponseDrain(this: TrackedResponse): void {
  this[kExchange]?.resume();
}

// A first body chunk up to this size goes out in the same write as the response head.
const SMALL_FIRST_CHUNK = 8_192;

const INTERNAL_PROBLEM = Object.freeze({ title: 'Internal Server Error', status: 500 });

/** An exchange that writes the upstream response straight to a Node `ServerResponse`. */
export class NodeExchange extends Exchange {
  readonly #res: TrackedResponse;
  readonly #onInternalError: ((error: unknown) => void) | undefined;
  /** Whether the first-chunk string write is done or, over HTTP/2 (head and body in separate frames anyway), not wanted. */
  #wroteBody: boolean;
  #endedInHead = false;

  /** `awaitingContinue`: the request came through `checkContinue`, so Node has not answered `100 Continue`. */
  constructor(core: ForwarderCore, req: IncomingMessage, res: ServerResponse, path: string | undefined, onInternalError: ((error: unknown) => void) | undefined, awaitingContinue = false) {
    super(core, req, path);
    this.continuePending = awaitingContinue;
    this.#res = res as TrackedResponse;
    this.#onInternalError = onInternalError;
    this.#wroteBody = (res as unknown as Partial<Http2ServerResponse>).stream !== undefined;
    this.#res[kExchange] = this;
    res.on('close', onResponseClose);
  }

  #detach(): void {
    // The close listener stays (removing it costs more than the check it makes on a dead response).
    this.#res[kExchange] = undefined;
  }

  protected override deliverInformational(statusCode: number, headers: string[]): void {
    writeInformational(this.req, this.#res, statusCode, headers);
  }

  protected deliverHead(statusCode: number, headers: string[]): boolean {
    const stream = (this.#res as unknown as Http2ServerResponse).stream;
    if (this.trailersOnly && stream !== undefined) {
      // gRPC "Trailers-Only" stays one HEADERS frame that ends the stream, or clients miss the status.
      this.#endedInHead = true;
      try {
        stream.respond({ ':status': statusCode, ...headersToObject(headers) }, { endStream: true });
        return true;
      } catch {
        return false;
      }
    }
    try {
      this.#res.writeHead(statusCode, headers);
      return true;
    } catch {
      return false;
    }
  }

  protected deliverData(chunk: Buffer): boolean {
    if (this.#endedInHead) return true;
    const res = this.#res;
    let written: boolean;
    if (!this.#wroteBody && chunk.length <= SMALL_FIRST_CHUNK) {
      this.#wroteBody = true;
      // HTTP/1.1: Node joins the pending head and a string body into one write instead of a writev
      // of two buffers; latin1 maps bytes one to one, so the body goes out unchanged.
      written = res.write(chunk.toString('latin1'), 'latin1');
    } else {
      written = res.write(chunk);
    }
    if (written) return true;
    if (!res.destroyed) {
      res.once('drain', onResponseDrain);
      this.sendStalled();
    }
    return false;
  }

  protected sendTimedOut(): void {
    // The 'close' that follows ends the exchange and aborts the upstream request.
    this.#res.destroy();
  }

  protected override deliverContinue(): void {
    const res = this.#res;
    if (!res.headersSent && !res.destroyed) res.writeContinue();
  }

  protected deliverEnd(trailers: string[] | undefined): void {
    this.#detach();
    if (this.#endedInHead) return;
    // HTTP/2 sends trailers in a closing HEADERS frame; HTTP/1.1 only after a chunked body.
    if (trailers !== undefined) this.#res.addTrailers(trailerPairs(trailers));
    // After the write's own cork is released (next tick): end() then has nothing left to flush and
    // adds no empty write, so the response leaves in one write instead of a writev.
    process.nextTick(endResponse, this.#res);
  }

  protected deliverBroken(): void {
    this.#detach();
    const res = this.#res;
    if (this.grpc && this.req.httpVersionMajor === 2 && !res.destroyed) {
      // A gRPC client reads the failure from trailers: the call ends UNAVAILABLE, not as a reset stream.
      res.addTrailers({ 'grpc-status': String(GRPC_STATUS.UNAVAILABLE), 'grpc-message': 'the upstream response failed' });
      res.end();
      return;
    }
    const stream = (res as unknown as Partial<Http2ServerResponse>).stream;
    if (stream !== undefined && !stream.destroyed) {
      // HTTP/2: a stream reset with NO_ERROR (what destroy() sends) reads as a complete response
      // to curl and Node; INTERNAL_ERROR tells the client the response is cut (RFC 9113 §5.4.2, §7).
      stream.close(http2Constants.NGHTTP2_INTERNAL_ERROR);
      return;
    }
    // The status line is gone; cutting the connection is the only way to tell the client.
    res.destroy();
  }

  protected deliverError(error: ForwardError): void {
    this.#detach();
    const res = this.#res;
    if (res.destroyed) return;
    // An unread request body would keep the connection busy: close it after the answer.
    if ((this.chunked || this.contentLength > 0) && !this.req.complete) res.shouldKeepAlive = false;
    if (this.grpc) sendGrpcStatus(res, grpcStatusOf(error.code), error.problem.detail ?? error.message);
    else sendProblem(res, error.problem, error.headers());
  }

  protected deliverInternal(error: unknown): void {
    this.#detach();
    if (this.#onInternalError !== undefined) {
      this.#onInternalError(error);
      return;
    }
    if (this.#res.destroyed) return;
    if (this.grpc) sendGrpcStatus(this.#res, GRPC_STATUS.INTERNAL, 'the proxy failed');
    else sendProblem(this.#res, INTERNAL_PROBLEM);
  }

  protected onClientGone(): void {
    this.#detach();
  }
}
