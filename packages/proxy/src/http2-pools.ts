import http2 from 'node:http2';
import type { Readable } from 'node:stream';
import { Dispatcher } from 'undici';
import type { DispatcherDefaults } from './options.js';

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
 * origin (TLS with ALPN `h2` for `https:`, prior knowledge for `http:`), each multiplexing up to
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
  #closed = false;

  constructor(origin: string, defaults: DispatcherDefaults, settings: Http2Settings) {
    super();
    this.#origin = new URL(origin);
    this.#defaults = defaults;
    this.#maxStreams = settings.maxConcurrentStreams;
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
    const session = http2.connect(origin, origin.protocol === 'https:' ? { ALPNProtocols: ['h2'], servername: origin.hostname } : {});
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
    entry.active++;
    entry.session.ref();
    const start = (error?: Error): void => {
      if (error !== undefined) {
        this.#release(entry);
        handler.onError?.(error);
        return;
      }
      this.#stream(entry, options, handler);
    };
    if (entry.ready) queueMicrotask(start);
    else entry.waiting.push(start);
    return true;
  }

  #release(entry: Session): void {
    entry.active--;
    if (entry.active === 0 && !entry.session.destroyed) entry.session.unref();
  }

  #stream(entry: Session, options: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler): void {
    const origin = this.#origin;
    const headers: http2.OutgoingHttpHeaders = {
      ':method': options.method,
      ':path': options.path,
      ':scheme': origin.protocol === 'https:' ? 'https' : 'http',
      ':authority': origin.host,
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
    let settled = false;
    let stream: http2.ClientHttp2Stream | undefined;
    const fail = (error: Error): void => {
      if (settled) return;
      settled = true;
      this.#release(entry);
      if (stream !== undefined && !stream.destroyed) stream.close(NGHTTP2_CANCEL);
      if (body != null && typeof (body as Readable).destroy === 'function') (body as Readable).destroy();
      handler.onError?.(error);
    };
    handler.onConnect?.((error?: Error) => fail(error ?? coded('request aborted', 'UND_ERR_ABORTED')));
    if (settled) return;
    try {
      stream = entry.session.request(headers, { endStream: body == null });
    } catch (error) {
      fail(error as Error);
      return;
    }
    const s = stream;
    if (Buffer.isBuffer(body)) s.end(body);
    else if (body != null) {
      body.on('error', (error) => fail(error));
      body.pipe(s);
    }
    let responded = false;
    let ended = false;
    let trailers: http2.IncomingHttpHeaders | undefined;
    let lastError: Error | undefined;
    s.setTimeout(options.headersTimeout ?? this.#defaults.headersTimeout);
    s.on('timeout', () => fail(responded ? coded('body timeout', 'UND_ERR_BODY_TIMEOUT') : coded('headers timeout', 'UND_ERR_HEADERS_TIMEOUT')));
    s.on('headers', (informational) => {
      if (!settled) handler.onHeaders?.(Number(informational[':status']), flatten(informational) as never, noop, '');
    });
    s.on('response', (response) => {
      responded = true;
      const bodyTimeout = options.bodyTimeout ?? this.#defaults.bodyTimeout;
      s.setTimeout(bodyTimeout);
      if (settled) return;
      if (handler.onHeaders?.(Number(response[':status']), flatten(response) as never, () => s.resume(), '') === false) s.pause();
    });
    s.on('data', (chunk: Buffer) => {
      if (!settled && handler.onData?.(chunk) === false) s.pause();
    });
    s.on('trailers', (received) => {
      trailers = received;
    });
    s.on('end', () => {
      ended = true;
    });
    s.on('error', (error) => {
      lastError = error;
    });
    // 'close' follows 'end', 'trailers' and 'error' alike: the one place the outcome is known.
    s.on('close', () => {
      if (settled) return;
      if (responded && ended && s.rstCode === NGHTTP2_NO_ERROR) {
        settled = true;
        this.#release(entry);
        handler.onComplete?.(trailers === undefined ? null : (trailers as never));
        return;
      }
      fail(lastError ?? coded(`the upstream closed the stream (code ${s.rstCode})`, 'UND_ERR_SOCKET'));
    });
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
