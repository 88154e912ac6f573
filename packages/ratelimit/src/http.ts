import type { IncomingMessage, ServerResponse } from 'node:http';
import { type ProblemDetails, checkOptionsObject, describeValue, optionalBoolean, optionalFunction, sendProblem } from '@edgekit/core';
import type { RateLimitPolicy, RateLimitResult, RateLimiter } from './types.js';

const SCOPE = '@edgekit/ratelimit';

/** The problem type of draft-ietf-httpapi-ratelimit-headers §5.1 ("Quota Exceeded"). */
export const QUOTA_EXCEEDED_TYPE = 'https://iana.org/assignments/http-problem-types#quota-exceeded';

const seconds = (ms: number): number => (ms > 0 ? Math.ceil(ms / 1000) : 0);

/**
 * The `RateLimit-Policy` and `RateLimit` field values of draft-ietf-httpapi-ratelimit-headers-11
 * (Structured Field lists): `"name";q=<limit>;w=<window s>` and `"name";r=<remaining>;t=<s>`. `t` is
 * the time until the quota is fully restored, or, on a refusal, until a retry can succeed.
 */
export function rateLimitHeaders(policy: RateLimitPolicy, result: RateLimitResult): { 'ratelimit-policy': string; ratelimit: string } {
  // Policy names are restricted to sf-string-safe characters by the limiter options.
  const name = `"${policy.name}"`;
  const t = seconds(result.allowed ? result.reset : Math.max(result.retryAfter, 1));
  return {
    'ratelimit-policy': `${name};q=${policy.limit};w=${Math.max(1, seconds(policy.window))}`,
    ratelimit: `${name};r=${Math.max(0, Math.floor(result.remaining))};t=${t}`,
  };
}

/** Sets `RateLimit-Policy` and `RateLimit` on `res` (a no-op once headers are sent). */
export function setRateLimitHeaders(res: ServerResponse, policy: RateLimitPolicy, result: RateLimitResult): void {
  if (res.headersSent) return;
  const headers = rateLimitHeaders(policy, result);
  res.setHeader('ratelimit-policy', headers['ratelimit-policy']);
  res.setHeader('ratelimit', headers.ratelimit);
}

/** The RFC 9457 body of a refusal: the draft's "quota exceeded" problem type, naming only the policy. */
export function quotaExceededProblem(policy: RateLimitPolicy): ProblemDetails {
  return {
    type: QUOTA_EXCEEDED_TYPE,
    title: 'Request cannot be satisfied as assigned quota has been exceeded',
    status: 429,
    'violated-policies': [policy.name],
  };
}

/** Answers 429 with `Retry-After` (seconds, at least 1), the RateLimit headers and a problem+json body. */
export function sendRateLimited(res: ServerResponse, policy: RateLimitPolicy, result: RateLimitResult): void {
  const headers: Record<string, string | number> = { 'retry-after': Math.max(1, seconds(result.retryAfter)) };
  Object.assign(headers, rateLimitHeaders(policy, result));
  sendProblem(res, quotaExceededProblem(policy), headers);
}

/** Options for {@link createRateLimitMiddleware}. */
export interface RateLimitMiddlewareOptions<Req extends IncomingMessage = IncomingMessage> {
  /** Any limiter: local, edge (synchronous) or strict (Promise). Required. */
  limiter: RateLimiter;
  /**
   * The key a request is counted under. Default: the socket's peer address. Behind a proxy, pass
   * one that reads the client address you trust, e.g. `(req) => clientIp(req, { trustedProxies })`
   * from `@edgekit/geo`, or an API key or user id.
   */
  key?: (req: Req) => string;
  /** Units a request costs. Default: 1. */
  cost?: (req: Req) => number;
  /** Requests for which this returns true are not counted. Default: none. */
  skip?: (req: Req) => boolean;
  /** Set `RateLimit-Policy`/`RateLimit` on allowed responses too. Default: `true`. */
  headers?: boolean;
  /** Answers a refused request. Default: {@link sendRateLimited} (429 problem+json). */
  onRejected?: (req: Req, res: ServerResponse, result: RateLimitResult) => void;
  /** Told when the key or cost function throws; the request is answered 500. Default: `process.emitWarning`. */
  onError?: (error: unknown, req: Req) => void;
}

/** Node http / Express middleware: `(req, res, next) => void`. */
export type RateLimitMiddleware<Req extends IncomingMessage = IncomingMessage> = (req: Req, res: ServerResponse, next: (error?: unknown) => void) => void;

const peerAddress = (req: IncomingMessage): string => req.socket?.remoteAddress ?? 'unknown';

const defaultOnError = (error: unknown): void => {
  process.emitWarning(error instanceof Error ? error : new Error(String(error)), { code: 'EDGEKIT_RATELIMIT_MIDDLEWARE' });
};

const isPromise = (value: unknown): value is Promise<RateLimitResult> => typeof (value as Promise<unknown> | undefined)?.then === 'function';

/**
 * Creates middleware that counts each request against `limiter`: allowed requests continue
 * (`next()`), refused ones get 429 with `Retry-After`. It never calls `next(error)`, so a request
 * cannot slip past a handler that ignores the error argument. A synchronous limiter adds no
 * promise to the request path.
 *
 * @example
 * const limiter = createLocalLimiter({ limit: 100, window: 60_000 });
 * app.use(createRateLimitMiddleware({ limiter, key: (req) => req.headers['x-api-key'] ?? req.socket.remoteAddress }));
 */
export function createRateLimitMiddleware<Req extends IncomingMessage = IncomingMessage>(
  options: RateLimitMiddlewareOptions<Req>,
): RateLimitMiddleware<Req> {
  const o = checkOptionsObject<RateLimitMiddlewareOptions<Req>>(SCOPE, options);
  const limiter = o.limiter;
  if (!limiter || typeof limiter.limit !== 'function' || !limiter.policy) {
    throw new TypeError(`${SCOPE}: option "limiter" must be a rate limiter (got ${describeValue(limiter)})`);
  }
  const keyOf = optionalFunction<(req: Req) => string, (req: Req) => string>(SCOPE, 'key', o.key, peerAddress);
  const costOf = optionalFunction<(req: Req) => number, undefined>(SCOPE, 'cost', o.cost, undefined);
  const skip = optionalFunction<(req: Req) => boolean, undefined>(SCOPE, 'skip', o.skip, undefined);
  const withHeaders = optionalBoolean(SCOPE, 'headers', o.headers, true);
  const onRejected = optionalFunction<NonNullable<RateLimitMiddlewareOptions<Req>['onRejected']>, undefined>(SCOPE, 'onRejected', o.onRejected, undefined);
  const onError = optionalFunction<(error: unknown, req: Req) => void, (error: unknown) => void>(SCOPE, 'onError', o.onError, defaultOnError);
  const policy = limiter.policy;

  const fail = (error: unknown, req: Req, res: ServerResponse): void => {
    try {
      onError(error, req);
    } catch {
      // A reporting hook must not turn a 500 into a crash.
    }
    sendProblem(res, { title: 'Internal Server Error', status: 500 });
  };

  const apply = (result: RateLimitResult, req: Req, res: ServerResponse, next: (error?: unknown) => void): void => {
    if (result.allowed) {
      if (withHeaders) setRateLimitHeaders(res, policy, result);
      next();
    } else if (onRejected) onRejected(req, res, result);
    else sendRateLimited(res, policy, result);
  };

  return (req, res, next) => {
    let outcome: RateLimitResult | Promise<RateLimitResult>;
    try {
      if (skip?.(req)) {
        next();
        return;
      }
      const key = keyOf(req);
      if (typeof key !== 'string') throw new TypeError(`${SCOPE}: the key function returned ${describeValue(key)}, not a string`);
      outcome = limiter.limit(key, costOf ? costOf(req) : 1);
    } catch (error) {
      fail(error, req, res);
      return;
    }
    if (isPromise(outcome)) {
      outcome.then(
        (result) => apply(result, req, res, next),
        (error: unknown) => fail(error, req, res),
      );
    } else apply(outcome, req, res, next);
  };
}
