import type { Bus, BusMeta } from '@edgekit/bus';
import type { Clock, Disposable } from '@edgekit/core';
import { CacheError } from './errors.js';
import { compileGlob } from '@edgekit/swr';
import type { TagGenerations } from './tag-store.js';
import type { Tiers } from './tiers.js';

/** An invalidation as it travels on the bus. */
export interface InvalidationMessage {
  /** Tags invalidated. */
  t?: string[];
  /** A store-key glob pattern invalidated. */
  p?: string;
  /** Store keys invalidated. */
  k?: string[];
  /** Shared generation of the invalidation (absent for single-node memory generations). */
  g?: number;
  /** Store keys to copy from L2 into L1 (warming). */
  w?: string[];
}

/** What a node did with an invalidation, for the `invalidate` event. */
export interface InvalidationNotice {
  tags: readonly string[];
  pattern: string | undefined;
  keys: readonly string[];
  /** Node that published it. */
  origin: string;
  /** True when this node published it. */
  local: boolean;
  /** Milliseconds from publish to handling on this node (clock difference between nodes included). */
  delay: number;
}

/** An invalidation that could not reach the shared store or the bus, waiting for its next try. */
interface PendingInvalidation {
  readonly tags: readonly string[];
  readonly pattern: string | undefined;
  readonly keys: readonly string[];
}

/** Queued invalidations at most; the oldest is dropped (after flushing L1) beyond it. */
const MAX_PENDING = 1_000;
/** Longest wait between two retries of the queue, ms. */
const MAX_RETRY_DELAY = 30_000;

interface RecentRecord {
  gen: number;
  glob: RegExp | undefined;
  keys: ReadonlySet<string> | undefined;
}

const MAX_RECENT = 64;
const MAX_LIST = 1_000;

function isStringList(value: unknown): value is string[] {
  return Array.isArray(value) && value.length <= MAX_LIST && value.every((v) => typeof v === 'string' && v.length <= 4_096);
}

/**
 * Invalidation across nodes. Tags are invalidated by generation (no entry is touched: every read
 * compares), patterns and keys by deletion. The bus carries each invalidation to every node; on a
 * `disconnected` gap the node stops trusting its L1, and on `reconnected` it flushes L1 before
 * trusting it again, because pub/sub has no history to replay.
 */
export class InvalidationBus {
  readonly #bus: Bus | undefined;
  readonly #channel: string;
  readonly #tiers: Tiers;
  readonly #mirror: TagGenerations;
  readonly #shared: boolean;
  readonly #clock: Clock;
  readonly #notify: (notice: InvalidationNotice) => void;
  readonly #onWarm: (keys: string[]) => void;
  readonly #onGap: (kind: 'disconnected' | 'reconnected') => void;
  readonly #report: (error: CacheError) => void;
  readonly #subscriptions: Disposable[] = [];
  readonly #recent: RecentRecord[] = [];
  #recentFloor = 0;
  #trusted: boolean;
  readonly #retryDelay: number;
  readonly #pending: PendingInvalidation[] = [];
  #retryTimer: ReturnType<Clock['setTimeout']> | undefined;
  #nextDelay: number;
  #closed = false;

  constructor(options: {
    bus: Bus | undefined;
    channel: string;
    tiers: Tiers;
    mirror: TagGenerations;
    clock: Clock;
    notify: (notice: InvalidationNotice) => void;
    onWarm: (keys: string[]) => void;
    onGap: (kind: 'disconnected' | 'reconnected') => void;
    report: (error: CacheError) => void;
    /** First wait before a failed invalidation is tried again, ms (doubled up to 30 s while it keeps failing). */
    retryDelay?: number;
  }) {
    this.#bus = options.bus;
    this.#channel = options.channel;
    this.#tiers = options.tiers;
    this.#mirror = options.mirror;
    this.#shared = options.tiers.l2 !== undefined;
    this.#clock = options.clock;
    this.#notify = options.notify;
    this.#onWarm = options.onWarm;
    this.#onGap = options.onGap;
    this.#report = options.report;
    this.#retryDelay = Math.max(1, options.retryDelay ?? 1_000);
    this.#nextDelay = this.#retryDelay;
    this.#trusted = this.#bus === undefined || this.#bus.connected;
    if (this.#bus) {
      this.#subscriptions.push(
        this.#bus.subscribe<InvalidationMessage>(this.#channel, (payload, meta) => this.#receive(payload, meta)),
        this.#bus.on('gap', (gap) => {
          if (gap.kind === 'disconnected') this.#trusted = false;
          else this.#trustAgain();
          this.#onGap(gap.kind);
        }),
      );
    }
  }

  /** Whether L1 may be used: false from a bus disconnection until L1 has been flushed after reconnecting. */
  l1Usable(): boolean {
    if (this.#trusted) return true;
    // The first connection of a Redis bus emits no gap; pick it up here.
    if (this.#bus?.connected) this.#trustAgain();
    return this.#trusted;
  }

  #trustAgain(): void {
    // Whatever L1 holds may have missed invalidations while the bus was away.
    this.#tiers.l1?.flush();
    this.#trusted = true;
  }

  /** True when an entry fetched at generation `gen` was invalidated by a pattern or key since (do not store it). */
  invalidatedSince(storeKey: string, primaryKey: string, gen: number): boolean {
    if (gen < this.#recentFloor) return true;
    for (const record of this.#recent) {
      if (record.gen <= gen) continue;
      if (record.keys?.has(primaryKey) || record.glob?.test(storeKey)) return true;
    }
    return false;
  }

  #remember(record: RecentRecord): void {
    this.#recent.push(record);
    if (this.#recent.length > MAX_RECENT) {
      const dropped = this.#recent.shift();
      if (dropped && dropped.gen > this.#recentFloor) this.#recentFloor = dropped.gen;
    }
  }

  /** Invalidates tags everywhere (see {@link InvalidationBus.pendingCount} for what a failure leaves queued). */
  async invalidateTags(tags: readonly string[]): Promise<void> {
    const list = [...new Set(tags)];
    if (list.length === 0) return;
    await this.#attempt({ tags: list, pattern: undefined, keys: [] });
  }

  /** Deletes entries whose store key matches `pattern` everywhere; resolves with the L2 deletions (or L1 ones without L2). */
  async invalidatePattern(pattern: string, scanTimeout: number): Promise<number> {
    return this.#attempt({ tags: [], pattern, keys: [] }, scanTimeout);
  }

  /** Deletes the entries of store keys everywhere. */
  async invalidateKeys(keys: readonly string[]): Promise<void> {
    const list = [...new Set(keys)];
    if (list.length === 0) return;
    // This node forgets them at once: its next request must not be answered from them.
    const l1 = this.#tiers.l1;
    if (l1) for (const key of list) l1.remove(key);
    await this.#attempt({ tags: [], pattern: undefined, keys: list });
  }

  /** Invalidations applied on this node only, waiting to reach the shared store and the other nodes. */
  get pendingCount(): number {
    return this.#pending.length;
  }

  /**
   * Runs an invalidation. When the shared store or the bus fails, it is applied on this node at
   * once (so this node stops serving what was purged), queued, and retried until it reaches them;
   * the caller gets an `EQUEUED` error saying so.
   */
  async #attempt(invalidation: PendingInvalidation, scanTimeout = 30_000): Promise<number> {
    try {
      return await this.#run(invalidation, scanTimeout);
    } catch (error) {
      this.#applyHere(invalidation);
      this.#enqueue(invalidation);
      const reason = error instanceof Error ? error.message : String(error);
      throw new CacheError('EQUEUED', `the invalidation was applied on this node and queued for the shared store and the other nodes: ${reason}`, {
        operation: 'invalidate',
        cause: error,
      });
    }
  }

  async #run(invalidation: PendingInvalidation, scanTimeout: number): Promise<number> {
    const { tags, pattern, keys } = invalidation;
    let g: number | undefined;
    let deleted = 0;
    if (this.#shared) {
      g = await this.#tiers.invalidateShared(tags);
      if (keys.length > 0) await this.#tiers.delete(keys);
      if (pattern !== undefined) deleted = await this.#tiers.deletePatternShared(pattern, scanTimeout);
    } else if (pattern !== undefined) {
      deleted = this.#tiers.l1?.removePattern(pattern) ?? 0;
    }
    const message: InvalidationMessage = {};
    if (tags.length > 0) message.t = [...tags];
    if (pattern !== undefined) message.p = pattern;
    if (keys.length > 0) message.k = [...keys];
    if (g !== undefined) message.g = g;
    await this.#publish(message);
    return deleted;
  }

  /** What this node can do alone: drop the L1 entries concerned (all of L1 for tags, whose generations live in the shared store). */
  #applyHere(invalidation: PendingInvalidation): void {
    const l1 = this.#tiers.l1;
    if (l1 === undefined) return;
    if (invalidation.tags.length > 0) {
      if (this.#shared) l1.flush();
      else this.#mirror.bump(invalidation.tags);
    }
    if (invalidation.pattern !== undefined) l1.removePattern(invalidation.pattern);
    for (const key of invalidation.keys) l1.remove(key);
  }

  #enqueue(invalidation: PendingInvalidation): void {
    if (this.#closed) return;
    this.#pending.push(invalidation);
    if (this.#pending.length > MAX_PENDING) {
      this.#pending.shift();
      this.#report(new CacheError('EQUEUED', `more than ${MAX_PENDING} invalidations are queued; the oldest was dropped`, { operation: 'invalidate' }));
    }
    this.#scheduleRetry();
  }

  #scheduleRetry(): void {
    if (this.#retryTimer !== undefined || this.#pending.length === 0 || this.#closed) return;
    const timer = this.#clock.setTimeout(() => {
      this.#retryTimer = undefined;
      void this.#retryPending();
    }, this.#nextDelay);
    (timer as { unref?: () => void }).unref?.();
    this.#retryTimer = timer;
  }

  /** Tries the queue in order; stops at the first failure and waits longer before the next round. */
  async #retryPending(): Promise<void> {
    while (this.#pending.length > 0 && !this.#closed) {
      const next = this.#pending[0]!;
      try {
        await this.#run(next, 30_000);
      } catch (error) {
        this.#nextDelay = Math.min(this.#nextDelay * 2, MAX_RETRY_DELAY);
        this.#report(new CacheError('EQUEUED', `a queued invalidation failed again: ${error instanceof Error ? error.message : String(error)}`, { operation: 'invalidate', cause: error }));
        this.#scheduleRetry();
        return;
      }
      if (this.#pending[0] === next) this.#pending.shift();
    }
    this.#nextDelay = this.#retryDelay;
  }

  /** Asks every other node to copy `keys` from L2 into its L1. */
  async announceWarm(keys: readonly string[]): Promise<void> {
    if (!this.#bus || keys.length === 0) return;
    for (let i = 0; i < keys.length; i += MAX_LIST) await this.#publish({ w: keys.slice(i, i + MAX_LIST) });
  }

  async #publish(message: InvalidationMessage): Promise<void> {
    if (!this.#bus) {
      this.#receive(message, { origin: 'local', sentAt: this.#clock.now(), local: true });
      return;
    }
    try {
      // The bus delivers to this node synchronously, then to the others.
      await this.#bus.publish(this.#channel, message);
    } catch (error) {
      throw new CacheError('ECACHESTORE', `publishing an invalidation failed: ${error instanceof Error ? error.message : String(error)}`, {
        operation: 'publish',
        cause: error,
      });
    }
  }

  #receive(message: InvalidationMessage, meta: BusMeta): void {
    if (message === null || typeof message !== 'object') return;
    const g = typeof message.g === 'number' && Number.isFinite(message.g) ? message.g : undefined;
    if (message.w !== undefined) {
      if (!meta.local && isStringList(message.w)) this.#onWarm(message.w);
      return;
    }
    const tags = isStringList(message.t) ? message.t : [];
    const keys = isStringList(message.k) ? message.k : [];
    const pattern = typeof message.p === 'string' && message.p.length <= 4_096 ? message.p : undefined;
    if (tags.length === 0 && keys.length === 0 && pattern === undefined) return;
    let gen: number;
    if (this.#shared) {
      if (g === undefined) {
        this.#report(new CacheError('ECACHESTORE', 'ignored an invalidation without a generation', { operation: 'receive' }));
        return;
      }
      this.#mirror.observe(tags, g);
      gen = g;
    } else {
      gen = this.#mirror.bump(tags);
    }
    const l1 = this.#tiers.l1;
    if (pattern !== undefined) {
      let glob: RegExp;
      try {
        glob = compileGlob(pattern);
      } catch {
        return;
      }
      this.#remember({ gen, glob, keys: undefined });
      l1?.removePattern(pattern);
    }
    if (keys.length > 0) {
      this.#remember({ gen, glob: undefined, keys: new Set(keys) });
      if (l1) for (const key of keys) l1.remove(key);
    }
    this.#notify({ tags, pattern, keys, origin: meta.origin, local: meta.local, delay: this.#clock.now() - meta.sentAt });
  }

  close(): void {
    this.#closed = true;
    if (this.#retryTimer !== undefined) this.#clock.clearTimeout(this.#retryTimer);
    this.#retryTimer = undefined;
    for (const s of this.#subscriptions) s.dispose();
    this.#subscriptions.length = 0;
  }
}
