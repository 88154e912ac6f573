import {
  type Clock,
  type ClockTimer,
  type Disposable,
  TypedEmitter,
  checkOptionsObject,
  checkRedisClient,
  checkRedisPrefix,
  isRedisCluster,
  optionalBoolean,
  optionalNumber,
  systemClock,
  type RedisClientLike,
} from '@edgekit/core';
import type { Cluster, Redis } from 'ioredis';
import { fixedResult, slidingResult } from './algorithms.js';
import { RateLimitError } from './errors.js';
import { DEFAULT_MAX_KEY_LENGTH, DEFAULT_PREFIX, keyBase, normalizeKey } from './keys.js';
import { type PolicyOptions, checkCost, parsePolicy } from './policy.js';
import { EDGE_SYNC, runScript, runScriptPipeline } from './scripts.js';
import type { Algorithm, RateLimitPolicy, RateLimitResult, SyncRateLimiter } from './types.js';

const SCOPE = '@edgekit/ratelimit';
const EDGE_ALGORITHMS: readonly Algorithm[] = ['fixed-window', 'sliding-window'];
// Weight of the newest measurement in the moving average of the other nodes' admission rate.
const RATE_SMOOTHING = 0.5;

/** Options for {@link createEdgeLimiter}. */
export interface EdgeLimiterOptions extends PolicyOptions {
  /** Counting algorithm: `'fixed-window'` or `'sliding-window'` (counters are what nodes can add up). Default: `'sliding-window'`. */
  algorithm?: 'fixed-window' | 'sliding-window';
  /** An ioredis client: standalone `Redis` or `Cluster`. The limiter never closes it. Required. */
  redis: RedisClientLike;
  /** How often this node pushes its increments and pulls the global counts, ms. Default: 100. */
  syncInterval?: number;
  /**
   * Predict the other nodes' admissions since the last sync from their measured rate, which removes
   * most of the overage under steady load. Default: `true`.
   */
  predict?: boolean;
  /** Longest wait for one sync, ms; a sync that outlives it is retried (its increments are kept). Default: 1000. */
  commandTimeout?: number;
  /**
   * While Redis is unreachable: keep deciding on the local view (`true`: last known global count,
   * own admissions, predicted others) or refuse everything (`false`). Default: `true`.
   */
  failOpen?: boolean;
  /** Prefix of every key (no braces). Default: `'edgekit:rl:'`. */
  prefix?: string;
  /** Most keys held at once; beyond it the least recently used is dropped (its increments still synced). Default: 100000. */
  maxKeys?: number;
  /** Keys longer than this are replaced by a SHA-256 digest. Default: 256. */
  maxKeyLength?: number;
  /** Time source; windows are aligned to its `now()`, so nodes should keep NTP time. Default: the system clock. */
  clock?: Clock;
}

/** Defaults of {@link EdgeLimiterOptions}. */
export const EDGE_DEFAULTS = {
  algorithm: 'sliding-window',
  syncInterval: 100,
  predict: true,
  commandTimeout: 1000,
  failOpen: true,
  prefix: DEFAULT_PREFIX,
  maxKeys: 100_000,
  maxKeyLength: DEFAULT_MAX_KEY_LENGTH,
} as const;

/** Summary of one sync round. */
export interface EdgeSyncEvent {
  /** Keys pushed and pulled. */
  keys: number;
  /** Round-trip time of the round, ms. */
  duration: number;
  ok: boolean;
}

/** Events of an edge limiter. */
export interface EdgeLimiterEvents {
  [event: string]: unknown[];
  sync: [event: EdgeSyncEvent];
  /** A sync failed; decisions continue locally. */
  error: [error: RateLimitError];
  /** Redis became unreachable (`false`) or reachable again (`true`). */
  health: [healthy: boolean];
}

/** A limiter that decides locally and converges through Redis every `syncInterval`. */
export interface EdgeRateLimiter extends SyncRateLimiter {
  readonly mode: 'edge';
  /** False while the last sync failed or the client is disconnected. */
  readonly healthy: boolean;
  /** Number of keys held in memory. */
  readonly size: number;
  /** Pushes pending increments and pulls global counts now; resolves when the round ends. */
  sync(): Promise<void>;
  on<K extends keyof EdgeLimiterEvents & string>(event: K, listener: (...args: EdgeLimiterEvents[K]) => void): Disposable;
}

/** This node's view of one key in the current window. */
class EdgeEntry {
  window: number;
  /** Global count at the last read; it includes this node's acknowledged increments (`mine`). */
  base = 0;
  mine = 0;
  inflight = 0;
  pending = 0;
  /** Global count of the previous window. */
  previous = 0;
  readAt: number;
  /** Unsynced admissions of other nodes assumed at `readAt`, in ms of their rate. */
  readLag = 0;
  othersAtRead = 0;
  /** Other nodes' admissions per ms, smoothed. */
  othersRate = 0;
  dirty = false;

  constructor(
    /** Redis key of this entry without the `:<window index>` suffix. */
    readonly redisBase: string,
    window: number,
    windowStart: number,
  ) {
    this.window = window;
    this.readAt = windowStart;
  }
}

interface SyncOp {
  entry: EdgeEntry | undefined;
  window: number;
  delta: number;
  args: Array<string | number>;
}

class EdgeLimiter implements EdgeRateLimiter {
  readonly mode = 'edge' as const;
  readonly policy: RateLimitPolicy;
  readonly #redis: Redis | Cluster;
  readonly #prefix: string;
  readonly #syncInterval: number;
  readonly #predict: boolean;
  readonly #timeout: number;
  readonly #failOpen: boolean;
  readonly #maxKeys: number;
  readonly #maxKeyLength: number;
  readonly #clock: Clock;
  readonly #sliding: boolean;
  readonly #ttl: number;
  readonly #events = new TypedEmitter<EdgeLimiterEvents>();
  readonly #entries = new Map<string, EdgeEntry>();
  #dirty: EdgeEntry[] = [];
  /** Increments of windows that ended before they were synced: [current key, previous key, delta]. */
  #leftovers: Array<[string, string, number]> = [];
  #timer: ClockTimer | undefined;
  #syncing: Promise<void> | undefined;
  #healthy = true;
  #closed = false;
  #lastSweep: number;

  constructor(options: EdgeLimiterOptions) {
    const o = checkOptionsObject<EdgeLimiterOptions>(SCOPE, options);
    this.#redis = checkRedisClient<Redis | Cluster>(SCOPE, o.redis);
    this.policy = parsePolicy(SCOPE, o, EDGE_ALGORITHMS);
    this.#prefix = checkRedisPrefix(SCOPE, o.prefix, EDGE_DEFAULTS.prefix);
    this.#syncInterval = optionalNumber(SCOPE, 'syncInterval', o.syncInterval, EDGE_DEFAULTS.syncInterval, { min: 1 });
    this.#predict = optionalBoolean(SCOPE, 'predict', o.predict, EDGE_DEFAULTS.predict);
    this.#timeout = optionalNumber(SCOPE, 'commandTimeout', o.commandTimeout, EDGE_DEFAULTS.commandTimeout, { min: 1 });
    this.#failOpen = optionalBoolean(SCOPE, 'failOpen', o.failOpen, EDGE_DEFAULTS.failOpen);
    this.#maxKeys = optionalNumber(SCOPE, 'maxKeys', o.maxKeys, EDGE_DEFAULTS.maxKeys, { min: 1, integer: true });
    this.#maxKeyLength = optionalNumber(SCOPE, 'maxKeyLength', o.maxKeyLength, EDGE_DEFAULTS.maxKeyLength, { min: 16, integer: true });
    this.#clock = o.clock ?? systemClock;
    this.#sliding = this.policy.algorithm === 'sliding-window';
    this.#ttl = Math.ceil(2 * this.policy.window) + 1000;
    this.#lastSweep = this.#clock.now();
    this.#schedule();
  }

  get healthy(): boolean {
    return this.#healthy;
  }

  get size(): number {
    return this.#entries.size;
  }

  on<K extends keyof EdgeLimiterEvents & string>(event: K, listener: (...args: EdgeLimiterEvents[K]) => void): Disposable {
    return this.#events.on(event, listener);
  }

  /** This node's estimate of the global count of the entry's window at `now`. */
  #estimate(entry: EdgeEntry, now: number): number {
    let count = entry.base + entry.inflight + entry.pending;
    if (this.#predict && entry.othersRate > 0) count += entry.othersRate * (now - entry.readAt + entry.readLag);
    return count;
  }

  #rollOver(entry: EdgeEntry, window: number): void {
    const { window: length } = this.policy;
    const ended = this.#estimate(entry, (entry.window + 1) * length);
    if (entry.pending > 0) this.#leftovers.push([`${entry.redisBase}:${entry.window}`, `${entry.redisBase}:${entry.window - 1}`, entry.pending]);
    entry.previous = entry.window === window - 1 ? Math.min(ended, this.policy.limit * 2) : 0;
    entry.window = window;
    entry.base = 0;
    entry.mine = 0;
    entry.inflight = 0;
    entry.pending = 0;
    entry.readAt = window * length;
    entry.readLag = 0;
    entry.othersAtRead = 0;
  }

  limit(key: string, cost = 1): RateLimitResult {
    checkCost(SCOPE, cost, this.policy.burst);
    if (this.#closed) throw new RateLimitError('ECLOSED', `${SCOPE}: limit() called after close()`);
    const k = normalizeKey(SCOPE, key, this.#maxKeyLength);
    const { limit, window: length } = this.policy;
    const now = this.#clock.now();
    const window = Math.floor(now / length);
    const windowStart = window * length;
    let entry = this.#entries.get(k);
    if (entry === undefined) {
      if (this.#entries.size >= this.#maxKeys) this.#evictOldest();
      entry = new EdgeEntry(keyBase(this.#prefix, this.policy, k), window, windowStart);
      this.#entries.set(k, entry);
    } else {
      this.#entries.delete(k);
      this.#entries.set(k, entry);
      if (entry.window !== window) this.#rollOver(entry, window);
    }
    if (!entry.dirty) {
      entry.dirty = true;
      this.#dirty.push(entry);
    }
    if (!this.#failOpen && !this.#healthy) {
      const wait = Math.ceil(this.#syncInterval);
      return { allowed: false, limit, remaining: 0, reset: wait, retryAfter: wait };
    }
    const current = this.#estimate(entry, now);
    if (this.#sliding) {
      const total = entry.previous * (1 - (now - windowStart) / length) + current;
      const allowed = total + cost <= limit + 1e-6;
      if (allowed) entry.pending += cost;
      return slidingResult(allowed, this.policy, allowed ? current + cost : current, entry.previous, windowStart, now, cost);
    }
    const allowed = current + cost <= limit;
    if (allowed) entry.pending += cost;
    return fixedResult(allowed, limit, allowed ? current + cost : current, windowStart + length, now);
  }

  #evictOldest(): void {
    for (const [k, entry] of this.#entries) {
      // Admissions already made must still reach Redis.
      if (entry.pending > 0) this.#leftovers.push([`${entry.redisBase}:${entry.window}`, `${entry.redisBase}:${entry.window - 1}`, entry.pending]);
      entry.pending = 0;
      this.#entries.delete(k);
      return;
    }
  }

  #sweep(now: number): void {
    const horizon = Math.floor(now / this.policy.window) - 1;
    for (const [k, entry] of this.#entries) {
      if (entry.window < horizon && !entry.dirty && entry.inflight === 0 && entry.pending === 0) this.#entries.delete(k);
    }
  }

  #schedule(): void {
    if (this.#closed) return;
    this.#timer = this.#clock.setTimeout(() => {
      void this.sync().finally(() => this.#schedule());
    }, this.#syncInterval);
  }

  #setHealthy(healthy: boolean): void {
    if (this.#healthy === healthy) return;
    this.#healthy = healthy;
    this.#events.emit('health', healthy);
  }

  sync(): Promise<void> {
    this.#syncing ??= this.#round().finally(() => {
      this.#syncing = undefined;
    });
    return this.#syncing;
  }

  async #round(): Promise<void> {
    const now = this.#clock.now();
    if (now - this.#lastSweep >= Math.min(this.policy.window, 60_000)) {
      this.#lastSweep = now;
      this.#sweep(now);
    }
    const ops: SyncOp[] = [];
    for (const [current, previous, delta] of this.#leftovers) {
      ops.push({ entry: undefined, window: -1, delta, args: [current, previous, delta, this.#ttl] });
    }
    this.#leftovers = [];
    const dirty = this.#dirty;
    this.#dirty = [];
    for (const entry of dirty) {
      entry.dirty = false;
      const delta = entry.pending;
      entry.pending = 0;
      entry.inflight += delta;
      ops.push({ entry, window: entry.window, delta, args: [`${entry.redisBase}:${entry.window}`, `${entry.redisBase}:${entry.window - 1}`, delta, this.#ttl] });
    }
    if (ops.length === 0) {
      this.#setHealthy(this.#redis.status === 'ready');
      return;
    }
    const started = this.#clock.now();
    let replies: Array<[Error | null, unknown]> | undefined;
    let failure: RateLimitError | undefined;
    if (this.#redis.status !== 'ready') {
      failure = new RateLimitError('EREDISDOWN', `${SCOPE}: Redis is not connected; ${ops.length} keys not synced`);
    } else {
      try {
        replies = await this.#send(ops);
      } catch (error) {
        failure =
          error instanceof RateLimitError
            ? error
            : new RateLimitError('EREDIS', `${SCOPE}: sync failed: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
      }
    }
    const done = this.#clock.now();
    let failed = 0;
    for (let i = 0; i < ops.length; i++) {
      const op = ops[i]!;
      const reply = replies?.[i];
      if (reply && reply[0] === null && Array.isArray(reply[1])) this.#apply(op, reply[1] as unknown[], done);
      else {
        failed++;
        this.#retry(op);
      }
    }
    if (failure === undefined && failed > 0) {
      const first = replies?.find(([error]) => error !== null)?.[0];
      failure = new RateLimitError('EREDIS', `${SCOPE}: ${failed} of ${ops.length} keys failed to sync${first ? `: ${first.message}` : ''}`, {
        cause: first,
      });
    }
    this.#setHealthy(failure === undefined);
    if (failure) this.#events.emit('error', failure);
    if (this.#events.hasListeners('sync')) this.#events.emit('sync', { keys: ops.length, duration: done - started, ok: failure === undefined });
  }

  #send(ops: SyncOp[]): Promise<Array<[Error | null, unknown]>> {
    const client = this.#redis;
    const work = isRedisCluster(client)
      ? // Keys of different slots live on different nodes: one script call each, sent together.
        Promise.all(
          ops.map((op) =>
            runScript(client, EDGE_SYNC, op.args).then(
              (reply): [Error | null, unknown] => [null, reply],
              (error: unknown): [Error | null, unknown] => [error as Error, null],
            ),
          ),
        )
      : runScriptPipeline(client as Redis, EDGE_SYNC, ops.map((op) => op.args));
    return new Promise((resolve, reject) => {
      const timer = this.#clock.setTimeout(
        () => reject(new RateLimitError('ETIMEDOUT', `${SCOPE}: sync of ${ops.length} keys did not finish within ${this.#timeout} ms`)),
        this.#timeout,
      );
      work.then(
        (replies) => {
          this.#clock.clearTimeout(timer);
          resolve(replies);
        },
        (error: unknown) => {
          this.#clock.clearTimeout(timer);
          reject(error);
        },
      );
    });
  }

  #apply(op: SyncOp, reply: unknown[], now: number): void {
    const entry = op.entry;
    // Leftovers need no bookkeeping; a reply for a window that has since ended is already counted.
    if (entry === undefined || entry.window !== op.window) return;
    const current = Number(reply[0]);
    entry.inflight -= op.delta;
    entry.mine += op.delta;
    const others = current - entry.mine;
    const elapsed = now - entry.readAt;
    if (elapsed > 0) {
      const rate = Math.max(0, others - entry.othersAtRead) / elapsed;
      entry.othersRate = entry.othersRate === 0 ? rate : RATE_SMOOTHING * rate + (1 - RATE_SMOOTHING) * entry.othersRate;
    }
    entry.othersAtRead = others;
    entry.base = current;
    entry.readAt = now;
    // Other nodes push on their own schedule: on average half an interval of theirs is not in Redis yet.
    entry.readLag = this.#syncInterval / 2;
    if (this.#sliding) entry.previous = Number(reply[1]);
  }

  #retry(op: SyncOp): void {
    const entry = op.entry;
    const [current, previous] = op.args as [string, string];
    if (entry !== undefined && entry.window === op.window) {
      // At-least-once: a sync that timed out may have been applied, so a retry can count twice (refuse more, never allow more).
      entry.inflight -= op.delta;
      entry.pending += op.delta;
      if (!entry.dirty) {
        entry.dirty = true;
        this.#dirty.push(entry);
      }
    } else if (op.delta > 0 && this.#leftovers.length < this.#maxKeys) {
      this.#leftovers.push([current, previous, op.delta]);
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#clock.clearTimeout(this.#timer);
    await this.#syncing;
    // Push what this node admitted since the last round, so other nodes see it.
    if (this.#dirty.length > 0 || this.#leftovers.length > 0) await this.#round().catch(() => {});
    this.#entries.clear();
    this.#events.removeAllListeners();
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

/**
 * Creates an edge limiter: every decision is local and synchronous; every `syncInterval` the node
 * adds its increments to Redis (INCRBY in one pipeline, or one call per key on a Cluster) and pulls
 * the global counts back. The overage is bounded; see the package README for the formula.
 *
 * @example
 * const limiter = createEdgeLimiter({ redis, limit: 1000, window: 3_600_000, syncInterval: 1000 });
 * const { allowed } = limiter.limit(apiKey); // never waits on Redis
 */
export function createEdgeLimiter(options: EdgeLimiterOptions): EdgeRateLimiter {
  return new EdgeLimiter(options);
}
