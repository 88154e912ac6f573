import type { IncomingMessage, ServerResponse } from 'node:http';
import { writeInformational } from '@edgekit/core';
import { type ForwardReason, forwardStatus } from './cache-status.js';
import type { CacheContext } from './context.js';
import { sendOriginFailure, streamResponse } from './respond.js';
import { forwardHeaders } from './semantics.js';
import { SAFE_METHODS, type Target } from './target.js';
import type { Origin, OriginResponse } from './types.js';

/**
 * Streams a request to the origin untouched. After a non-error answer to an unsafe method, the
 * target URI is invalidated first (RFC 9111 §4.4), so the client's next request cannot see the old entry.
 */
export async function bypass(cx: CacheContext, req: IncomingMessage, res: ServerResponse, origin: Origin, target: Target | undefined, fwd: ForwardReason, detail: string | undefined): Promise<void> {
  const method = req.method ?? 'GET';
  const route = target?.routeName ?? (method === 'GET' || method === 'HEAD' ? 'GET (other)' : `${method} (other)`);
  cx.lookupEvent(fwd === 'uri-miss' || fwd === 'vary-miss' || fwd === 'stale' || fwd === 'miss' ? 'miss' : 'bypass', route, undefined, detail);
  const controller = new AbortController();
  const onClose = (): void => {
    if (!res.writableFinished) controller.abort();
  };
  res.once('close', onClose);
  let response: OriginResponse;
  try {
    cx.counts.originRequests++;
    response = await origin(req, { signal: controller.signal, onInformational: (status, headers) => writeInformational(req, res, status, headers) });
  } catch (error) {
    res.off('close', onClose);
    if (!controller.signal.aborted) cx.report(error);
    if (!res.headersSent && !res.destroyed) sendOriginFailure(res, error, forwardStatus(cx.name, fwd, { detail: detail ?? 'origin-error' }));
    return;
  }
  if (!SAFE_METHODS.has(method) && response.statusCode < 400 && mayInvalidate(cx, req)) invalidateAfterUnsafe(cx, req, response);
  const headers = forwardHeaders(response.headers, cx.settings);
  headers.push('cache-status', forwardStatus(cx.name, fwd, { status: response.statusCode, detail }));
  streamResponse(res, response, headers, [], method === 'HEAD');
}

/** Whether an unsafe request may invalidate what it targets, under `unsafeInvalidation`. */
function mayInvalidate(cx: CacheContext, req: IncomingMessage): boolean {
  const { unsafeInvalidation, principal } = cx.options;
  if (unsafeInvalidation === 'always') return true;
  if (unsafeInvalidation === 'never' || principal === undefined) return false;
  try {
    const who = principal(req);
    return typeof who === 'string' && who.length > 0;
  } catch {
    return false;
  }
}

/** RFC 9111 §4.4: the target URI and the same-origin `Location`/`Content-Location`. */
function invalidateAfterUnsafe(cx: CacheContext, req: IncomingMessage, response: OriginResponse): void {
  const url = req.url;
  if (url === undefined || url.charCodeAt(0) !== 47) return;
  const host = cx.options.host ?? req.headers.host;
  const keys = [cx.targets.target(host, url).storeKey];
  for (const name of ['location', 'content-location']) {
    const value = response.headers[name];
    const text = Array.isArray(value) ? value[0] : value;
    if (typeof text !== 'string' || text.length === 0) continue;
    try {
      const base = `http://${host ?? 'localhost'}`;
      const resolved = new URL(text, `${base}${url}`);
      if (resolved.host === new URL(base).host) keys.push(cx.targets.target(host, `${resolved.pathname}${resolved.search}`).storeKey);
    } catch {
      // An unparsable Location invalidates nothing.
    }
  }
  cx.invalidation.invalidateKeys(keys).catch((error: unknown) => cx.report(error));
}
