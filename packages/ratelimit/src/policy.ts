import { checkNumber, describeValue, optionalNumber, optionalOneOf, optionalString } from '@edgekit/core';
import type { Algorithm, RateLimitPolicy } from './types.js';

const POLICY_NAME = /^[A-Za-z0-9_.-]{1,64}$/;

/** The algorithms accepted by the `algorithm` option. */
export const ALGORITHMS: readonly Algorithm[] = ['fixed-window', 'sliding-window', 'token-bucket', 'gcra'];

/** Options that describe the policy, shared by every limiter factory. */
export interface PolicyOptions {
  /**
   * Policy name (1-64 of `A-Z a-z 0-9 _ - .`): limiters with different names never share counters
   * in Redis, and it names the policy in the `RateLimit-Policy`/`RateLimit` headers. Default: `'default'`.
   */
  name?: string;
  /** Counting algorithm. Default: `'sliding-window'`. */
  algorithm?: Algorithm;
  /** Quota per window (a positive integer). Required. */
  limit: number;
  /** Window length in ms. Required. */
  window: number;
  /** Largest cost spendable at once for `token-bucket` and `gcra`. Default: `limit`. Ignored by window algorithms. */
  burst?: number;
}

/** Validates the policy options and returns a frozen {@link RateLimitPolicy}. */
export function parsePolicy(scope: string, options: Partial<PolicyOptions>, allowed: readonly Algorithm[] = ALGORITHMS): RateLimitPolicy {
  const name = optionalString(scope, 'name', options.name, 'default');
  if (!POLICY_NAME.test(name)) throw new TypeError(`${scope}: option "name" must be 1-64 of A-Z a-z 0-9 _ - . (got ${describeValue(name)})`);
  const algorithm = optionalOneOf(scope, 'algorithm', options.algorithm, allowed, 'sliding-window' as Algorithm);
  const limit = checkNumber(scope, 'limit', options.limit, { min: 1, integer: true, max: Number.MAX_SAFE_INTEGER });
  const window = checkNumber(scope, 'window', options.window, { min: 1, max: 2 ** 40 });
  const windowed = algorithm === 'fixed-window' || algorithm === 'sliding-window';
  const burst = windowed ? limit : optionalNumber(scope, 'burst', options.burst, limit, { min: 1, integer: true, max: Number.MAX_SAFE_INTEGER });
  return Object.freeze({ name, algorithm, limit, window, burst });
}

/** Throws a RangeError unless `cost` is an integer in `[0, burst]`. Kept small so it inlines on the hot path. */
export function checkCost(scope: string, cost: number, burst: number): void {
  if (!(cost >= 0 && cost <= burst && Number.isInteger(cost))) {
    throw new RangeError(`${scope}: cost must be an integer between 0 and ${burst} (got ${String(cost)})`);
  }
}
