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
  /** Kept for reuse once its call ends; else cleared then, as opossum clears its timer. */
  reusable = false;

  constructor(
    /** Clock time the timer fires, `NaN` when armed for a call whose start was not read. */
    readonly deadline: number,
    /** The event-loop turn it was armed in (see {@link CallTimers.add}). */
    readonly turn: number,
  ) {}
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
 * the only timer). Injected clocks, and fake timers (a replaced `Date.now`), get a timer per call,
 * cleared when the call ends, so timers due at the same time fire in the order they were created.
 *
 * A call need not read the clock (a slow call on some hosts) to be timed: without a start time it
 * reuses the idle timer if that timer was armed in the same event-loop turn (before the loop next
 * reaches its check phase). Node arms a timer from the loop's cached time, the same for every
 * timer armed in that turn, so such a call gets the very deadline a timer of its own would have.
 * A replaced `Date.now` (fake timers) does not follow the event loop: calls then read the clock.
 */
export class CallTimers<T extends TimedEntry> {
  /** The last timer that became idle, for reuse. */
  #idle: Slot | undefined = undefined;
  readonly #clock: Clock;
  readonly #timeout: number;
  readonly #onExpire: (entry: T) => void;
  readonly #native: boolean;
  #releasing = false;
  /** Event-loop turns seen to end (each at a check phase). */
  #turn = 0;
  /** `Date.now` when last checked, and whether it was the engine's own. */
  #dateNow: unknown = undefined;
  #nativeDate = false;

  constructor(clock: Clock, timeout: number, onExpire: (entry: T) => void) {
    this.#clock = clock;
    this.#native = clock === systemClock;
    // Node waits at least 1 ms whatever the delay; an injected clock is given what Node would wait.
    this.#timeout = this.#native ? timeout : Math.max(1, timeout);
    this.#onExpire = onExpire;
  }

  /** Whether a call must read its start time for {@link CallTimers.add} (else it may pass `NaN`). */
  needsStart(): boolean {
    if (!this.#native) return true;
    const dateNow = Date.now;
    if (dateNow !== this.#dateNow) {
      this.#dateNow = dateNow;
      this.#nativeDate = NATIVE_CODE.test(Function.prototype.toString.call(dateNow));
    }
    return !this.#nativeDate;
  }

  /** Times `entry`, started at clock time `now` (`NaN` when not read, see {@link CallTimers.needsStart}). */
  add(entry: T, now: number): void {
    const deadline = now + this.#timeout;
    // Under fake timers (a replaced `Date.now`) every call gets a fresh timer, cleared when it ends,
    // as opossum's: a reused, older timer would fire before timers created since for the same time.
    const reuse = this.#native && !this.needsStart();
    let slot = reuse ? this.#idle : undefined;
    if (slot !== undefined && !slot.done && (deadline === deadline ? slot.deadline === deadline : slot.turn === this.#turn)) {
      this.#idle = undefined;
      if (!slot.refed) {
        slot.refed = true;
        (slot.timer as NodeJS.Timeout).ref();
      }
    } else {
      const fresh = new Slot(deadline, this.#turn);
      if (reuse) {
        fresh.reusable = true;
        fresh.timer = setTimeout(this.#fire, this.#timeout, fresh);
        this.#endTurnSoon();
      } else if (this.#native) {
        fresh.timer = setTimeout(this.#fire, this.#timeout, fresh);
      } else {
        fresh.timer = this.#clock.setTimeout(() => this.#fire(fresh), this.#timeout);
      }
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
    if (slot.reusable) {
      const previous = this.#idle;
      // Only the latest idle timer is reused: an older one stops holding the process now.
      if (previous !== undefined && previous !== slot) unref(previous);
      this.#idle = slot;
      this.#endTurnSoon();
    } else {
      if (this.#native) clearTimeout(slot.timer as NodeJS.Timeout);
      else this.#clock.clearTimeout(slot.timer);
      slot.done = true;
    }
  }

  #endTurnSoon(): void {
    if (this.#releasing) return;
    this.#releasing = true;
    setImmediate(this.#release);
  }

  /** The turn ends; the idle timer, if still idle when the loop gets here, stops holding the process open. */
  readonly #release = (): void => {
    this.#releasing = false;
    this.#turn++;
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

/** How the engine prints a function of its own. */
const NATIVE_CODE = /\{\s*\[native code\]\s*\}\s*$/;

function unref(slot: Slot): void {
  if (!slot.refed) return;
  slot.refed = false;
  (slot.timer as NodeJS.Timeout).unref();
}
