import {
  type Clock,
  type ClockTimer,
  type Disposable,
  TypedEmitter,
  checkOptionsObject,
  checkRedisClient,
  checkRedisPrefix,
  optionalBoolean,
  optionalNumber,
  optionalString,
  rejectRenamedOptions,
  systemClock,
  type RedisClientLike,
} from '@edgekit/core';
import type { Cluster, Redis } from 'ioredis';
import { fixedResult, slidingResult } from './algorithms.js';
import { type EdgeCountsEvent, RegionCountsSync } from './edge-bus.js';
import { EdgeEntry, observeRegional, regionalEstimate, rollOver } from './edge-entry.js';
import { type SyncOp, redisFailure, sendSyncRound, syncOp } from './edge-redis.js';
import { RateLimitError } from './errors.js';
import { DEFAULT_MAX_KEY_LENGTH, DEFAULT_PREFIX, keyBase, normalizeKey } from './keys.js';
import { type PolicyOptions, checkCost, parsePolicy } from './policy.js';
import { type RateLimitBus, checkBus } from './remote.js';
import type { Algorithm, RateLimitPolicy, RateLimitResult, SyncRateLimiter } from './types.js';

const SCOPE = '@edgekit/ratelimit';
const EDGE_ALGORITHMS: readonly Algorithm[] = ['fixed-window', 'sliding-window'];

/** Options for {@link createEdgeLimiter}. */
export interface EdgeLimiterOptions extends PolicyOptions {
  /** Counting algorithm: `'fixed-window'` or `'sliding-window'` (counters are what nodes can add up). Default: `'sliding-window'`. */
  algorithm?: 'fixed-window' | 'sliding-window';
  /** An ioredis client (standalone `Redis` or `Cluster`) shared by the nodes of this region; never closed by the limiter. Required unless `bus` is given. */
  redis?: RedisClientLike;
  /**
   * A bus between regions (`@edgekit/bus`: NATS, Redis or memory): every round this node publishes
   * its own count of each key it admitted, and adds up what the nodes of other regions publish.
   * Default: none (the limit is regional).
   */
  bus?: RateLimitBus;
  /**
   * This node's region: counts published from the same region are ignored (Redis already has them).
   * Required with both `redis` and `bus`. Default without `redis`: the bus's `nodeId` (each node is its own region).
   */
  region?: string;
  /** How often this node pushes its increments and pulls the global counts (and publishes its counts on `bus`), ms. Default: 100. */
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
  /** Prefix of every key (no braces); also the bus channel's, `<prefix><name>`. Default: `'edgekit:rl:'`. */
  prefix?: string;
  /** Most keys held at once; beyond it the least recently used is dropped (its increments still synced). Default: 100000. */
  max?: number;
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
  max: 100_000,
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
  /** Another region's counts arrived on the bus and now weigh in this node's decisions. */
  counts: [event: EdgeCountsEvent];
  /** A sync or a publish failed, or a malformed message arrived; decisions continue locally. */
  error: [error: RateLimitError];
  /** Redis became unreachable (`false`) or reachable again (`true`). */
  health: [healthy: boolean];
}

/** A limiter that decides locally and converges through Redis (and across regions through a bus) every `syncInterval`. */
export interface EdgeRateLimiter extends SyncRateLimiter {
  readonly mode: 'edge';
  /** False while the last sync failed or the client is disconnected. */
  readonly healthy: boolean;
  /** Number of keys held in memory. */
  readonly size: number;
  /** Pushes pending increments and pulls global counts now (and publishes counts on the bus); resolves when the round ends. */
  sync(): Promise<void>;
  on<K extends keyof EdgeLimiterEvents & string>(event: K, listener: (...args: EdgeLimiterEvents[K]) => void): Disposable;
}

class EdgeLimiter implements EdgeRateLimiter {
  readonly mode = 'edge' as const;
  readonly policy: RateLimitPolicy;
  readonly #redis: Redis | Cluster | undefined;
  readonly #regions: RegionCountsSync | undefined;
  readonly #prefix: string;
  readonly #syncInterval: number;
  readonly #predict: boolean;
  readonly #timeout: number;
  readonly #failOpen: boolean;
  readonly #max: number;
  readonly #maxKeyLength: number;
  readonly #clock: Clock;
  readonly #sliding: boolean;
  readonly #ttl: number;
  readonly #events = new TypedEmitter<EdgeLimiterEvents>();
  readonly #entries = new Map<string, EdgeEntry>();
  #dirty: EdgeEntry[] = [];
  /** Increments of windows that ended before they were synced. */
  #leftovers: SyncOp[] = [];
  #timer: ClockTimer | undefined;
  #syncing: Promise<void> | undefined;
  #healthy = true;
  #closed = false;
  #lastSweep: number;

  constructor(options: EdgeLimiterOptions) {
    const o = checkOptionsObject<EdgeLimiterOptions>(SCOPE, options);
    rejectRenamedOptions(SCOPE, o, { maxKeys: 'max' });
    if (o.redis === undefined && o.bus === undefined) throw new TypeError(`${SCOPE}: createEdgeLimiter needs option "redis" (an ioredis client), "bus" (a bus between regions) or both`);
    this.#redis = o.redis === undefined ? undefined : checkRedisClient<Redis | Cluster>(SCOPE, o.redis);
    const bus = o.bus === undefined ? undefined : checkBus(SCOPE, o.bus);
    this.policy = parsePolicy(SCOPE, o, EDGE_ALGORITHMS);
    this.#prefix = checkRedisPrefix(SCOPE, o.prefix, EDGE_DEFAULTS.prefix);
    if (this.#redis !== undefined && bus !== undefined && o.region === undefined) {
      throw new TypeError(`${SCOPE}: option "region" is required with both "redis" and "bus" (it tells this region's counts, already in Redis, from the other regions')`);
    }
    const region = optionalString(SCOPE, 'region', o.region, bus?.nodeId ?? '');
    this.#syncInterval = optionalNumber(SCOPE, 'syncInterval', o.syncInterval, EDGE_DEFAULTS.syncInterval, { min: 1 });
    this.#predict = optionalBoolean(SCOPE, 'predict', o.predict, EDGE_DEFAULTS.predict);
    this.#timeout = optionalNumber(SCOPE, 'commandTimeout', o.commandTimeout, EDGE_DEFAULTS.commandTimeout, { min: 1 });
    this.#failOpen = optionalBoolean(SCOPE, 'failOpen', o.failOpen, EDGE_DEFAULTS.failOpen);
    this.#max = optionalNumber(SCOPE, 'max', o.max, EDGE_DEFAULTS.max, { min: 1, integer: true });
    this.#maxKeyLength = optionalNumber(SCOPE, 'maxKeyLength', o.maxKeyLength, EDGE_DEFAULTS.maxKeyLength, { min: 16, integer: true });
    this.#clock = o.clock ?? systemClock;
    this.#sliding = this.policy.algorithm === 'sliding-window';
    this.#ttl = Math.ceil(2 * this.policy.window) + 1000;
    this.#lastSweep = this.#clock.now();
    this.#regions =
      bus === undefined
        ? undefined
        : new RegionCountsSync(bus, `${this.#prefix}${this.policy.name}`, region, this.#maxKeyLength, this.#max, {
            entry: (key, window) => this.#entry(key, window),
            window: () => Math.floor(this.#clock.now() / this.policy.window),
            markDirty: (entry) => this.#markDirty(entry),
            report: (error) => this.#events.emit('error', error),
            applied: (event) => this.#events.hasListeners('counts') && this.#events.emit('counts', event),
          }, SCOPE);
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

  /** The entry of normalized key `k` in `window`, created or rolled over as needed, most recently used. */
  #entry(k: string, window: number): EdgeEntry {
    let entry = this.#entries.get(k);
    if (entry === undefined) {
      if (this.#entries.size >= this.#max) this.#evictOldest();
      entry = new EdgeEntry(k, keyBase(this.#prefix, this.policy, k), window, window * this.policy.window);
      this.#entries.set(k, entry);
    } else {
      this.#entries.delete(k);
      this.#entries.set(k, entry);
      if (entry.window !== window) this.#endWindow(entry, window);
    }
    return entry;
  }

  /** Keeps what the entry's ended window still owes Redis and the other regions, then starts `window`. */
  #endWindow(entry: EdgeEntry, window: number): void {
    this.#keepUnsent(entry);
    rollOver(entry, window, this.policy.window, this.#predict, this.policy.limit);
  }

  #keepUnsent(entry: EdgeEntry): void {
    if (this.#redis !== undefined && entry.pending > 0) this.#leftovers.push(syncOp(undefined, entry.redisBase, entry.window, entry.pending, this.#ttl));
    this.#regions?.keepUnsent(entry);
  }

  limit(key: string, cost = 1): RateLimitResult {
    checkCost(SCOPE, cost, this.policy.burst);
    if (this.#closed) throw new RateLimitError('ECLOSED', `${SCOPE}: limit() called after close()`);
    const k = normalizeKey(SCOPE, key, this.#maxKeyLength);
    const { limit, window: length } = this.policy;
    const now = this.#clock.now();
    const window = Math.floor(now / length);
    const windowStart = window * length;
    const entry = this.#entry(k, window);
    if (!entry.dirty) {
      entry.dirty = true;
      this.#dirty.push(entry);
    }
    if (!this.#failOpen && !this.#healthy) {
      const wait = Math.ceil(this.#syncInterval);
      return { allowed: false, limit, remaining: 0, reset: wait, retryAfter: wait };
    }
    const current = regionalEstimate(entry, now, this.#predict) + entry.remoteCurrent;
    if (this.#sliding) {
      const previous = entry.previous + entry.remotePrevious;
      const total = previous * (1 - (now - windowStart) / length) + current;
      const allowed = total + cost <= limit + 1e-6;
      if (allowed) entry.pending += cost;
      return slidingResult(allowed, this.policy, allowed ? current + cost : current, previous, windowStart, now, cost);
    }
    const allowed = current + cost <= limit;
    if (allowed) entry.pending += cost;
    return fixedResult(allowed, limit, allowed ? current + cost : current, windowStart + length, now);
  }

  #evictOldest(): void {
    for (const [k, entry] of this.#entries) {
      // Admissions already made must still reach Redis and the other regions.
      this.#keepUnsent(entry);
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
    const dirty = this.#dirty;
    this.#dirty = [];
    const ops = this.#leftovers;
    this.#leftovers = [];
    for (const entry of dirty) {
      entry.dirty = false;
      const delta = entry.pending;
      entry.pending = 0;
      if (this.#redis === undefined) {
        // Without a regional store this node is its region: its own count is the regional count.
        entry.mine += delta;
        entry.base += delta;
      } else {
        entry.inflight += delta;
        ops.push(syncOp(entry, entry.redisBase, entry.window, delta, this.#ttl));
      }
    }
    const publishing = this.#regions?.publish(dirty);
    if (this.#redis !== undefined) await this.#syncRegional(this.#redis, ops);
    await publishing;
  }

  async #syncRegional(redis: Redis | Cluster, ops: SyncOp[]): Promise<void> {
    if (ops.length === 0) {
      this.#setHealthy(redis.status === 'ready');
      return;
    }
    const started = this.#clock.now();
    let replies: Array<[Error | null, unknown]> | undefined;
    let failure: RateLimitError | undefined;
    if (redis.status !== 'ready') {
      failure = new RateLimitError('EREDISDOWN', `${SCOPE}: Redis is not connected; ${ops.length} keys not synced`);
    } else {
      try {
        replies = await sendSyncRound(redis, ops, this.#timeout, this.#clock, SCOPE);
      } catch (error) {
        failure = redisFailure(error, SCOPE);
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
      failure = new RateLimitError('EREDIS', `${SCOPE}: ${failed} of ${ops.length} keys failed to sync${first ? `: ${first.message}` : ''}`, { cause: first });
    }
    this.#setHealthy(failure === undefined);
    if (failure) this.#events.emit('error', failure);
    if (this.#events.hasListeners('sync')) this.#events.emit('sync', { keys: ops.length, duration: done - started, ok: failure === undefined });
  }

  #apply(op: SyncOp, reply: unknown[], now: number): void {
    const entry = op.entry;
    // Leftovers need no bookkeeping; a reply for a window that has since ended is already counted.
    if (entry === undefined || entry.window !== op.window) return;
    // Other nodes push on their own schedule: on average half an interval of theirs is not in Redis yet.
    observeRegional(entry, op.delta, Number(reply[0]), this.#sliding ? Number(reply[1]) : undefined, now, this.#syncInterval / 2);
  }

  #retry(op: SyncOp): void {
    const entry = op.entry;
    if (entry !== undefined && entry.window === op.window) {
      // At-least-once: a sync that timed out may have been applied, so a retry can count twice (refuse more, never allow more).
      entry.inflight -= op.delta;
      entry.pending += op.delta;
      this.#markDirty(entry);
    } else if (op.delta > 0 && this.#leftovers.length < this.#max) {
      this.#leftovers.push({ ...op, entry: undefined });
    }
  }

  #markDirty(entry: EdgeEntry): void {
    if (entry.dirty) return;
    entry.dirty = true;
    this.#dirty.push(entry);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#clock.clearTimeout(this.#timer);
    this.#regions?.close();
    await this.#syncing;
    // Push what this node admitted since the last round, so other nodes see it.
    if (this.#dirty.length > 0 || this.#leftovers.length > 0 || this.#regions?.hasLeftovers) await this.#round().catch(() => {});
    this.#entries.clear();
    this.#events.removeAllListeners();
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

/**
 * Creates an edge limiter: every decision is local and synchronous; every `syncInterval` the node
 * adds its increments to its region's Redis (INCRBY in one pipeline, or one call per key on a
 * Cluster) and pulls the regional counts back, and, with a `bus`, publishes its own counts to the
 * other regions and adds up theirs. The overage is bounded; see the package README for the formula.
 *
 * @example
 * const limiter = createEdgeLimiter({ redis, bus, region: 'eu-west', limit: 1000, window: 3_600_000, syncInterval: 1000 });
 * const { allowed } = limiter.limit(apiKey); // never waits on Redis or the bus
 */
export function createEdgeLimiter(options: EdgeLimiterOptions): EdgeRateLimiter {
  return new EdgeLimiter(options);
}
