/** An opaque handle returned by {@link Clock.setTimeout}. */
export type ClockTimer = object;

/**
 * Where the client reads the time and schedules work; structurally the same as `@edgekit/core`'s
 * `Clock`, so its `createManualClock()` fits. `now()` must be Unix milliseconds: edge maps carry
 * wall-clock `issuedAt` and `expiresAt`.
 */
export interface Clock {
  now(): number;
  setTimeout(callback: () => void, ms: number): ClockTimer;
  clearTimeout(timer: ClockTimer | undefined): void;
}

/** The real clock: `Date.now()` and timers that do not keep a Node process alive. */
export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout(callback, ms) {
    const timer = setTimeout(callback, ms) as unknown as { unref?: () => void };
    // Node and Bun: unref'd; browsers return a number, boxed so the handle is an object.
    if (typeof timer === 'object') {
      timer.unref?.();
      return timer;
    }
    return { id: timer };
  },
  clearTimeout(timer) {
    if (timer !== undefined) clearTimeout(('id' in timer ? timer.id : timer) as Parameters<typeof clearTimeout>[0]);
  },
};
