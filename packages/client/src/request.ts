import type { Edge } from './edge-map.js';
import { EdgeClientError } from './errors.js';
import type { Emitter } from './emitter.js';
import type { EdgeClientEvents } from './events.js';
import { parseRetryAfter } from './health.js';
import type { ResolvedOptions } from './options.js';
import type { RetryBudget } from './retry-budget.js';
import type { EdgeSelection } from './selection.js';

/** What a request needs from its client. */
export interface RequestContext {
  options: ResolvedOptions;
  selection: EdgeSelection;
  events: Emitter<EdgeClientEvents>;
  budget: RetryBudget | undefined;
  /** Records an edge's success or failure with its breaker. */
  outcome(edge: Edge, ok: boolean): void;
  /** Re-evaluates the current edge. */
  reselect(): void;
}

// Errors raised before any byte left: the request was not sent and may go elsewhere whatever its method.
const NOT_SENT = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'UND_ERR_CONNECT_TIMEOUT']);

function notSent(error: unknown): boolean {
  const cause = (error as { cause?: { code?: unknown; errors?: { code?: unknown }[] } })?.cause;
  if (NOT_SENT.has(String(cause?.code))) return true;
  // Happy eyeballs: an AggregateError of connect failures.
  return Array.isArray(cause?.errors) && cause.errors.length > 0 && cause.errors.every((e) => NOT_SENT.has(String(e?.code)));
}

/** Whether a body can be sent twice: anything but a stream (web `ReadableStream`, Node readable, async iterable). */
function replayable(body: unknown): boolean {
  return typeof body !== 'object' || body === null || !(typeof (body as ReadableStream).getReader === 'function' || Symbol.asyncIterator in body);
}

interface Attempt {
  edge: Edge;
  controller: AbortController;
  timer: object | undefined;
  settled: boolean;
}

/**
 * Sends one request through the edges in order: failover after a failure when it is safe (the
 * method is idempotent, or nothing was sent), hedging of slow idempotent requests, all within
 * `maxAttempts` and the retry budget; `Retry-After` cools an edge down.
 */
export function send(ctx: RequestContext, path: string, init: RequestInit = {}): Promise<Response> {
  const { options, selection, events } = ctx;
  const { clock } = options;
  const started = clock.now();
  const method = (init.method ?? 'GET').toUpperCase();
  const headers = new Headers(init.headers);
  const idempotent = options.idempotentMethods.has(method) || headers.has('idempotency-key');
  const canReplay = replayable(init.body);
  const candidates = selection.candidates(started);
  const callerSignal = init.signal ?? undefined;

  return new Promise<Response>((resolve, reject) => {
    const attempts: Attempt[] = [];
    const tried: string[] = [];
    let cursor = 0;
    let hedges = 0;
    let done = false;
    let fallback: Response | undefined;
    let lastError: unknown;
    let hedgeTimer: object | undefined;

    if (candidates.length === 0) {
      const ranked = selection.rank(started).filter((r) => r.excluded !== 'region');
      const wait = ranked.length === 0 ? undefined : Math.min(...ranked.map((r) => r.waitFor));
      reject(new EdgeClientError('EUNAVAILABLE', `no edge can take requests now${options.region ? ` in region "${options.region}"` : ''}`, { region: options.region, retryAfter: wait || undefined }));
      return;
    }
    if (callerSignal?.aborted) {
      reject(callerSignal.reason);
      return;
    }
    ctx.budget?.recordRequest();

    const finish = (response: Response | undefined, error?: unknown): void => {
      if (done) return;
      done = true;
      clock.clearTimeout(hedgeTimer);
      callerSignal?.removeEventListener('abort', onCallerAbort);
      for (const a of attempts) {
        clock.clearTimeout(a.timer);
        if (!a.settled) a.controller.abort();
      }
      if (response !== undefined) {
        if (fallback !== undefined && fallback !== response) void fallback.body?.cancel();
        resolve(response);
      } else reject(error);
    };
    const onCallerAbort = (): void => finish(undefined, callerSignal!.reason);
    callerSignal?.addEventListener('abort', onCallerAbort, { once: true });

    /** The next edge that grants a permit, or `undefined`. */
    const nextEdge = (): Edge | undefined => {
      const now = clock.now();
      while (cursor < candidates.length) {
        const edge = candidates[cursor++]!;
        if (selection.health.get(edge.id)?.acquire(now)) return edge;
      }
      return undefined;
    };

    const launchNext = (kind: 'retry' | 'hedge', from: Edge, reason: string): boolean => {
      if (done || attempts.length >= options.maxAttempts) return false;
      const edge = nextEdge();
      if (edge === undefined) return false;
      if (ctx.budget !== undefined && !ctx.budget.tryRetry()) {
        events.emit('budgetExhausted', { edge: edge.id, kind });
        return false;
      }
      if (kind === 'hedge') {
        hedges++;
        events.emit('hedge', { waiting: from.id, to: edge.id });
      } else events.emit('failover', { from: from.id, to: edge.id, reason });
      launch(edge);
      return true;
    };

    const inFlight = (): boolean => attempts.some((a) => !a.settled);

    const armHedge = (edge: Edge): void => {
      const hedge = options.hedge;
      if (hedge === undefined || !idempotent || !canReplay || hedges >= hedge.max) return;
      clock.clearTimeout(hedgeTimer);
      hedgeTimer = clock.setTimeout(() => {
        if (!done && inFlight() && launchNext('hedge', edge, 'slow')) armHedge(edge);
      }, hedge.delay);
    };

    const failed = (attempt: Attempt, reason: string, sent: boolean): void => {
      const retried = (idempotent && canReplay) || !sent ? launchNext('retry', attempt.edge, reason) : false;
      if (!retried && !inFlight()) {
        if (fallback !== undefined) finish(fallback);
        else {
          const timedOut = (lastError as Error | undefined)?.name === 'TimeoutError';
          finish(undefined, new EdgeClientError(timedOut ? 'ETIMEDOUT' : 'EUPSTREAM', `${timedOut ? 'no answer in time' : 'request failed'} from ${tried.join(', ')}`, { cause: lastError, edgesTried: [...tried], region: options.region }));
        }
      }
    };

    const launch = (edge: Edge): void => {
      const attempt: Attempt = { edge, controller: new AbortController(), timer: undefined, settled: false };
      attempts.push(attempt);
      tried.push(edge.id);
      attempt.timer = clock.setTimeout(() => attempt.controller.abort(new DOMException('timeout', 'TimeoutError')), options.timeout);
      const url = edge.url + (path.startsWith('/') ? path : `/${path}`);
      options.fetch(url, { ...init, headers, signal: attempt.controller.signal }).then(
        (response) => {
          attempt.settled = true;
          clock.clearTimeout(attempt.timer);
          if (done) {
            void response.body?.cancel();
            return;
          }
          const now = clock.now();
          const { status } = response;
          if (status === 429 || status === 503) {
            const wait = parseRetryAfter(response.headers.get('retry-after'), now);
            if (wait !== undefined && wait > 0) {
              const until = now + Math.min(wait, options.maxRetryAfter);
              selection.healthOf(edge).coolingUntil = until;
              events.emit('retryAfter', { edge: edge.id, until });
              ctx.reselect();
            }
          }
          const failure = options.retryStatuses.has(status);
          ctx.outcome(edge, !failure);
          if (failure) {
            if (fallback !== undefined) void fallback.body?.cancel();
            fallback = response;
            failed(attempt, `status ${status}`, true);
            return;
          }
          events.emit('response', { edge: edge.id, status, attempts: attempts.length, duration: now - started });
          finish(response);
        },
        (error: unknown) => {
          attempt.settled = true;
          clock.clearTimeout(attempt.timer);
          if (done) return;
          const reason = attempt.controller.signal.reason as Error | undefined;
          lastError = reason?.name === 'TimeoutError' ? reason : error;
          ctx.outcome(edge, false);
          failed(attempt, reason?.name === 'TimeoutError' ? 'timeout' : 'network error', !notSent(error));
        },
      );
      if (attempts.length === 1) armHedge(edge);
    };

    // candidates() listed usable edges only, so the first one grants its permit.
    launch(nextEdge()!);
  });
}
