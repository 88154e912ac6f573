import type { Disposable } from '@edgekit/core';

/**
 * What an edge limiter needs of a bus to sync between regions: the shape of `@edgekit/bus`'s
 * `Bus` (NATS, Redis or memory), so any of its drivers can be passed without this package
 * depending on it.
 */
export interface RateLimitBus {
  /** Identifies this node; each node's counts are kept apart by it. */
  readonly nodeId: string;
  /** Sends `payload` to every subscriber of `channel` on every node. */
  publish(channel: string, payload: unknown): Promise<void>;
  /** Calls `handler` for each message on `channel`. */
  subscribe<T = unknown>(channel: string, handler: (payload: T, meta: { origin: string; local: boolean }) => void): Disposable;
}

/** Checks the `bus` option: an object with `nodeId`, `publish()` and `subscribe()`. */
export function checkBus(scope: string, value: unknown): RateLimitBus {
  const bus = value as RateLimitBus;
  if (typeof bus !== 'object' || bus === null || typeof bus.publish !== 'function' || typeof bus.subscribe !== 'function' || typeof bus.nodeId !== 'string') {
    throw new TypeError(`${scope}: option "bus" must be a bus with nodeId, publish() and subscribe() (an @edgekit/bus Bus)`);
  }
  return bus;
}

interface WindowCounts {
  window: number;
  byOrigin: Map<string, number>;
  sum: number;
}

/**
 * Other regions' admissions of one key, per window: the last cumulative count each node published.
 * Counts only grow within a window, so a message that arrives twice, late or out of order changes
 * nothing, and a lost one is repaired by the next.
 */
export class RemoteCounts {
  #windows: WindowCounts[] = [];

  /** Records `count` as `origin`'s total for `window`; returns true when it raised the total. */
  record(window: number, origin: string, count: number): boolean {
    let slot = this.#windows.find((w) => w.window === window);
    if (slot === undefined) {
      slot = { window, byOrigin: new Map(), sum: 0 };
      this.#windows.push(slot);
    }
    const before = slot.byOrigin.get(origin) ?? 0;
    if (count <= before) return false;
    slot.byOrigin.set(origin, count);
    slot.sum += count - before;
    return true;
  }

  /** The other regions' total for `window`. */
  sum(window: number): number {
    for (const slot of this.#windows) if (slot.window === window) return slot.sum;
    return 0;
  }

  /** Forgets windows before `oldest`. */
  prune(oldest: number): void {
    if (this.#windows.some((w) => w.window < oldest)) this.#windows = this.#windows.filter((w) => w.window >= oldest);
  }
}

/**
 * One cross-region message: the region it comes from, a window index and this node's cumulative
 * count of each listed key in that window.
 */
export interface RegionCountsMessage {
  /** Region of the publishing node. */
  r: string;
  /** Window index (`floor(time / window)`). */
  w: number;
  /** `[normalized key, cumulative count]` pairs. */
  c: Array<[string, number]>;
}

/** Largest message the limiter builds, in bytes of keys and counts (the bus refuses bigger ones). */
export const MAX_COUNTS_MESSAGE_BYTES = 48 * 1024;

/** Splits one window's counts into messages under {@link MAX_COUNTS_MESSAGE_BYTES}. */
export function countsMessages(region: string, window: number, counts: Array<[string, number]>): RegionCountsMessage[] {
  const messages: RegionCountsMessage[] = [];
  let current: Array<[string, number]> = [];
  let bytes = 0;
  for (const pair of counts) {
    // Key (UTF-16 units × 3 at worst as UTF-8), the count and the JSON punctuation.
    const size = pair[0].length * 3 + 24;
    if (current.length > 0 && bytes + size > MAX_COUNTS_MESSAGE_BYTES) {
      messages.push({ r: region, w: window, c: current });
      current = [];
      bytes = 0;
    }
    current.push(pair);
    bytes += size;
  }
  if (current.length > 0) messages.push({ r: region, w: window, c: current });
  return messages;
}

/** Checks a received message; `undefined` for anything that is not a well-formed {@link RegionCountsMessage}. */
export function parseCountsMessage(payload: unknown, maxKeyLength: number): RegionCountsMessage | undefined {
  if (typeof payload !== 'object' || payload === null) return undefined;
  const { r, w, c } = payload as Partial<RegionCountsMessage>;
  if (typeof r !== 'string' || !Number.isSafeInteger(w) || !Array.isArray(c)) return undefined;
  for (const pair of c) {
    if (!Array.isArray(pair) || typeof pair[0] !== 'string' || pair[0].length > Math.max(maxKeyLength, 44)) return undefined;
    if (typeof pair[1] !== 'number' || !Number.isFinite(pair[1]) || pair[1] < 0) return undefined;
  }
  return { r, w: w as number, c };
}
