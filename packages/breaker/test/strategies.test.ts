import { createManualClock } from '@edgekit/core/testing';
import { describe, expect, it } from 'vitest';
import {
  type BreakerStrategyFactory,
  CircuitBreaker,
  Status,
  consecutiveStrategy,
  countStrategy,
  percentageStrategy,
  slowCallRateStrategy,
} from '../src/index.js';

/** What every BreakerStrategy must do, whatever its rule. */
function strategyConformance(name: string, factory: BreakerStrategyFactory, opensAfter: (latencyMs: number) => number): void {
  describe(`BreakerStrategy conformance: ${name}`, () => {
    const fresh = () => factory(new Status({ clock: createManualClock() }));

    it('never opens on fast successes alone', () => {
      const strategy = fresh();
      for (let i = 0; i < 500; i++) expect(strategy.success(1)).toBe(false);
    });

    it('opens on a run of failures', () => {
      const strategy = fresh();
      const needed = opensAfter(1);
      let opened = -1;
      for (let i = 1; i <= needed && opened < 0; i++) if (strategy.failure(1)) opened = i;
      expect(opened).toBe(needed);
    });

    it('starts afresh after reset()', () => {
      const strategy = fresh();
      const needed = opensAfter(1);
      for (let i = 1; i < needed; i++) strategy.failure(1);
      strategy.reset();
      if (needed > 1) expect(strategy.failure(1)).toBe(false);
    });
  });
}

strategyConformance('consecutive', consecutiveStrategy({ failureThreshold: 3 }), () => 3);
strategyConformance('count', countStrategy({ windowSize: 10, minimumCalls: 4, errorThresholdPercentage: 50 }), () => 4);
strategyConformance(
  'slowCallRate',
  slowCallRateStrategy({ windowSize: 10, minimumCalls: 5, errorThresholdPercentage: 50, slowCallDuration: 100, slowCallRateThreshold: 60 }),
  () => 5,
);

describe('strategies', () => {
  it('percentage: reads fires and failures from the rolling window, as opossum', () => {
    const status = new Status({ clock: createManualClock() });
    const strategy = percentageStrategy({ errorThresholdPercentage: 50, volumeThreshold: 4 })(status);
    status.bucket.fires = 3;
    status.bucket.failures = 3;
    expect(strategy.failure(0)).toBe(false);
    status.bucket.fires = 4;
    expect(strategy.failure(0)).toBe(true);
  });

  it('count: forgets outcomes that left the window of the last calls', () => {
    const strategy = countStrategy({ windowSize: 4, minimumCalls: 4, errorThresholdPercentage: 50 })(new Status());
    strategy.failure(0);
    strategy.failure(0);
    strategy.success(0);
    expect(strategy.success(0)).toBe(false);
    // window: fail, ok, ok, fail → 50 %, not above
    expect(strategy.failure(0)).toBe(false);
    // window: ok, ok, fail, fail → 50 %; then ok, fail, fail, fail → 75 %
    strategy.failure(0);
    expect(strategy.failure(0)).toBe(true);
  });

  it('slowCallRate: opens on calls that succeed, but slowly', () => {
    const strategy = slowCallRateStrategy({
      windowSize: 10,
      minimumCalls: 4,
      errorThresholdPercentage: 50,
      slowCallDuration: 100,
      slowCallRateThreshold: 75,
    })(new Status());
    expect(strategy.success(150)).toBe(false);
    expect(strategy.success(10)).toBe(false);
    expect(strategy.success(100)).toBe(false);
    expect(strategy.success(200)).toBe(true);
  });

  it('slowCallRate mode: a breaker whose upstream answers slowly opens, then closes on a fast probe', async () => {
    const clock = createManualClock();
    let latency = 500;
    const breaker = new CircuitBreaker(
      () =>
        new Promise<string>((resolve) => {
          clock.setTimeout(() => resolve('late'), latency);
        }),
      { clock, timeout: false, mode: 'slowCallRate', windowSize: 5, minimumCalls: 3, slowCallDuration: 200, slowCallRateThreshold: 100, resetTimeout: 1000 },
    );
    for (let i = 0; i < 3; i++) {
      const call = breaker.fire();
      await clock.advanceAsync(500);
      expect(await call).toBe('late');
    }
    expect(breaker.opened).toBe(true);
    await clock.advanceAsync(1000);
    latency = 5;
    const probe = breaker.fire();
    await clock.advanceAsync(5);
    await probe;
    expect(breaker.closed).toBe(true);
  });

  it('accepts a custom strategy factory in place of mode', async () => {
    let failures = 0;
    const breaker = new CircuitBreaker(async () => Promise.reject(new Error('x')), {
      timeout: false,
      strategy: () => ({ success: () => false, failure: () => ++failures === 2, reset: () => (failures = 0) }),
    });
    await breaker.fire().catch(() => {});
    expect(breaker.closed).toBe(true);
    await breaker.fire().catch(() => {});
    expect(breaker.opened).toBe(true);
    breaker.shutdown();
  });
});
