import type { Disposable } from '@edgekit/core';
import type { EdgeEntry } from './edge-entry.js';
import { RateLimitError } from './errors.js';
import { type RateLimitBus, RemoteCounts, countsMessages, parseCountsMessage } from './remote.js';

/** Counts another region published on the bus, applied to this limiter. */
export interface EdgeCountsEvent {
  /** The publishing node's bus id. */
  origin: string;
  /** The publishing node's region. */
  region: string;
  /** Index of the window the counts belong to (`floor(time / window)`). */
  window: number;
  /** Keys the message carried. */
  keys: number;
}

/** What the cross-region layer needs of its limiter. */
export interface RegionSyncHost {
  /** The entry of normalized `key` in `window`, created or rolled over as needed. */
  entry(key: string, window: number): EdgeEntry;
  /** The current window index. */
  window(): number;
  /** Makes the entry part of the next round. */
  markDirty(entry: EdgeEntry): void;
  report(error: RateLimitError): void;
  /** Another region's message was recorded. */
  applied(event: EdgeCountsEvent): void;
}

/** Counts of a window that ended before they were published: [window, key, count]. */
type CountLeftover = [number, string, number];

/**
 * The cross-region layer of an edge limiter: publishes this node's own cumulative count of each key
 * on the bus, and records the counts other regions' nodes publish in each entry's {@link RemoteCounts}.
 */
export class RegionCountsSync {
  #leftovers: CountLeftover[] = [];
  readonly #subscription: Disposable;

  constructor(
    readonly bus: RateLimitBus,
    readonly channel: string,
    readonly region: string,
    readonly maxKeyLength: number,
    /** Most leftover counts kept while publishing fails. */
    readonly maxLeftovers: number,
    readonly host: RegionSyncHost,
    readonly scope: string,
  ) {
    this.#subscription = bus.subscribe(channel, (payload, meta) => {
      if (!meta.local) this.#receive(payload, meta.origin);
    });
  }

  get hasLeftovers(): boolean {
    return this.#leftovers.length > 0;
  }

  /** Keeps the entry's count of its window when it was not published yet (the window ends or the entry is dropped). */
  keepUnsent(entry: EdgeEntry): void {
    if (entry.own > entry.published && this.#leftovers.length < this.maxLeftovers) this.#leftovers.push([entry.window, entry.key, entry.own]);
  }

  #receive(payload: unknown, origin: string): void {
    const message = parseCountsMessage(payload, this.maxKeyLength);
    if (message === undefined) {
      this.host.report(new RateLimitError('EBADMESSAGE', `${this.scope}: ignored a message on "${this.channel}" from ${origin} that is not a counts message`));
      return;
    }
    // This region's counts are already in its regional store.
    if (message.r === this.region) return;
    const window = this.host.window();
    // Counts of windows this node no longer (or not yet) weighs cannot change a decision.
    if (message.w < window - 1 || message.w > window + 1) return;
    for (const [key, count] of message.c) {
      const entry = this.host.entry(key, window);
      entry.remote ??= new RemoteCounts();
      entry.remote.record(message.w, origin, count);
    }
    this.host.applied({ origin, region: message.r, window: message.w, keys: message.c.length });
  }

  /** Publishes the own count of every entry in `dirty` that grew since it was last published, and the leftovers; never rejects. */
  async publish(dirty: readonly EdgeEntry[]): Promise<void> {
    const byWindow = new Map<number, Array<[string, number]>>();
    const add = (window: number, key: string, count: number): void => {
      let counts = byWindow.get(window);
      if (counts === undefined) byWindow.set(window, (counts = []));
      counts.push([key, count]);
    };
    const leftovers = this.#leftovers;
    this.#leftovers = [];
    for (const [window, key, count] of leftovers) add(window, key, count);
    const sent: Array<[EdgeEntry, number, number]> = [];
    for (const entry of dirty) {
      const own = entry.own;
      if (own <= entry.published) continue;
      add(entry.window, entry.key, own);
      sent.push([entry, entry.window, own]);
    }
    if (byWindow.size === 0) return;
    const messages = [...byWindow].flatMap(([window, counts]) => countsMessages(this.region, window, counts));
    const results = await Promise.allSettled(messages.map((message) => this.bus.publish(this.channel, message)));
    const failed = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed.length === 0) {
      for (const [entry, window, own] of sent) if (entry.window === window && own > entry.published) entry.published = own;
      return;
    }
    // Counts are cumulative: sending them again next round repairs whatever was lost.
    for (const [entry, window, own] of sent) {
      if (entry.window === window) this.host.markDirty(entry);
      else if (this.#leftovers.length < this.maxLeftovers) this.#leftovers.push([window, entry.key, own]);
    }
    for (const leftover of leftovers) if (this.#leftovers.length < this.maxLeftovers) this.#leftovers.push(leftover);
    const cause = failed[0]!.reason as unknown;
    this.host.report(
      new RateLimitError('EBUS', `${this.scope}: ${failed.length} of ${messages.length} counts messages to the other regions failed (sent again next round): ${cause instanceof Error ? cause.message : String(cause)}`, { cause }),
    );
  }

  close(): void {
    this.#subscription.dispose();
  }
}
