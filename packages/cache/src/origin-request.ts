import { EventEmitter } from 'node:events';
import { IncomingMessage, type IncomingHttpHeaders } from 'node:http';
import type { Socket } from 'node:net';

/**
 * Stands in for a client socket on requests the cache makes itself (revalidation, warming, shared
 * fetches). It carries the client's addresses, so a forwarder can still locate the client, but a
 * forwarder that destroys or resumes the request never touches the real connection.
 */
class DetachedSocket extends EventEmitter {
  readonly remoteAddress: string | undefined;
  readonly remotePort: number | undefined;
  readonly remoteFamily: string | undefined;
  readonly localAddress: string | undefined;
  readonly localPort: number | undefined;
  readonly encrypted: boolean | undefined;
  readonly readable = false;
  readonly writable = false;
  destroyed = false;

  constructor(from: Socket | undefined) {
    super();
    this.remoteAddress = from?.remoteAddress ?? '127.0.0.1';
    this.remotePort = from?.remotePort;
    this.remoteFamily = from?.remoteFamily ?? 'IPv4';
    this.localAddress = from?.localAddress;
    this.localPort = from?.localPort;
    this.encrypted = (from as { encrypted?: boolean } | undefined)?.encrypted;
  }

  destroy(): this {
    this.destroyed = true;
    return this;
  }

  resume(): this {
    return this;
  }

  pause(): this {
    return this;
  }

  setTimeout(): this {
    return this;
  }

  ref(): this {
    return this;
  }

  unref(): this {
    return this;
  }
}

/** A request the cache sends to the origin on its own behalf. */
export interface OriginRequestInit {
  method: string;
  /** Origin-form target (`/path?query`). */
  url: string;
  headers: IncomingHttpHeaders;
  /** The client request it derives from, whose socket addresses it carries. */
  from?: IncomingMessage | undefined;
}

/**
 * Builds a complete, bodiless `IncomingMessage` for the origin function, independent of any client
 * connection: a forwarder receives exactly the shape it receives from a Node server.
 */
export function createOriginRequest(init: OriginRequestInit): IncomingMessage {
  const socket = new DetachedSocket(init.from?.socket);
  const req = new IncomingMessage(socket as unknown as Socket);
  req.method = init.method;
  req.url = init.url;
  req.httpVersion = '1.1';
  req.httpVersionMajor = 1;
  req.httpVersionMinor = 1;
  const raw: string[] = [];
  for (const [name, value] of Object.entries(init.headers)) {
    if (value === undefined) continue;
    if (Array.isArray(value)) for (const v of value) raw.push(name, v);
    else raw.push(name, value);
  }
  req.rawHeaders = raw;
  req.headers = init.headers;
  req.complete = true;
  req.push(null);
  return req;
}
