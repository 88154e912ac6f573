import { type IncomingHttpHeaders, type IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';

/** An RFC 9457 problem details object. */
export interface ProblemDetails {
  /** A URI reference that identifies the problem type; `about:blank` when omitted. */
  type?: string;
  /** A short, human-readable summary of the problem type. */
  title: string;
  /** The HTTP status code. */
  status: number;
  /** A human-readable explanation specific to this occurrence. */
  detail?: string;
  /** A URI reference that identifies this occurrence. */
  instance?: string;
  /** Extension members. */
  [extension: string]: unknown;
}

/** The media type of RFC 9457 bodies. */
const PROBLEM_CONTENT_TYPE = 'application/problem+json';

/**
 * Writes `problem` as an `application/problem+json` response. When headers were already sent the
 * response is destroyed instead, because a second status line cannot be written.
 */
export function sendProblem(res: ServerResponse, problem: ProblemDetails, headers: Record<string, string | number> = {}): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const body = JSON.stringify({ type: 'about:blank', ...problem });
  res.statusCode = problem.status;
  for (const [name, value] of Object.entries(headers)) res.setHeader(name, value);
  res.setHeader('content-type', PROBLEM_CONTENT_TYPE);
  res.setHeader('cache-control', 'no-store');
  res.setHeader('content-length', Buffer.byteLength(body));
  res.end(body);
}

/** The first value of a request header, or `undefined`. Node joins most duplicates; this handles arrays too. */
export function firstHeader(headers: IncomingHttpHeaders, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/**
 * A response written straight to `socket`, the connection of a server's `'upgrade'` event, which
 * Node hands over without one. It is the last answer on that connection: `Connection: close`, and
 * the socket closes once the response finishes. `res.detachSocket(socket)` takes the socket back
 * (to tunnel it) before anything is written. Socket errors are left to its `'close'`.
 */
export function responseOnSocket(req: IncomingMessage, socket: Duplex): ServerResponse {
  const res = new ServerResponse(req);
  const connection = socket as Socket;
  res.shouldKeepAlive = false;
  res.assignSocket(connection);
  res.once('finish', () => connection.destroySoon());
  socket.on('error', () => {});
  return res;
}

/**
 * Writes a relayed 1xx interim response to a client: `103 Early Hints` (with its `Link` fields)
 * and `102 Processing`; other codes are dropped. Never to an HTTP/1.0 client (RFC 9110 §15.2), never after the final head.
 */
export function writeInformational(req: IncomingMessage, res: ServerResponse, statusCode: number, headers: readonly string[] | Readonly<Record<string, string | readonly string[] | undefined>>): void {
  if (res.headersSent || res.destroyed || req.httpVersionMajor < 1 || (req.httpVersionMajor === 1 && req.httpVersionMinor === 0)) return;
  try {
    if (statusCode === 103) {
      const hints: Record<string, string | string[]> = {};
      if (isFlatList(headers)) {
        for (let i = 0; i + 1 < headers.length; i += 2) {
          const name = headers[i]!.toLowerCase();
          const existing = hints[name];
          hints[name] = existing === undefined ? headers[i + 1]! : Array.isArray(existing) ? [...existing, headers[i + 1]!] : [existing, headers[i + 1]!];
        }
      } else {
        for (const [name, value] of Object.entries(headers)) if (value !== undefined) hints[name.toLowerCase()] = typeof value === 'string' ? value : [...value];
      }
      if (hints.link !== undefined) res.writeEarlyHints(hints);
    } else if (statusCode === 102) {
      res.writeProcessing();
    }
  } catch {
    // Node refuses a Link value it cannot validate: the hint is advisory, the final answer follows.
  }
}

function isFlatList(headers: unknown): headers is readonly string[] {
  return Array.isArray(headers);
}
