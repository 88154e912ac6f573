import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { sendProblem } from '@edgekit/core';
import type { GatewayConfig } from './config.js';
import type { Pipeline } from './pipeline.js';
import { STATUS_PAGE, type StatusSnapshot, type StatusStreams } from './status.js';
import type { GatewayTelemetry } from './telemetry.js';

/** The paths of the operator endpoints. */
export const OPERATOR_PATHS: ReadonlySet<string> = new Set(['/metrics', '/status', '/status.json', '/status/events', '/admin/purge']);

/** `Authorization: Bearer <token>` compared in constant time (both sides hashed to equal length first). */
export function bearerMatches(header: string | undefined, token: string): boolean {
  const match = /^Bearer[ ]+(\S+)\s*$/i.exec(header ?? '');
  const presented = createHash('sha256').update(match?.[1] ?? '').digest();
  const expected = createHash('sha256').update(token).digest();
  return timingSafeEqual(presented, expected) && match !== null;
}

/** What the operator endpoints read from the running gateway. */
export interface OperatorContext {
  config(): GatewayConfig;
  pipeline(): Pipeline;
  telemetry: GatewayTelemetry;
  streams: StatusStreams;
  status(): StatusSnapshot;
  log: (level: 'info' | 'warn' | 'error', msg: string, fields?: Record<string, unknown>) => void;
}

/**
 * Answers the operator endpoints (`/metrics`, `/status`, `/status.json`, `/status/events`,
 * `/admin/purge`) for a canonical `path`; returns false for any other path.
 *
 * On a separate admin listener (`server.adminPort`) the read-only endpoints are open, since the
 * listener is the operator's network; everywhere else every operator endpoint needs the admin
 * bearer token (403 while none is configured), and purging always does.
 */
export function serveOperator(context: OperatorContext, req: IncomingMessage, res: ServerResponse, path: string, adminListener: boolean): boolean {
  if (!OPERATOR_PATHS.has(path)) return false;
  const needsToken = path === '/admin/purge' || !adminListener;
  if (needsToken && !authorized(context, req, res)) return true;
  switch (path) {
    case '/metrics':
      context.telemetry.metrics(req, res);
      return true;
    case '/status':
      res.writeHead(200, {
        'content-type': 'text/html; charset=utf-8',
        'cache-control': 'no-store',
        'content-security-policy': "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'",
      });
      res.end(STATUS_PAGE);
      return true;
    case '/status.json': {
      const body = JSON.stringify(context.status());
      res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' });
      res.end(body);
      return true;
    }
    case '/status/events':
      context.streams.open(req, res);
      return true;
    default:
      purge(context, req, res);
      return true;
  }
}

/** True when `req` carries the admin token; otherwise answers 401 (or 403 when no token is configured). */
function authorized(context: OperatorContext, req: IncomingMessage, res: ServerResponse): boolean {
  const token = context.config().admin.token;
  if (token === undefined) {
    sendProblem(res, { title: 'Forbidden', status: 403, detail: 'the operator endpoints need EDGE_ADMIN_TOKEN, or server.adminPort for a private listener' });
    return false;
  }
  if (!bearerMatches(req.headers.authorization, token)) {
    sendProblem(res, { title: 'Unauthorized', status: 401, detail: 'a valid admin bearer token is required' }, { 'www-authenticate': 'Bearer realm="edge-admin"' });
    return false;
  }
  return true;
}

function purge(context: OperatorContext, req: IncomingMessage, res: ServerResponse): void {
  const pipeline = context.pipeline();
  if (pipeline.purge === undefined) {
    sendProblem(res, { title: 'Not Found', status: 404, detail: 'the cache is disabled' });
    return;
  }
  context.log('info', 'purge requested', { remote: req.socket.remoteAddress });
  pipeline.purge(req, res);
}
