import { Dispatcher, Pool, buildConnector } from 'undici';
import type { Http2Choice } from './options.js';
import type { DispatcherDefaults } from './options.js';

/** Settings of the HTTP/2 connections to one upstream. */
export interface Http2Settings {
  /** `true`: h2 offered by ALPN over TLS; `'h2c'`: HTTP/2 in the clear with prior knowledge. */
  readonly http2: Exclude<Http2Choice, false>;
  /** Concurrent streams per connection at most. */
  readonly maxConcurrentStreams: number;
}

function poolOf(origin: string, defaults: DispatcherDefaults, settings: Http2Settings, streams: number): Pool {
  return new Pool(origin, {
    connections: defaults.connections,
    connectTimeout: defaults.connectTimeout,
    headersTimeout: defaults.headersTimeout,
    bodyTimeout: defaults.bodyTimeout,
    keepAliveTimeout: defaults.keepAliveTimeout,
    allowH2: true,
    maxConcurrentStreams: settings.maxConcurrentStreams,
    pipelining: streams,
    ...(settings.http2 === 'h2c' && { connect: buildConnector({ useH2c: true, timeout: defaults.connectTimeout } as buildConnector.BuildOptions) }),
  });
}

/**
 * The undici dispatcher of an HTTP/2 upstream. undici multiplexes on one connection only requests
 * whose body it can replay (none, or a buffer) and marked idempotent; a request with a streamed
 * body waits for the connection's other streams to finish. So those go to a second pool, one
 * stream per connection, where they never queue behind a long-lived stream (a gRPC streaming
 * call); every other request is multiplexed, up to `maxConcurrentStreams` per connection.
 */
export class Http2Pools extends Dispatcher {
  readonly #multiplexed: Pool;
  readonly #streamed: Pool;

  constructor(origin: string, defaults: DispatcherDefaults, settings: Http2Settings) {
    super();
    this.#multiplexed = poolOf(origin, defaults, settings, settings.maxConcurrentStreams);
    this.#streamed = poolOf(origin, defaults, settings, 1);
  }

  override dispatch(options: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler): boolean {
    const body = options.body as { pipe?: unknown } | null | undefined;
    if (body != null && typeof body.pipe === 'function') return this.#streamed.dispatch(options, handler);
    // The forwarder decides what may be sent twice; undici's flag only gates multiplexing here.
    options.idempotent = true;
    return this.#multiplexed.dispatch(options, handler);
  }

  override async close(): Promise<void> {
    await Promise.all([this.#multiplexed.close(), this.#streamed.close()]);
  }

  override async destroy(): Promise<void> {
    await Promise.all([this.#multiplexed.destroy(), this.#streamed.destroy()]);
  }
}
