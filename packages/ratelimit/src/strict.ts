import {
  type Clock,
  type Disposable,
  TypedEmitter,
  checkOptionsObject,
  checkRedisClient,
  checkRedisPrefix,
  optionalBoolean,
  optionalNumber,
  systemClock,
  type RedisClientLike,
} from '@edgekit/core';
import type { Cluster, Redis } from 'ioredis';
import { bucketResult, fixedResult, gcraResult, slidingResult } from './algorithms.js';
import { RateLimitError } from './errors.js';
import { DEFAULT_MAX_KEY_LENGTH, DEFAULT_PREFIX, keyBase, normalizeKey } from './keys.js';
import { type PolicyOptions, checkCost, parsePolicy } from './policy.js';
import { FIXED_WINDOW, GCRA, SLIDING_WINDOW, type Script, TOKEN_BUCKET, runScript } from './scripts.js';
import type { AsyncRateLimiter, RateLimitPolicy, RateLimitResult } from './types.js';

const SCOPE = '@edgekit/ratelimit';

/** Options for {@link createRedisLimiter}. */
export interface RedisLimiterOptions extends PolicyOptions {
  /** An ioredis client: standalone `Redis` or `Cluster`. The limiter never closes it. Required. */
  redis: RedisClientLike;
  /** Prefix of every key (no braces). Default: `'edgekit:rl:'`. */
  prefix?: string;
  /** Longest wait for Redis per decision, ms; past it the decision falls back to `failOpen`. Default: 250. */
  commandTimeout?: number;
  /** When Redis is down, slow or failing: allow (`true`) or refuse (`false`). Default: `true`. */
  failOpen?: boolean;
  /** `retryAfter` (and `reset`) of a refusal made because Redis is unavailable, ms. Default: 1000. */
  unavailableRetryAfter?: number;
  /** Keys longer than this are replaced by a SHA-256 digest. Default: 256. */
  maxKeyLength?: number;
  /** Time source; its `now()` is sent to Redis with every decision, so nodes should keep NTP time. Default: the system clock. */
  clock?: Clock;
}

/** Defaults of {@link RedisLimiterOptions}. */
export const REDIS_DEFAULTS = {
  algorithm: 'sliding-window',
  prefix: DEFAULT_PREFIX,
  commandTimeout: 250,
  failOpen: true,
  unavailableRetryAfter: 1000,
  maxKeyLength: DEFAULT_MAX_KEY_LENGTH,
} as const;

/** Events of a Redis-backed limiter. */
export interface RedisLimiterEvents {
  [event: string]: unknown[];
  /** Redis could not be used for a decision (or a sync); the decision was made locally. */
  error: [error: RateLimitError];
}

/** A strictly global limiter: one atomic Lua script on Redis per decision. */
export interface RedisRateLimiter extends AsyncRateLimiter {
  readonly mode: 'strict';
  /** Forgets `key` in Redis, restoring its full quota. */
  reset(key: string): Promise<void>;
  on<K extends keyof RedisLimiterEvents & string>(event: K, listener: (...args: RedisLimiterEvents[K]) => void): Disposable;
}

type Decoder = (reply: unknown[], now: number, cost: number) => RateLimitResult;

class StrictLimiter implements RedisRateLimiter {
  readonly mode = 'strict' as const;
  readonly policy: RateLimitPolicy;
  readonly #redis: Redis | Cluster;
  readonly #prefix: string;
  readonly #timeout: number;
  readonly #failOpen: boolean;
  readonly #unavailableRetryAfter: number;
  readonly #maxKeyLength: number;
  readonly #clock: Clock;
  readonly #events = new TypedEmitter<RedisLimiterEvents>();
  readonly #script: Script;
  readonly #decode: Decoder;
  readonly #ttl: number;
  #closed = false;

  constructor(options: RedisLimiterOptions) {
    const o = checkOptionsObject<RedisLimiterOptions>(SCOPE, options);
    this.#redis = checkRedisClient<Redis | Cluster>(SCOPE, o.redis);
    this.policy = parsePolicy(SCOPE, o);
    this.#prefix = checkRedisPrefix(SCOPE, o.prefix, REDIS_DEFAULTS.prefix);
    this.#timeout = optionalNumber(SCOPE, 'commandTimeout', o.commandTimeout, REDIS_DEFAULTS.commandTimeout, { min: 1 });
    this.#failOpen = optionalBoolean(SCOPE, 'failOpen', o.failOpen, REDIS_DEFAULTS.failOpen);
    this.#unavailableRetryAfter = optionalNumber(SCOPE, 'unavailableRetryAfter', o.unavailableRetryAfter, REDIS_DEFAULTS.unavailableRetryAfter, {
      min: 0,
    });
    this.#maxKeyLength = optionalNumber(SCOPE, 'maxKeyLength', o.maxKeyLength, REDIS_DEFAULTS.maxKeyLength, { min: 16, integer: true });
    this.#clock = o.clock ?? systemClock;
    // Counters outlive their window by one more window so the sliding window can read them as "previous".
    this.#ttl = Math.ceil(2 * this.policy.window) + 1000;
    const policy = this.policy;
    const { window } = policy;
    switch (policy.algorithm) {
      case 'fixed-window':
        this.#script = FIXED_WINDOW;
        this.#decode = (r, now) => fixedResult(r[0] === 1, policy.limit, Number(r[1]), (Math.floor(now / window) + 1) * window, now);
        break;
      case 'sliding-window':
        this.#script = SLIDING_WINDOW;
        this.#decode = (r, now, cost) =>
          slidingResult(r[0] === 1, policy, Number(r[1]), Number(r[2]), Math.floor(now / window) * window, now, cost);
        break;
      case 'token-bucket':
        this.#script = TOKEN_BUCKET;
        this.#decode = (r, _now, cost) => bucketResult(r[0] === 1, policy, Number(r[1]), cost);
        break;
      case 'gcra':
        this.#script = GCRA;
        this.#decode = (r, now, cost) => gcraResult(r[0] === 1, policy, Number(r[1]), now, cost);
        break;
    }
  }

  on<K extends keyof RedisLimiterEvents & string>(event: K, listener: (...args: RedisLimiterEvents[K]) => void): Disposable {
    return this.#events.on(event, listener);
  }

  #args(key: string, now: number, cost: number): Array<string | number> {
    const base = keyBase(this.#prefix, this.policy, key);
    const { limit, window, burst } = this.policy;
    switch (this.policy.algorithm) {
      case 'fixed-window':
        return [`${base}:${Math.floor(now / window)}`, cost, limit, this.#ttl];
      case 'sliding-window': {
        const index = Math.floor(now / window);
        const weight = 1 - (now - index * window) / window;
        return [`${base}:${index}`, `${base}:${index - 1}`, cost, limit, this.#ttl, weight];
      }
      case 'token-bucket':
        return [base, cost, burst, limit / window, now];
      case 'gcra': {
        const interval = window / limit;
        return [base, cost, interval, interval * burst, now];
      }
    }
  }

  #unavailable(code: 'ETIMEDOUT' | 'EREDIS' | 'EREDISDOWN', key: string, cause?: unknown): RateLimitResult {
    if (this.#events.hasListeners('error')) {
      const message =
        code === 'ETIMEDOUT'
          ? `${SCOPE}: Redis did not answer within ${this.#timeout} ms`
          : code === 'EREDISDOWN'
            ? `${SCOPE}: Redis is not connected`
            : `${SCOPE}: Redis failed: ${cause instanceof Error ? cause.message : String(cause)}`;
      this.#events.emit('error', new RateLimitError(code, message, { key, cause }));
    }
    const { limit } = this.policy;
    return this.#failOpen
      ? { allowed: true, limit, remaining: limit, reset: 0, retryAfter: 0 }
      : { allowed: false, limit, remaining: 0, reset: this.#unavailableRetryAfter, retryAfter: this.#unavailableRetryAfter };
  }

  limit(key: string, cost = 1): Promise<RateLimitResult> {
    checkCost(SCOPE, cost, this.policy.burst);
    if (this.#closed) return Promise.reject(new RateLimitError('ECLOSED', `${SCOPE}: limit() called after close()`));
    const k = normalizeKey(SCOPE, key, this.#maxKeyLength);
    // Never queue behind a reconnect: a client that is not ready is answered locally at once.
    if (this.#redis.status !== 'ready') return Promise.resolve(this.#unavailable('EREDISDOWN', k));
    const now = this.#clock.now();
    const clock = this.#clock;
    return new Promise<RateLimitResult>((resolve) => {
      let settled = false;
      const timer = clock.setTimeout(() => {
        if (settled) return;
        settled = true;
        resolve(this.#unavailable('ETIMEDOUT', k));
      }, this.#timeout);
      runScript(this.#redis, this.#script, this.#args(k, now, cost)).then(
        (reply) => {
          if (settled) return;
          settled = true;
          clock.clearTimeout(timer);
          resolve(this.#decode(reply as unknown[], now, cost));
        },
        (error: unknown) => {
          if (settled) return;
          settled = true;
          clock.clearTimeout(timer);
          resolve(this.#unavailable('EREDIS', k, error));
        },
      );
    });
  }

  async reset(key: string): Promise<void> {
    const base = keyBase(this.#prefix, this.policy, normalizeKey(SCOPE, key, this.#maxKeyLength));
    if (this.policy.algorithm === 'token-bucket' || this.policy.algorithm === 'gcra') {
      await this.#redis.del(base);
      return;
    }
    const index = Math.floor(this.#clock.now() / this.policy.window);
    await this.#redis.del(`${base}:${index}`, `${base}:${index - 1}`);
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#events.removeAllListeners();
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

/**
 * Creates a strictly global limiter on Redis (standalone or Cluster): each decision is one atomic
 * Lua script, so all nodes together never exceed the limit. When Redis is down or slower than
 * `commandTimeout`, the decision is made locally at once by `failOpen`.
 *
 * @example
 * const limiter = createRedisLimiter({ redis, algorithm: 'gcra', limit: 100, window: 60_000 });
 * const { allowed } = await limiter.limit(`user:${id}`);
 */
export function createRedisLimiter(options: RedisLimiterOptions): RedisRateLimiter {
  return new StrictLimiter(options);
}
