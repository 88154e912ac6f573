import type { Duplex } from 'node:stream';
import type { Dispatcher } from 'undici';
import { Attempt, DONE, PENDING, STREAMING } from './attempt.js';
import { EndpointOverflowError } from './endpoint-dispatcher.js';
import type { ConnectionQueue } from './connection-queue.js';
import { GrpcStatusError, UpstreamStatusError, classifyError, isRefusedStream, isTimeout } from './failure.js';
import type { Target } from './forwarder-core.js';
import { observeAttempt, observeEnd } from './observer.js';
import { ProgressWatch } from './progress.js';
import { StreamedBody } from './request-body.js';
import { buildResponseHeaders, upgradeHeaders } from './response-headers.js';
import { AdmittedExchange } from './exchange-admission.js';
import { GRPC_STATUS, encodeGrpcMessage, grpcStatusIn, grpcStatusInRaw } from './grpc.js';
import { isStreamingResponse, trailerList } from './response-headers.js';
import { BODY_BUFFERED, BODY_STREAMED } from './exchange-state.js';
import { removeNamedHeaders } from './hop-by-hop.js';

const CONTENT_LENGTH = ['content-length'];

/**
 * One client request on its way upstream: picks candidates, runs attempts with failover and hedging,
 * and hands the winning response to a sink (a Node response, or the promise of `forward()`).
 * Subclasses implement the `deliver*` methods.
 */
export abstract class Exchange extends AdmittedExchange {
  protected launch(hedge: boolean): void {
    const region = this.regions.nextRegion!;
    const core = this.core;
    const options = core.options;
    // The first attempt of a bodiless or streamed request starts when handling did: one clock read less.
    const first = this.attempts.length === 0 && this.bodyKind !== BODY_BUFFERED;
    const attempt = new Attempt(this, region, this.regions.nextPermit, this.attempts.length + 1, hedge, first ? this.startedAt : options.clock.now());
    this.regions.nextRegion = undefined;
    this.regions.nextPermit = undefined;
    this.attempts.push(attempt);
    this.inFlight++;
    const events = core.events;
    if (events.hasListeners('attempt')) events.emit('attempt', { region: region.name, attempt: attempt.number, hedge });
    let body: Buffer | StreamedBody | null = null;
    if (this.bodyKind === BODY_BUFFERED) {
      body = this.buffer;
    } else if (this.replayBody !== undefined) {
      // A streamed body the client finished within `maxReplayBody`, sent again from memory.
      body = this.replayBody;
    } else if (this.bodyKind === BODY_STREAMED) {
      // Kept while it fits in `maxReplayBody`, so a refused HTTP/2 stream or a gRPC call answered
      // UNAVAILABLE (never processed) can go elsewhere once the client finished the body.
      const streamed = new StreamedBody(this.req, this, this.bodyWatch, options.maxReplayBody);
      attempt.body = streamed;
      body = streamed;
    }
    let target: Target;
    try {
      target = core.targetOf(region);
    } catch (error) {
      // A selector returned a region whose URL cannot be used: a configuration error, not the request's.
      attempt.cancel();
      attempt.release();
      this.retire(attempt);
      this.internal(error);
      return;
    }
    const path = target.basePath === '' ? this.path : target.basePath + this.path;
    const headers = this.observers === undefined ? this.headers : this.observeAttempt(attempt, target, path);
    attempt.dispatcher = target.dispatcher;
    const request: Dispatcher.DispatchOptions = { path, method: this.method as Dispatcher.HttpMethod, headers, body, upgrade: this.upgradeProtocol };
    // A response that may be a long-lived stream is timed by the exchange (see `watchBody`), not by undici.
    if (this.mayStream) request.bodyTimeout = 0;
    // The client waits for `100 Continue`: an HTTP/2 upstream is asked for its own (undici's HTTP/1.1 cannot send `Expect`).
    if (this.continuePending && attempt.body !== undefined) request.expectContinue = true;
    attempt.request = request;
    const queue: ConnectionQueue = target.queue;
    attempt.connectionQueue = queue;
    // Errors, even synchronous ones, arrive through attempt.onError.
    if (queue.enter(attempt)) target.dispatcher.dispatch(attempt.request, attempt);
    // An endpoint picked for the decision event belongs to this first dispatch only.
    this.preselected = undefined;
    if (options.hedgeDelay >= 0 && attempt.state === PENDING && !this.done && this.mayHedge()) {
      const clock = options.clock;
      clock.clearTimeout(this.hedgeTimer);
      this.hedgeCallback ??= () => this.hedgeFire();
      this.hedgeTimer = clock.setTimeout(this.hedgeCallback, options.hedgeDelay);
    }
  }

  /** Tells the request observers an attempt starts; returns the header list for it, with their fields set. */
  protected observeAttempt(attempt: Attempt, target: Target, path: string): string[] {
    const start = { region: attempt.region.name, attempt: attempt.number, hedge: attempt.hedge, method: this.method, origin: target.origin, path };
    const { headers, handles } = observeAttempt(this.observers!, start, this.headers);
    attempt.observers = handles;
    return headers;
  }

  attemptDispatch(attempt: Attempt): void {
    attempt.dispatcher!.dispatch(attempt.request!, attempt);
  }

  attemptQueueTimeout(attempt: Attempt): void {
    this.retire(attempt);
    // The pool was busy, not failing: nothing to count against the region.
    attempt.release();
    if (this.done) return;
    this.queueTimedOut = true;
    if (this.inFlight > 0 || this.winner !== undefined) return;
    if (this.prepareRetry(attempt)) {
      this.failover(attempt, 'queue');
      return;
    }
    this.finishFailure();
  }

  protected mayHedge(): boolean {
    const options = this.core.options;
    return (
      this.idempotent &&
      this.upgradeProtocol === undefined &&
      this.bodyKind !== BODY_STREAMED &&
      this.hedges < options.hedgeMax &&
      this.attempts.length < options.maxAttempts &&
      this.regions.cursor < this.regions.regions.length
    );
  }

  protected hedgeFire(): void {
    this.hedgeTimer = undefined;
    if (this.done || this.winner !== undefined || this.inFlight === 0 || !this.mayHedge()) return;
    if (!this.regions.acquireNext()) return;
    const budget = this.core.options.retryBudget;
    const events = this.core.events;
    if (budget !== undefined && !budget.tryRetry()) {
      if (events.hasListeners('budgetExhausted')) events.emit('budgetExhausted', { region: this.regions.nextRegion!.name, kind: 'hedge' });
      this.regions.returnNext();
      return;
    }
    this.hedges++;
    if (events.hasListeners('hedge')) {
      const waiting = this.attempts.find((a) => a.state === PENDING);
      events.emit('hedge', { waiting: waiting?.region.name ?? '', to: this.regions.nextRegion!.name });
    }
    this.launch(true);
  }

  // ------------------------------------------------------------------ undici callbacks (via Attempt)

  /** Time to the upstream's answer: kept on the attempt and fed to the selector's latency order. */
  protected recordTtfb(attempt: Attempt): void {
    const core = this.core;
    attempt.ttfb = core.options.clock.now() - attempt.startedAt;
    core.selector.recordLatency?.(attempt.region.name, attempt.ttfb);
  }

  /** A 1xx interim response of an attempt still running, relayed unless a final answer was chosen. */
  attemptInformational(attempt: Attempt, statusCode: number, rawHeaders: Buffer[] | string[] | null): void {
    if (this.done || this.winner !== undefined || statusCode === 101) return;
    this.deliverInformational(statusCode, buildResponseHeaders(rawHeaders, attempt.region.name, { viaEntry: undefined, servedByHeader: undefined }));
  }

  attemptHeaders(attempt: Attempt, statusCode: number, rawHeaders: Buffer[] | string[] | null): boolean {
    const core = this.core;
    const options = core.options;
    const region = attempt.region.name;
    this.recordTtfb(attempt);
    if (this.done) {
      attempt.cancel();
      attempt.release();
      this.retire(attempt);
      return false;
    }
    let failure: boolean;
    let retry: boolean;
    const grpcStatus = this.grpc && statusCode === 200 ? grpcStatusInRaw(rawHeaders) : -1;
    if (grpcStatus >= 0) {
      // A trailers-only gRPC answer: its status decides (UNAVAILABLE: not processed, safe to send elsewhere).
      failure = options.grpcFailureStatuses.has(grpcStatus);
      if (failure) this.settleFailure(attempt, new GrpcStatusError(region, grpcStatus), 'status');
      retry = options.grpcRetryStatuses.has(grpcStatus) && this.mayReplayCall(attempt);
    } else {
      failure = options.failureStatuses.has(statusCode);
      if (failure) this.settleFailure(attempt, new UpstreamStatusError(region, statusCode), 'status');
      retry = options.retryStatuses.has(statusCode) && this.mayRetry(attempt);
    }
    if (retry) {
      if (this.inFlight > 1) {
        // A hedge is still racing: drop this answer and wait for it.
        this.dropFailedStatus(attempt, failure, statusCode);
        return false;
      }
      if (this.retryAfterAllows(statusCode, rawHeaders) && this.prepareRetry(attempt)) {
        this.dropFailedStatus(attempt, failure, statusCode);
        this.failover(attempt, 'status', statusCode);
        return false;
      }
    }
    const headers = buildResponseHeaders(rawHeaders, region, core.responseHeaders);
    // RFC 9110 §8.6: a 204 carries no Content-Length (an origin's is bogus: the message has no body).
    if (statusCode === 204) removeNamedHeaders(headers, CONTENT_LENGTH);
    this.clearDeadline();
    this.winner = attempt;
    attempt.state = STREAMING;
    this.clearHedge();
    this.cancelOthers(attempt);
    this.trailersOnly = grpcStatus >= 0;
    if (!this.deliverHead(statusCode, headers, region)) {
      // Headers Node refuses to write (control characters): the upstream is at fault.
      this.winner = undefined;
      attempt.cancel();
      attempt.fail(new UpstreamStatusError(region, statusCode));
      this.retire(attempt);
      this.fail('EUPSTREAM', 'the upstream response could not be relayed');
      return false;
    }
    // A gRPC call's outcome is in its trailers: its permit is settled when they arrive.
    if (this.grpc && grpcStatus === -1 && statusCode === 200) this.settleAtEnd = true;
    else if (!failure) this.settleSuccess(attempt);
    this.watchBody(headers);
    return true;
  }

  protected dropFailedStatus(attempt: Attempt, failure: boolean, statusCode: number): void {
    if (!failure) this.settleSuccess(attempt);
    attempt.cancel();
    this.retire(attempt);
    this.lastFailure = statusCode;
  }

  attemptData(attempt: Attempt, chunk: Buffer): boolean {
    if (this.done || attempt !== this.winner) return false;
    const watch = this.idleWatch;
    if (watch === undefined) return this.deliverData(chunk);
    watch.progress(chunk.length);
    if (this.deliverData(chunk)) return true;
    // The client applies backpressure: time spent waiting on it is not the upstream's silence.
    watch.hold();
    return false;
  }

  attemptComplete(attempt: Attempt, rawTrailers: unknown): void {
    this.retire(attempt);
    if (this.done) return;
    const trailers = trailerList(rawTrailers);
    if (this.settleAtEnd) this.settleCall(attempt, grpcStatusIn(trailers));
    this.finish();
    this.deliverEnd(trailers);
    this.emitResponse(attempt);
  }

  /**
   * Starts the idle timer of a response whose request may stream: `streamIdleTimeout` for a
   * streaming response (`text/event-stream`, gRPC, or a `streaming` request without
   * `content-length`), `bodyTimeout` for any other. A streaming response is ended by `close()`.
   */
  protected watchBody(headers: readonly string[]): void {
    if (!this.mayStream) return;
    const options = this.core.options;
    this.streamingResponse = isStreamingResponse(headers, this.streamFlagged);
    const timeout = this.streamingResponse ? options.streamIdleTimeout : options.pool.bodyTimeout;
    if (timeout > 0) {
      this.idleWatch = new ProgressWatch(options.clock, timeout, 0, () => this.endStream('the upstream stream was idle for too long'));
      this.idleWatch.wait();
    }
    if (this.streamingResponse) this.core.streams.add(this);
  }

  /**
   * Ends a response in flight on the proxy's side (idle too long, or `close()`): a streaming one
   * cleanly (SSE ended, an HTTP/2 stream closed with NO_ERROR, gRPC with UNAVAILABLE trailers),
   * any other by cutting it, since its client could not tell it from a complete one.
   */
  endStream(reason: string): void {
    const winner = this.winner;
    if (this.done || winner === undefined) return;
    this.finish();
    winner.release();
    winner.cancel();
    this.retire(winner);
    if (!this.streamingResponse) {
      const error = Object.assign(new Error(reason), { code: 'UND_ERR_BODY_TIMEOUT' });
      this.emitError(winner.status, 'EBODY', error);
      this.deliverBroken(error);
      return;
    }
    this.deliverEnd(this.grpc ? ['grpc-status', String(GRPC_STATUS.UNAVAILABLE), 'grpc-message', encodeGrpcMessage(reason)] : undefined);
    this.emitResponse(winner);
  }

  /** Tells listeners and request observers that `attempt` answered the request. */
  protected emitResponse(attempt: Attempt): void {
    const events = this.core.events;
    if (this.observers !== undefined || events.hasListeners('response')) {
      const event = {
        method: this.method,
        region: attempt.region.name,
        status: attempt.status,
        attempts: this.attempts.length,
        durationMs: this.core.options.clock.now() - this.startedAt,
        ttfbMs: attempt.ttfb,
      };
      events.emit('response', event);
      if (this.observers !== undefined) this.observeEnd({ type: 'response', event });
    }
  }

  attemptUpgrade(attempt: Attempt, statusCode: number, rawHeaders: Buffer[] | string[] | null, upstream: Duplex): void {
    const region = attempt.region.name;
    this.recordTtfb(attempt);
    this.retire(attempt);
    if (this.done) {
      attempt.release();
      upstream.destroy();
      return;
    }
    this.finish();
    this.winner = attempt;
    this.clearHedge();
    this.clearDeadline();
    this.cancelOthers(attempt);
    this.settleSuccess(attempt);
    this.deliverUpgrade(statusCode, upgradeHeaders(rawHeaders, region, this.core.responseHeaders), upstream, region);
    this.emitResponse(attempt);
  }

  attemptError(attempt: Attempt, error: Error, streaming: boolean): void {
    this.retire(attempt);
    if (streaming) {
      // The body broke after its head was sent: nothing to fail over to, the client sees a cut response.
      if (this.settleAtEnd) this.settleFailure(attempt, error, 'reset');
      if (this.done) return;
      this.finish();
      this.emitError(attempt.status, 'EBODY', error);
      this.deliverBroken(error);
      return;
    }
    if (this.done) {
      attempt.release();
      return;
    }
    const kind = classifyError(error, attempt.connected);
    if (error instanceof EndpointOverflowError) {
      // Every endpoint of the region is full: answer at once rather than queue or spill elsewhere.
      attempt.release();
      this.overflow = error;
    } else if (kind === 'invalid') {
      attempt.release();
      this.invalid = error;
    } else {
      this.settleFailure(attempt, error, kind);
      if (isTimeout(error)) this.timedOut = true;
      this.lastFailure = error;
    }
    if (this.inFlight > 0 || this.winner !== undefined) return;
    const retryable = isRefusedStream(error) ? this.mayReplayCall(attempt) : this.mayRetry(attempt);
    if (kind !== 'invalid' && this.overflow === undefined && retryable && this.prepareRetry(attempt)) {
      this.failover(attempt, kind);
      return;
    }
    this.finishFailure();
  }

  // ------------------------------------------------------------------ endings

  /** The sink can take more body: resume the upstream. */
  resume(): void {
    this.sendWatch?.hold();
    this.idleWatch?.wait();
    this.winner?.resume();
  }

  /** The client went away (or the consumer of `forward()` gave up): abort upstream, free permits. */
  clientGone(): void {
    if (this.done) return;
    this.finish();
    this.clearHedge();
    this.clearRetry();
    this.clearDeadline();
    const winner = this.winner;
    const events = this.core.events;
    if (this.observers !== undefined || events.hasListeners('abort')) {
      const waiting = this.attempts.find((a) => a.state === PENDING);
      const event = { method: this.method, region: (winner ?? waiting)?.region.name, phase: winner === undefined ? ('waiting' as const) : ('streaming' as const) };
      events.emit('abort', event);
      if (this.observers !== undefined) this.observeEnd({ type: 'abort', event });
    }
    // A call whose permit waited for its trailers is not counted either way.
    winner?.release();
    if (winner !== undefined && winner.state !== DONE) {
      winner.cancel();
      this.retire(winner);
    }
    this.cancelOthers(undefined);
    this.onClientGone();
  }

}
