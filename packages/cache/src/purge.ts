import type { IncomingMessage, ServerResponse } from 'node:http';
import { describeValue, sendProblem } from '@edgekit/core';
import { readBody } from './body.js';
import type { EdgeCache } from './cache.js';

/** Options of {@link createPurgeHandler}. */
export interface PurgeHandlerOptions {
  /** Decides whether the request may purge (check a token, an mTLS identity...). Resolve `false` for 403. Default: every request is allowed — set one. */
  authorize?: (req: IncomingMessage) => boolean | Promise<boolean>;
  /** Largest accepted JSON body in bytes. Default: 65536. */
  maxBodySize?: number;
}

/** Defaults of {@link PurgeHandlerOptions}. */
export const PURGE_DEFAULTS = { maxBodySize: 65_536 } as const;

/** A purge request: any combination of tags, one pattern and primary keys. */
export interface PurgeRequest {
  tags?: string[];
  pattern?: string;
  keys?: string[];
}

function isStringArray(value: unknown): value is string[] {
  return Array.isArray(value) && value.length <= 1_000 && value.every((v) => typeof v === 'string' && v.length > 0 && v.length <= 2_048);
}

function parsePurge(text: string): PurgeRequest | string {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    return 'the body is not valid JSON';
  }
  if (body === null || typeof body !== 'object' || Array.isArray(body)) return 'the body must be a JSON object';
  const { tags, pattern, keys, ...rest } = body as Record<string, unknown>;
  const unknown = Object.keys(rest);
  if (unknown.length > 0) return `unknown field "${unknown[0]}"`;
  if (tags !== undefined && !isStringArray(tags)) return '"tags" must be an array of non-empty strings';
  if (keys !== undefined && !isStringArray(keys)) return '"keys" must be an array of non-empty strings';
  if (pattern !== undefined && (typeof pattern !== 'string' || pattern.length === 0 || pattern.length > 2_048)) return '"pattern" must be a non-empty string';
  if (tags === undefined && keys === undefined && pattern === undefined) return 'give "tags", "pattern" or "keys"';
  return { ...(tags ? { tags } : {}), ...(pattern ? { pattern } : {}), ...(keys ? { keys } : {}) } as PurgeRequest;
}

/**
 * A Node `http` handler for purges: `POST` with a JSON body `{ "tags": [...] }`, `{ "pattern": "GET
 * example.com/api/*" }` and/or `{ "keys": [...] }`. Answers 200 with what was done, 202 with
 * `queued` naming the parts the shared store or the bus could not take (applied on this node at
 * once, retried by the cache until they reach every node), 400/405/413/415 for bad requests, 403
 * when `authorize` refuses, and 503 when the invalidation failed otherwise. Errors are RFC 9457
 * problems.
 */
export function createPurgeHandler(cache: EdgeCache, options: PurgeHandlerOptions = {}): (req: IncomingMessage, res: ServerResponse) => void {
  const scope = '@edgekit/cache purge handler';
  if (options.authorize !== undefined && typeof options.authorize !== 'function') {
    throw new TypeError(`${scope}: option "authorize" must be a function (got ${describeValue(options.authorize)})`);
  }
  const maxBodySize = options.maxBodySize ?? PURGE_DEFAULTS.maxBodySize;
  if (!Number.isInteger(maxBodySize) || maxBodySize < 2) throw new RangeError(`${scope}: option "maxBodySize" must be an integer >= 2 (got ${describeValue(maxBodySize)})`);
  const authorize = options.authorize;

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    if (req.method !== 'POST') {
      req.resume();
      sendProblem(res, { title: 'Method Not Allowed', status: 405, detail: 'purge with POST' }, { allow: 'POST' });
      return;
    }
    if (authorize) {
      let allowed = false;
      try {
        allowed = await authorize(req);
      } catch {
        allowed = false;
      }
      if (!allowed) {
        req.resume();
        sendProblem(res, { title: 'Forbidden', status: 403 });
        return;
      }
    }
    const type = req.headers['content-type'];
    if (typeof type !== 'string' || !/^application\/(.+\+)?json\s*(;|$)/i.test(type)) {
      req.resume();
      sendProblem(res, { title: 'Unsupported Media Type', status: 415, detail: 'send application/json' });
      return;
    }
    const body = await readBody(req, maxBodySize);
    if (!body.complete) {
      req.resume();
      sendProblem(res, { title: 'Content Too Large', status: 413, detail: `the body exceeds ${maxBodySize} bytes` });
      return;
    }
    const parsed = parsePurge(Buffer.concat(body.chunks).toString('utf8'));
    if (typeof parsed === 'string') {
      sendProblem(res, { title: 'Bad Request', status: 400, detail: parsed });
      return;
    }
    const result: { tags?: number; keys?: number; deleted?: number } = {};
    const queued: string[] = [];
    // An invalidation the shared store or the bus could not take is applied on this node and
    // retried by the cache (EQUEUED): the purge goes on with the other parts and answers 202.
    const run = async (part: string, invalidate: () => Promise<void>): Promise<void> => {
      try {
        await invalidate();
      } catch (error) {
        if ((error as { code?: unknown }).code !== 'EQUEUED') throw error;
        queued.push(part);
      }
    };
    try {
      if (parsed.tags) {
        const tags = parsed.tags;
        await run('tags', () => cache.invalidateTag(tags));
        result.tags = tags.length;
      }
      if (parsed.keys) {
        const keys = parsed.keys;
        await run('keys', () => cache.invalidateKey(keys));
        result.keys = keys.length;
      }
      if (parsed.pattern) {
        const pattern = parsed.pattern;
        await run('pattern', async () => {
          result.deleted = await cache.invalidatePattern(pattern);
        });
      }
    } catch (error) {
      sendProblem(res, { title: 'Service Unavailable', status: 503, detail: `the invalidation could not be completed: ${error instanceof Error ? error.message : String(error)}` }, { 'retry-after': 1 });
      return;
    }
    const text = JSON.stringify(queued.length === 0 ? { purged: result } : { purged: result, queued });
    res.writeHead(queued.length === 0 ? 200 : 202, { 'content-type': 'application/json', 'cache-control': 'no-store', 'content-length': Buffer.byteLength(text) });
    res.end(text);
  };

  return (req, res) => {
    handle(req, res).catch(() => {
      if (!res.headersSent) sendProblem(res, { title: 'Internal Server Error', status: 500 });
      else res.destroy();
    });
  };
}
