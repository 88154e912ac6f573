import { type Clock, type ClockTimer, systemClock } from '@edgekit/core';

/** An entry of {@link CallTimers}: `batch` is the timer slot timing it. */
export interface TimedEntry {
  batch: unknown;
}

/** One timer: times one call at a time, and is kept for the next call of the same millisecond. */
class Slot {
  entry: TimedEntry | undefined = undefined;
  timer: ClockTimer | undefined = undefined;
  done = false;
  /** Whether the timer holds the process open (a native timer's `ref()` state). */
  refed = true;

  constructor(readonly deadline: number) {}
}

/**
 * Call timeouts with opossum's timing at a fraction of its cost. opossum arms one timer per call
 * and clears it when the call ends. Here a call's timer, once the call ends in time, is kept
 * (unref'd, so it holds no process open) and reused by the next call started in the same
 * millisecond, whose deadline it already has. Sequential calls under load then arm about one timer
 * per millisecond instead of one per call, and each timeout still fires at opossum's time, on a
 * timer of its own (so promise callbacks run between two timeouts, as between opossum's timers),
 * created no later than opossum's would be. A pending timer keeps the process alive, as opossum's
 * do; an idle one is unref'd when the event loop next reaches its check phase (one `setImmediate`
 * per idle period, not a ref/unref pair per call, each of which crosses into Node's C++ when it is
 * the only timer). Injected clocks get a timer per call, cleared when the call ends.
 */
export class CallTimers<T extends TimedEntry> {
  /** The last timer that became idle, for reuse. */
  #idle: Slot | undefined = undefined;
  readonly #clock: Clock;
  readonly #timeout: number;
  readonly #onExpire: (entry: T) => void;
  readonly #native: boolean;
  #releasing = false;

  constructor(clock: Clock, timeout: number, onExpire: (entry: T) => void) {
    this.#clock = clock;
    this.#timeout = timeout;
    this.#onExpire = onExpire;
    this.#native = clock === systemClock;
  }

  /** Times `entry`, started at clock time `now`. */
  add(entry: T, now: number): void {
    const deadline = now + this.#timeout;
    let slot = this.#idle;
    if (slot !== undefined && slot.deadline === deadline && !slot.done) {
      this.#idle = undefined;
      if (!slot.refed) {
        slot.refed = true;
        (slot.timer as NodeJS.Timeout).ref();
      }
    } else {
      const fresh = new Slot(deadline);
      fresh.timer = this.#native ? setTimeout(this.#fire, this.#timeout, fresh) : this.#clock.setTimeout(() => this.#fire(fresh), this.#timeout);
      slot = fresh;
    }
    slot.entry = entry;
    entry.batch = slot;
  }

  /** Stops timing `entry` (it settled in time). */
  remove(entry: T): void {
    const slot = entry.batch as Slot | undefined;
    if (slot === undefined) return;
    entry.batch = undefined;
    slot.entry = undefined;
    if (slot.done) return;
    if (this.#native) {
      const previous = this.#idle;
      // Only the latest idle timer is reused: an older one stops holding the process now.
      if (previous !== undefined && previous !== slot) unref(previous);
      this.#idle = slot;
      if (!this.#releasing) {
        this.#releasing = true;
        setImmediate(this.#release);
      }
    } else {
      this.#clock.clearTimeout(slot.timer);
      slot.done = true;
    }
  }

  /** The idle timer, if still idle when the loop gets here, stops holding the process open. */
  readonly #release = (): void => {
    this.#releasing = false;
    const idle = this.#idle;
    if (idle !== undefined && !idle.done) unref(idle);
  };

  readonly #fire = (slot: Slot): void => {
    slot.done = true;
    if (this.#idle === slot) this.#idle = undefined;
    const entry = slot.entry;
    if (entry === undefined) return;
    slot.entry = undefined;
    entry.batch = undefined;
    this.#onExpire(entry as T);
  };
}

function unref(slot: Slot): void {
  if (!slot.refed) return;
  slot.refed = false;
  (slot.timer as NodeJS.Timeout).unref();
}
