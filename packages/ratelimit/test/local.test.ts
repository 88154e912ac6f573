import { createManualClock } from '@edgekit/core/testing';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type Algorithm, type LocalLimiterOptions, createLocalLimiter } from '../src/index.js';

describe('fixed window', () => {
  it('allows `limit` units per window, refuses the rest until the window ends, then starts over', () => {
    const clock = createManualClock(10_000);
    const limiter = createLocalLimiter({ algorithm: 'fixed-window', limit: 3, window: 1000, clock });
    expect([1, 2, 3].map(() => limiter.limit('a').allowed)).toEqual([true, true, true]);
    clock.advance(250);
    expect(limiter.limit('a')).toEqual({ allowed: false, limit: 3, remaining: 0, reset: 750, retryAfter: 750 });
    expect(limiter.limit('b').allowed).toBe(true);
    clock.advance(750);
    expect(limiter.limit('a')).toEqual({ allowed: true, limit: 3, remaining: 2, reset: 1000, retryAfter: 0 });
  });

  it('never allows more than `limit` units in one window, whatever the costs and timing', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 20 }),
        fc.array(fc.record({ dt: fc.integer({ min: 0, max: 400 }), cost: fc.integer({ min: 0, max: 5 }) }), { maxLength: 200 }),
        (limit, steps) => {
          const clock = createManualClock(0);
          const limiter = createLocalLimiter({ algorithm: 'fixed-window', limit, window: 1000, clock });
          const perWindow = new Map<number, number>();
          for (const { dt, cost } of steps) {
            clock.advance(dt);
            if (cost > limit) continue;
            const r = limiter.limit('k', cost);
            if (r.allowed) perWindow.set(Math.floor(clock.now() / 1000), (perWindow.get(Math.floor(clock.now() / 1000)) ?? 0) + cost);
            expect(r.remaining).toBeGreaterThanOrEqual(0);
            expect(r.allowed ? r.retryAfter === 0 : r.retryAfter > 0).toBe(true);
          }
          for (const used of perWindow.values()) expect(used).toBeLessThanOrEqual(limit);
        },
      ),
    );
  });
});

describe('sliding window', () => {
  it('weights the previous window by the share of it still inside the sliding window', () => {
    const clock = createManualClock(0);
    const limiter = createLocalLimiter({ algorithm: 'sliding-window', limit: 10, window: 1000, clock });
    for (let i = 0; i < 10; i++) expect(limiter.limit('k').allowed).toBe(true);
    clock.set(1250); // previous window (10) weighs 75%: estimate 7.5, room for 2
    expect(limiter.limit('k').allowed).toBe(true);
    expect(limiter.limit('k').allowed).toBe(true);
    const refused = limiter.limit('k');
    expect(refused.allowed).toBe(false);
    // Estimate 7.5 + 2 = 9.5; one more unit fits once 10 * w + 2 + 1 <= 10, i.e. w <= 0.7, at 1300.
    expect(refused.retryAfter).toBe(50);
    clock.advance(50);
    expect(limiter.limit('k').allowed).toBe(true);
  });

  it('allows no more than `limit` in any fixed window and its retryAfter is always enough', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 20 }),
        fc.array(fc.record({ dt: fc.integer({ min: 0, max: 300 }), cost: fc.integer({ min: 1, max: 4 }) }), { maxLength: 150 }),
        (limit, steps) => {
          const clock = createManualClock(0);
          const limiter = createLocalLimiter({ algorithm: 'sliding-window', limit, window: 1000, clock });
          const perWindow = new Map<number, number>();
          for (const { dt, cost } of steps) {
            clock.advance(dt);
            if (cost > limit) continue;
            const r = limiter.limit('k', cost);
            const w = Math.floor(clock.now() / 1000);
            if (r.allowed) perWindow.set(w, (perWindow.get(w) ?? 0) + cost);
            else expect(r.retryAfter).toBeGreaterThan(0);
          }
          for (const used of perWindow.values()) expect(used).toBeLessThanOrEqual(limit);
        },
      ),
    );
  });

  it('allows a refused request after exactly retryAfter, and not a millisecond before', () => {
    fc.assert(
      fc.property(fc.integer({ min: 2, max: 30 }), fc.integer({ min: 0, max: 999 }), fc.integer({ min: 0, max: 999 }), (limit, first, second) => {
        const clock = createManualClock(0);
        const limiter = createLocalLimiter({ algorithm: 'sliding-window', limit, window: 1000, clock });
        clock.set(first);
        for (let i = 0; i < limit; i++) limiter.limit('k');
        clock.set(1000 + second);
        let r = limiter.limit('k');
        while (r.allowed) r = limiter.limit('k');
        expect(r.retryAfter).toBeGreaterThan(0);
        // A refusal spends nothing, so probing one millisecond early leaves the state as it was.
        clock.advance(r.retryAfter - 1);
        expect(limiter.limit('k').allowed).toBe(false);
        clock.advance(1);
        expect(limiter.limit('k').allowed).toBe(true);
      }),
    );
  });
});

describe('token bucket', () => {
  it('allows a burst of `burst`, then refills at limit/window', () => {
    const clock = createManualClock(0);
    const limiter = createLocalLimiter({ algorithm: 'token-bucket', limit: 10, window: 1000, burst: 5, clock });
    for (let i = 0; i < 5; i++) expect(limiter.limit('k').allowed).toBe(true);
    const refused = limiter.limit('k');
    expect(refused).toMatchObject({ allowed: false, remaining: 0, retryAfter: 100, reset: 500 });
    clock.advance(99);
    expect(limiter.limit('k').allowed).toBe(false);
    clock.advance(1);
    expect(limiter.limit('k')).toMatchObject({ allowed: true, remaining: 0 });
    expect(() => limiter.limit('k', 6)).toThrow(RangeError);
  });
});

describe('GCRA', () => {
  it('spaces requests by window/limit after the burst and reports the wait precisely', () => {
    const clock = createManualClock(0);
    const limiter = createLocalLimiter({ algorithm: 'gcra', limit: 4, window: 1000, clock });
    expect([1, 2, 3, 4].map(() => limiter.limit('k').remaining)).toEqual([3, 2, 1, 0]);
    expect(limiter.limit('k')).toEqual({ allowed: false, limit: 4, remaining: 0, reset: 1000, retryAfter: 250 });
    clock.advance(250);
    expect(limiter.limit('k')).toEqual({ allowed: true, limit: 4, remaining: 0, reset: 1000, retryAfter: 0 });
  });
});

const rateAlgorithms: Algorithm[] = ['token-bucket', 'gcra'];
describe.each(rateAlgorithms)('%s', (algorithm) => {
  it('never allows more than burst + rate * elapsed over any interval', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 20 }),
        fc.integer({ min: 1, max: 20 }),
        fc.array(fc.record({ dt: fc.integer({ min: 0, max: 200 }), cost: fc.integer({ min: 0, max: 3 }) }), { maxLength: 120 }),
        (limit, burst, steps) => {
          const clock = createManualClock(0);
          const limiter = createLocalLimiter({ algorithm, limit, window: 1000, burst, clock });
          const allowed: Array<{ at: number; cost: number }> = [];
          for (const { dt, cost } of steps) {
            clock.advance(dt);
            if (cost > burst) continue;
            const r = limiter.limit('k', cost);
            if (r.allowed) allowed.push({ at: clock.now(), cost });
            expect(r.remaining).toBeLessThanOrEqual(burst);
          }
          for (let i = 0; i < allowed.length; i++) {
            let sum = 0;
            for (let j = i; j < allowed.length; j++) {
              sum += allowed[j]!.cost;
              const elapsed = allowed[j]!.at - allowed[i]!.at;
              expect(sum).toBeLessThanOrEqual(burst + (limit * elapsed) / 1000 + 1e-6);
            }
          }
        },
      ),
    );
  });
});

describe('local store', () => {
  it('holds at most max keys, dropping the least recently used first', () => {
    const clock = createManualClock(0);
    const limiter = createLocalLimiter({ algorithm: 'fixed-window', limit: 2, window: 60_000, max: 3, clock });
    limiter.limit('busy');
    limiter.limit('busy');
    for (let i = 0; i < 100; i++) {
      limiter.limit(`flood-${i}`);
      expect(limiter.limit('busy').allowed).toBe(false); // touched every time, so never evicted
    }
    expect(limiter.size).toBe(3);
  });

  it('sweeps keys whose quota has fully reset', () => {
    const clock = createManualClock(0);
    const limiter = createLocalLimiter({ algorithm: 'gcra', limit: 10, window: 1000, sweepInterval: 500, clock });
    for (let i = 0; i < 50; i++) limiter.limit(`k${i}`);
    expect(limiter.size).toBe(50);
    clock.advance(500);
    expect(limiter.size).toBe(0);
    expect(clock.pendingTimers()).toBe(1);
  });

  it('treats hostile keys as opaque strings and bounds the memory of huge ones', () => {
    const clock = createManualClock(0);
    const limiter = createLocalLimiter({ algorithm: 'fixed-window', limit: 1, window: 1000, clock });
    const hostile = ['__proto__', 'constructor', '', '{}', 'a}b{', '\u0000\r\n', 'x'.repeat(1_000_000), '\ud800'];
    for (const key of hostile) expect(limiter.limit(key).allowed).toBe(true);
    for (const key of hostile) expect(limiter.limit(key).allowed).toBe(false);
    expect(limiter.limit('x'.repeat(1_000_001)).allowed).toBe(true); // a different long key has its own digest
    expect(() => limiter.limit(42 as unknown as string)).toThrow(TypeError);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('validates options and costs with messages that name them', () => {
    expect(() => createLocalLimiter({ limit: 0, window: 1000 })).toThrow(/"limit"/);
    expect(() => createLocalLimiter({ limit: 1.5, window: 1000 })).toThrow(/"limit"/);
    expect(() => createLocalLimiter({ limit: 10, window: -1 })).toThrow(/"window"/);
    expect(() => createLocalLimiter({ limit: 10, window: 1000, algorithm: 'leaky' as Algorithm })).toThrow(/"algorithm"/);
    expect(() => createLocalLimiter({ limit: 10, window: 1000, name: 'has "quotes"' })).toThrow(/"name"/);
    expect(() => createLocalLimiter({ limit: 10, window: 1000, max: 0 })).toThrow(/"max"/);
    const renamed = { limit: 10, window: 1000, maxKeys: 3 } as LocalLimiterOptions;
    expect(() => createLocalLimiter(renamed)).toThrow(expect.objectContaining({ name: 'TypeError', code: 'ERR_RENAMED_OPTION' }));
    expect(() => createLocalLimiter(renamed)).toThrow('option "maxKeys" was renamed; use "max" instead');
    const limiter = createLocalLimiter({ limit: 10, window: 1000 });
    expect(() => limiter.limit('k', -1)).toThrow(/cost/);
    expect(() => limiter.limit('k', 11)).toThrow(/cost/);
    expect(() => limiter.limit('k', Number.NaN)).toThrow(/cost/);
    expect(limiter.limit('k', 0)).toMatchObject({ allowed: true, remaining: 10 });
  });

  it('leaves no timer behind and refuses calls after close', async () => {
    const clock = createManualClock(0);
    const limiter = createLocalLimiter({ limit: 10, window: 1000, clock });
    expect(clock.pendingTimers()).toBe(1);
    await limiter[Symbol.asyncDispose]();
    expect(clock.pendingTimers()).toBe(0);
    expect(() => limiter.limit('k')).toThrow(expect.objectContaining({ code: 'ECLOSED' }));
  });
});
