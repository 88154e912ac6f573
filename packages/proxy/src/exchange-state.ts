import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { Attempt, DONE } from './attempt.js';
import { Candidates } from './candidates.js';
import { ForwardError, type ForwardErrorCode } from './errors.js';
import type { FailureKind } from './events.js';
import { EndpointDispatcher, type EndpointMemory, EndpointOverflowError, type Preselection } from './endpoint-dispatcher.js';
import { GrpcStatusError, invalidDetail } from './failure.js';
import type { ForwarderCore } from './forwarder-core.js';
import { type RequestEnd, type RequestObserver, observeEnd } from './observer.js';
import { ProgressWatch } from './progress.js';
import { type RequestScan } from './request-headers.js';
import { backoffDelay, retryAfterMs } from './retry-policy.js';
import type { RouteFailures } from './route-failures.js';

export const BODY_NONE = 0;
export const BODY_BUFFERED = 1;
export const BODY_STREAMED = 2;

/**
 * The state of one client request on its way upstream, and how it ends: the answer it fails with,
 * the retry rules its attempts follow, the timers it holds. See {@link Exchange}.
 */
export abstract class ExchangeState implements RequestScan, EndpointMemory {
  contentLength = -1;
  chunked = false;
  host: string | undefined = undefined;
  xForwardedFor: string | undefined = undefined;
  forwarded: string | undefined = undefined;
  xForwardedProto: string | undefined = undefined;
  xForwardedHost: string | undefined = undefined;
  clientClaims: string[] | undefined = undefined;
  via: string | undefined = undefined;
  contentType: string | undefined = undefined;
  /** The request is a gRPC call (`content-type: application/grpc*`): errors are answered as gRPC statuses. */
  grpc = false;
  /** Milliseconds from the start until response headers (`requestTimeout`, or a shorter `grpc-timeout`); `0`: none. */
  protected deadline = 0;
  /** The response may be a long-lived stream (gRPC, `Accept: text/event-stream`, the `streaming` option): timed by `idleWatch`. */
  protected mayStream = false;
  /** The response being relayed is a stream (see `watchBody`). */
  protected streamingResponse = false;
  /** The `streaming` option picked this request. */
  protected streamFlagged = false;
  /** Time without upstream bytes while the exchange waits on the upstream. */
  protected idleWatch: ProgressWatch | undefined = undefined;
  /** The upstream answered gRPC "Trailers-Only" (`grpc-status` in the response head, no body). */
  protected trailersOnly = false;
  /** The winning gRPC call's permit waits for the `grpc-status` of its trailers. */
  protected settleAtEnd = false;
  /** A streamed body the client finished within `maxReplayBody`, kept to send again to the next region. */
  protected replayBody: Buffer | undefined = undefined;
  /** The client waits for `100 Continue` before it sends its body (the sink took the request through `checkContinue`). */
  protected continuePending = false;
  grpcTimeout: string | undefined = undefined;
  accept: string | undefined = undefined;
  expectContinue = false;
  protected readonly core: ForwarderCore;
  protected readonly req: IncomingMessage;
  /** Set once the outcome is decided (error answered, response ended, client gone). */
  protected done = false;
  protected winner: Attempt | undefined = undefined;
  protected method = 'GET';
  /** The protocol asked for in `Upgrade`, set by sinks that can take a tunnel; `undefined` for plain requests. */
  protected upgradeProtocol: string | undefined = undefined;
  protected readonly pathOverride: string | undefined;
  protected path = '/';
  protected startedAt = 0;
  protected headers: string[] = [];
  protected bodyKind = BODY_NONE;
  protected buffer: Buffer | null = null;
  protected idempotent = false;
  protected readonly regions: Candidates;
  protected readonly attempts: Attempt[] = [];
  protected inFlight = 0;
  protected timedOut = false;
  protected invalid: unknown = undefined;
  protected lastFailure: unknown = undefined;
  protected hedges = 0;
  protected hedgeTimer: object | undefined = undefined;
  protected hedgeCallback: (() => void) | undefined = undefined;
  protected observers: RequestObserver[] | undefined = undefined;
  /** Endpoints tried so far, in regions that list endpoints (see `EndpointDispatcher`). */
  triedEndpoints: Set<string> | undefined = undefined;
  /** The endpoint picked for the decision event, taken by the first attempt's dispatch. */
  preselected: Preselection | undefined = undefined;
  /** Delay the next retry waits at least (a `Retry-After` within `maxRetryAfter`). */
  protected retryAfterWait = 0;
  protected retries = 0;
  protected retryTimer: object | undefined = undefined;
  protected deadlineTimer: object | undefined = undefined;
  protected overflow: EndpointOverflowError | undefined = undefined;
  /** The key this request counts against for `maxInFlightPerClient`, once counted. */
  protected clientKey: string | undefined = undefined;
  /** The route for failure attribution; `undefined` when attribution is off. */
  protected route: string | undefined = undefined;
  /** An attempt of this request failed as the route's (see `RouteFailures`). */
  protected routeFailed = false;
  protected queueTimedOut = false;
  protected panic = false;
  protected bodyWatch: ProgressWatch | undefined = undefined;
  protected sendWatch: ProgressWatch | undefined = undefined;

  constructor(core: ForwarderCore, req: IncomingMessage, pathOverride: string | undefined) {
    this.core = core;
    this.req = req;
    this.pathOverride = pathOverride;
    this.regions = new Candidates(core.options.breakers, core.events);
  }

  /** Marks the outcome decided: frees the client's in-flight slot and stops the progress watches. */
  protected finish(): void {
    this.done = true;
    const key = this.clientKey;
    if (key !== undefined) {
      this.clientKey = undefined;
      this.core.leaveClient(key);
    }
    this.bodyWatch?.stop();
    this.sendWatch?.stop();
    this.idleWatch?.stop();
    if (this.streamingResponse) this.core.streams.delete(this);
  }

  /** An upstream starts taking the request body: a client waiting on `Expect: 100-continue` may send it now. */
  bodyPulled(): void {
    if (!this.continuePending) return;
    this.continuePending = false;
    this.deliverContinue();
  }

  /** The sink could not take a body chunk: the client must take it within `sendTimeout`. */
  protected sendStalled(): void {
    const options = this.core.options;
    if (options.sendTimeout === 0 || this.done) return;
    (this.sendWatch ??= new ProgressWatch(options.clock, options.sendTimeout, 0, () => this.sendTimedOut())).wait();
  }

  /** The client did not take response bytes within `sendTimeout`: close its connection (which ends the exchange). */
  protected abstract sendTimedOut(): void;

  /** Tells the request observers how the request ended (at most once). */
  protected observeEnd(end: RequestEnd): void {
    const observers = this.observers!;
    this.observers = undefined;
    observeEnd(observers, end);
  }

  // ------------------------------------------------------------------ sink

  /** Writes the response head; `false` when the headers cannot be written (the upstream sent garbage). */
  protected abstract deliverHead(statusCode: number, headers: string[], region: string): boolean;
  /** Writes a body chunk; `false` asks the upstream to pause until {@link Exchange.resume}. */
  protected abstract deliverData(chunk: Buffer): boolean;
  /** Ends the response, with trailers (`[name, value, ...]`) when the upstream sent some. */
  protected abstract deliverEnd(trailers: string[] | undefined): void;
  /** Tells a client waiting on `Expect: 100-continue` to send its body (`100 Continue`). */
  protected deliverContinue(): void {}
  /** Ends a relayed response early, on the proxy's side (idle stream, shutdown). */
  abstract endStream(reason: string): void;
  /** The upstream body failed after the head was delivered. */
  protected abstract deliverBroken(error: unknown): void;
  /** Answers with a problem. */
  protected abstract deliverError(error: ForwardError): void;
  /** A failure that is not an HTTP answer (a bug, a consumed body). */
  protected abstract deliverInternal(error: unknown): void;
  /** The client went away; release what the sink holds. */
  protected abstract onClientGone(): void;
  /** Relays a 1xx interim response (RFC 9110 §15.2); sinks that cannot relay one drop it. */
  protected deliverInformational(_statusCode: number, _headers: string[]): void {}
  /** The upstream switched protocols: join the client to `upstream`. Only sinks that set `upgradeProtocol` get this. */
  protected deliverUpgrade(_statusCode: number, _headers: string[], upstream: Duplex, _region: string): void {
    upstream.destroy();
  }

  /** Starts the attempt to `regions.nextRegion`, a hedge when `hedge`. */
  protected abstract launch(hedge: boolean): void;
  /** The client went away (or the consumer of `forward()` gave up): abort upstream, free permits. */
  abstract clientGone(): void;

  // ------------------------------------------------------------------ retry rules

  /** Whether the request may go to another region after `attempt` (RFC 9110 §9.2.2 and body replay). */
  protected mayRetry(attempt: Attempt): boolean {
    if (this.bodyKind === BODY_STREAMED && attempt.body?.started === true) return false;
    if (!attempt.connected) return true;
    if (!this.idempotent) return false;
    // A route failing in two regions while the rest of them answer: another region will not help.
    const route = this.route;
    return !(this.routeFailed && route !== undefined && this.core.routeFailures.failingElsewhere(route, attempt.region.name, this.core.options.clock.now()));
  }

  /**
   * Settles a failed attempt's permit: a failure the route alone has (see `RouteFailures`) frees the
   * permit without counting; any other one counts against the region.
   */
  protected settleFailure(attempt: Attempt, error: unknown, kind: FailureKind): void {
    const route = this.route;
    if (route !== undefined && kind !== 'connect' && attempt.connected) {
      const routes: RouteFailures = this.core.routeFailures;
      const region = attempt.region.name;
      if (!routes.failure(region, route, this.core.options.clock.now(), this.routeFailed, this.core.healthVouchesFor(region))) {
        this.routeFailed = true;
        attempt.release();
        return;
      }
    }
    attempt.fail(error);
  }

  /**
   * Whether a gRPC call answered UNAVAILABLE may go to another endpoint or region: gRPC treats that
   * status as not processed, so any method may, as long as the request body can be sent again.
   */
  protected mayReplayCall(attempt: Attempt): boolean {
    const body = attempt.body;
    if (this.bodyKind !== BODY_STREAMED || body === undefined || !body.started) return true;
    const replay = body.replay();
    if (replay === undefined) return false;
    this.replayBody = replay;
    return true;
  }

  /** Settles a gRPC call's permit by the `grpc-status` of its trailers (`-1`: none). */
  protected settleCall(attempt: Attempt, grpcStatus: number): void {
    this.settleAtEnd = false;
    if (grpcStatus >= 0 && this.core.options.grpcFailureStatuses.has(grpcStatus)) this.settleFailure(attempt, new GrpcStatusError(attempt.region.name, grpcStatus), 'status');
    else this.settleSuccess(attempt);
  }

  /** Settles a successful attempt's permit and remembers the route's success in its region. */
  protected settleSuccess(attempt: Attempt): void {
    attempt.succeed();
    const route = this.route;
    if (route !== undefined) this.core.routeFailures.success(attempt.region.name, route, attempt.startedAt + attempt.ttfb);
  }

  /** Finds the next region for a retry within `maxAttempts`, the retry budget and the deadline: the same region first while it has untried endpoints. */
  protected prepareRetry(from: Attempt): boolean {
    const options = this.core.options;
    if (this.attempts.length >= options.maxAttempts) return false;
    if (this.deadlineTimer !== undefined && options.clock.now() + this.retryAfterWait >= this.startedAt + this.deadline) return false;
    const dispatcher = this.core.targetOf(from.region).dispatcher;
    const untried = dispatcher instanceof EndpointDispatcher && dispatcher.hasUntried(this);
    if (!this.regions.acquireRetry(from.region, untried, this.attempts.length + 1 >= options.maxAttempts)) return false;
    const budget = options.retryBudget;
    if (budget !== undefined && !budget.tryRetry()) {
      const events = this.core.events;
      if (events.hasListeners('budgetExhausted')) events.emit('budgetExhausted', { region: this.regions.nextRegion!.name, kind: 'retry' });
      this.regions.returnNext();
      return false;
    }
    return true;
  }

  protected failover(from: Attempt, reason: FailureKind, status?: number): void {
    const events = this.core.events;
    if (events.hasListeners('failover')) {
      const event: { from: string; to: string; reason: FailureKind; status?: number } = { from: from.region.name, to: this.regions.nextRegion!.name, reason };
      if (status !== undefined) event.status = status;
      events.emit('failover', event);
    }
    const sameRegion = this.regions.nextRegion === from.region;
    const wait = Math.max(this.retryAfterWait, sameRegion ? backoffDelay(this.core.options.retryPolicy, this.retries) : 0);
    this.retries++;
    this.retryAfterWait = 0;
    if (wait <= 0) {
      this.launch(false);
      return;
    }
    this.retryTimer = this.core.options.clock.setTimeout(() => {
      this.retryTimer = undefined;
      if (this.done) this.regions.returnNext();
      else this.launch(false);
    }, wait);
  }

  /** For a 503 or 429 with `Retry-After`: false when it asks for longer than `maxRetryAfter` (the answer is relayed). */
  protected retryAfterAllows(statusCode: number, rawHeaders: Buffer[] | string[] | null): boolean {
    if (statusCode !== 503 && statusCode !== 429) return true;
    const wait = retryAfterMs(rawHeaders, Date.now());
    if (wait === undefined) return true;
    if (wait > this.core.options.retryPolicy.maxRetryAfter) return false;
    this.retryAfterWait = wait;
    return true;
  }

  protected clearHedge(): void {
    if (this.hedgeTimer !== undefined) {
      this.core.options.clock.clearTimeout(this.hedgeTimer);
      this.hedgeTimer = undefined;
    }
  }

  protected clearRetry(): void {
    if (this.retryTimer !== undefined) {
      this.core.options.clock.clearTimeout(this.retryTimer);
      this.retryTimer = undefined;
      this.regions.returnNext();
    }
  }

  protected clearDeadline(): void {
    if (this.deadlineTimer !== undefined) {
      this.core.options.clock.clearTimeout(this.deadlineTimer);
      this.deadlineTimer = undefined;
    }
  }

  protected retire(attempt: Attempt): void {
    this.inFlight--;
    const body = attempt.body;
    // Undici destroys a body it started; one it never pulled must stay untouched for the next region.
    if (body !== undefined && body.started && !body.destroyed) body.destroy();
  }

  /** Stops every attempt still waiting, freeing their permits. */
  protected cancelOthers(except: Attempt | undefined): void {
    for (const attempt of this.attempts) {
      if (attempt === except || attempt.state === DONE) continue;
      attempt.cancel();
      attempt.release();
      this.retire(attempt);
    }
  }

  /** The overall deadline passed before any answer: stop every attempt and answer 504. */
  protected deadlinePassed(): void {
    this.deadlineTimer = undefined;
    if (this.done || this.winner !== undefined) return;
    this.timedOut = true;
    this.clearRetry();
    this.cancelOthers(undefined);
    this.fail('ETIMEDOUT', 'the request deadline passed before an upstream answered');
  }

  // ------------------------------------------------------------------ endings

  protected tried(): string[] {
    return this.attempts.map((a) => a.region.name);
  }

  protected finishFailure(): void {
    if (this.overflow !== undefined) {
      this.fail('EOVERLOADED', 'every instance of the region is at its connection limit', this.overflow);
    } else if (this.invalid !== undefined) {
      this.fail('EBADREQUEST', invalidDetail(this.invalid), this.invalid);
    } else if (this.attempts.length === 0) {
      this.fail('EUNAVAILABLE', this.regions.regions.length === 0 ? 'no region may serve this request' : 'every region is unavailable (circuit breakers open)');
    } else if (this.timedOut) {
      this.fail('ETIMEDOUT', 'no region answered in time', this.lastFailure);
    } else if (this.queueTimedOut && this.lastFailure === undefined) {
      this.fail('EQUEUETIMEOUT', 'no upstream connection became free in time');
    } else {
      this.fail('EUPSTREAM', 'no region could answer the request', this.lastFailure);
    }
  }

  protected retryAfterSeconds(): number {
    const options = this.core.options;
    if (Number.isFinite(this.regions.earliestHalfOpen)) return Math.max(1, Math.ceil((this.regions.earliestHalfOpen - options.clock.now()) / 1000));
    return Math.ceil(options.retryAfter / 1000);
  }

  protected fail(code: ForwardErrorCode, detail: string, cause?: unknown): void {
    if (this.done) return;
    this.finish();
    this.clearHedge();
    this.clearDeadline();
    this.clearRetry();
    const error = new ForwardError(code, detail, {
      regionsTried: this.tried(),
      regionsSkipped: this.regions.skipped?.map((s) => s.region),
      retryAfter: code === 'EUNAVAILABLE' || code === 'ECLOSED' || code === 'EQUEUETIMEOUT' || code === 'EOVERLOADED' ? this.retryAfterSeconds() : code === 'ECLIENTLIMIT' ? 1 : undefined,
      cause,
    });
    this.emitError(error.status, code, error);
    this.deliverError(error);
  }

  protected internal(error: unknown): void {
    if (this.done) return;
    this.finish();
    this.clearHedge();
    this.clearRetry();
    this.clearDeadline();
    this.cancelOthers(undefined);
    this.emitError(500, (error as { code?: string } | null)?.code ?? 'EINTERNAL', error);
    this.deliverInternal(error);
  }

  protected emitError(status: number, code: string, error: unknown): void {
    const events = this.core.events;
    if (this.observers !== undefined || events.hasListeners('error')) {
      const event = { method: this.method, status, code, regionsTried: this.tried(), error };
      events.emit('error', event);
      if (this.observers !== undefined) this.observeEnd({ type: 'error', event });
    }
  }
}
