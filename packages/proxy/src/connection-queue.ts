import type { Clock, ClockTimer } from '@edgekit/core';

/** Something that waits for one of a region's upstream connections: an attempt. */
export interface QueueEntry {
  /** Set while the entry waits in a queue. */
  queued: boolean;
  queueTimer: ClockTimer | undefined;
  /** A connection is free for it (the slot is already counted). */
  onQueueLeft(): void;
  /** It waited `queueTimeout` without getting one. */
  onQueueTimeout(): void;
}

/**
 * Admission to one region's connection pool: at most `limit` attempts use it at once (one request
 * per connection), the others wait in order, each for at most `timeout` milliseconds (`0`: no limit).
 * The forwarder queues here rather than in undici's pool so that a wait can time out and fail over,
 * and a request that gave up leaves the queue at once.
 */
export class ConnectionQueue {
  /** Attempts holding a slot. */
  active = 0;
  readonly limit: number;
  readonly #clock: Clock;
  readonly #timeout: number;
  #entries: QueueEntry[] = [];
  #head = 0;
  #waiting = 0;

  constructor(limit: number, timeout: number, clock: Clock) {
    this.limit = limit;
    this.#timeout = timeout;
    this.#clock = clock;
  }

  /** Attempts waiting for a slot. */
  get waiting(): number {
    return this.#waiting;
  }

  /** Takes a slot for `entry` and returns `true`, or queues it and returns `false`. */
  enter(entry: QueueEntry): boolean {
    if (this.active < this.limit && this.#waiting === 0) {
      this.active++;
      return true;
    }
    entry.queued = true;
    this.#waiting++;
    this.#entries.push(entry);
    if (this.#timeout > 0) entry.queueTimer = this.#clock.setTimeout(() => this.#expire(entry), this.#timeout);
    return false;
  }

  /** Gives a slot back and hands it to the longest-waiting entry. */
  leave(): void {
    this.active--;
    const entries = this.#entries;
    while (this.#head < entries.length && this.active < this.limit) {
      const entry = entries[this.#head]!;
      entries[this.#head++] = undefined as unknown as QueueEntry;
      if (!entry.queued) continue;
      this.#dequeue(entry);
      this.active++;
      entry.onQueueLeft();
    }
    if (this.#head === entries.length) {
      this.#entries = [];
      this.#head = 0;
    } else if (this.#head > 1024 && this.#head * 2 > entries.length) {
      this.#entries = entries.slice(this.#head);
      this.#head = 0;
    }
  }

  /** Removes a waiting entry (its request ended). */
  withdraw(entry: QueueEntry): void {
    if (entry.queued) this.#dequeue(entry);
  }

  #dequeue(entry: QueueEntry): void {
    entry.queued = false;
    this.#waiting--;
    if (entry.queueTimer !== undefined) {
      this.#clock.clearTimeout(entry.queueTimer);
      entry.queueTimer = undefined;
    }
  }

  #expire(entry: QueueEntry): void {
    entry.queueTimer = undefined;
    if (!entry.queued) return;
    this.#dequeue(entry);
    entry.onQueueTimeout();
  }
}
