import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { TLSSocket } from 'node:tls';
import { EdgekitError } from '@edgekit/core';
import type { GeoLocation } from '@edgekit/geo';
import type { Dispatcher } from 'undici';
import { clientKeyOf, healthyCandidates, passesHealth, routeOf, targetPath } from './admission.js';
import { Attempt, DONE, PENDING, STREAMING } from './attempt.js';
import { Candidates } from './candidates.js';
import { ForwardError, type ForwardErrorCode } from './errors.js';
import type { FailureKind } from './events.js';
import { EndpointDispatcher, type EndpointMemory, EndpointOverflowError } from './endpoint-dispatcher.js';
import type { ConnectionQueue } from './connection-queue.js';
import { UpstreamStatusError, classifyError, invalidDetail, isTimeout } from './failure.js';
import type { ForwarderCore, Target } from './forwarder-core.js';
import { type RequestEnd, type RequestObserver, observeAttempt, observeDecision, observeEnd } from './observer.js';
import { SCOPE } from './options.js';
import { ProgressWatch } from './progress.js';
import { StreamedBody, readBody } from './request-body.js';
import { type RequestScan, appendForwardingHeaders, scanRequestHeaders } from './request-headers.js';
import { buildResponseHeaders, upgradeHeaders } from './response-headers.js';
import { backoffDelay, retryAfterMs } from './retry-policy.js';
import type { RouteFailures } from './route-failures.js';

const BODY_NONE = 0;
const BODY_BUFFERED = 1;
const BODY_STREAMED = 2;

/**
 * One client request on its way upstream: picks candidates, runs attempts with failover and hedging,
 * and hands the winning response to a sink (a Node response, or the promise of `forward()`).
 * Subclasses implement the `deliver*` methods.
 */
export abstract class Exchange implements RequestScan, EndpointMemory {
  contentLength = -1;
  chunked = false;
  host: string | undefined = undefined;
  xForwardedFor: string | undefined = undefined;
  forwarded: string | undefined = undefined;
  xForwardedProto: string | undefined = undefined;
  xForwardedHost: string | undefined = undefined;
  via: string | undefined = undefined;
  protected readonly core: ForwarderCore;
  protected readonly req: IncomingMessage;
  /** Set once the outcome is decided (error answered, response ended, client gone). */
  protected done = false;
  protected winner: Attempt | undefined = undefined;
  protected method = 'GET';
  /** The protocol asked for in `Upgrade`, set by sinks that can take a tunnel; `undefined` for plain requests. */
  protected upgradeProtocol: string | undefined = undefined;
  readonly #pathOverride: string | undefined;
  #path = '/';
  #startedAt = 0;
  #headers: string[] = [];
  #bodyKind = BODY_NONE;
  #buffer: Buffer | null = null;
  #idempotent = false;
  readonly #regions: Candidates;
  readonly #attempts: Attempt[] = [];
  #inFlight = 0;
  #timedOut = false;
  #invalid: unknown = undefined;
  #lastFailure: unknown = undefined;
  #hedges = 0;
  #hedgeTimer: object | undefined = undefined;
  #hedgeCallback: (() => void) | undefined = undefined;
  #observers: RequestObserver[] | undefined = undefined;
  /** Endpoints tried so far, in regions that list endpoints (see `EndpointDispatcher`). */
  triedEndpoints: Set<string> | undefined = undefined;
  /** Delay the next retry waits at least (a `Retry-After` within `maxRetryAfter`). */
  #retryAfterWait = 0;
  #retries = 0;
  #retryTimer: object | undefined = undefined;
  #deadlineTimer: object | undefined = undefined;
  #overflow: EndpointOverflowError | undefined = undefined;
  /** The key this request counts against for `maxInFlightPerClient`, once counted. */
  #clientKey: string | undefined = undefined;
  /** The route for failure attribution; `undefined` when attribution is off. */
  #route: string | undefined = undefined;
  /** An attempt of this request failed as the route's (see `RouteFailures`). */
  #routeFailed = false;
  #queueTimedOut = false;
  #panic = false;
  #bodyWatch: ProgressWatch | undefined = undefined;
  #sendWatch: ProgressWatch | undefined = undefined;

  constructor(core: ForwarderCore, req: IncomingMessage, pathOverride: string | undefined) {
    this.core = core;
    this.req = req;
    this.#pathOverride = pathOverride;
    this.#regions = new Candidates(core.options.breakers, core.events);
  }

  /** Marks the outcome decided: frees the client's in-flight slot and stops the progress watches. */
  protected finish(): void {
    this.done = true;
    const key = this.#clientKey;
    if (key !== undefined) {
      this.#clientKey = undefined;
      this.core.leaveClient(key);
    }
    this.#bodyWatch?.stop();
    this.#sendWatch?.stop();
  }

  /** The sink could not take a body chunk: the client must take it within `sendTimeout`. */
  protected sendStalled(): void {
    const options = this.core.options;
    if (options.sendTimeout === 0 || this.done) return;
    (this.#sendWatch ??= new ProgressWatch(options.clock, options.sendTimeout, 0, () => this.sendTimedOut())).wait();
  }

  /** The client did not take response bytes within `sendTimeout`: close its connection (which ends the exchange). */
  protected abstract sendTimedOut(): void;

  /** Tells the request observers how the request ended (at most once). */
  #observeEnd(end: RequestEnd): void {
    const observers = this.#observers!;
    this.#observers = undefined;
    observeEnd(observers, end);
  }

  // ------------------------------------------------------------------ sink

  /** Writes the response head; `false` when the headers cannot be written (the upstream sent garbage). */
  protected abstract deliverHead(statusCode: number, headers: string[], region: string): boolean;
  /** Writes a body chunk; `false` asks the upstream to pause until {@link Exchange.resume}. */
  protected abstract deliverData(chunk: Buffer): boolean;
  protected abstract deliverEnd(): void;
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

  // ------------------------------------------------------------------ start

  /** Starts handling; never throws. */
  run(): void {
    this.#observers = this.core.observeRequest(this.req);
    try {
      this.#prepare();
    } catch (error) {
      this.#internal(error);
    }
  }

  #prepare(): void {
    const core = this.core;
    const options = core.options;
    const req = this.req;
    this.#startedAt = options.clock.now();
    const requestTimeout = options.retryPolicy.requestTimeout;
    if (requestTimeout > 0) this.#deadlineTimer = options.clock.setTimeout(() => this.#deadlinePassed(), requestTimeout);
    const method = req.method ?? 'GET';
    this.method = method;
    if (core.closed) {
      this.#fail('ECLOSED', 'the proxy is shutting down');
      return;
    }
    if (method === 'CONNECT') {
      this.#fail('EBADREQUEST', 'CONNECT is not forwarded');
      return;
    }
    const path = targetPath(this.#pathOverride ?? req.url ?? '/', method, options.nonCanonicalTarget);
    if (typeof path !== 'string') {
      this.#fail('EBADREQUEST', path.message, path);
      return;
    }
    this.#path = path;

    const headers = scanRequestHeaders(req.rawHeaders, core.requestHeaders, this);
    const remote = req.socket?.remoteAddress;
    const ip = core.clientIpOf(remote, this);
    if (options.maxInFlightPerClient > 0) {
      const key = clientKeyOf(options, req, ip);
      if (!core.enterClient(key)) {
        this.#fail('ECLIENTLIMIT', 'too many requests from this client are in flight');
        return;
      }
      this.#clientKey = key;
    }
    if (options.routeAttribution) this.#route = routeOf(options, req, path);
    const isTrusted = core.isTrusted;
    const peerTrusted = isTrusted !== undefined && typeof remote === 'string' && isTrusted(remote);
    // An untrusted peer is the client: clientIp already normalised its address.
    const peer = peerTrusted ? core.normalizePeer(remote) : ip;
    let location: GeoLocation | null = null;
    const locate = options.locate;
    if (locate !== undefined && ip !== '') {
      try {
        location = locate(ip, req) ?? null;
      } catch {
        // A locator that cannot answer (not ready, closed) sends the client to the default region.
        location = null;
      }
    }
    const selection = core.selector.select(location, req);
    const { candidates, skipped, healthIgnored } = healthyCandidates(selection.regions, options.health);
    const regions = this.#regions;
    regions.regions = candidates;
    regions.skipped = skipped;

    const socket = req.socket as TLSSocket | undefined;
    appendForwardingHeaders(
      headers,
      this,
      {
        peer,
        peerTrusted,
        encrypted: socket?.encrypted === true,
        protocolVersion: req.httpVersionMajor === 2 ? '2' : (req.httpVersion ?? '1.1'),
      },
      core.requestHeaders,
    );
    this.#headers = headers;
    const hasBody = this.chunked || this.contentLength > 0;
    this.#idempotent = options.idempotentMethods.has(method);
    if (hasBody && req.readableEnded) {
      this.#internal(new EdgekitError('EBODYCONSUMED', `${SCOPE}: the request body was already read (mount the forwarder before body parsers)`));
      return;
    }

    if (hasBody && options.clientBodyTimeout > 0) {
      this.#bodyWatch = new ProgressWatch(options.clock, options.clientBodyTimeout, options.clientBodyMinRate, () => this.#clientBodyTimedOut());
    }
    if (!hasBody) {
      this.#bodyKind = BODY_NONE;
    } else if (this.#idempotent && !this.chunked && this.contentLength <= options.maxReplayBody) {
      // Small bodies of idempotent requests are kept so a retry or a hedge can send them again.
      this.#bodyKind = BODY_BUFFERED;
      readBody(req, this.#bodyWatch).then(
        (buffer) => {
          this.#buffer = buffer;
          if (!this.done) this.#decide(ip, location, selection.reason, healthIgnored);
        },
        () => this.clientGone(),
      );
      return;
    } else {
      this.#bodyKind = BODY_STREAMED;
    }
    this.#decide(ip, location, selection.reason, healthIgnored);
  }

  /** The client sent its body too slowly: abort upstream and answer 408 (or cut a response already started). */
  #clientBodyTimedOut(): void {
    if (this.done) return;
    const error = new ForwardError('ECLIENTTIMEOUT', { regionsTried: this.#tried(), detail: 'the request body arrived too slowly' });
    if (this.winner !== undefined) {
      this.finish();
      this.#cancelOthers(undefined);
      this.#emitError(408, 'ECLIENTTIMEOUT', error);
      this.deliverBroken(error);
      return;
    }
    this.#cancelOthers(undefined);
    this.#fail('ECLIENTTIMEOUT', 'the request body arrived too slowly');
  }

  #decide(ip: string, location: GeoLocation | null, reason: string, healthIgnored: boolean): void {
    const options = this.core.options;
    options.retryBudget?.recordRequest();
    let found = this.#regions.acquireNext();
    if (!found && this.#regions.regions.length > 0 && options.breakers !== undefined && this.core.panicAdmit()) {
      // Every candidate's breaker is open: a bounded trickle still reaches the primary, so its recovery shows at once.
      this.#regions.nextRegion = this.#regions.regions[0];
      this.#regions.nextPermit = undefined;
      this.#panic = true;
      found = true;
    }
    this.#regions.decided = true;
    const events = this.core.events;
    const observers = this.#observers;
    if (observers !== undefined || events.hasListeners('decision')) {
      const event = {
        method: this.method,
        clientIp: ip,
        location,
        reason,
        candidates: this.#regions.regions.map((r) => r.name),
        skipped: this.#regions.skipped === undefined ? [] : [...this.#regions.skipped],
        healthIgnored,
        panic: this.#panic,
      };
      events.emit('decision', event);
      if (observers !== undefined) observeDecision(observers, event);
    }
    if (!found) {
      this.#finishFailure();
      return;
    }
    this.#launch(false);
  }

  // ------------------------------------------------------------------ attempts

  #launch(hedge: boolean): void {
    const region = this.#regions.nextRegion!;
    const core = this.core;
    const options = core.options;
    // The first attempt of a bodiless or streamed request starts when handling did: one clock read less.
    const first = this.#attempts.length === 0 && this.#bodyKind !== BODY_BUFFERED;
    const attempt = new Attempt(this, region, this.#regions.nextPermit, this.#attempts.length + 1, hedge, first ? this.#startedAt : options.clock.now());
    this.#regions.nextRegion = undefined;
    this.#regions.nextPermit = undefined;
    this.#attempts.push(attempt);
    this.#inFlight++;
    const events = core.events;
    if (events.hasListeners('attempt')) events.emit('attempt', { region: region.name, attempt: attempt.number, hedge });
    let body: Buffer | StreamedBody | null = null;
    if (this.#bodyKind === BODY_BUFFERED) {
      body = this.#buffer;
    } else if (this.#bodyKind === BODY_STREAMED) {
      body = new StreamedBody(this.req, this, this.#bodyWatch);
      attempt.body = body;
    }
    let target: Target;
    try {
      target = core.targetOf(region);
    } catch (error) {
      // A selector returned a region whose URL cannot be used: a configuration error, not the request's.
      attempt.cancel();
      attempt.release();
      this.#retire(attempt);
      this.#internal(error);
      return;
    }
    const path = target.basePath === '' ? this.#path : target.basePath + this.#path;
    const headers = this.#observers === undefined ? this.#headers : this.#observeAttempt(attempt, target, path);
    attempt.dispatcher = target.dispatcher;
    attempt.request = { path, method: this.method as Dispatcher.HttpMethod, headers, body, upgrade: this.upgradeProtocol };
    const queue: ConnectionQueue = target.queue;
    attempt.connectionQueue = queue;
    // Errors, even synchronous ones, arrive through attempt.onError.
    if (queue.enter(attempt)) target.dispatcher.dispatch(attempt.request, attempt);
    if (options.hedgeDelay >= 0 && attempt.state === PENDING && !this.done && this.#mayHedge()) {
      const clock = options.clock;
      clock.clearTimeout(this.#hedgeTimer);
      this.#hedgeCallback ??= () => this.#hedgeFire();
      this.#hedgeTimer = clock.setTimeout(this.#hedgeCallback, options.hedgeDelay);
    }
  }

  /** Tells the request observers an attempt starts; returns the header list for it, with their fields set. */
  #observeAttempt(attempt: Attempt, target: Target, path: string): string[] {
    const start = { region: attempt.region.name, attempt: attempt.number, hedge: attempt.hedge, method: this.method, origin: target.origin, path };
    const { headers, handles } = observeAttempt(this.#observers!, start, this.#headers);
    attempt.observers = handles;
    return headers;
  }

  attemptDispatch(attempt: Attempt): void {
    attempt.dispatcher!.dispatch(attempt.request!, attempt);
  }

  attemptQueueTimeout(attempt: Attempt): void {
    this.#retire(attempt);
    // The pool was busy, not failing: nothing to count against the region.
    attempt.release();
    if (this.done) return;
    this.#queueTimedOut = true;
    if (this.#inFlight > 0 || this.winner !== undefined) return;
    if (this.#prepareRetry(attempt)) {
      this.#failover(attempt, 'queue');
      return;
    }
    this.#finishFailure();
  }

  #mayHedge(): boolean {
    const options = this.core.options;
    return (
      this.#idempotent &&
      this.upgradeProtocol === undefined &&
      this.#bodyKind !== BODY_STREAMED &&
      this.#hedges < options.hedgeMax &&
      this.#attempts.length < options.maxAttempts &&
      this.#regions.cursor < this.#regions.regions.length
    );
  }

  #hedgeFire(): void {
    this.#hedgeTimer = undefined;
    if (this.done || this.winner !== undefined || this.#inFlight === 0 || !this.#mayHedge()) return;
    if (!this.#regions.acquireNext()) return;
    const budget = this.core.options.retryBudget;
    const events = this.core.events;
    if (budget !== undefined && !budget.tryRetry()) {
      if (events.hasListeners('budgetExhausted')) events.emit('budgetExhausted', { region: this.#regions.nextRegion!.name, kind: 'hedge' });
      this.#regions.returnNext();
      return;
    }
    this.#hedges++;
    if (events.hasListeners('hedge')) {
      const waiting = this.#attempts.find((a) => a.state === PENDING);
      events.emit('hedge', { waiting: waiting?.region.name ?? '', to: this.#regions.nextRegion!.name });
    }
    this.#launch(true);
  }

  #clearHedge(): void {
    if (this.#hedgeTimer !== undefined) {
      this.core.options.clock.clearTimeout(this.#hedgeTimer);
      this.#hedgeTimer = undefined;
    }
  }

  /** Whether the request may go to another region after `attempt` (RFC 9110 §9.2.2 and body replay). */
  #mayRetry(attempt: Attempt): boolean {
    if (this.#bodyKind === BODY_STREAMED && attempt.body?.started === true) return false;
    if (!attempt.connected) return true;
    if (!this.#idempotent) return false;
    // A route failing in two regions while the rest of them answer: another region will not help.
    const route = this.#route;
    return !(this.#routeFailed && route !== undefined && this.core.routeFailures.failingElsewhere(route, attempt.region.name, this.core.options.clock.now()));
  }

  /**
   * Settles a failed attempt's permit: a failure the route alone has (see `RouteFailures`) frees the
   * permit without counting; any other one counts against the region.
   */
  #settleFailure(attempt: Attempt, error: unknown, kind: FailureKind): void {
    const route = this.#route;
    if (route !== undefined && kind !== 'connect' && attempt.connected) {
      const routes: RouteFailures = this.core.routeFailures;
      const region = attempt.region.name;
      if (!routes.failure(region, route, this.core.options.clock.now(), this.#routeFailed, passesHealth(this.core.options.health, region))) {
        this.#routeFailed = true;
        attempt.release();
        return;
      }
    }
    attempt.fail(error);
  }

  /** Settles a successful attempt's permit and remembers the route's success in its region. */
  #settleSuccess(attempt: Attempt): void {
    attempt.succeed();
    const route = this.#route;
    if (route !== undefined) this.core.routeFailures.success(attempt.region.name, route, attempt.startedAt + attempt.ttfb);
  }

  /** Finds the next region for a retry within `maxAttempts`, the retry budget and the deadline: the same region first while it has untried endpoints. */
  #prepareRetry(from: Attempt): boolean {
    const options = this.core.options;
    if (this.#attempts.length >= options.maxAttempts) return false;
    if (this.#deadlineTimer !== undefined && options.clock.now() + this.#retryAfterWait >= this.#startedAt + options.retryPolicy.requestTimeout) return false;
    const dispatcher = this.core.targetOf(from.region).dispatcher;
    if (dispatcher instanceof EndpointDispatcher && dispatcher.hasUntried(this)) this.#regions.again = from.region;
    if (!this.#regions.acquireNext()) return false;
    const budget = options.retryBudget;
    if (budget !== undefined && !budget.tryRetry()) {
      const events = this.core.events;
      if (events.hasListeners('budgetExhausted')) events.emit('budgetExhausted', { region: this.#regions.nextRegion!.name, kind: 'retry' });
      this.#regions.returnNext();
      return false;
    }
    return true;
  }

  #failover(from: Attempt, reason: FailureKind, status?: number): void {
    const events = this.core.events;
    if (events.hasListeners('failover')) {
      const event: { from: string; to: string; reason: FailureKind; status?: number } = { from: from.region.name, to: this.#regions.nextRegion!.name, reason };
      if (status !== undefined) event.status = status;
      events.emit('failover', event);
    }
    const sameRegion = this.#regions.nextRegion === from.region;
    const wait = Math.max(this.#retryAfterWait, sameRegion ? backoffDelay(this.core.options.retryPolicy, this.#retries) : 0);
    this.#retries++;
    this.#retryAfterWait = 0;
    if (wait <= 0) {
      this.#launch(false);
      return;
    }
    this.#retryTimer = this.core.options.clock.setTimeout(() => {
      this.#retryTimer = undefined;
      if (this.done) this.#regions.returnNext();
      else this.#launch(false);
    }, wait);
  }

  /** For a 503 or 429 with `Retry-After`: false when it asks for longer than `maxRetryAfter` (the answer is relayed). */
  #retryAfterAllows(statusCode: number, rawHeaders: Buffer[] | string[] | null): boolean {
    if (statusCode !== 503 && statusCode !== 429) return true;
    const wait = retryAfterMs(rawHeaders, Date.now());
    if (wait === undefined) return true;
    if (wait > this.core.options.retryPolicy.maxRetryAfter) return false;
    this.#retryAfterWait = wait;
    return true;
  }

  /** The overall deadline passed before any answer: stop every attempt and answer 504. */
  #deadlinePassed(): void {
    this.#deadlineTimer = undefined;
    if (this.done || this.winner !== undefined) return;
    this.#timedOut = true;
    this.#clearRetry();
    this.#cancelOthers(undefined);
    this.#fail('ETIMEDOUT', 'the request deadline passed before an upstream answered');
  }

  #clearRetry(): void {
    if (this.#retryTimer !== undefined) {
      this.core.options.clock.clearTimeout(this.#retryTimer);
      this.#retryTimer = undefined;
      this.#regions.returnNext();
    }
  }

  #clearDeadline(): void {
    if (this.#deadlineTimer !== undefined) {
      this.core.options.clock.clearTimeout(this.#deadlineTimer);
      this.#deadlineTimer = undefined;
    }
  }

  #retire(attempt: Attempt): void {
    this.#inFlight--;
    const body = attempt.body;
    // Undici destroys a body it started; one it never pulled must stay untouched for the next region.
    if (body !== undefined && body.started && !body.destroyed) body.destroy();
  }

  /** Stops every attempt still waiting, freeing their permits. */
  #cancelOthers(except: Attempt | undefined): void {
    for (const attempt of this.#attempts) {
      if (attempt === except || attempt.state === DONE) continue;
      attempt.cancel();
      attempt.release();
      this.#retire(attempt);
    }
  }

  // ------------------------------------------------------------------ undici callbacks (via Attempt)

  /** Time to the upstream's answer: kept on the attempt and fed to the selector's latency order. */
  #recordTtfb(attempt: Attempt): void {
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
    this.#recordTtfb(attempt);
    if (this.done) {
      attempt.cancel();
      attempt.release();
      this.#retire(attempt);
      return false;
    }
    const failure = options.failureStatuses.has(statusCode);
    if (failure) this.#settleFailure(attempt, new UpstreamStatusError(region, statusCode), 'status');
    if (options.retryStatuses.has(statusCode) && this.#mayRetry(attempt)) {
      if (this.#inFlight > 1) {
        // A hedge is still racing: drop this answer and wait for it.
        this.#dropFailedStatus(attempt, failure, statusCode);
        return false;
      }
      if (this.#retryAfterAllows(statusCode, rawHeaders) && this.#prepareRetry(attempt)) {
        this.#dropFailedStatus(attempt, failure, statusCode);
        this.#failover(attempt, 'status', statusCode);
        return false;
      }
    }
    const headers = buildResponseHeaders(rawHeaders, region, core.responseHeaders);
    this.#clearDeadline();
    this.winner = attempt;
    attempt.state = STREAMING;
    this.#clearHedge();
    this.#cancelOthers(attempt);
    if (!this.deliverHead(statusCode, headers, region)) {
      // Headers Node refuses to write (control characters): the upstream is at fault.
      this.winner = undefined;
      attempt.cancel();
      attempt.fail(new UpstreamStatusError(region, statusCode));
      this.#retire(attempt);
      this.#fail('EUPSTREAM', 'the upstream response could not be relayed');
      return false;
    }
    if (!failure) this.#settleSuccess(attempt);
    return true;
  }

  #dropFailedStatus(attempt: Attempt, failure: boolean, statusCode: number): void {
    if (!failure) this.#settleSuccess(attempt);
    attempt.cancel();
    this.#retire(attempt);
    this.#lastFailure = statusCode;
  }

  attemptData(attempt: Attempt, chunk: Buffer): boolean {
    if (this.done || attempt !== this.winner) return false;
    return this.deliverData(chunk);
  }

  attemptComplete(attempt: Attempt): void {
    this.#retire(attempt);
    if (this.done) return;
    this.finish();
    this.deliverEnd();
    this.#emitResponse(attempt);
  }

  /** Tells listeners and request observers that `attempt` answered the request. */
  #emitResponse(attempt: Attempt): void {
    const events = this.core.events;
    if (this.#observers !== undefined || events.hasListeners('response')) {
      const event = {
        method: this.method,
        region: attempt.region.name,
        status: attempt.status,
        attempts: this.#attempts.length,
        durationMs: this.core.options.clock.now() - this.#startedAt,
        ttfbMs: attempt.ttfb,
      };
      events.emit('response', event);
      if (this.#observers !== undefined) this.#observeEnd({ type: 'response', event });
    }
  }

  attemptUpgrade(attempt: Attempt, statusCode: number, rawHeaders: Buffer[] | string[] | null, upstream: Duplex): void {
    const region = attempt.region.name;
    this.#recordTtfb(attempt);
    this.#retire(attempt);
    if (this.done) {
      attempt.release();
      upstream.destroy();
      return;
    }
    this.finish();
    this.winner = attempt;
    this.#clearHedge();
    this.#clearDeadline();
    this.#cancelOthers(attempt);
    this.#settleSuccess(attempt);
    this.deliverUpgrade(statusCode, upgradeHeaders(rawHeaders, region, this.core.responseHeaders), upstream, region);
    this.#emitResponse(attempt);
  }

  attemptError(attempt: Attempt, error: Error, streaming: boolean): void {
    this.#retire(attempt);
    if (streaming) {
      // The body broke after its head was sent: nothing to fail over to, the client sees a cut response.
      if (this.done) return;
      this.finish();
      this.#emitError(attempt.status, 'EBODY', error);
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
      this.#overflow = error;
    } else if (kind === 'invalid') {
      attempt.release();
      this.#invalid = error;
    } else {
      this.#settleFailure(attempt, error, kind);
      if (isTimeout(error)) this.#timedOut = true;
      this.#lastFailure = error;
    }
    if (this.#inFlight > 0 || this.winner !== undefined) return;
    if (kind !== 'invalid' && this.#overflow === undefined && this.#mayRetry(attempt) && this.#prepareRetry(attempt)) {
      this.#failover(attempt, kind);
      return;
    }
    this.#finishFailure();
  }

  // ------------------------------------------------------------------ endings

  /** The sink can take more body: resume the upstream. */
  resume(): void {
    this.#sendWatch?.hold();
    this.winner?.resume();
  }

  /** The client went away (or the consumer of `forward()` gave up): abort upstream, free permits. */
  clientGone(): void {
    if (this.done) return;
    this.finish();
    this.#clearHedge();
    this.#clearRetry();
    this.#clearDeadline();
    const winner = this.winner;
    const events = this.core.events;
    if (this.#observers !== undefined || events.hasListeners('abort')) {
      const waiting = this.#attempts.find((a) => a.state === PENDING);
      const event = { method: this.method, region: (winner ?? waiting)?.region.name, phase: winner === undefined ? ('waiting' as const) : ('streaming' as const) };
      events.emit('abort', event);
      if (this.#observers !== undefined) this.#observeEnd({ type: 'abort', event });
    }
    if (winner !== undefined && winner.state !== DONE) {
      winner.cancel();
      this.#retire(winner);
    }
    this.#cancelOthers(undefined);
    this.onClientGone();
  }

  #tried(): string[] {
    return this.#attempts.map((a) => a.region.name);
  }

  #finishFailure(): void {
    if (this.#overflow !== undefined) {
      this.#fail('EOVERLOADED', 'every instance of the region is at its connection limit', this.#overflow);
    } else if (this.#invalid !== undefined) {
      this.#fail('EBADREQUEST', invalidDetail(this.#invalid), this.#invalid);
    } else if (this.#attempts.length === 0) {
      this.#fail('EUNAVAILABLE', this.#regions.regions.length === 0 ? 'no region may serve this request' : 'every region is unavailable (circuit breakers open)');
    } else if (this.#timedOut) {
      this.#fail('ETIMEDOUT', 'no region answered in time', this.#lastFailure);
    } else if (this.#queueTimedOut && this.#lastFailure === undefined) {
      this.#fail('EQUEUETIMEOUT', 'no upstream connection became free in time');
    } else {
      this.#fail('EUPSTREAM', 'no region could answer the request', this.#lastFailure);
    }
  }

  #retryAfterSeconds(): number {
    const options = this.core.options;
    if (Number.isFinite(this.#regions.earliestHalfOpen)) return Math.max(1, Math.ceil((this.#regions.earliestHalfOpen - options.clock.now()) / 1000));
    return Math.ceil(options.retryAfter / 1000);
  }

  #fail(code: ForwardErrorCode, detail: string, cause?: unknown): void {
    if (this.done) return;
    this.finish();
    this.#clearHedge();
    this.#clearDeadline();
    this.#clearRetry();
    const error = new ForwardError(code, {
      regionsTried: this.#tried(),
      regionsSkipped: this.#regions.skipped?.map((s) => s.region),
      detail,
      retryAfter: code === 'EUNAVAILABLE' || code === 'ECLOSED' || code === 'EQUEUETIMEOUT' || code === 'EOVERLOADED' ? this.#retryAfterSeconds() : code === 'ECLIENTLIMIT' ? 1 : undefined,
      cause,
    });
    this.#emitError(error.status, code, error);
    this.deliverError(error);
  }

  #internal(error: unknown): void {
    if (this.done) return;
    this.finish();
    this.#clearHedge();
    this.#clearRetry();
    this.#clearDeadline();
    this.#cancelOthers(undefined);
    this.#emitError(500, (error as { code?: string } | null)?.code ?? 'EINTERNAL', error);
    this.deliverInternal(error);
  }

  #emitError(status: number, code: string, error: unknown): void {
    const events = this.core.events;
    if (this.#observers !== undefined || events.hasListeners('error')) {
      const event = { method: this.method, status, code, regionsTried: this.#tried(), error };
      events.emit('error', event);
      if (this.#observers !== undefined) this.#observeEnd({ type: 'error', event });
    }
  }
}
