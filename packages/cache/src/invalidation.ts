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

  /** Invalidates tags everywhere. */
  async invalidateTags(tags: readonly string[]): Promise<void> {
    const list = [...new Set(tags)];
    if (list.length === 0) return;
    if (this.#shared) {
      const g = await this.#tiers.invalidateShared(list);
      await this.#publish({ t: list, g });
    } else {
      await this.#publish({ t: list });
    }
  }

  /** Deletes entries whose store key matches `pattern` everywhere; resolves with the L2 deletions (or L1 ones without L2). */
  async invalidatePattern(pattern: string, scanTimeout: number): Promise<number> {
    let deleted = 0;
    let g: number | undefined;
    if (this.#shared) {
      g = await this.#tiers.invalidateShared([]);
      deleted = await this.#tiers.deletePatternShared(pattern, scanTimeout);
    } else {
      deleted = this.#tiers.l1?.removePattern(pattern) ?? 0;
    }
    await this.#publish(g === undefined ? { p: pattern } : { p: pattern, g });
    return deleted;
  }

  /** Deletes the entries of store keys everywhere. */
  async invalidateKeys(keys: readonly string[]): Promise<void> {
    const list = [...new Set(keys)];
    if (list.length === 0) return;
    // This node forgets them at once: its next request must not be answered from them.
    const l1 = this.#tiers.l1;
    if (l1) for (const key of list) l1.remove(key);
    let g: number | undefined;
    if (this.#shared) {
      g = await this.#tiers.invalidateShared([]);
      await this.#tiers.delete(list);
    }
    await this.#publish(g === undefined ? { k: list } : { k: list, g });
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
    for (const s of this.#subscriptions) s.dispose();
    this.#subscriptions.length = 0;
  }
}
