import type { Clock, ClockTimer } from './clock.js';

interface ManualTimer {
  readonly id: number;
  readonly at: number;
  readonly callback: () => void;
}

/** A clock that only moves when told to: for tests and simulations. */
export interface ManualClock extends Clock {
  /** Moves time forward by `ms`, running due timers in order; timers scheduled meanwhile also run when due. */
  advance(ms: number): void;
  /** Like {@link ManualClock.advance}, but lets pending promise callbacks settle before and after each timer. */
  advanceAsync(ms: number): Promise<void>;
  /** Sets the time to an absolute value (never backwards) and runs due timers. */
  set(now: number): void;
  /** Number of scheduled timers that have not fired. */
  pendingTimers(): number;
}

/** Creates a {@link ManualClock} that starts at `start` milliseconds. */
export function createManualClock(start = 0): ManualClock {
  let now = start;
  let nextId = 1;
  const timers = new Map<number, ManualTimer>();

  const nextDue = (until: number): ManualTimer | undefined => {
    let due: ManualTimer | undefined;
    for (const t of timers.values()) {
      if (t.at <= until && (due === undefined || t.at < due.at || (t.at === due.at && t.id < due.id))) due = t;
    }
    return due;
  };

  const flushMicrotasks = async (): Promise<void> => {
    for (let i = 0; i < 10; i++) await new Promise<void>((resolve) => setImmediate(resolve));
  };

  const clock: ManualClock = {
    now: () => now,
    setTimeout(callback, ms) {
      const id = nextId++;
      timers.set(id, { id, at: now + Math.max(0, ms), callback });
      return { id } as ClockTimer;
    },
    clearTimeout(timer) {
      if (timer && typeof timer === 'object' && 'id' in timer) timers.delete((timer as { id: number }).id);
    },
    advance(ms) {
      clock.set(now + ms);
    },
    set(target) {
      if (!(target >= now)) throw new RangeError(`clock: cannot move time backwards (from ${now} to ${target})`);
      for (let due = nextDue(target); due; due = nextDue(target)) {
        timers.delete(due.id);
        now = due.at;
        due.callback();
      }
      now = target;
    },
    async advanceAsync(ms) {
      const target = now + ms;
      await flushMicrotasks();
      for (let due = nextDue(target); due; due = nextDue(target)) {
        timers.delete(due.id);
        now = due.at;
        due.callback();
        await flushMicrotasks();
      }
      now = target;
      await flushMicrotasks();
    },
    pendingTimers: () => timers.size,
  };
  return clock;
}

/** Resolves after `ms` on `clock`, or rejects with the signal's reason when `signal` aborts first. */
