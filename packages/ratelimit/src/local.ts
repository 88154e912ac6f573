import { type Clock, type ClockTimer, checkOptionsObject, optionalNumber, rejectRenamedOptions, systemClock } from '@edgekit/core';
import { type AlgorithmCore, Slot, createCore } from './algorithms.js';
import { RateLimitError } from './errors.js';
import { DEFAULT_MAX_KEY_LENGTH, normalizeKey } from './keys.js';
import { type PolicyOptions, checkCost, parsePolicy } from './policy.js';
import type { RateLimitPolicy, RateLimitResult, SyncRateLimiter } from './types.js';

const SCOPE = '@edgekit/ratelimit';

/** Options for {@link createLocalLimiter}. */
export interface LocalLimiterOptions extends PolicyOptions {
  /** Most keys held at once; beyond it the least recently used key is dropped. Default: 100000. */
  max?: number;
  /** How often keys whose state has fully reset are swept, ms. Default: `min(window, 60000)`. */
  sweepInterval?: number;
  /** Keys longer than this are replaced by a SHA-256 digest. Default: 256. */
  maxKeyLength?: number;
  /** Time source. Default: the system clock. */
  clock?: Clock;
}

/** Defaults of {@link LocalLimiterOptions}. */
export const LOCAL_DEFAULTS = {
  algorithm: 'sliding-window',
  max: 100_000,
  maxSweepInterval: 60_000,
  maxKeyLength: DEFAULT_MAX_KEY_LENGTH,
} as const;

/** A limiter whose counts live in this process. */
export interface LocalRateLimiter extends SyncRateLimiter {
  readonly mode: 'local';
  /** Forgets `key`, restoring its full quota. */
  reset(key: string): void;
  /** Number of keys currently held. */
  readonly size: number;
}

class LocalLimiter implements LocalRateLimiter {
  readonly mode = 'local' as const;
  readonly policy: RateLimitPolicy;
  readonly #core: AlgorithmCore;
  readonly #slots = new Map<string, Slot>();
  readonly #clock: Clock;
  readonly #max: number;
  readonly #maxKeyLength: number;
  readonly #sweepInterval: number;
  #sweepTimer: ClockTimer | undefined;
  #closed = false;

  constructor(options: LocalLimiterOptions) {
    const o = checkOptionsObject<LocalLimiterOptions>(SCOPE, options);
    rejectRenamedOptions(SCOPE, o, { maxKeys: 'max' });
    this.policy = parsePolicy(SCOPE, o);
    this.#core = createCore(this.policy);
    this.#max = optionalNumber(SCOPE, 'max', o.max, LOCAL_DEFAULTS.max, { min: 1, integer: true });
    this.#maxKeyLength = optionalNumber(SCOPE, 'maxKeyLength', o.maxKeyLength, LOCAL_DEFAULTS.maxKeyLength, { min: 16, integer: true });
    this.#sweepInterval = optionalNumber(SCOPE, 'sweepInterval', o.sweepInterval, Math.min(this.policy.window, LOCAL_DEFAULTS.maxSweepInterval), {
      min: 1,
    });
    this.#clock = o.clock ?? systemClock;
    this.#scheduleSweep();
  }

  get size(): number {
    return this.#slots.size;
  }

  limit(key: string, cost = 1): RateLimitResult {
    checkCost(SCOPE, cost, this.policy.burst);
    if (this.#closed) throw new RateLimitError('ECLOSED', `${SCOPE}: limit() called after close()`);
    const k = typeof key === 'string' && key.length <= this.#maxKeyLength ? key : normalizeKey(SCOPE, key, this.#maxKeyLength);
    const now = this.#clock.now();
    const slots = this.#slots;
    let slot = slots.get(k);
    if (slot === undefined) {
      if (slots.size >= this.#max) this.#evict(now);
      slot = new Slot();
      this.#core.init(slot, now);
      slots.set(k, slot);
    } else {
      // Least recently used order: a busy key is the last to be dropped under a flood of new keys.
      slots.delete(k);
      slots.set(k, slot);
    }
    return this.#core.decide(slot, now, cost);
  }

  reset(key: string): void {
    this.#slots.delete(normalizeKey(SCOPE, key, this.#maxKeyLength));
  }

  #evict(now: number): void {
    // Drop a key that has reset anyway if one is among the oldest few, else the least recently used.
    let oldest: string | undefined;
    let scanned = 0;
    for (const [k, slot] of this.#slots) {
      if (this.#core.expired(slot, now)) {
        this.#slots.delete(k);
        return;
      }
      oldest ??= k;
      if (++scanned >= 8) break;
    }
    if (oldest !== undefined) this.#slots.delete(oldest);
  }

  #sweep(): void {
    const now = this.#clock.now();
    for (const [k, slot] of this.#slots) if (this.#core.expired(slot, now)) this.#slots.delete(k);
  }

  #scheduleSweep(): void {
    if (this.#closed) return;
    this.#sweepTimer = this.#clock.setTimeout(() => {
      this.#sweep();
      this.#scheduleSweep();
    }, this.#sweepInterval);
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#clock.clearTimeout(this.#sweepTimer);
    this.#slots.clear();
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

/**
 * Creates an in-memory rate limiter: `limit(key, cost)` decides synchronously, with bounded memory
 * (`max` keys, least recently used dropped first, reset keys swept).
 *
 * @example
 * const limiter = createLocalLimiter({ algorithm: 'gcra', limit: 100, window: 60_000 });
 * const { allowed, retryAfter } = limiter.limit(clientIp);
 */
export function createLocalLimiter(options: LocalLimiterOptions): LocalRateLimiter {
  return new LocalLimiter(options);
}
