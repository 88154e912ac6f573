import { systemClock } from '@edgekit/core';
import { createManualClock } from '@edgekit/core/testing';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { CircuitBreaker, TimeoutError, isOurError } from '../src/index.js';
import { deferred, flush, outcome, recordEvents } from './helpers.js';

const never = (): Promise<string> => new Promise<string>(() => {});

describe('timeout', () => {
  it('rejects with ETIMEDOUT exactly when timeout elapses on the clock, not before', async () => {
    const clock = createManualClock();
    const breaker = new CircuitBreaker(never, { clock, timeout: 500, volumeThreshold: 10 });
    const pending = outcome(breaker.fire());
    let settled = false;
    void pending.then(() => (settled = true));
    await clock.advanceAsync(499);
    expect(settled).toBe(false);
    await clock.advanceAsync(1);
    expect(await pending).toBe('err:ETIMEDOUT');
  });

  it('raises a TimeoutError naming the breaker and the timeout, counted as a timeout and a failure', async () => {
    const clock = createManualClock();
    const breaker = new CircuitBreaker(never, { clock, timeout: 300, name: 'slow-api' });
    const events = recordEvents(breaker, ['fire', 'timeout', 'failure', 'open']);
    const timeoutArgs: unknown[][] = [];
    breaker.on('timeout', (error, latency, args) => timeoutArgs.push([error, latency, args]));
    const pending = breaker.fire().catch((e: unknown) => e);
    await clock.advanceAsync(300);
    const error = (await pending) as TimeoutError;
    expect(error).toBeInstanceOf(TimeoutError);
    expect(error).toMatchObject({ code: 'ETIMEDOUT', message: 'Timed out after 300ms', timeout: 300, breaker: 'slow-api' });
    expect(isOurError(error)).toBe(true);
    expect(events).toEqual(['fire', 'timeout', 'failure', 'open']);
    expect(timeoutArgs).toEqual([[error, 300, []]]);
    expect(breaker.stats).toMatchObject({ timeouts: 1, failures: 1 });
  });

  it('ignores a result that arrives after the timeout', async () => {
    const clock = createManualClock();
    const late = deferred<string>();
    const breaker = new CircuitBreaker(() => late.promise, { clock, timeout: 100, volumeThreshold: 10 });
    const pending = outcome(breaker.fire());
    await clock.advanceAsync(100);
    late.resolve('too late');
    expect(await pending).toBe('err:ETIMEDOUT');
    await flush();
    expect(breaker.stats.successes).toBe(0);
  });

  it('resolves with the fallback when a call times out', async () => {
    const clock = createManualClock();
    const breaker = new CircuitBreaker(never, { clock, timeout: 100 }).fallback((error: TimeoutError) => `fallback after ${error.code}`);
    const pending = breaker.fire();
    await clock.advanceAsync(100);
    await expect(pending).resolves.toBe('fallback after ETIMEDOUT');
  });

  it('reopens when a half-open probe times out', async () => {
    const clock = createManualClock();
    const breaker = new CircuitBreaker(never, { clock, timeout: 100, resetTimeout: 1000 });
    breaker.open();
    await clock.advanceAsync(1000);
    expect(breaker.halfOpen).toBe(true);
    const probe = outcome(breaker.fire());
    await clock.advanceAsync(100);
    expect(await probe).toBe('err:ETIMEDOUT');
    expect(breaker.opened).toBe(true);
  });

  it('times out calls started at different times each after their own timeout', async () => {
    const clock = createManualClock();
    const breaker = new CircuitBreaker(never, { clock, timeout: 100, volumeThreshold: 1000 });
    const first = outcome(breaker.fire());
    await clock.advanceAsync(60);
    const second = outcome(breaker.fire());
    let secondDone = false;
    void second.then(() => (secondDone = true));
    await clock.advanceAsync(40);
    expect(await first).toBe('err:ETIMEDOUT');
    expect(secondDone).toBe(false);
    await clock.advanceAsync(60);
    expect(await second).toBe('err:ETIMEDOUT');
  });

  it('schedules no timeout at all when timeout is false or 0', async () => {
    for (const timeout of [false, 0] as const) {
      const clock = createManualClock();
      const breaker = new CircuitBreaker(never, { clock, timeout });
      let settled = false;
      void breaker.fire().finally(() => (settled = true));
      // Once the rolling window has gone idle nothing else is scheduled, and the call is still pending.
      await clock.advanceAsync(60_000);
      expect(clock.pendingTimers()).toBe(0);
      expect(settled).toBe(false);
      expect(breaker.options.timeout).toBe(0);
    }
  });

  it('leaves no timer behind once calls are done and the window is idle', async () => {
    const clock = createManualClock();
    const breaker = new CircuitBreaker(async () => 'fast', { clock, timeout: 1000 });
    await breaker.fire();
    await clock.advanceAsync(20_000);
    expect(clock.pendingTimers()).toBe(0);
  });
});

describe('timeout on the system clock, for calls that read no start time', () => {
  // Without listeners or percentiles nobody sees a call's latency, so a call reads no clock and
  // times out on a timer shared with the calls of its event-loop turn.
  const options = { timeout: 50, rollingPercentilesEnabled: false, volumeThreshold: 1000 } as const;

  afterEach(() => {
    vi.useRealTimers();
  });

  it('gives a call started in a later turn a full timeout of its own', async () => {
    let calls = 0;
    const breaker = new CircuitBreaker(() => (++calls === 1 ? Promise.resolve('fast') : never()), options);
    expect(await breaker.fire()).toBe('fast');
    await new Promise((resolve) => setTimeout(resolve, 30));
    const started = performance.now();
    expect(await outcome(breaker.fire())).toBe('err:ETIMEDOUT');
    // A timer reused from the first call's turn would have fired about 20 ms after this start.
    expect(performance.now() - started).toBeGreaterThanOrEqual(48);
    breaker.shutdown();
  });

  it('times out every call of one turn, each on time', async () => {
    const breaker = new CircuitBreaker(never, options);
    const started = performance.now();
    const results = await Promise.all([outcome(breaker.fire()), outcome(breaker.fire()), outcome(breaker.fire())]);
    expect(results).toEqual(['err:ETIMEDOUT', 'err:ETIMEDOUT', 'err:ETIMEDOUT']);
    expect(performance.now() - started).toBeGreaterThanOrEqual(48);
    expect(breaker.stats.timeouts).toBe(3);
    breaker.shutdown();
  });

  it('reads the clock when Date.now is replaced (fake timers), whose time moves without the event loop', async () => {
    vi.useFakeTimers({ now: 0, toFake: ['setTimeout', 'clearTimeout', 'Date'] });
    let calls = 0;
    const breaker = new CircuitBreaker(() => (++calls === 1 ? Promise.resolve('fast') : never()), options);
    expect(await breaker.fire()).toBe('fast');
    vi.advanceTimersByTime(30);
    const pending = outcome(breaker.fire());
    let settled = false;
    void pending.then(() => (settled = true));
    await vi.advanceTimersByTimeAsync(49);
    expect(settled).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    expect(await pending).toBe('err:ETIMEDOUT');
    breaker.shutdown();
  });
});

describe('AbortSignal', () => {
  it('passes a per-call signal as the last argument with appendSignal, aborted with the TimeoutError', async () => {
    const clock = createManualClock();
    const signals: AbortSignal[] = [];
    const breaker = new CircuitBreaker(
      (id: string, signal: AbortSignal) => {
        signals.push(signal);
        return id === 'fast' ? Promise.resolve(id) : never();
      },
      { clock, timeout: 200, appendSignal: true, volumeThreshold: 10 },
    );
    await expect(breaker.fire('fast')).resolves.toBe('fast');
    const slow = breaker.fire('slow').catch((e: unknown) => e);
    await clock.advanceAsync(200);
    const error = await slow;
    expect(signals).toHaveLength(2);
    expect(signals[0]?.aborted).toBe(false);
    expect(signals[1]?.aborted).toBe(true);
    expect(signals[1]?.reason).toBe(error);
    expect(signals[0]).not.toBe(signals[1]);
  });

  it('does not append the signal to the arguments seen by events, errorFilter, cache keys or the fallback', async () => {
    const clock = createManualClock();
    const seen: unknown[][] = [];
    const breaker = new CircuitBreaker(
      async (id: number, signal: AbortSignal) => {
        if (!(signal instanceof AbortSignal)) throw new Error('no signal');
        throw new Error(`fail ${id}`);
      },
      {
        clock,
        timeout: 200,
        appendSignal: true,
        errorFilter: (_error, ...args) => {
          seen.push(['filter', ...args]);
          return false;
        },
      },
    );
    breaker.on('fire', (args) => seen.push(['fire', ...args]));
    breaker.on('failure', (_e, _l, args) => seen.push(['failure', ...args]));
    breaker.fallback((...args: unknown[]) => {
      seen.push(['fallback', args.length]);
      return 'fb';
    });
    await expect(breaker.fire(7)).resolves.toBe('fb');
    expect(seen).toEqual([['fire', 7], ['filter', 7], ['failure', 7], ['fallback', 2]]);
  });

  it('passes a signal that never aborts when no timeout applies', async () => {
    let received: AbortSignal | undefined;
    const breaker = new CircuitBreaker(
      async (signal: AbortSignal) => {
        received = signal;
        return 1;
      },
      { timeout: false, appendSignal: true },
    );
    await breaker.fire();
    expect(received).toBeInstanceOf(AbortSignal);
    expect(received?.aborted).toBe(false);
  });

  it('aborts the shared abortController (opossum style) on any timeout, and exposes it', async () => {
    const clock = createManualClock();
    const abortController = new AbortController();
    const breaker = new CircuitBreaker((signal: AbortSignal) => (signal.aborted ? Promise.reject(new Error('aborted')) : never()), {
      clock,
      timeout: 100,
      abortController,
      volumeThreshold: 10,
    });
    expect(breaker.getAbortController()).toBe(abortController);
    const pending = outcome(breaker.fire(breaker.getSignal() as AbortSignal));
    await clock.advanceAsync(100);
    expect(await pending).toBe('err:ETIMEDOUT');
    expect(abortController.signal.aborted).toBe(true);
    // opossum semantics: later calls see the aborted shared signal.
    expect(await outcome(breaker.fire(breaker.getSignal() as AbortSignal))).toBe('err:aborted');
  });

  it('renews an aborted shared controller when going half-open with autoRenewAbortController', async () => {
    const clock = createManualClock();
    const breaker = new CircuitBreaker(never, { clock, timeout: 100, resetTimeout: 500, autoRenewAbortController: true });
    const first = breaker.getSignal();
    const pending = outcome(breaker.fire());
    await clock.advanceAsync(100);
    await pending;
    expect(first?.aborted).toBe(true);
    expect(breaker.opened).toBe(true);
    expect(breaker.getSignal()).toBe(first);
    await clock.advanceAsync(500);
    expect(breaker.halfOpen).toBe(true);
    expect(breaker.getSignal()).not.toBe(first);
    expect(breaker.getSignal()?.aborted).toBe(false);
  });
});
