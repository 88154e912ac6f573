import type { RemoteCounts } from './remote.js';

/** This node's view of one key in the current window of an edge limiter. */
export class EdgeEntry {
  window: number;
  /** Regional count at the last read; it includes this node's acknowledged increments (`mine`). */
  base = 0;
  /** This node's increments acknowledged by the regional store. */
  mine = 0;
  /** This node's increments sent in the round in flight. */
  inflight = 0;
  /** This node's increments not sent yet. */
  pending = 0;
  /** Regional count of the previous window. */
  previous = 0;
  readAt: number;
  /** Unsynced admissions of other nodes assumed at `readAt`, in ms of their rate. */
  readLag = 0;
  othersAtRead = 0;
  /** Other nodes' admissions per ms, smoothed. */
  othersRate = 0;
  dirty = false;
  /** This node's own count of `window` last published to the other regions. */
  published = 0;
  /** The other regions' counts, when the limiter syncs across regions. */
  remote: RemoteCounts | undefined;

  constructor(
    /** The normalized key. */
    readonly key: string,
    /** Redis key of this entry without the `:<window index>` suffix. */
    readonly redisBase: string,
    window: number,
    windowStart: number,
  ) {
    this.window = window;
    this.readAt = windowStart;
  }

  /** Everything this node admitted for the key in the current window. */
  get own(): number {
    return this.mine + this.inflight + this.pending;
  }

  /** The other regions' count of the current window (`0` without cross-region sync). */
  get remoteCurrent(): number {
    return this.remote === undefined ? 0 : this.remote.sum(this.window);
  }

  /** The other regions' count of the previous window. */
  get remotePrevious(): number {
    return this.remote === undefined ? 0 : this.remote.sum(this.window - 1);
  }
}

/** Weight of the newest measurement in the moving average of the other nodes' admission rate. */
const RATE_SMOOTHING = 0.5;

/**
 * The estimate of the region's count of the entry's window at `now`: the last regional read,
 * this node's unsent increments and, with `predict`, the other nodes' admissions since the read.
 */
export function regionalEstimate(entry: EdgeEntry, now: number, predict: boolean): number {
  let count = entry.base + entry.inflight + entry.pending;
  if (predict && entry.othersRate > 0) count += entry.othersRate * (now - entry.readAt + entry.readLag);
  return count;
}

/** Starts `window` for the entry; the region's estimate of the ended window becomes `previous` when the two are consecutive. */
export function rollOver(entry: EdgeEntry, window: number, length: number, predict: boolean, limit: number): void {
  const ended = regionalEstimate(entry, (entry.window + 1) * length, predict);
  entry.previous = entry.window === window - 1 ? Math.min(ended, limit * 2) : 0;
  entry.window = window;
  entry.base = 0;
  entry.mine = 0;
  entry.inflight = 0;
  entry.pending = 0;
  entry.published = 0;
  entry.readAt = window * length;
  entry.readLag = 0;
  entry.othersAtRead = 0;
  entry.remote?.prune(window - 1);
}

/**
 * Takes in a regional read made at `now`: `current` is the region's count of the window after
 * this node's `delta` was added, `previous` the region's count of the window before.
 */
export function observeRegional(entry: EdgeEntry, delta: number, current: number, previous: number | undefined, now: number, readLag: number): void {
  entry.inflight -= delta;
  entry.mine += delta;
  const others = current - entry.mine;
  const elapsed = now - entry.readAt;
  if (elapsed > 0) {
    const rate = Math.max(0, others - entry.othersAtRead) / elapsed;
    entry.othersRate = entry.othersRate === 0 ? rate : RATE_SMOOTHING * rate + (1 - RATE_SMOOTHING) * entry.othersRate;
  }
  entry.othersAtRead = others;
  entry.base = current;
  entry.readAt = now;
  entry.readLag = readLag;
  if (previous !== undefined) entry.previous = previous;
}
