import type { IncomingMessage, ServerResponse } from 'node:http';
import { describeValue } from '@edgekit/core';
import fastifyPlugin from 'fastify-plugin';
import type { Forwarder } from './forwarder.js';
import { SCOPE } from './options.js';

/** Options of {@link fastifyForwarder}, given to `app.register`. */
export interface FastifyForwarderOptions {
  /** The forwarder that handles every request under `prefix`. */
  forwarder: Forwarder;
  /** Where the routes are mounted (`/api`); fastify applies it. Default: the root. */
  prefix?: string;
  /**
   * Replaces `prefix` at the start of the forwarded path (`''` strips it: `/api/users` → `/users`).
   * Default: the path is forwarded unchanged.
   */
  rewritePrefix?: string;
}

// The few members of fastify's types the plugin touches, so the published types do not need fastify.
interface FastifyRequestLike {
  readonly raw: IncomingMessage;
}
interface FastifyReplyLike {
  readonly raw: ServerResponse;
  hijack(): unknown;
}
interface FastifyInstanceLike {
  removeAllContentTypeParsers(): void;
  addContentTypeParser(type: string, handler: (req: unknown, payload: unknown, done: (error: Error | null, body?: unknown) => void) => void): void;
  all(path: string, handler: (request: FastifyRequestLike, reply: FastifyReplyLike) => void): unknown;
  readonly prefix: string;
}

/** A fastify plugin (`app.register(fastifyForwarder, { forwarder, prefix })`). */
export type FastifyForwarderPlugin = (instance: any, options: FastifyForwarderOptions) => Promise<void>;

// Leaves the request body unread so the forwarder can stream it upstream.
function keepRawBody(_req: unknown, _payload: unknown, done: (error: Error | null, body?: unknown) => void): void {
  done(null);
}

async function forwarderPlugin(instance: FastifyInstanceLike, options: FastifyForwarderOptions): Promise<void> {
  const forwarder = options?.forwarder;
  if (forwarder === null || typeof forwarder !== 'object' || typeof forwarder.handle !== 'function') {
    throw new TypeError(`${SCOPE}: option "forwarder" must be a forwarder from createForwarder (got ${describeValue(forwarder)})`);
  }
  const rewritePrefix = options.rewritePrefix;
  if (rewritePrefix !== undefined && typeof rewritePrefix !== 'string') {
    throw new TypeError(`${SCOPE}: option "rewritePrefix" must be a string (got ${describeValue(rewritePrefix)})`);
  }
  const prefix = instance.prefix;
  // This plugin is encapsulated: the catch-all parser only affects its own routes.
  instance.removeAllContentTypeParsers();
  instance.addContentTypeParser('*', keepRawBody);
  const handler =
    rewritePrefix === undefined
      ? (request: FastifyRequestLike, reply: FastifyReplyLike): void => {
          reply.hijack();
          forwarder.handler(request.raw, reply.raw);
        }
      : (request: FastifyRequestLike, reply: FastifyReplyLike): void => {
          reply.hijack();
          const url = request.raw.url ?? '/';
          let path = url.startsWith(prefix) ? rewritePrefix + url.slice(prefix.length) : url;
          if (path.charCodeAt(0) !== 47 /* / */) path = `/${path}`;
          forwarder.handle(request.raw, reply.raw, { path });
        };
  instance.all('/', handler);
  instance.all('/*', handler);
}

/**
 * Fastify plugin over a forwarder: every method under `prefix` is forwarded. The request body is
 * not parsed by fastify (a catch-all content-type parser leaves it unread, inside this plugin's
 * scope only) and the reply is hijacked, so both bodies stream.
 *
 * @example
 * await app.register(fastifyForwarder, { forwarder, prefix: '/api' });
 */
export const fastifyForwarder: FastifyForwarderPlugin = /* @__PURE__ */ fastifyPlugin(forwarderPlugin as never, {
  fastify: '5.x',
  name: '@edgekit/proxy',
  encapsulate: true,
}) as unknown as FastifyForwarderPlugin;
