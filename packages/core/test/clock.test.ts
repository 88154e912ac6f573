import { describe, expect, it } from 'vitest';
import { delay, settleWithin, systemClock } from '../src/index.js';
import { createManualClock } from '../src/testing.js';

describe('createManualClock', () => {
  it('runs due timers in time order, including timers scheduled by timers', () => {
    const clock = createManualClock(1000);
    const fired: string[] = [];
    clock.setTimeout(() => fired.push(`b@${clock.now()}`), 20);
    clock.setTimeout(() => {
      fired.push(`a@${clock.now()}`);
      clock.setTimeout(() => fired.push(`c@${clock.now()}`), 5);
    }, 10);
    clock.advance(14);
    expect(fired).toEqual(['a@1010']);
    clock.advance(100);
    expect(fired).toEqual(['a@1010', 'c@1015', 'b@1020']);
    expect(clock.now()).toBe(1114);
  });

  it('never fires a cleared timer', () => {
    const clock = createManualClock();
    let fired = false;
    const timer = clock.setTimeout(() => (fired = true), 5);
    clock.clearTimeout(timer);
    clock.advance(10);
    expect(fired).toBe(false);
    expect(clock.pendingTimers()).toBe(0);
  });

  it('refuses to move backwards', () => {
    const clock = createManualClock(50);
    expect(() => clock.set(10)).toThrow(RangeError);
  });

  it('lets promise chains settle between timers with advanceAsync', async () => {
    const clock = createManualClock();
    const order: number[] = [];
    void delay(clock, 10).then(() => {
      order.push(clock.now());
      return delay(clock, 10).then(() => order.push(clock.now()));
    });
    await clock.advanceAsync(25);
    expect(order).toEqual([10, 20]);
  });
});

describe('delay', () => {
  it('rejects with the abort reason and clears its timer', async () => {
    const clock = createManualClock();
    const controller = new AbortController();
    const pending = delay(clock, 1000, controller.signal);
    controller.abort(new Error('stop'));
    await expect(pending).rejects.toThrow('stop');
    expect(clock.pendingTimers()).toBe(0);
  });
});

describe('systemClock', () => {
  it('creates unref-ed timers so it never holds the process open', () => {
    const timer = systemClock.setTimeout(() => {}, 60_000) as NodeJS.Timeout;
    expect(timer.hasRef()).toBe(false);
    systemClock.clearTimeout(timer);
  });
});

describe('settleWithin', () => {
  it('resolves with the value when the promise settles in time, and clears its timer', async () => {
    const clock = createManualClock();
    const result = settleWithin(Promise.resolve(7), 100, clock, () => new Error('late'));
    await expect(result).resolves.toBe(7);
    expect(clock.pendingTimers()).toBe(0);
  });

  it('rejects with the timeout error once the time has passed, and ignores a later settlement', async () => {
    const clock = createManualClock();
    let finish!: (value: number) => void;
    const result = settleWithin(new Promise<number>((resolve) => (finish = resolve)), 100, clock, () => new Error('no answer within 100 ms'));
    clock.advance(99);
    let settled = false;
    void result.then(
      () => (settled = true),
      () => (settled = true),
    );
    await Promise.resolve();
    expect(settled).toBe(false);
    clock.advance(1);
    await expect(result).rejects.toThrow('no answer within 100 ms');
    finish(1);
  });

  it('passes a rejection through mapError, or unchanged without it', async () => {
    const clock = createManualClock();
    const cause = new Error('boom');
    await expect(settleWithin(Promise.reject(cause), 100, clock, () => new Error('late'))).rejects.toBe(cause);
    await expect(settleWithin(Promise.reject(cause), 100, clock, () => new Error('late'), (e) => new Error(`wrapped: ${(e as Error).message}`))).rejects.toThrow('wrapped: boom');
    expect(clock.pendingTimers()).toBe(0);
  });
});
