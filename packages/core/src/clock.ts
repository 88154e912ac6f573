/** An opaque handle returned by {@link Clock.setTimeout}. */
export type ClockTimer = { readonly __clockTimer?: never } | object;

/**
 * Where every time-based edgekit primitive reads the time and schedules work.
 * Inject `createManualClock()` from `@edgekit/core/testing` in tests so they never sleep.
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
