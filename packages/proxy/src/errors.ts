import { EdgekitError, type ProblemDetails, brandError } from '@edgekit/core';

/**
 * Stable codes of {@link ForwardError}:
 * - `EUPSTREAM` (502): every region tried failed (connection refused or reset, bad response).
 * - `EUNAVAILABLE` (503): no region could be tried: every candidate's breaker is open.
 * - `ETIMEDOUT` (504): a region tried did not answer in time and no other one answered.
 * - `EBADREQUEST` (400): the request cannot be forwarded as it is (target or header rejected).
 * - `ECLOSED` (503): the forwarder is closed.
 * - `EQUEUETIMEOUT` (503): no upstream connection became free within `queueTimeout` in any region tried.
 * - `ECLIENTTIMEOUT` (408): the client sent its request body too slowly (`clientBodyTimeout`, `clientBodyMinRate`).
 * - `ECLIENTLIMIT` (429): the client has `maxInFlightPerClient` requests in flight already.
 * - `EOVERLOADED` (503): every endpoint of the region is at its connection and queue limit.
 */
export type ForwardErrorCode = 'EUPSTREAM' | 'EUNAVAILABLE' | 'ETIMEDOUT' | 'EBADREQUEST' | 'ECLOSED' | 'EQUEUETIMEOUT' | 'ECLIENTTIMEOUT' | 'ECLIENTLIMIT' | 'EOVERLOADED';

/** RFC 9457 problem type URIs of the answers the forwarder writes itself. */
export const PROBLEM_TYPES = Object.freeze({
  EUPSTREAM: 'urn:edgekit:problem:upstream-failed',
  EUNAVAILABLE: 'urn:edgekit:problem:regions-unavailable',
  ETIMEDOUT: 'urn:edgekit:problem:upstream-timeout',
  EBADREQUEST: 'urn:edgekit:problem:bad-request',
  ECLOSED: 'urn:edgekit:problem:forwarder-closed',
  EQUEUETIMEOUT: 'urn:edgekit:problem:queue-timeout',
  ECLIENTTIMEOUT: 'urn:edgekit:problem:client-timeout',
  ECLIENTLIMIT: 'urn:edgekit:problem:client-limit',
  EOVERLOADED: 'urn:edgekit:problem:endpoints-overloaded',
} satisfies Record<ForwardErrorCode, string>);

const TITLES: Record<ForwardErrorCode, string> = {
  EUPSTREAM: 'Bad Gateway',
  EUNAVAILABLE: 'Service Unavailable',
  ETIMEDOUT: 'Gateway Timeout',
  EBADREQUEST: 'Bad Request',
  ECLOSED: 'Service Unavailable',
  EQUEUETIMEOUT: 'Service Unavailable',
  ECLIENTTIMEOUT: 'Request Timeout',
  ECLIENTLIMIT: 'Too Many Requests',
  EOVERLOADED: 'Service Unavailable',
};

const STATUSES: Record<ForwardErrorCode, number> = {
  EUPSTREAM: 502,
  EUNAVAILABLE: 503,
  ETIMEDOUT: 504,
  EBADREQUEST: 400,
  ECLOSED: 503,
  EQUEUETIMEOUT: 503,
  ECLIENTTIMEOUT: 408,
  ECLIENTLIMIT: 429,
  EOVERLOADED: 503,
};

/** Context of a {@link ForwardError}. */
export interface ForwardErrorContext {
  /** Region names a network attempt went to, in order. */
  regionsTried: readonly string[];
  /** Region names skipped without an attempt (unhealthy, breaker open). */
  regionsSkipped?: readonly string[] | undefined;
  /** Seconds the client should wait, for 503 and 429 answers (`Retry-After`). */
  retryAfter?: number | undefined;
  cause?: unknown;
}

/**
 * Why a request could not be forwarded, as an HTTP answer: `status`, the RFC 9457 `problem` body
 * that names the regions tried, and `retryAfter` (seconds) for 503. `forward()` rejects with it and
 * the adapters write it with `sendProblem`.
 */
export class ForwardError extends EdgekitError {
  declare readonly code: ForwardErrorCode;
  /** HTTP status of the answer: 400, 408, 429, 502, 503 or 504. */
  readonly status: number;
  /** Region names a network attempt went to, in order. */
  readonly regionsTried: readonly string[];
  /** Region names skipped without a network attempt. */
  readonly regionsSkipped: readonly string[];
  /** Seconds until a retry may succeed (the earliest breaker half-opening), for 503 answers. */
  readonly retryAfter: number | undefined;
  /** The RFC 9457 body. */
  readonly problem: ProblemDetails;

  /**
   * @param message A sentence for the problem's `detail`, sent to the client: never upstream
   *   addresses or internal messages.
   */
  constructor(code: ForwardErrorCode, message: string, context: ForwardErrorContext) {
    super(code, message, context.cause === undefined ? undefined : { cause: context.cause });
    this.status = STATUSES[code];
    this.regionsTried = context.regionsTried;
    this.regionsSkipped = context.regionsSkipped ?? [];
    this.retryAfter = context.retryAfter;
    const problem: ProblemDetails = {
      type: PROBLEM_TYPES[code],
      title: TITLES[code],
      status: this.status,
      detail: message,
      regionsTried: [...context.regionsTried],
    };
    if (this.regionsSkipped.length > 0) problem.regionsSkipped = [...this.regionsSkipped];
    if (context.retryAfter !== undefined) problem.retryAfter = context.retryAfter;
    this.problem = problem;
  }

  /** Headers to send with the problem (`Retry-After` for 503 and 429; `Connection: close` for 408, whose body was left unread). */
  headers(): Record<string, string | number> {
    if (this.code === 'ECLIENTTIMEOUT') return { connection: 'close' };
    return this.retryAfter === undefined ? {} : { 'retry-after': this.retryAfter };
  }
}

/** True for a {@link ForwardError}, also one raised by another copy of this package (a registered `Symbol.for` brand, where `instanceof` fails). */
export const isForwardError: (value: unknown) => value is ForwardError = brandError(ForwardError, 'edgekit.proxy.error');

/**
 * Stable codes of {@link ProxyError}, the errors the forwarder reports besides its answers:
 * - `EUPSTREAMSTATUS`: a region answered a status (or gRPC status) counted as a failure; what its
 *   breaker records, and the `cause` of a {@link ForwardError} when no region answered better.
 * - `EOVERFLOW`: every endpoint of a region is at its connection and queue limit.
 * - `EBODYCONSUMED`: the request body was read before the forwarder saw it (mount the forwarder
 *   before body parsers); reported on `error` and answered 500.
 */
export type ProxyErrorCode = 'EUPSTREAMSTATUS' | 'EOVERFLOW' | 'EBODYCONSUMED';

/** An attempt's failure or a misuse, as opposed to the forwarder's answers ({@link ForwardError}). */
export class ProxyError extends EdgekitError {
  declare readonly code: ProxyErrorCode;

  constructor(code: ProxyErrorCode, message: string, context?: { region?: string | undefined; cause?: unknown }) {
    super(code, message, context);
  }
}

/** True for a {@link ProxyError}, also one raised by another copy of this package. */
export const isProxyError: (value: unknown) => value is ProxyError = brandError(ProxyError, 'edgekit.proxy-attempt.error');
