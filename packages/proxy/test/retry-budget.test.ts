import { createManualClock } from '@edgekit/core/testing';
import { type Forwarder, createForwarder, createRetryBudget } from '@edgekit/proxy';
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { send, startFront, startUpstream } from './helpers.js';

describe('createRetryBudget', () => {
  it('allows ratio × requests retries over the window', () => {
    const clock = createManualClock();
    const budget = createRetryBudget({ ratio: 0.2, minPerSecond: 0, window: 10_000, clock });
    for (let i = 0; i < 10; i++) budget.recordRequest();
    expect(budget.tryRetry()).toBe(true);
    expect(budget.tryRetry()).toBe(true);
    expect(budget.tryRetry()).toBe(false);
    expect(budget.snapshot()).toEqual({ requests: 10, retries: 2, allowed: 2 });
  });

  it('allows minPerSecond × window retries even without traffic', () => {
    const clock = createManualClock();
    const budget = createRetryBudget({ ratio: 0, minPerSecond: 1, window: 5_000, clock });
    const granted = Array.from({ length: 8 }, () => budget.tryRetry()).filter(Boolean).length;
    expect(granted).toBe(5);
  });

  it('forgets requests and retries that left the window', () => {
    const clock = createManualClock();
    const budget = createRetryBudget({ ratio: 0.5, minPerSecond: 0, window: 10_000, clock });
    budget.recordRequest();
    budget.recordRequest();
    expect(budget.tryRetry()).toBe(true);
    expect(budget.tryRetry()).toBe(false);
    clock.advance(10_000);
    expect(budget.snapshot()).toEqual({ requests: 0, retries: 0, allowed: 0 });
    expect(budget.tryRetry()).toBe(false);
    budget.recordRequest();
    budget.recordRequest();
    expect(budget.tryRetry()).toBe(true);
  });

  it('never grants more retries than the window allows (property)', () => {
    const op = fc.oneof(
      fc.constant({ kind: 'request' as const }),
      fc.constant({ kind: 'retry' as const }),
      fc.integer({ min: 1, max: 4_000 }).map((ms) => ({ kind: 'advance' as const, ms })),
    );
    fc.assert(
      fc.property(
        fc.double({ min: 0, max: 1, noNaN: true }),
        fc.integer({ min: 0, max: 5 }),
        fc.integer({ min: 100, max: 20_000 }),
        fc.array(op, { maxLength: 300 }),
        (ratio, minPerSecond, window, ops) => {
          const clock = createManualClock();
          const budget = createRetryBudget({ ratio, minPerSecond, window, clock });
          let granted = 0;
          let requests = 0;
          let elapsed = 0;
          for (const o of ops) {
            if (o.kind === 'request') {
              budget.recordRequest();
              requests++;
            } else if (o.kind === 'retry') {
              const before = budget.snapshot();
              const ok = budget.tryRetry();
              // A retry is granted exactly when it stays within the window's allowance.
              expect(ok).toBe(before.retries + 1 <= before.allowed);
              if (ok) granted++;
            } else {
              clock.advance(o.ms);
              elapsed += o.ms;
            }
            const s = budget.snapshot();
            expect(s.retries).toBeLessThanOrEqual(s.allowed);
          }
          // Over the whole run: at most one reserve per window started, plus the ratio of every request once per window it stays in.
          const windows = Math.floor(elapsed / window) + 2;
          expect(granted).toBeLessThanOrEqual(windows * ((minPerSecond * window) / 1000) + ratio * requests * 2 + 1e-9);
        },
      ),
    );
  });

  it('rejects bad options naming the option', () => {
    expect(() => createRetryBudget({ ratio: -1 })).toThrow(/"retryBudget\.ratio"/);
    expect(() => createRetryBudget({ window: 0 })).toThrow(/"retryBudget\.window"/);
    expect(() => createRetryBudget({ minPerSecond: Number.NaN })).toThrow(/"retryBudget\.minPerSecond"/);
  });
});

describe('retry budget in the forwarder', () => {
  const cleanup: Array<() => Promise<void>> = [];
  afterEach(async () => {
    while (cleanup.length > 0) await cleanup.pop()!();
  });

  it('stops failing over once the budget is spent, and resumes when the window moves on', async () => {
    const eu = await startUpstream('eu', { kind: 'reset' });
    const us = await startUpstream('us');
    cleanup.push(() => eu.close(), () => us.close());
    const clock = createManualClock();
    // Two retries per 10 s window and nothing more: an outage cannot double the load.
    const forwarder: Forwarder = createForwarder({ regions: [eu.region(), us.region()], clock, retryBudget: { ratio: 0, minPerSecond: 0.2, window: 10_000 } });
    const exhausted: unknown[] = [];
    forwarder.on('budgetExhausted', (e) => exhausted.push(e));
    const front = await startFront(forwarder);
    cleanup.push(async () => {
      await front.close();
      await forwarder.close();
    });
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++) statuses.push((await send(`${front.url}/r${i}`)).status);
    expect(statuses).toEqual([200, 200, 502, 502]);
    expect(eu.received).toHaveLength(4);
    expect(us.received).toHaveLength(2);
    expect(exhausted).toEqual([
      { region: 'us', kind: 'retry' },
      { region: 'us', kind: 'retry' },
    ]);
    clock.advance(10_000);
    expect((await send(`${front.url}/later`)).status).toBe(200);
    expect(us.received).toHaveLength(3);
  });

  it('can share one budget between forwarders, or go without', async () => {
    const eu = await startUpstream('eu', { kind: 'reset' });
    const us = await startUpstream('us');
    cleanup.push(() => eu.close(), () => us.close());
    const clock = createManualClock();
    const shared = createRetryBudget({ ratio: 0, minPerSecond: 0.1, window: 10_000, clock });
    const a = createForwarder({ regions: [eu.region(), us.region()], retryBudget: shared });
    const b = createForwarder({ regions: [eu.region(), us.region()], retryBudget: shared });
    const unbounded = createForwarder({ regions: [eu.region(), us.region()], retryBudget: false });
    expect(a.retryBudget).toBe(shared);
    expect(unbounded.retryBudget).toBeUndefined();
    const fronts = await Promise.all([a, b, unbounded].map((f) => startFront(f)));
    cleanup.push(async () => {
      for (const f of fronts) await f.close();
      for (const f of [a, b, unbounded]) await f.close();
    });
    expect((await send(`${fronts[0]!.url}/1`)).status).toBe(200);
    expect((await send(`${fronts[1]!.url}/2`)).status).toBe(502);
    for (let i = 0; i < 5; i++) expect((await send(`${fronts[2]!.url}/u${i}`)).status).toBe(200);
  });
});
