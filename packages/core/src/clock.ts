/** An opaque handle returned by {@link Clock.setTimeout}. */
export type ClockTimer = { readonly __clockTimer?: never } | object;

/**
 * Where every time-based edgekit primitive reads the time and schedules work.
 * Inject {@link createManualClock} in tests so they never sleep.
 */
export interface Clock {
  /** Milliseconds since an arbitrary epoch; only differences matter. */
  now(): number;
  /** Schedules `callback` after `ms` milliseconds. Timers must not keep the process alive. */
  setTimeout(callback: () => void, ms: number): ClockTimer;
  /** Cancels a timer; unknown or already-fired handles are ignored. */
  clearTimeout(timer: ClockTimer | undefined): void;
}

/** The real clock: `Date.now()` and unref'd Node timers. */
export const systemClock: Clock = Object.freeze({
  now: () => Date.now(),
  setTimeout(callback: () => void, ms: number): ClockTimer {
    const timer = setTimeout(callback, ms);
    timer.unref();
    return timer;
  },
  clearTimeout(timer: ClockTimer | undefined): void {
    if (timer !== undefined) clearTimeout(timer as NodeJS.Timeout);
  },
});

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
export function delay(clock: Clock, ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    const onAbort = (): void => {
      clock.clearTimeout(timer);
      reject(signal?.reason);
    };
    const timer = clock.setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * Settles like `promise`, or rejects with `onTimeout()` once `ms` have passed on `clock`, whichever
 * comes first. A rejection of `promise` passes through `mapError` when given. The timer is cleared
 * as soon as `promise` settles; a late settlement after the timeout is ignored.
 */
export function settleWithin<T>(promise: Promise<T>, ms: number, clock: Clock, onTimeout: () => Error, mapError?: (error: unknown) => unknown): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    let done = false;
    const timer = clock.setTimeout(() => {
      if (done) return;
      done = true;
      reject(onTimeout());
    }, ms);
    promise.then(
      (value) => {
        if (done) return;
        done = true;
        clock.clearTimeout(timer);
        resolve(value);
      },
      (error: unknown) => {
        if (done) return;
        done = true;
        clock.clearTimeout(timer);
        reject(mapError === undefined ? error : mapError(error));
      },
    );
  });
}
