/** The counting algorithms every mode shares. */
export type Algorithm = 'fixed-window' | 'sliding-window' | 'token-bucket' | 'gcra';

/** Where a limiter keeps its counts. */
export type RateLimitMode = 'local' | 'strict' | 'edge';

/** The outcome of one {@link RateLimiter.limit} call. Durations are milliseconds. */
export interface RateLimitResult {
  /** Whether the request may proceed. A refused request consumes nothing. */
  allowed: boolean;
  /** The configured quota (`limit` option). */
  limit: number;
  /** Quota still available after this decision (never negative). */
  remaining: number;
  /** Milliseconds until the quota is fully restored if no further request arrives. */
  reset: number;
  /** Milliseconds to wait before a request of the same cost can be allowed; `0` when allowed. */
  retryAfter: number;
}

/** The policy a limiter enforces: `limit` units per `window` milliseconds. */
export interface RateLimitPolicy {
  /** Policy name: separates the counters of limiters sharing a Redis, and names the policy in `RateLimit` headers. */
  readonly name: string;
  readonly algorithm: Algorithm;
  /** Quota per window. */
  readonly limit: number;
  /** Window length, ms. For `token-bucket` and `gcra` the refill rate is `limit / window`. */
  readonly window: number;
  /** Largest cost allowed at once (`token-bucket`, `gcra`); equals `limit` for window algorithms. */
  readonly burst: number;
}

/**
 * A rate limiter. `R` is the result type of {@link RateLimiter.limit}: a plain
 * {@link RateLimitResult} for local and edge limiters (decided without I/O), a Promise for the
 * strict Redis limiter.
 */
export interface RateLimiter<R extends RateLimitResult | Promise<RateLimitResult> = RateLimitResult | Promise<RateLimitResult>> {
  readonly mode: RateLimitMode;
  readonly policy: RateLimitPolicy;
  /**
   * Decides whether `key` may spend `cost` (a non-negative integer, default 1, at most `burst`)
   * now, and spends it when allowed. Throws a `RangeError` for a cost it can never allow.
   */
  limit(key: string, cost?: number): R;
  /** Stops timers (and, for edge limiters, flushes pending increments). Redis clients stay open. */
  close(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

/** A limiter that decides synchronously: local and edge modes. */
export type SyncRateLimiter = RateLimiter<RateLimitResult>;

/** A limiter that decides through Redis: strict mode. */
export type AsyncRateLimiter = RateLimiter<Promise<RateLimitResult>>;
