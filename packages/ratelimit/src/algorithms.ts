import type { RateLimitPolicy, RateLimitResult } from './types.js';

// Tolerance for floating-point rates (token bucket, GCRA): a request that fits up to this many
// milliseconds or tokens is allowed, so 1000 requests per 1000 ms never lose one to rounding.
const EPSILON = 1e-6;

/**
 * Mutable per-key state, one shape for every algorithm so the store stays monomorphic.
 * fixed-window: a = window index, b = count. sliding-window: a = window index, b = current count,
 * c = previous count. token-bucket: a = tokens, b = last refill time. gcra: a = theoretical arrival time.
 */
export class Slot {
  a = 0;
  b = 0;
  c = 0;
}

/** The state machine of one algorithm over a {@link Slot}; used by the local limiter. */
export interface AlgorithmCore {
  init(slot: Slot, now: number): void;
  /** Decides and, when allowed, spends `cost`. */
  decide(slot: Slot, now: number, cost: number): RateLimitResult;
  /** True when the slot holds nothing a fresh slot would not: it may be dropped. */
  expired(slot: Slot, now: number): boolean;
}

const ceilMs = (ms: number): number => (ms > 0 ? Math.ceil(ms - EPSILON) : 0);

/** Result of a fixed window decision, given the count after it. */
export function fixedResult(allowed: boolean, limit: number, count: number, windowEnd: number, now: number): RateLimitResult {
  const reset = count > 0 ? ceilMs(windowEnd - now) : 0;
  return { allowed, limit, remaining: limit > count ? Math.floor(limit - count) : 0, reset, retryAfter: allowed ? 0 : reset };
}

/** Time until `prev * weight + current + cost <= limit` in a two-window weighted count. */
function slidingRetryAfter(limit: number, window: number, current: number, previous: number, elapsed: number, cost: number): number {
  if (current + cost <= limit) {
    // Wait for the previous window's weight to decay enough.
    const wait = window * (1 - (limit - current - cost) / previous) - elapsed;
    return Math.max(1, ceilMs(wait));
  }
  // Only the next window can fit it: there the current count becomes the decaying previous one.
  const intoNext = current > limit - cost ? window * (1 - (limit - cost) / current) : 0;
  return Math.max(1, ceilMs(window - elapsed + intoNext));
}

/** Result of a sliding window decision, given the counts after it. */
export function slidingResult(
  allowed: boolean,
  policy: RateLimitPolicy,
  current: number,
  previous: number,
  windowStart: number,
  now: number,
  cost: number,
): RateLimitResult {
  const { limit, window } = policy;
  const elapsed = now - windowStart;
  const estimate = previous * (1 - elapsed / window) + current;
  const remaining = estimate < limit ? Math.floor(limit - estimate + EPSILON) : 0;
  const reset = current > 0 ? ceilMs(2 * window - elapsed) : previous > 0 ? ceilMs(window - elapsed) : 0;
  const retryAfter = allowed ? 0 : slidingRetryAfter(limit, window, current, previous, elapsed, cost);
  return { allowed, limit, remaining, reset, retryAfter };
}

/** Result of a token bucket decision, given the tokens left after it. */
export function bucketResult(allowed: boolean, policy: RateLimitPolicy, tokens: number, cost: number): RateLimitResult {
  const rate = policy.limit / policy.window;
  return {
    allowed,
    limit: policy.limit,
    remaining: Math.floor(tokens + EPSILON),
    reset: ceilMs((policy.burst - tokens) / rate),
    retryAfter: allowed ? 0 : Math.max(1, ceilMs((cost - tokens) / rate)),
  };
}

/** Result of a GCRA decision, given the theoretical arrival time after it (unchanged when refused). */
export function gcraResult(allowed: boolean, policy: RateLimitPolicy, tat: number, now: number, cost: number): RateLimitResult {
  const interval = policy.window / policy.limit;
  const tolerance = interval * policy.burst;
  const ahead = tat > now ? tat - now : 0;
  const remaining = Math.floor((tolerance - ahead) / interval + EPSILON);
  return {
    allowed,
    limit: policy.limit,
    remaining: remaining > 0 ? remaining : 0,
    reset: ceilMs(ahead),
    retryAfter: allowed ? 0 : Math.max(1, ceilMs(ahead + cost * interval - tolerance)),
  };
}

/** Creates the state machine for `policy.algorithm`. */
export function createCore(policy: RateLimitPolicy): AlgorithmCore {
  const { limit, window, burst } = policy;
  switch (policy.algorithm) {
    case 'fixed-window':
      return {
        init(slot, now) {
          slot.a = Math.floor(now / window);
          slot.b = 0;
        },
        decide(slot, now, cost) {
          const index = Math.floor(now / window);
          if (slot.a !== index) {
            slot.a = index;
            slot.b = 0;
          }
          const allowed = slot.b + cost <= limit;
          if (allowed) slot.b += cost;
          return fixedResult(allowed, limit, slot.b, (index + 1) * window, now);
        },
        expired: (slot, now) => (slot.a + 1) * window <= now,
      };
    case 'sliding-window':
      return {
        init(slot, now) {
          slot.a = Math.floor(now / window);
          slot.b = 0;
          slot.c = 0;
        },
        decide(slot, now, cost) {
          const index = Math.floor(now / window);
          if (slot.a !== index) {
            slot.c = slot.a === index - 1 ? slot.b : 0;
            slot.b = 0;
            slot.a = index;
          }
          const windowStart = index * window;
          const estimate = slot.c * (1 - (now - windowStart) / window) + slot.b;
          const allowed = estimate + cost <= limit + EPSILON;
          if (allowed) slot.b += cost;
          return slidingResult(allowed, policy, slot.b, slot.c, windowStart, now, cost);
        },
        expired: (slot, now) => (slot.a + 2) * window <= now,
      };
    case 'token-bucket': {
      const rate = limit / window;
      return {
        init(slot, now) {
          slot.a = burst;
          slot.b = now;
        },
        decide(slot, now, cost) {
          // State changes only when a request is allowed, exactly as in the Redis script.
          let tokens = slot.a;
          if (now > slot.b) {
            const refilled = tokens + (now - slot.b) * rate;
            tokens = refilled < burst ? refilled : burst;
          }
          const allowed = tokens + EPSILON >= cost;
          if (allowed) {
            tokens = tokens > cost ? tokens - cost : 0;
            slot.a = tokens;
            if (now > slot.b) slot.b = now;
          }
          return bucketResult(allowed, policy, tokens, cost);
        },
        expired: (slot, now) => slot.a + (now - slot.b) * rate >= burst,
      };
    }
    case 'gcra': {
      const interval = window / limit;
      const tolerance = interval * burst;
      return {
        init(slot, now) {
          slot.a = now;
        },
        decide(slot, now, cost) {
          const tat = slot.a > now ? slot.a : now;
          const next = tat + cost * interval;
          const allowed = next - now <= tolerance + EPSILON;
          if (allowed) slot.a = next;
          return gcraResult(allowed, policy, allowed ? next : tat, now, cost);
        },
        expired: (slot, now) => slot.a <= now,
      };
    }
  }
}
