import type { IncomingMessage } from 'node:http';
import { Readable } from 'node:stream';
import { EdgekitError } from '@edgekit/core';
import type { ForwardError } from './errors.js';
import { Exchange } from './exchange.js';
import type { ForwarderCore } from './forwarder-core.js';
import { headersToObject } from './response-headers.js';

/** What `forward()` resolves with: the upstream response, not yet consumed. */
export interface ForwardResponse {
  statusCode: number;
  /** Lower-case names; hop-by-hop fields removed; `Via` and the served-by header added. */
  headers: Record<string, string | string[]>;
  /** The upstream body, streamed with backpressure. Destroy it to abort the upstream request. */
  body: Readable;
  /** Name of the region that answered. */
  region: string;
  /** The upstream's trailers (gRPC's `grpc-status`), set once `body` has ended; `undefined` when none came. */
  trailers?: Record<string, string | string[]> | undefined;
}

/** Options of `forward()`. */
export interface ForwardOptions {
  /** Aborts the upstream request (and the body stream once resolved). */
  signal?: AbortSignal;
  /** Path and query sent upstream instead of `req.url` (must start with `/`). */
  path?: string;
  /** Called with each 1xx interim response (`103 Early Hints`) before the final one; pass it on with `writeInformational`. */
  onInformational?: (statusCode: number, headers: Record<string, string | string[]>) => void;
}

/** The upstream response body handed out by `forward()`. */
class UpstreamBody extends Readable {
  readonly #exchange: ForwardExchange;
  ended = false;

  constructor(exchange: ForwardExchange) {
    super({ highWaterMark: 65_536 });
    this.#exchange = exchange;
  }

  override _read(): void {
    this.#exchange.resume();
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    if (!this.ended) this.#exchange.clientGone();
    callback(error);
  }
}

function abortError(signal: AbortSignal | undefined): unknown {
  return signal?.reason ?? new DOMException('This operation was aborted', 'AbortError');
}

/** An exchange that resolves a promise with the upstream response instead of writing it. */
export class ForwardExchange extends Exchange {
  readonly #resolve: (response: ForwardResponse) => void;
  readonly #reject: (error: unknown) => void;
  readonly #signal: AbortSignal | undefined;
  #body: UpstreamBody | undefined = undefined;
  #response: ForwardResponse | undefined = undefined;

  constructor(
    core: ForwarderCore,
    req: IncomingMessage,
    options: ForwardOptions | undefined,
    resolve: (response: ForwardResponse) => void,
    reject: (error: unknown) => void,
  ) {
    super(core, req, options?.path);
    this.#resolve = resolve;
    this.#reject = reject;
    this.#signal = options?.signal;
    this.#onInformational = options?.onInformational;
  }

  readonly #onInformational: ForwardOptions['onInformational'];

  protected override deliverInformational(statusCode: number, headers: string[]): void {
    try {
      this.#onInformational?.(statusCode, headersToObject(headers));
    } catch {
      // A throwing listener must not break the exchange.
    }
  }

  override run(): void {
    const signal = this.#signal;
    if (signal !== undefined) {
      if (signal.aborted) {
        this.done = true;
        this.#reject(abortError(signal));
        return;
      }
      signal.addEventListener('abort', this);
    }
    super.run();
  }

  /** The `abort` listener of the caller's signal (an `EventListenerObject`: no closure per request). */
  handleEvent(): void {
    this.clientGone();
  }

  #detach(): void {
    this.#signal?.removeEventListener('abort', this);
  }

  protected deliverHead(statusCode: number, headers: string[], region: string): boolean {
    const body = new UpstreamBody(this);
    this.#body = body;
    this.#response = { statusCode, headers: headersToObject(headers), body, region, trailers: undefined };
    this.#resolve(this.#response);
    return true;
  }

  protected deliverData(chunk: Buffer): boolean {
    if (this.#body!.push(chunk)) return true;
    this.sendStalled();
    return false;
  }

  #sendTimedOut = false;

  protected sendTimedOut(): void {
    this.#sendTimedOut = true;
    this.clientGone();
  }

  protected deliverEnd(trailers: string[] | undefined): void {
    this.#detach();
    if (trailers !== undefined) this.#response!.trailers = headersToObject(trailers);
    const body = this.#body!;
    body.ended = true;
    body.push(null);
  }

  protected deliverBroken(error: unknown): void {
    this.#detach();
    const body = this.#body!;
    body.ended = true;
    body.destroy(new EdgekitError('EUPSTREAMBODY', 'the upstream response body failed', { cause: error }));
  }

  protected deliverError(error: ForwardError): void {
    this.#detach();
    this.#reject(error);
  }

  protected deliverInternal(error: unknown): void {
    this.#detach();
    this.#reject(error);
  }

  protected onClientGone(): void {
    this.#detach();
    const body = this.#body;
    if (body === undefined) {
      this.#reject(abortError(this.#signal));
    } else if (!body.destroyed) {
      body.ended = true;
      if (this.#sendTimedOut) body.destroy(new EdgekitError('ESENDTIMEOUT', 'the response body was not read within sendTimeout'));
      else body.destroy(this.#signal?.aborted ? (abortError(this.#signal) as Error) : undefined);
    }
  }
}
