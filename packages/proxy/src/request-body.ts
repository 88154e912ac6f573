import type { IncomingMessage } from 'node:http';
import { Readable } from 'node:stream';
import type { ProgressWatch } from './progress.js';
import { type RequestTrailerSource, forwardableTrailers } from './request-trailers.js';

/** Told when the client's request stream fails or ends early (the client went away mid-upload). */
export interface ClientGoneListener {
  clientGone(): void;
  /** An upstream starts taking the body (for `Expect: 100-continue`). */
  bodyPulled(): void;
}

/**
 * Feeds the client's request body to one upstream attempt, with backpressure, without handing the
 * `IncomingMessage` itself to undici (which destroys the streams it is given). It reads nothing
 * until the upstream connection pulls, so an attempt that never connected leaves the body
 * untouched for the next region; `started` tells whether any byte was taken.
 */
export class StreamedBody extends Readable implements RequestTrailerSource {
  /** At least one chunk was taken from the client request: the body cannot be replayed. */
  started = false;
  readonly #req: IncomingMessage;
  readonly #owner: ClientGoneListener;
  readonly #watch: ProgressWatch | undefined;
  #attached = false;
  #ended = false;
  /** The chunks taken so far while they fit in the replay limit; `undefined` past it (or when not recording). */
  #kept: Buffer[] | undefined;
  #keptBytes = 0;
  readonly #keepLimit: number;

  /**
   * `watch`: the client's progress deadline, running while this body waits for client bytes.
   * `keepLimit`: bytes kept so a body the client finished within that size can be sent again (`0`: none).
   */
  constructor(req: IncomingMessage, owner: ClientGoneListener, watch?: ProgressWatch, keepLimit = 0) {
    super({ highWaterMark: 65_536 });
    this.#req = req;
    this.#owner = owner;
    this.#watch = watch;
    this.#keepLimit = keepLimit;
    this.#kept = keepLimit > 0 ? [] : undefined;
  }

  /** The whole body when the client finished it within the keep limit, to send again; else `undefined`. */
  replay(): Buffer | undefined {
    if (!this.started) return Buffer.alloc(0);
    if (!this.#ended || this.#kept === undefined) return undefined;
    return Buffer.concat(this.#kept, this.#keptBytes);
  }

  /** The client's trailers that may be forwarded, once the body ended (an HTTP/2 upstream sends them). */
  requestTrailers(): Record<string, string | string[]> | undefined {
    return this.#ended ? forwardableTrailers(this.#req) : undefined;
  }

  readonly #onData = (chunk: Buffer): void => {
    this.started = true;
    const kept = this.#kept;
    if (kept !== undefined) {
      this.#keptBytes += chunk.length;
      if (this.#keptBytes <= this.#keepLimit) kept.push(chunk);
      else this.#kept = undefined;
    }
    this.#watch?.progress(chunk.length);
    if (!this.push(chunk)) {
      this.#req.pause();
      this.#watch?.hold();
    }
  };

  readonly #onEnd = (): void => {
    this.#ended = true;
    this.#watch?.stop();
    this.push(null);
  };

  readonly #onBroken = (): void => {
    if (this.#ended) return;
    this.#owner.clientGone();
    this.destroy(Object.assign(new Error('the client aborted the request body'), { code: 'ECLIENTABORTED' }));
  };

  override _read(): void {
    const req = this.#req;
    if (!this.#attached) {
      this.#attached = true;
      this.#owner.bodyPulled();
      if (req.readableEnded) {
        this.#onEnd();
        return;
      }
      req.on('data', this.#onData);
      req.on('end', this.#onEnd);
      req.on('error', this.#onBroken);
      req.on('close', this.#onBroken);
    }
    this.#watch?.wait();
    req.resume();
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.#watch?.hold();
    if (this.#attached) {
      const req = this.#req;
      req.off('data', this.#onData);
      req.off('end', this.#onEnd);
      req.off('error', this.#onBroken);
      req.off('close', this.#onBroken);
      // Left paused, a partly read body would stall Node's request dumping after the response.
      if (!req.readableEnded) req.resume();
    }
    callback(error);
  }
}

/**
 * Reads a whole request body (of known, small length) into one buffer, so it can be sent again.
 * Rejects when the client goes away first. `watch` is the client's progress deadline.
 */
export function readBody(req: IncomingMessage, watch?: ProgressWatch): Promise<Buffer> {
  return new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let length = 0;
    const cleanup = (): void => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onBroken);
      req.off('close', onBroken);
    };
    const onData = (chunk: Buffer): void => {
      chunks.push(chunk);
      length += chunk.length;
      watch?.progress(chunk.length);
    };
    const onEnd = (): void => {
      watch?.stop();
      cleanup();
      resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, length));
    };
    const onBroken = (): void => {
      cleanup();
      reject(Object.assign(new Error('the client aborted the request body'), { code: 'ECLIENTABORTED' }));
    };
    if (req.readableEnded) {
      resolve(Buffer.alloc(0));
      return;
    }
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onBroken);
    req.on('close', onBroken);
    watch?.wait();
  });
}
