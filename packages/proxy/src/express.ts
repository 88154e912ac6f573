import type { IncomingMessage, ServerResponse } from 'node:http';
import { checkOptionsObject, describeValue } from '@edgekit/core';
import type { Forwarder } from './forwarder.js';
import { SCOPE } from './options.js';

/** Options of {@link expressForwarder}. */
export interface ExpressForwarderOptions {
  /**
   * Forward `req.originalUrl` (with the mount path, `/api/users`) instead of `req.url` (relative to
   * where the middleware is mounted, `/users`). Default: `false`.
   */
  keepMountPath?: boolean;
}

/** The part of an Express request the middleware reads. */
export type ExpressRequestLike = IncomingMessage & { originalUrl?: string };

/** An Express middleware (Express 4 and 5 share this shape). */
export type ExpressMiddleware = (req: ExpressRequestLike, res: ServerResponse, next: (error?: unknown) => void) => void;

/**
 * Express middleware over a forwarder. Answers forwarding failures itself (502, 503, 504 and 400
 * with problem+json); only errors that are not HTTP answers (a body already read by a body
 * parser, a bug) go to `next(error)`. Mount it before body parsers.
 *
 * @example
 * app.use('/api', expressForwarder(forwarder));
 */
export function expressForwarder(forwarder: Forwarder, options?: ExpressForwarderOptions): ExpressMiddleware {
  if (forwarder === null || typeof forwarder !== 'object' || typeof forwarder.handle !== 'function') {
    throw new TypeError(`${SCOPE}: expressForwarder needs a forwarder from createForwarder (got ${describeValue(forwarder)})`);
  }
  const opts = checkOptionsObject<ExpressForwarderOptions>(SCOPE, options);
  const keepMountPath = opts.keepMountPath ?? false;
  if (typeof keepMountPath !== 'boolean') throw new TypeError(`${SCOPE}: option "keepMountPath" must be a boolean (got ${describeValue(keepMountPath)})`);
  return (req, res, next) => {
    forwarder.handle(req, res, { path: keepMountPath ? req.originalUrl : undefined, onError: next });
  };
}
