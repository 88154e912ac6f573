import { type Clock, type ClockTimer, systemClock } from '@edgekit/core';

/** A running `healthCheck()`. */
export interface HealthCheck {
  stop(): void;
}

/** What a health check needs from its breaker. */
interface Checked {
  emit(event: 'healthCheckFailed', error: unknown): boolean;
  open(): void;
}

/**
 * opossum's `healthCheck(func, interval)`: runs `func` now and every `interval` ms (default 5000);
 * when it rejects (or throws) the breaker emits `healthCheckFailed` and opens.
 */
export function startHealthCheck<B extends Checked>(breaker: B, clock: Clock, func: (this: B) => unknown, interval: unknown): HealthCheck {
  const ms = Number(interval || 5000);
  // opossum's messages, in its order of checks.
  if (typeof func !== 'function') throw new TypeError('Health check function must be a function');
  if (Number.isNaN(ms)) throw new TypeError('Health check interval must be a number');
  const fail = (error: unknown): void => {
    breaker.emit('healthCheckFailed', error);
    breaker.open();
  };
  const check = (): void => {
    let result: unknown;
    try {
      result = func.call(breaker);
    } catch (error) {
      fail(error);
      return;
    }
    Promise.resolve(result).then(undefined, fail);
  };
  if (clock === systemClock) {
    // opossum's unref'd interval: one timer for good, which keeps its place among timers due at the same time.
    const interval = setInterval(check, ms);
    interval.unref();
    check();
    return { stop: () => clearInterval(interval) };
  }
  let timer: ClockTimer | undefined;
  const tick = (): void => {
    timer = clock.setTimeout(tick, ms);
    check();
  };
  timer = clock.setTimeout(tick, ms);
  check();
  return { stop: () => clock.clearTimeout(timer) };
}
