/**
 * opossum is the oracle: each scenario runs against opossum and against this package under the
 * same fake timers, and the recorded traces (events with arguments, fire() outcomes, state flags,
 * stats and toJSON() after every step) must be identical.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type ScenarioOptions, type Step, advance, fire, op, runBoth } from './differential/harness.js';

/** Compares from the first difference on, so a failure shows where the traces part. */
function expectEqualTraces(edgekit: unknown[], opossum: unknown[]): void {
  let i = 0;
  while (i < Math.min(edgekit.length, opossum.length) && JSON.stringify(edgekit[i]) === JSON.stringify(opossum[i])) i++;
  expect({ at: i, edgekit: edgekit.slice(i, i + 4) }).toEqual({ at: i, edgekit: opossum.slice(i, i + 4) });
  expect(edgekit).toEqual(opossum);
}

async function expectSameTrace(scenario: ScenarioOptions, steps: Step[]): Promise<void> {
  const { opossum, edgekit } = await runBoth(scenario, steps);
  expectEqualTraces(edgekit, opossum);
}

describe('differential: options opossum accepts, with 0 and false', () => {
  it.each([
    ['timeout: 0 (no timeout)', { timeout: 0 }],
    ['timeout: false', { timeout: false }],
    ['resetTimeout: 0', { resetTimeout: 0, timeout: false }],
    ['rollingCountTimeout: 0 (opossum falls back to the default window)', { rollingCountTimeout: 0 }],
    ['rollingCountBuckets: 0', { rollingCountBuckets: 0, rollingCountTimeout: 1000 }],
    ['errorThresholdPercentage: 0 (any failure opens)', { errorThresholdPercentage: 0 }],
    ['volumeThreshold: 0', { volumeThreshold: 0 }],
    ['capacity: 0 (every call is semaphore-locked)', { capacity: 0 }],
    ['cacheTTL: 0 with cache', { cache: true, cacheTTL: 0 }],
    ['coalesceTTL: 0 with coalesce', { coalesce: true, coalesceTTL: 0, timeout: 100 }],
    ['allowWarmUp with rollingCountTimeout: 0', { allowWarmUp: true, rollingCountTimeout: 0 }],
    ['enabled: false', { enabled: false }],
  ])('%s', async (_, options) => {
    await expectSameTrace({ options, fallback: 'value' }, [
      fire('ok'),
      fire('fail'),
      fire('ok', 30),
      fire('fail', 30),
      fire('hang'),
      advance(50),
      fire('fail'),
      fire('ok'),
      advance(1),
      fire('ok', 0, 2),
      fire('ok', 0, 2),
      advance(1000),
      fire('ok'),
      advance(10_000),
      fire('ok'),
      advance(30_000),
      fire('ok'),
    ]);
  });
});

describe('differential: half-open', () => {
  it('lets exactly one request through; the rest are rejected while it runs', async () => {
    await expectSameTrace({ options: { resetTimeout: 100, timeout: false } }, [
      op('open'),
      advance(100),
      fire('ok', 50),
      fire('ok'),
      fire('ok'),
      advance(50),
      fire('ok'),
    ]);
  });

  it('reopens on a failed probe and restarts the reset timer', async () => {
    await expectSameTrace({ options: { resetTimeout: 100, timeout: false } }, [
      op('open'),
      advance(100),
      fire('fail', 10),
      advance(10),
      fire('ok'),
      advance(99),
      fire('ok'),
      advance(1),
      fire('ok'),
    ]);
  });

  it('closes when errorFilter accepts the probe error', async () => {
    await expectSameTrace({ options: { resetTimeout: 100, timeout: false }, filter: true }, [
      op('open'),
      advance(100),
      fire('filtered', 5),
      advance(5),
      fire('ok'),
    ]);
  });

  it('is closed by any success and reopened by any failure, even of calls started before it opened', async () => {
    await expectSameTrace({ options: { resetTimeout: 100, timeout: false, errorThresholdPercentage: 10 } }, [
      fire('ok', 150),
      fire('fail', 250),
      fire('fail'),
      advance(100),
      advance(50),
      fire('ok', 500),
      advance(150),
      advance(500),
    ]);
  });

  it('aborts the shared abortController on a timeout and renews it on half-open with autoRenewAbortController', async () => {
    await expectSameTrace({ options: { resetTimeout: 100, timeout: 20, autoRenewAbortController: true, errorThresholdPercentage: 10 } }, [
      fire('hang'),
      advance(20),
      advance(100),
      fire('ok'),
    ]);
  });

  it('opens on a probe that times out', async () => {
    await expectSameTrace({ options: { resetTimeout: 100, timeout: 20 } }, [op('open'), advance(100), fire('hang'), advance(20), fire('ok')]);
  });

  it('does not reopen during warm-up', async () => {
    await expectSameTrace({ options: { resetTimeout: 100, timeout: false, allowWarmUp: true, rollingCountTimeout: 1000 } }, [
      op('open'),
      advance(100),
      fire('fail'),
      fire('ok'),
      advance(1000),
      fire('fail'),
      advance(100),
      fire('fail'),
    ]);
  });
});

describe('differential: state export and import', () => {
  it('restores an open breaker, and its stats', async () => {
    await expectSameTrace({ options: { resetTimeout: 1000, timeout: false } }, [fire('fail'), op('restore'), fire('ok'), advance(1000), fire('ok')]);
  });

  it('restores an open breaker as half-open once resetTimeout has passed since lastTimerAt', async () => {
    await expectSameTrace({ options: { resetTimeout: 100, timeout: false } }, [advance(500), fire('fail'), op('restore'), fire('ok'), fire('ok')]);
  });

  it('restores half-open, disabled and warm-up states', async () => {
    await expectSameTrace({ options: { resetTimeout: 100, timeout: false, allowWarmUp: true } }, [
      op('open'),
      advance(100),
      op('disable'),
      op('restore'),
      fire('ok'),
      op('enable'),
      fire('fail'),
      fire('ok'),
    ]);
  });

  it('restores a shut-down breaker as shut down', async () => {
    await expectSameTrace({ options: { timeout: false } }, [fire('ok'), op('shutdown'), op('restore'), fire('ok'), op('close'), fire('ok')]);
  });
});

describe('differential: volumeThreshold', () => {
  it.each([0, 1, 2, 3, 5])('opens exactly when the window holds volumeThreshold %i fires', async (volumeThreshold) => {
    await expectSameTrace({ options: { volumeThreshold, timeout: false, errorThresholdPercentage: 40 } }, [
      fire('fail'),
      fire('fail'),
      fire('ok'),
      fire('fail'),
      fire('fail'),
      fire('fail'),
    ]);
  });

  it('counts rejected calls and cache hits as fires toward the volume', async () => {
    await expectSameTrace({ options: { volumeThreshold: 4, timeout: false, cache: true, resetTimeout: 50 } }, [
      fire('ok', 0, 1),
      fire('ok', 0, 1),
      fire('ok', 0, 1),
      fire('fail', 0, 2),
      fire('fail', 0, 3),
      advance(50),
      fire('fail', 0, 4),
      fire('fail', 0, 5),
      fire('fail', 0, 6),
    ]);
  });

  it('forgets fires that left the rolling window', async () => {
    await expectSameTrace({ options: { volumeThreshold: 3, timeout: false, rollingCountTimeout: 100, rollingCountBuckets: 4 } }, [
      fire('fail'),
      fire('fail'),
      advance(80),
      fire('ok'),
      advance(30),
      fire('fail'),
      advance(24),
      fire('fail'),
      advance(1),
      fire('fail'),
    ]);
  });
});

describe('differential: timeouts, capacity, fallback, cache, coalescing', () => {
  it('times out, then ignores the late result', async () => {
    await expectSameTrace({ options: { timeout: 50 }, fallback: 'value' }, [fire('ok', 80), fire('fail', 80), advance(50), advance(50), fire('ok')]);
  });

  it('refuses calls above capacity as semaphore-locked failures', async () => {
    await expectSameTrace({ options: { capacity: 1, timeout: false, errorThresholdPercentage: 60 } }, [
      fire('ok', 10),
      fire('ok'),
      fire('ok'),
      advance(10),
      fire('ok'),
    ]);
  });

  it.each(['value', 'reject', 'throw'] as const)('runs a fallback that returns a %s', async (fallback) => {
    await expectSameTrace({ options: { timeout: 10 }, fallback }, [fire('fail'), fire('throw'), fire('hang'), advance(10), fire('ok')]);
  });

  it('caches successes until cacheTTL and clearCache()', async () => {
    await expectSameTrace({ options: { cache: true, cacheTTL: 100, timeout: false } }, [
      fire('ok', 0, 1),
      fire('ok', 0, 1),
      fire('fail', 0, 2),
      fire('fail', 0, 2),
      advance(100),
      fire('ok', 0, 1),
      op('clearCache'),
      fire('ok', 0, 1),
      op('open'),
      fire('ok', 0, 1),
    ]);
  });

  it('coalesces concurrent calls until coalesceTTL, resetting on the listed outcomes', async () => {
    await expectSameTrace({ options: { coalesce: true, coalesceTTL: 100, coalesceResetOn: ['error', 'timeout'], timeout: 30 } }, [
      fire('ok', 20, 1),
      fire('ok', 20, 1),
      fire('fail', 10, 2),
      fire('fail', 10, 2),
      advance(10),
      fire('fail', 10, 2),
      fire('hang', 0, 3),
      fire('hang', 0, 3),
      advance(30),
      fire('ok', 0, 1),
      advance(100),
      fire('ok', 0, 1),
    ]);
  });
});

describe('differential: disable, enable, shutdown', () => {
  it('counts only fires while disabled and calls the action directly', async () => {
    await expectSameTrace({ options: { timeout: 10 } }, [op('open'), op('disable'), fire('ok'), fire('hang'), advance(20), op('enable'), fire('ok')]);
  });

  it('keeps settling calls after shutdown, uncounted, and rejects new ones with ESHUTDOWN', async () => {
    await expectSameTrace({ options: { timeout: 50, errorThresholdPercentage: 10 } }, [
      fire('ok', 10),
      fire('hang'),
      op('shutdown'),
      fire('ok'),
      advance(10),
      advance(40),
      op('close'),
      fire('ok'),
      op('enable'),
      fire('fail'),
      op('open'),
      fire('ok'),
    ]);
  });
});

// ------------------------------------------------------------------------ generated scenarios

const kindArb = fc.constantFrom('ok', 'fail', 'filtered', 'hang', 'throw', 'value');
const stepArb: fc.Arbitrary<Step> = fc.oneof(
  { weight: 8, arbitrary: fc.record({ op: fc.constant('fire' as const), kind: kindArb, delay: fc.constantFrom(0, 5, 20, 60, 200), key: fc.integer({ min: 1, max: 3 }) }) },
  { weight: 4, arbitrary: fc.record({ op: fc.constant('advance' as const), ms: fc.constantFrom(1, 5, 10, 50, 100, 250, 1000, 5000) }) },
  {
    weight: 1,
    arbitrary: fc.record({ op: fc.constantFrom('open' as const, 'close' as const, 'disable' as const, 'enable' as const, 'shutdown' as const, 'clearCache' as const, 'restore' as const) }),
  },
);

const optionsArb = fc.record(
  {
    timeout: fc.constantFrom(false, 0, 10, 50, 100, 1000),
    resetTimeout: fc.constantFrom(0, 10, 100, 500),
    errorThresholdPercentage: fc.constantFrom(0, 10, 50, 90, 100),
    volumeThreshold: fc.constantFrom(0, 1, 3, 5),
    rollingCountTimeout: fc.constantFrom(0, 100, 1000, 10_000),
    rollingCountBuckets: fc.constantFrom(0, 1, 5, 10),
    rollingPercentilesEnabled: fc.boolean(),
    capacity: fc.constantFrom(0, 1, 2, 10),
    allowWarmUp: fc.boolean(),
    enabled: fc.boolean(),
    cache: fc.boolean(),
    cacheTTL: fc.constantFrom(0, 50, 500),
    coalesce: fc.boolean(),
    coalesceTTL: fc.constantFrom(0, 50, 500),
    coalesceResetOn: fc.subarray(['error', 'success', 'timeout']),
    autoRenewAbortController: fc.boolean(),
  },
  { requiredKeys: [] },
);

describe('differential: generated scenarios', () => {
  it('produce identical traces for any options and sequence', async () => {
    await fc.assert(
      fc.asyncProperty(
        optionsArb,
        fc.boolean(),
        fc.constantFrom(undefined, 'value', 'reject', 'throw'),
        fc.array(stepArb, { minLength: 1, maxLength: 25 }),
        async (options, filter, fallback, steps) => {
          const { opossum, edgekit } = await runBoth({ options, filter, fallback }, steps);
          expectEqualTraces(edgekit, opossum);
        },
      ),
      { numRuns: Number(process.env.DIFF_RUNS ?? 150) },
    );
  }, 240_000);
});
