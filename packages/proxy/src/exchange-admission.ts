import type { TLSSocket } from 'node:tls';
import type { GeoLocation, Region } from '@edgekit/geo';
import { type EndpointChoice, EndpointDispatcher } from './endpoint-dispatcher.js';
import type { DecisionEvent } from './events.js';
import { clientKeyOf, healthyCandidates, routeOf, targetPath } from './admission.js';
import { ForwardError, ProxyError } from './errors.js';
import { observeDecision } from './observer.js';
import { SCOPE } from './options.js';
import { ProgressWatch } from './progress.js';
import { readBody } from './request-body.js';
import { appendForwardingHeaders, scanRequestHeaders } from './request-headers.js';
import { isGrpcContentType, parseGrpcTimeout } from './grpc.js';
import { BODY_BUFFERED, BODY_NONE, BODY_STREAMED, ExchangeState } from './exchange-state.js';

/** An exchange that admits its request: reads the target, the headers and the body, then picks the regions to try. */
export abstract class AdmittedExchange extends ExchangeState {

  /** Starts handling; never throws. */
  run(): void {
    this.observers = this.core.observeRequest(this.req);
    try {
      this.prepare();
    } catch (error) {
      this.internal(error);
    }
  }

  protected prepare(): void {
    const core = this.core;
    const options = core.options;
    const req = this.req;
    this.startedAt = options.clock.now();
    const method = req.method ?? 'GET';
    this.method = method;
    const headers = scanRequestHeaders(req.rawHeaders, core.requestHeaders, this);
    // RFC 9113 §8.1: an HTTP/2 request has a body unless its HEADERS frame ended the stream; without
    // `content-length` it is of unknown length, as a chunked HTTP/1.1 one.
    if (req.httpVersionMajor === 2 && this.contentLength < 0 && (req as { stream?: { endAfterHeaders?: boolean } }).stream?.endAfterHeaders === false) this.chunked = true;
    let deadline = options.retryPolicy.requestTimeout;
    if (isGrpcContentType(this.contentType)) {
      this.grpc = true;
      // gRPC over HTTP/2: the call's deadline bounds this hop too, capped by the configured one.
      const grpcDeadline = parseGrpcTimeout(this.grpcTimeout);
      if (grpcDeadline !== undefined && (deadline === 0 || grpcDeadline < deadline)) deadline = Math.max(1, grpcDeadline);
      // RFC 9113 §8.2.2: `TE: trailers` is the one TE field HTTP/2 allows, and gRPC servers require it.
      headers.push('te', 'trailers');
    }
    this.deadline = deadline;
    const streaming = options.streaming;
    this.streamFlagged = streaming !== undefined && streaming(req) === true;
    this.mayStream = this.grpc || this.streamFlagged || (this.accept !== undefined && this.accept.includes('text/event-stream'));
    if (deadline > 0) this.deadlineTimer = options.clock.setTimeout(() => this.deadlinePassed(), deadline);
    if (core.closed) {
      this.fail('ECLOSED', 'the proxy is shutting down');
      return;
    }
    if (method === 'CONNECT') {
      this.fail('EBADREQUEST', 'CONNECT is not forwarded');
      return;
    }
    const path = targetPath(this.pathOverride ?? req.url ?? '/', method, options.nonCanonicalTarget);
    if (typeof path !== 'string') {
      this.fail('EBADREQUEST', path.message, path);
      return;
    }
    this.path = path;

    const remote = req.socket?.remoteAddress;
    const ip = core.clientIpOf(remote, this);
    if (options.maxInFlightPerClient > 0) {
      const key = clientKeyOf(options, req, ip);
      if (!core.enterClient(key)) {
        this.fail('ECLIENTLIMIT', 'too many requests from this client are in flight');
        return;
      }
      this.clientKey = key;
    }
    if (options.routeAttribution) this.route = routeOf(options, req, path);
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
    const regions = this.regions;
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
    this.headers = headers;
    const hasBody = this.chunked || this.contentLength > 0;
    this.idempotent = options.idempotentMethods.has(method);
    if (hasBody && req.readableEnded) {
      this.internal(new ProxyError('EBODYCONSUMED', `${SCOPE}: the request body was already read (mount the forwarder before body parsers)`));
      return;
    }

    if (hasBody && options.clientBodyTimeout > 0) {
      this.bodyWatch = new ProgressWatch(options.clock, options.clientBodyTimeout, options.clientBodyMinRate, () => this.clientBodyTimedOut());
    }
    if (!hasBody) {
      this.bodyKind = BODY_NONE;
    } else if (this.idempotent && !this.chunked && this.contentLength <= options.maxReplayBody) {
      // Small bodies of idempotent requests are kept so a retry or a hedge can send them again.
      this.bodyKind = BODY_BUFFERED;
      readBody(req, this.bodyWatch).then(
        (buffer) => {
          this.buffer = buffer;
          if (!this.done) this.decide(ip, location, selection.reason, healthIgnored);
        },
        () => this.clientGone(),
      );
      return;
    } else {
      this.bodyKind = BODY_STREAMED;
    }
    this.decide(ip, location, selection.reason, healthIgnored);
  }

  /** The client sent its body too slowly: abort upstream and answer 408 (or cut a response already started). */
  protected clientBodyTimedOut(): void {
    if (this.done) return;
    const error = new ForwardError('ECLIENTTIMEOUT', 'the request body arrived too slowly', { regionsTried: this.tried() });
    if (this.winner !== undefined) {
      this.finish();
      this.cancelOthers(undefined);
      this.emitError(408, 'ECLIENTTIMEOUT', error);
      this.deliverBroken(error);
      return;
    }
    this.cancelOthers(undefined);
    this.fail('ECLIENTTIMEOUT', 'the request body arrived too slowly');
  }

  protected decide(ip: string, location: GeoLocation | null, reason: string, healthIgnored: boolean): void {
    const options = this.core.options;
    options.retryBudget?.recordRequest();
    let found = this.regions.acquireNext();
    if (!found && this.regions.regions.length > 0 && options.breakers !== undefined && this.core.panicAdmit()) {
      // Every candidate's breaker is open: a bounded trickle still reaches the primary, so its recovery shows at once.
      const primary = this.regions.regions[0]!;
      this.regions.nextRegion = primary;
      this.regions.nextPermit = undefined;
      // It is tried after all: only the others stay skipped (in the decision and a 502's regionsSkipped).
      this.regions.skipped = this.regions.skipped?.filter((skip) => skip.region !== primary.name);
      this.panic = true;
      found = true;
    }
    this.regions.decided = true;
    const events = this.core.events;
    const observers = this.observers;
    if (observers !== undefined || events.hasListeners('decision')) {
      const region = found ? this.regions.nextRegion : undefined;
      const event: DecisionEvent = {
        service: options.service,
        method: this.method,
        clientIp: ip,
        location,
        reason,
        candidates: this.regions.regions.map((r) => r.name),
        skipped: this.regions.skipped === undefined ? [] : [...this.regions.skipped],
        healthIgnored,
        panic: this.panic,
        region: region?.name,
        endpoint: region === undefined ? undefined : this.preselectEndpoint(region),
      };
      events.emit('decision', event);
      if (observers !== undefined) observeDecision(observers, event);
    }
    if (!found) {
      this.finishFailure();
      return;
    }
    this.launch(false);
  }

  /** Picks the endpoint of the first attempt ahead of it, in a region with endpoints, and says why. */
  protected preselectEndpoint(region: Region): EndpointChoice | undefined {
    let dispatcher;
    try {
      dispatcher = this.core.targetOf(region).dispatcher;
    } catch {
      // The first attempt reports the unusable region.
      return undefined;
    }
    return dispatcher instanceof EndpointDispatcher ? dispatcher.preselect(this.headers, this) : undefined;
  }
}
