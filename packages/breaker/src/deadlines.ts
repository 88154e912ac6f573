import type { Clock, ClockTimer } from '@edgekit/core';

/** An entry of a {@link DeadlineQueue}: the queue links entries through these fields. */
export interface DeadlineEntry {
  deadline: number;
  prev: DeadlineEntry | undefined;
  next: DeadlineEntry | undefined;
  queued: boolean;
}

// Calls in a row, each within `resolution` ms of the previous, before the queue stops reading the clock per call.
const BURST_TO_COARSE = 4;
// Calls per `resolution` period below which it goes back to one clock read per call.
const MIN_COARSE_RATE = 2;

/**
 * The call timeouts of one breaker on a single clock timer.
 *
 * Every call gets the same timeout, so deadlines arrive in order: adding is an append, settling an
 * unlink, and only the head needs a timer (Node's timer lists use the same idea; here it also saves
 * a timer object and a closure per call).
 *
 * With a `resolution` above zero, the queue also stops reading the clock per call once calls come
 * faster than one per `resolution` ms: it then stamps them from a cached reading that its timer
 * refreshes every `resolution` ms, plus `resolution` of slack, so a deadline is never early and at
 * most `resolution` ms late. (Node's own timers likewise start from a cached loop time.) When calls
 * slow down it goes back to exact readings and the refresh timer stops.
 */
export class DeadlineQueue<T extends DeadlineEntry> {
  #head: DeadlineEntry | undefined = undefined;
  #tail: DeadlineEntry | undefined = undefined;
  #timer: ClockTimer | undefined = undefined;
  #timerAt = Number.POSITIVE_INFINITY;
  #cached = Number.NEGATIVE_INFINITY;
  #coarse = false;
  #burst = 0;
  #adds = 0;
  readonly #clock: Clock;
  readonly #timeout: number;
  readonly #resolution: number;
  readonly #onExpire: (entry: T) => void;

  constructor(clock: Clock, timeout: number, resolution: number, onExpire: (entry: T) => void) {
    this.#clock = clock;
    this.#timeout = timeout;
    this.#resolution = resolution;
    this.#onExpire = onExpire;
  }

  /** True when no entry is waiting. */
  get empty(): boolean {
    return this.#head === undefined;
  }

  /** Whether deadlines currently come from the cached reading (for tests and diagnostics). */
  get coarse(): boolean {
    return this.#coarse;
  }

  /** Queues `entry` with a deadline `timeout` ms from now (see the class comment for the precision). */
  add(entry: T): void {
    let deadline: number;
    if (this.#coarse) {
      this.#adds++;
      deadline = this.#cached + this.#resolution + this.#timeout;
    } else {
      const now = this.#clock.now();
      if (this.#resolution > 0) {
        this.#burst = now - this.#cached < this.#resolution ? this.#burst + 1 : 0;
        if (this.#burst >= BURST_TO_COARSE) {
          this.#coarse = true;
          this.#adds = 0;
          if (now + this.#resolution < this.#timerAt) this.#arm(now + this.#resolution, now);
        }
      }
      this.#cached = now;
      deadline = now + this.#timeout;
    }
    const tail = this.#tail;
    // Keep the list sorted when a cached stamp was later than this exact one.
    if (tail !== undefined && tail.deadline > deadline) deadline = tail.deadline;
    entry.deadline = deadline;
    entry.queued = true;
    entry.next = undefined;
    entry.prev = tail;
    if (tail === undefined) this.#head = entry;
    else tail.next = entry;
    this.#tail = entry;
    if (deadline < this.#timerAt) this.#arm(deadline, this.#cached);
  }

  remove(entry: T): void {
    if (!entry.queued) return;
    entry.queued = false;
    const { prev, next } = entry;
    if (prev === undefined) this.#head = next;
    else prev.next = next;
    if (next === undefined) this.#tail = prev;
    else next.prev = prev;
    entry.prev = undefined;
    entry.next = undefined;
    // The timer stays: when it fires early for a removed head it re-arms for the new head.
  }

  /** Cancels the timer and forgets every entry without expiring them. */
  clear(): void {
    this.#clock.clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#timerAt = Number.POSITIVE_INFINITY;
    this.#coarse = false;
    for (let entry = this.#head; entry !== undefined; ) {
      const next = entry.next;
      entry.queued = false;
      entry.prev = undefined;
      entry.next = undefined;
      entry = next;
    }
    this.#head = undefined;
    this.#tail = undefined;
  }

  #arm(at: number, now: number): void {
    this.#clock.clearTimeout(this.#timer);
    this.#timerAt = at;
    this.#timer = this.#clock.setTimeout(this.#fire, Math.max(0, at - now));
  }

  readonly #fire = (): void => {
    const due = this.#timerAt;
    this.#timer = undefined;
    this.#timerAt = Number.POSITIVE_INFINITY;
    // A real timer may fire a hair before its due time on the wall clock.
    const now = Math.max(this.#clock.now(), due);
    this.#cached = now;
    for (let entry = this.#head; entry !== undefined && entry.deadline <= now; entry = this.#head) {
      this.remove(entry as T);
      this.#onExpire(entry as T);
    }
    let next = this.#head === undefined ? Number.POSITIVE_INFINITY : this.#head.deadline;
    if (this.#coarse) {
      if (this.#adds >= MIN_COARSE_RATE) next = Math.min(next, now + this.#resolution);
      else {
        this.#coarse = false;
        this.#burst = 0;
      }
      this.#adds = 0;
    }
    if (next !== Number.POSITIVE_INFINITY && next < this.#timerAt) this.#arm(next, now);
  };
}
