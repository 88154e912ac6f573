import { checkOptionsObject, optionalFunction, optionalNumber } from '@edgekit/core';

/** Exponential backoff with full jitter between retries inside one region. */
export interface RetryBackoffOptions {
  /** Upper bound of the first delay in ms; each further retry doubles it. Default `25` (Envoy's). */
  base?: number;
  /** Largest upper bound in ms. Default `250`. */
  max?: number;
}

/** Defaults of the retry policy options of the forwarder. */
export const RETRY_POLICY_DEFAULTS = Object.freeze({ backoffBase: 25, backoffMax: 250, maxRetryAfter: 1000, requestTimeout: 0 });

/** The retry policy after validation. */
export interface RetryPolicy {
  /** Backoff base in ms, `0` for none. */
  backoffBase: number;
  backoffMax: number;
  /** `Retry-After` of a retryable answer is waited up to this many ms; a longer one is relayed, not retried. */
  maxRetryAfter: number;
  /** Overall deadline of a request in ms across every attempt and delay (`0`: none). */
  requestTimeout: number;
  random: () => number;
}

/** Validates `retryBackoff`, `maxRetryAfter` and `requestTimeout`. */
export function resolveRetryPolicy(scope: string, options: { retryBackoff?: unknown; maxRetryAfter?: unknown; requestTimeout?: unknown; random?: unknown }): RetryPolicy {
  let backoffBase: number = RETRY_POLICY_DEFAULTS.backoffBase;
  let backoffMax: number = RETRY_POLICY_DEFAULTS.backoffMax;
  if (options.retryBackoff === false) {
    backoffBase = 0;
  } else if (options.retryBackoff !== undefined) {
    const backoff = checkOptionsObject<RetryBackoffOptions>(`${scope}: option "retryBackoff"`, options.retryBackoff);
    backoffBase = optionalNumber(scope, 'retryBackoff.base', backoff.base, backoffBase, { min: 0 });
    backoffMax = optionalNumber(scope, 'retryBackoff.max', backoff.max, Math.max(backoffMax, backoffBase), { min: backoffBase });
  }
  return {
    backoffBase,
    backoffMax,
    maxRetryAfter: optionalNumber(scope, 'maxRetryAfter', options.maxRetryAfter, RETRY_POLICY_DEFAULTS.maxRetryAfter, { min: 0 }),
    requestTimeout: optionalNumber(scope, 'requestTimeout', options.requestTimeout, RETRY_POLICY_DEFAULTS.requestTimeout, { min: 0 }),
    random: optionalFunction<() => number, () => number>(scope, 'random', options.random, Math.random),
  };
}

/** Full jitter (AWS architecture blog, "Exponential Backoff and Jitter"): uniform in [0, min(max, base x 2^n)). */
export function backoffDelay(policy: RetryPolicy, retryIndex: number): number {
  if (policy.backoffBase === 0) return 0;
  const ceiling = Math.min(policy.backoffMax, policy.backoffBase * 2 ** Math.min(retryIndex, 30));
  return policy.random() * ceiling;
}

/**
 * `Retry-After` of a raw undici header list in ms (RFC 9110 §10.2.3: delay-seconds or an
 * HTTP-date), `undefined` when absent or unreadable.
 */
export function retryAfterMs(rawHeaders: Buffer[] | string[] | null, now: number): number | undefined {
  if (rawHeaders === null) return undefined;
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    const name = rawHeaders[i]!;
    if (name.length !== 11 || name.toString().toLowerCase() !== 'retry-after') continue;
    const value = rawHeaders[i + 1]!.toString().trim();
    if (/^\d+$/.test(value)) return Number(value) * 1000;
    const date = Date.parse(value);
    return Number.isNaN(date) ? undefined : Math.max(0, date - now);
  }
  return undefined;
}

