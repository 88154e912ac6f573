import http2 from 'node:http2';
import type { Readable } from 'node:stream';
import type { ConnectionOptions } from 'node:tls';
import { Dispatcher } from 'undici';
import type { DispatcherDefaults } from './options.js';
import type { RequestTrailerSource } from './request-trailers.js';
import { serverNameOf } from '@edgekit/core';

/** Settings of the HTTP/2 connections to one upstream. */
export interface Http2Settings {
  /** Concurrent streams per connection at most. */
  readonly maxConcurrentStreams: number;
}

const { NGHTTP2_NO_ERROR, NGHTTP2_CANCEL } = http2.constants;

interface Session {
  readonly session: http2.ClientHttp2Session;
  active: number;
  /** Connected (SETTINGS exchanged): streams may start. */
  ready: boolean;
  /** GOAWAY received or closing: no new streams. */
  draining: boolean;
  waiting: Array<(error?: Error) => void>;
}

const coded = (message: string, code: string): Error => Object.assign(new Error(message), { code });

// RFC 9113 §8.2.2: fields that are connection-specific in HTTP/1.1 must not be sent over HTTP/2.
const NOT_OVER_H2: ReadonlySet<string> = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'host']);

/**
 * The dispatcher of an HTTP/2 upstream (`http2` option): up to `connections` HTTP/2 sessions per
 * origin (TLS with ALPN `h2` for `https:`, with the given TLS options, prior knowledge for `http:`), each multiplexing up to
 * `maxConcurrentStreams` requests, driving the forwarder's undici handlers (`onConnect`,
 * `onHeaders`, `onData`, `onComplete`, `onError`). undici 7's own HTTP/2 client completes a
 * response on its `end` event, which Node 20 emits before `trailers`, so gRPC trailers were lost,
 * and it serialises requests with streamed bodies on a connection; this one completes on `close`.
 * `onConnect` runs only once the session is up, so a refused connection stays safe to retry.
 */
export class Http2Pools extends Dispatcher {
  readonly #origin: URL;
  readonly #defaults: DispatcherDefaults;
  readonly #maxStreams: number;
  readonly #sessions: Session[] = [];
  readonly #scheme: string;
  readonly #authority: string;
  readonly #connectOptions: http2.SecureClientSessionOptions;
  #closed = false;

  constructor(origin: string, defaults: DispatcherDefaults, settings: Http2Settings, tls?: ConnectionOptions) {
    super();
    this.#origin = new URL(origin);
    this.#defaults = defaults;
    this.#maxStreams = settings.maxConcurrentStreams;
    this.#scheme = this.#origin.protocol === 'https:' ? 'https' : 'http';
    this.#authority = this.#origin.host;
    const servername = serverNameOf(this.#origin.hostname);
    this.#connectOptions = this.#scheme === 'https' ? { ...(servername !== undefined && { servername }), ...tls, ALPNProtocols: ['h2'] } : {};
  }

  #pick(): Session {
    let best: Session | undefined;
    for (const s of this.#sessions) {
      if (s.draining || s.session.destroyed) continue;
      if (s.active < this.#maxStreams) return s;
      if (best === undefined || s.active < best.active) best = s;
    }
    if (best !== undefined && this.#sessions.length >= this.#defaults.connections) return best;
    return this.#open();
  }

  #open(): Session {
    const origin = this.#origin;
    const session = http2.connect(origin, this.#connectOptions);
    const entry: Session = { session, active: 0, ready: false, draining: false, waiting: [] };
    this.#sessions.push(entry);
    const timer = setTimeout(() => session.destroy(coded(`connect timeout after ${this.#defaults.connectTimeout} ms`, 'UND_ERR_CONNECT_TIMEOUT')), this.#defaults.connectTimeout);
    timer.unref();
    const settle = (error?: Error): void => {
      clearTimeout(timer);
      const waiting = entry.waiting;
      entry.waiting = [];
      for (const callback of waiting) callback(error);
    };
    session.once('connect', () => {
      entry.ready = true;
      settle();
    });
    session.on('error', (error) => settle(error));
    session.on('goaway', () => {
      entry.draining = true;
    });
    session.once('close', () => {
      entry.draining = true;
      settle(coded('the upstream HTTP/2 session closed', 'UND_ERR_SOCKET'));
      const i = this.#sessions.indexOf(entry);
      if (i !== -1) this.#sessions.splice(i, 1);
    });
    session.setTimeout(this.#defaults.keepAliveTimeout, () => {
      if (entry.active === 0) {
        entry.draining = true;
        session.close();
      }
    });
    return entry;
  }

  override dispatch(options: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler): boolean {
    if (this.#closed) {
      queueMicrotask(() => handler.onError?.(coded('the dispatcher is closed', 'UND_ERR_CLOSED')));
      return true;
    }
    const entry = this.#pick();
    // The session holds the process open only while it has streams (unref'd again at zero).
    if (entry.active++ === 0) entry.session.ref();
    const start = (error?: Error): void => {
      if (error !== undefined) {
        this.#release(entry);
        handler.onError?.(error);
        return;
      }
      this.#stream(entry, options, handler);
    };
    // process.nextTick: queueMicrotask builds an AsyncResource per call.
    if (entry.ready) process.nextTick(start);
    else entry.waiting.push(start);
    return true;
  }

  /** Gives a stream's slot back to its session (the end of an exchange). */
  readonly #release = (entry: Session): void => {
    entry.active--;
    if (entry.active === 0 && !entry.session.destroyed) entry.session.unref();
  };

  #stream(entry: Session, options: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler): void {
    const headers: http2.OutgoingHttpHeaders = {
      ':method': options.method,
      ':path': options.path,
      ':scheme': this.#scheme,
      ':authority': this.#authority,
    };
    const list = (options.headers ?? []) as string[];
    for (let i = 0; i + 1 < list.length; i += 2) {
      const name = list[i]!.toLowerCase();
      const value = list[i + 1]!;
      if (name === 'host') headers[':authority'] = value;
      if (NOT_OVER_H2.has(name)) continue;
      const previous = headers[name];
      headers[name] = previous === undefined ? value : Array.isArray(previous) ? [...previous, value] : [String(previous), value];
    }
    const body = options.body as Buffer | Readable | null | undefined;
    // RFC 9110 §10.1.1: the client waits for `100 Continue`; so does its streamed body, for the origin's.
    const expectContinue = options.expectContinue === true && body != null && !Buffer.isBuffer(body);
    if (expectContinue) headers.expect = '100-continue';
    const exchange = new Exchange(this.#release, entry, handler, body, options.bodyTimeout ?? this.#defaults.bodyTimeout);
    handler.onConnect?.(exchange.abort);
    if (exchange.settled) return;
    // A streamed body may end with the client's trailers: the stream then waits for them (RFC 9113 §8.1).
    const trailing = body != null && !Buffer.isBuffer(body) && typeof (body as Partial<RequestTrailerSource>).requestTrailers === 'function';
    let s: http2.ClientHttp2Stream;
    try {
      s = entry.session.request(headers, { endStream: body == null, waitForTrailers: trailing });
    } catch (error) {
      exchange.fail(error as Error);
      return;
    }
    exchange.stream = s;
    (s as StreamWithExchange)[EXCHANGE] = exchange;
    if (trailing) s.once('wantTrailers', onStreamWantsTrailers);
    if (Buffer.isBuffer(body)) s.end(body);
    else if (body != null) {
      body.on('error', exchange.abort);
      if (expectContinue) exchange.awaitContinue(s);
      else body.pipe(s);
    }
    s.setTimeout(options.headersTimeout ?? this.#defaults.headersTimeout);
    // Listeners shared by every stream (no closures per request); each finds its exchange on the stream.
    s.on('timeout', onStreamTimeout);
    s.on('headers', onStreamInformational);
    s.on('response', onStreamResponse);
    s.on('data', onStreamData);
    s.on('trailers', onStreamTrailers);
    s.on('end', onStreamEnd);
    s.on('error', onStreamError);
    // 'close' follows 'end', 'trailers' and 'error' alike: the one place the outcome is known.
    s.on('close', onStreamClose);
  }

  override async close(): Promise<void> {
    this.#closed = true;
    await Promise.all(this.#sessions.map((s) => new Promise<void>((resolve) => (s.session.closed ? resolve() : s.session.close(() => resolve())))));
  }

  override async destroy(): Promise<void> {
    this.#closed = true;
    for (const s of [...this.#sessions]) s.session.destroy();
  }
}

function noop(): void {}

const EXCHANGE = Symbol('edgekit.http2.exchange');
/** Milliseconds a body waits for the origin's `100 Continue` before it is sent anyway (RFC 9110 §10.1.1; curl waits 1 s too). */
const CONTINUE_WAIT = 1_000;
type StreamWithExchange = http2.ClientHttp2Stream & { [EXCHANGE]?: Exchange };

/** One request on an upstream HTTP/2 stream: the state its stream's listeners share. */
class Exchange {
  settled = false;
  responded = false;
  ended = false;
  stream: http2.ClientHttp2Stream | undefined;
  trailers: http2.IncomingHttpHeaders | undefined;
  lastError: Error | undefined;
  /** The streamed body went out (at once, or after the origin's `100 Continue`). */
  bodySent = true;
  continueTimer: NodeJS.Timeout | undefined = undefined;
  /** Aborts the exchange (the handler's abort callback, the request body's error listener). */
  readonly abort = (error?: Error): void => this.fail(error ?? coded('request aborted', 'UND_ERR_ABORTED'));
  /** Resumes a paused response (the handler's resume callback). */
  readonly resume = (): void => {
    this.stream?.resume();
  };

  constructor(
    readonly release: (entry: Session) => void,
    readonly entry: Session,
    readonly handler: Dispatcher.DispatchHandler,
    readonly body: Buffer | Readable | null | undefined,
    readonly bodyTimeout: number,
  ) {}

  /** Sends the body once the origin answers `100 Continue`, or after {@link CONTINUE_WAIT} without an answer; never after a final one. */
  awaitContinue(stream: http2.ClientHttp2Stream): void {
    this.bodySent = false;
    this.continueTimer = setTimeout(this.sendBody, CONTINUE_WAIT);
    this.continueTimer.unref();
    stream.once('continue', this.sendBody);
  }

  /** Starts the streamed request body (once). */
  readonly sendBody = (): void => {
    clearTimeout(this.continueTimer);
    const stream = this.stream;
    if (this.bodySent || this.responded || this.settled || stream === undefined || stream.destroyed) return;
    this.bodySent = true;
    (this.body as Readable).pipe(stream);
  };

  fail(error: Error): void {
    if (this.settled) return;
    this.settled = true;
    clearTimeout(this.continueTimer);
    this.release(this.entry);
    const stream = this.stream;
    if (stream !== undefined && !stream.destroyed) stream.close(NGHTTP2_CANCEL);
    const body = this.body;
    if (body != null && typeof (body as Readable).destroy === 'function') (body as Readable).destroy();
    this.handler.onError?.(error);
  }
}

function exchangeOf(stream: http2.ClientHttp2Stream): Exchange {
  return (stream as StreamWithExchange)[EXCHANGE]!;
}

function onStreamTimeout(this: http2.ClientHttp2Stream): void {
  const x = exchangeOf(this);
  x.fail(x.responded ? coded('body timeout', 'UND_ERR_BODY_TIMEOUT') : coded('headers timeout', 'UND_ERR_HEADERS_TIMEOUT'));
}

function onStreamWantsTrailers(this: http2.ClientHttp2Stream): void {
  const trailers = (exchangeOf(this).body as unknown as RequestTrailerSource).requestTrailers();
  try {
    // No trailers: Node ends the stream with an empty DATA frame instead.
    this.sendTrailers(trailers ?? {});
  } catch {
    // A field Node refuses in a HEADERS frame: the body still ends, without the trailers.
    this.sendTrailers({});
  }
}

function onStreamInformational(this: http2.ClientHttp2Stream, informational: http2.IncomingHttpHeaders): void {
  const x = exchangeOf(this);
  if (!x.settled) x.handler.onHeaders?.(Number(informational[':status']), flatten(informational) as never, noop, '');
}

function onStreamResponse(this: http2.ClientHttp2Stream, response: http2.IncomingHttpHeaders): void {
  const x = exchangeOf(this);
  x.responded = true;
  this.setTimeout(x.bodyTimeout);
  if (x.settled) return;
  if (x.handler.onHeaders?.(Number(response[':status']), flatten(response) as never, x.resume, '') === false) this.pause();
}

function onStreamData(this: http2.ClientHttp2Stream, chunk: Buffer): void {
  const x = exchangeOf(this);
  if (!x.settled && x.handler.onData?.(chunk) === false) this.pause();
}

function onStreamTrailers(this: http2.ClientHttp2Stream, received: http2.IncomingHttpHeaders): void {
  exchangeOf(this).trailers = received;
}

function onStreamEnd(this: http2.ClientHttp2Stream): void {
  const x = exchangeOf(this);
  x.ended = true;
  // A final answer to `Expect: 100-continue` before the body went out: the body is never sent, the stream closes cleanly.
  if (!x.bodySent) {
    clearTimeout(x.continueTimer);
    this.close(NGHTTP2_NO_ERROR);
  }
}

function onStreamError(this: http2.ClientHttp2Stream, error: Error): void {
  exchangeOf(this).lastError = error;
}

function onStreamClose(this: http2.ClientHttp2Stream): void {
  const x = exchangeOf(this);
  if (x.settled) return;
  if (x.responded && x.ended && this.rstCode === NGHTTP2_NO_ERROR) {
    x.settled = true;
    x.release(x.entry);
    x.handler.onComplete?.(x.trailers === undefined ? null : (x.trailers as never));
    return;
  }
  x.fail(x.lastError ?? coded(`the upstream closed the stream (code ${this.rstCode})`, 'UND_ERR_SOCKET'));
}

/** Node's header object as the flat `[name, value, ...]` list the handlers take, pseudo-fields left out. */
function flatten(headers: http2.IncomingHttpHeaders): string[] {
  const out: string[] = [];
  for (const [name, value] of Object.entries(headers)) {
    if (name.charCodeAt(0) === 58 || value === undefined) continue;
    if (Array.isArray(value)) for (const item of value) out.push(name, item);
    else out.push(name, String(value));
  }
  return out;
}
