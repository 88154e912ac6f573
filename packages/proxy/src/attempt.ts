import type { ClockTimer } from '@edgekit/core';
import type { Region } from '@edgekit/geo';
import type { Duplex } from 'node:stream';
import type { Dispatcher } from 'undici';
import type { ConnectionQueue, QueueEntry } from './connection-queue.js';
import type { EndpointChoice } from './endpoint-dispatcher.js';
import type { AttemptEnd, AttemptObserver } from './observer.js';
import { reportObserverError } from './observer.js';
import type { BreakerPermitLike } from './options.js';
import type { StreamedBody } from './request-body.js';

/** Where an attempt reports: the exchange that started it. */
export interface AttemptOwner {
  attemptInformational(attempt: Attempt, statusCode: number, rawHeaders: Buffer[] | string[] | null): void;
  attemptHeaders(attempt: Attempt, statusCode: number, rawHeaders: Buffer[] | string[] | null): boolean;
  attemptData(attempt: Attempt, chunk: Buffer): boolean;
  attemptComplete(attempt: Attempt, trailers: unknown): void;
  attemptError(attempt: Attempt, error: Error, streaming: boolean): void;
  attemptUpgrade(attempt: Attempt, statusCode: number, rawHeaders: Buffer[] | string[] | null, socket: Duplex): void;
  /** A queued attempt got a connection slot: dispatch it now. */
  attemptDispatch(attempt: Attempt): void;
  /** A queued attempt waited `queueTimeout` in vain. */
  attemptQueueTimeout(attempt: Attempt): void;
}

/** Waiting for response headers. */
export const PENDING = 0;
/** Headers delivered, body streaming to the client. */
export const STREAMING = 1;
/** Completed, failed or cancelled: later undici callbacks are ignored. */
export const DONE = 2;

const CANCELLED = Object.freeze(Object.assign(new Error('attempt cancelled'), { code: 'ECANCELLED' }));

/**
 * One network attempt to one region, and its undici dispatch handler. It uses undici's native
 * handler callbacks (`onConnect`/`onHeaders`/`onData`/`onComplete`/`onError`) because the newer
 * controller API is adapted onto them per request and parses every header into an object.
 */
export class Attempt implements Dispatcher.DispatchHandler, QueueEntry {
  state: number = PENDING;
  queued = false;
  queueTimer: ClockTimer | undefined = undefined;
  /** The region's connection queue: holding one of its slots, or waiting in it (`queued`). */
  connectionQueue: ConnectionQueue | undefined = undefined;
  /** Where and what to dispatch once a connection slot is free. */
  dispatcher: Dispatcher | undefined = undefined;
  request: Dispatcher.DispatchOptions | undefined = undefined;
  /** undici began writing the request on a live connection: the upstream may have seen it. */
  connected = false;
  /** Time to response headers, in milliseconds; -1 before. */
  ttfb = -1;
  /** The status received, 0 before headers. */
  status = 0;
  /** The body stream handed to undici, when the request body is streamed. */
  body: StreamedBody | undefined = undefined;
  /** Request observers' handles for this attempt (see `forwarder.observe`), told once when it ends. */
  observers: AttemptObserver[] | undefined = undefined;
  /** The endpoint a region with endpoints chose for this attempt (set only while observers listen). */
  endpoint: EndpointChoice | undefined = undefined;
  #abort: ((error?: Error) => void) | undefined = undefined;
  #resume: (() => void) | undefined = undefined;
  #settled = false;

  constructor(
    readonly owner: AttemptOwner,
    readonly region: Region,
    readonly permit: BreakerPermitLike | undefined,
    /** 1-based position among the request's network attempts. */
    readonly number: number,
    readonly hedge: boolean,
    readonly startedAt: number,
  ) {}

  onConnect(abort: (error?: Error) => void): void {
    if (this.state === DONE) {
      abort(CANCELLED);
      return;
    }
    this.#abort = abort;
    this.connected = true;
  }

  onHeaders(statusCode: number, rawHeaders: Buffer[], resume: () => void): boolean {
    if (this.state !== PENDING) return false;
    // RFC 9110 §15.2: a proxy relays interim responses (103 Early Hints), then waits for the final one.
    if (statusCode < 200) {
      this.owner.attemptInformational(this, statusCode, rawHeaders);
      return true;
    }
    this.#resume = resume;
    this.status = statusCode;
    return this.owner.attemptHeaders(this, statusCode, rawHeaders);
  }

  /** The upstream switched protocols (101) on an upgrade request: the connection is now the tunnel's. */
  onUpgrade(statusCode: number, rawHeaders: Buffer[] | string[] | null, socket: Duplex): void {
    if (this.state !== PENDING) {
      socket.destroy();
      return;
    }
    this.state = DONE;
    this.status = statusCode;
    this.#leaveQueue();
    if (this.observers !== undefined) this.#notify('complete', undefined);
    this.owner.attemptUpgrade(this, statusCode, rawHeaders, socket);
  }

  onData(chunk: Buffer): boolean {
    if (this.state !== STREAMING) return false;
    return this.owner.attemptData(this, chunk);
  }

  /** `trailers`: raw name/value pairs over HTTP/1.1, an object over HTTP/2 (see `trailerList`). */
  onComplete(trailers: unknown): void {
    if (this.state !== STREAMING) return;
    this.state = DONE;
    this.#leaveQueue();
    if (this.observers !== undefined) this.#notify('complete', undefined);
    this.owner.attemptComplete(this, trailers);
  }

  onError(error: Error): void {
    const state = this.state;
    if (state === DONE) return;
    // A 204 or 304 ends with its header section whatever Content-Length says (RFC 9112 §6.3;
    // RFC 9110 §8.6 lets a 304 carry the selected representation's length). undici still counts
    // the body against it and fails the response, then closes the connection (good: no bogus body
    // byte is read as the next response); the message itself was complete.
    if (state === STREAMING && (this.status === 204 || this.status === 304) && (error as { code?: unknown }).code === 'UND_ERR_RES_CONTENT_LENGTH_MISMATCH') {
      this.onComplete(null);
      return;
    }
    this.state = DONE;
    this.#leaveQueue();
    if (this.observers !== undefined) this.#notify('failed', error);
    this.owner.attemptError(this, error, state === STREAMING);
  }

  /** Stops the attempt; the upstream connection is closed if the request was on it. */
  cancel(): void {
    if (this.state === DONE) return;
    this.state = DONE;
    this.#leaveQueue();
    if (this.observers !== undefined) this.#notify('cancelled', undefined);
    const abort = this.#abort;
    // Not on a connection yet: undici calls onConnect later, which aborts then.
    if (abort !== undefined) abort(CANCELLED);
  }

  onQueueLeft(): void {
    if (this.state === PENDING) this.owner.attemptDispatch(this);
    else this.#leaveQueue();
  }

  onQueueTimeout(): void {
    if (this.state !== PENDING) return;
    this.state = DONE;
    this.connectionQueue = undefined;
    if (this.observers !== undefined) this.#notify('failed', undefined);
    this.owner.attemptQueueTimeout(this);
  }

  /** Gives the connection slot back, or leaves the queue. */
  #leaveQueue(): void {
    const queue = this.connectionQueue;
    if (queue === undefined) return;
    this.connectionQueue = undefined;
    if (this.queued) queue.withdraw(this);
    else queue.leave();
  }

  #notify(outcome: AttemptEnd['outcome'], error: unknown): void {
    const observers = this.observers!;
    this.observers = undefined;
    const end: AttemptEnd = { status: this.status, outcome, error, endpoint: this.endpoint };
    for (const observer of observers) {
      try {
        observer.end?.(end);
      } catch (err) {
        reportObserverError(err, 'attempt.end');
      }
    }
  }

  /** Resumes a response paused for backpressure. */
  resume(): void {
    this.#resume?.();
  }

  /** Settles the breaker permit as a success. */
  succeed(): void {
    if (this.#settled) return;
    this.#settled = true;
    try {
      this.permit?.success();
    } catch {
      // A faulty breaker must not break the request.
    }
  }

  /** Settles the breaker permit as a failure. */
  fail(error: unknown): void {
    if (this.#settled) return;
    this.#settled = true;
    try {
      this.permit?.failure(error);
    } catch {
      // A faulty breaker must not break the request.
    }
  }

  /** Frees the breaker permit without counting the call (client gone, request at fault, lost race). */
  release(): void {
    if (this.#settled) return;
    this.#settled = true;
    try {
      this.permit?.release();
    } catch {
      // A faulty breaker must not break the request.
    }
  }
}
