import type { IncomingMessage, Server as HttpServer, ServerResponse } from 'node:http';
import { type Http2Server, type Http2ServerRequest, type Http2ServerResponse, type ServerHttp2Session, createServer as createHttp2Server } from 'node:http2';
import { type Server as NetServer, type Socket, createServer as createNetServer } from 'node:net';
import { type TLSSocket, createServer as createTlsServer } from 'node:tls';
import { sendProblem } from '@edgekit/core';
import type { ClosableServer } from '@edgekit/health';
import { markAwaitingContinue } from './expect-continue.js';
import type { TlsTermination } from './tls.js';

/** How the public port speaks. */
export interface DownstreamSettings {
  /** Terminate TLS with these certificates. Default: plain TCP. */
  tls?: TlsTermination | undefined;
  /** Offer `h2` by ALPN on TLS. */
  http2: boolean;
  /** Take HTTP/2 with prior knowledge on a plain port (h2c), beside HTTP/1.1. */
  cleartext: boolean;
  /** SETTINGS_MAX_CONCURRENT_STREAMS sent to HTTP/2 clients. */
  maxConcurrentStreams: number;
  /** Request client certificates (verified against the CAs of the secure context, never refused at the handshake). */
  requestCert: boolean;
  /** Longest TLS handshake, ms. */
  handshakeTimeout: number;
  /** Idle time after which an HTTP/2 connection is closed with GOAWAY, ms. */
  idleTimeout: number;
}

/** The public listener: one port for HTTP/1.1 and HTTP/2, over TLS or plain TCP. */
export interface Downstream {
  /** The server that listens on the port. */
  readonly listener: NetServer;
  /** `https` when TLS is terminated. */
  readonly scheme: 'http' | 'https';
  /** What the lifecycle closes: the listener, HTTP/1.1 connections, and HTTP/2 sessions (GOAWAY, then their streams drain). */
  readonly closable: ClosableServer;
  /** HTTP/2 connections open now. */
  readonly sessions: number;
}

/** RFC 9113 §3.4: every HTTP/2 connection starts with this; no HTTP/1.x request line does. */
const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');

/**
 * HTTP/2 requests arrive with `:authority` and possibly no `Host`: the rules after this point (service
 * match by host, cache keys, the SNI check) read `Host`, so it is filled from `:authority`. Both
 * present and different is a malformed request (RFC 9113 §8.3.1), refused with 400.
 */
function normalizeHttp2Request(req: Http2ServerRequest, res: Http2ServerResponse): boolean {
  const headers = req.headers;
  const authority = headers[':authority'];
  const host = headers.host;
  if (host === undefined) {
    if (authority !== undefined) headers.host = authority;
    return true;
  }
  if (authority === undefined || authority.toLowerCase() === host.toLowerCase()) return true;
  sendProblem(res as unknown as ServerResponse, { title: 'Bad Request', status: 400, detail: 'the host header and the :authority pseudo-header name different hosts' });
  return false;
}

/**
 * Hands a plain connection to the HTTP/2 server when it opens with the HTTP/2 preface, else to the
 * HTTP/1.1 server, with the bytes read so far put back in front of the stream.
 */
function dispatchCleartext(socket: Socket, http1: HttpServer, http2: Http2Server): void {
  let buffered = Buffer.alloc(0);
  socket.on('error', () => {});
  const onReadable = (): void => {
    for (let chunk = socket.read() as Buffer | null; chunk !== null; chunk = socket.read() as Buffer | null) buffered = Buffer.concat([buffered, chunk]);
    const n = Math.min(buffered.length, PREFACE.length);
    const prefix = buffered.subarray(0, n).equals(PREFACE.subarray(0, n));
    if (prefix && buffered.length < PREFACE.length) return; // not enough bytes to tell yet
    socket.off('readable', onReadable);
    socket.off('end', onEnd);
    socket.unshift(buffered);
    (prefix ? http2 : http1).emit('connection', socket);
  };
  const onEnd = (): void => {
    socket.off('readable', onReadable);
    socket.destroy();
  };
  socket.on('readable', onReadable);
  socket.once('end', onEnd);
}

/**
 * Creates the public listener around `http1` (which keeps its request, upgrade and timeout settings
 * and serves every HTTP/1.x connection): with TLS, a TLS server that picks the certificate by SNI and
 * the protocol by ALPN (`h2`, `http/1.1`); with `cleartext`, a TCP server that tells h2c from
 * HTTP/1.1 by the connection preface; otherwise `http1` itself listens. HTTP/2 requests go through
 * `handler`, as HTTP/1.1 ones do.
 */
export function createDownstream(http1: HttpServer, handler: (req: IncomingMessage, res: ServerResponse) => void, settings: DownstreamSettings): Downstream {
  const { tls } = settings;
  if (tls === undefined && !settings.cleartext) {
    return { listener: http1, scheme: 'http', closable: http1, sessions: 0 };
  }
  const sessions = new Set<ServerHttp2Session>();
  const http2 = createHttp2Server(
    { settings: { maxConcurrentStreams: settings.maxConcurrentStreams }, maxSessionInvalidFrames: 100, maxSessionRejectedStreams: 100 },
    (req, res) => {
      // A stream reset by the client closes its response: the forwarder aborts the upstream request.
      if (normalizeHttp2Request(req, res)) handler(req as unknown as IncomingMessage, res as unknown as ServerResponse);
    },
  );
  http2.on('checkContinue', (req: Http2ServerRequest, res: Http2ServerResponse) => {
    if (!normalizeHttp2Request(req, res)) return;
    markAwaitingContinue(req as unknown as IncomingMessage);
    handler(req as unknown as IncomingMessage, res as unknown as ServerResponse);
  });
  http2.setTimeout(settings.idleTimeout);
  http2.on('timeout', (session?: ServerHttp2Session) => session?.close());
  http2.on('session', (session: ServerHttp2Session) => {
    sessions.add(session);
    session.once('close', () => sessions.delete(session));
    session.on('error', () => {});
    // RFC 9113 §6.8: a client's GOAWAY ends the connection once the streams it still wants are answered.
    session.once('goaway', () => session.close());
  });

  let listener: NetServer;
  if (tls !== undefined) {
    const server = createTlsServer({
      SNICallback: tls.sniCallback,
      ...tls.current.fallback.options,
      ALPNProtocols: settings.http2 ? ['h2', 'http/1.1'] : ['http/1.1'],
      requestCert: settings.requestCert,
      // Verified per route (`clientCertificate: required`): a client without one still reaches the others.
      rejectUnauthorized: false,
      handshakeTimeout: settings.handshakeTimeout,
      // As Node's HTTP servers do: small HTTP/2 frames and response heads go out at once, not after a delayed ACK.
      noDelay: true,
    });
    tls.attach(server);
    server.on('secureConnection', (socket: TLSSocket) => {
      if (socket.alpnProtocol === 'h2') http2.emit('connection', socket);
      else http1.emit('connection', socket);
    });
    server.on('tlsClientError', (_error: Error, socket: TLSSocket) => socket.destroy());
    listener = server;
  } else {
    listener = createNetServer({ noDelay: true }, (socket) => dispatchCleartext(socket, http1, http2));
  }
  // `http1` never listens itself: its connection tracking (idle and header timeouts, closeIdleConnections) starts with 'listening'.
  http1.emit('listening');

  const closable: ClosableServer = {
    close(callback) {
      listener.close(() => callback?.());
      http1.close();
      // GOAWAY: no new streams; the session closes once its open streams end.
      for (const session of sessions) session.close();
    },
    closeIdleConnections() {
      http1.closeIdleConnections();
    },
    closeAllConnections() {
      http1.closeAllConnections();
      for (const session of sessions) session.destroy();
    },
  };
  return {
    listener,
    scheme: tls === undefined ? 'http' : 'https',
    closable,
    get sessions() {
      return sessions.size;
    },
  };
}
