/**
 * The same scenarios run against opossum 9 and against this package; the event sequences, the
 * call outcomes and the counters must match. Scenarios that depend on time use short real timers,
 * since opossum cannot take a clock.
 */
import type { EventEmitter } from 'node:events';
import Opossum from 'opossum';
import { describe, expect, it } from 'vitest';
import { CircuitBreaker } from '../src/index.js';
import { deferred, flush, outcome, recordEvents, waitFor } from './helpers.js';

type Kind = 'ok' | 'fail' | 'filtered' | 'hang' | 'gate';

interface Harness {
  breaker: EventEmitter & {
    fire(...args: unknown[]): Promise<unknown>;
    fallback(fn: (...args: unknown[]) => unknown): unknown;
    open(): void;
    close(): void;
    disable(): void;
    shutdown(): void;
    stats: Record<string, unknown> & { latencyTimes: number[] };
    toJSON(): { state: Record<string, unknown> };
    readonly halfOpen: boolean;
    readonly closed: boolean;
    readonly opened: boolean;
  };
  /** Calls of the action that were `gate`: resolve them when the scenario says so. */
  gates: Array<(value: string) => void>;
  calls: Kind[];
}

type Impl = 'opossum' | 'edgekit';

function harness(impl: Impl, options: Record<string, unknown>): Harness {
  const gates: Array<(value: string) => void> = [];
  const calls: Kind[] = [];
  const action = (kind: Kind): Promise<string> => {
    calls.push(kind);
    if (kind === 'fail') return Promise.reject(new Error('boom'));
    if (kind === 'filtered') return Promise.reject(Object.assign(new Error('not found'), { status: 404 }));
    if (kind === 'hang') return new Promise<string>(() => {});
    if (kind === 'gate') return new Promise<string>((resolve) => gates.push(resolve));
    return Promise.resolve(`done:${kind}`);
  };
  const merged = { errorFilter: (error: { status?: number }) => error.status === 404, ...options };
  const breaker = (impl === 'opossum' ? new Opossum(action, merged as never) : new CircuitBreaker(action, merged as never)) as unknown as Harness['breaker'];
  return { breaker, gates, calls };
}

const COUNTERS = [
  'fires',
  'successes',
  'failures',
  'rejects',
  'timeouts',
  'fallbacks',
  'semaphoreRejections',
  'cacheHits',
  'cacheMisses',
  'coalesceCacheHits',
  'coalesceCacheMisses',
] as const;

interface Observed {
  events: string[];
  results: string[];
  counters: Record<string, unknown>;
  latencySamples: number;
  state: string;
  calls: Kind[];
}

async function observe(impl: Impl, options: Record<string, unknown>, scenario: (h: Harness, results: string[]) => Promise<void>): Promise<Observed> {
  const h = harness(impl, options);
  const events = recordEvents(h.breaker);
  const results: string[] = [];
  await scenario(h, results);
  await flush();
  const stats = h.breaker.stats;
  const counters = Object.fromEntries(COUNTERS.map((c) => [c, stats[c]]));
  const state = h.breaker.closed ? 'closed' : h.breaker.opened ? 'open' : h.breaker.halfOpen ? 'halfOpen' : 'other';
  const observed = { events: [...events], results, counters, latencySamples: stats.latencyTimes.length, state, calls: [...h.calls] };
  h.breaker.shutdown();
  return observed;
}

async function expectSameAsOpossum(options: Record<string, unknown>, scenario: (h: Harness, results: string[]) => Promise<void>): Promise<Observed> {
  const theirs = await observe('opossum', options, scenario);
  const ours = await observe('edgekit', options, scenario);
  expect(ours).toEqual(theirs);
  return ours;
}

const fireAll = async (h: Harness, results: string[], kinds: Kind[]): Promise<void> => {
  for (const kind of kinds) results.push(await outcome(h.breaker.fire(kind)));
};

describe('parity with opossum 9: event order, outcomes and stats', () => {
  it('matches on a run of successes and failures that trips the breaker', async () => {
    const seen = await expectSameAsOpossum({ timeout: false }, (h, r) => fireAll(h, r, ['ok', 'fail', 'ok', 'fail', 'fail', 'ok', 'ok']));
    expect(seen.state).toBe('open');
    expect(seen.events).toContain('reject');
  });

  it('matches with a fallback (called on failures and on rejections)', async () => {
    await expectSameAsOpossum({ timeout: false }, async (h, r) => {
      h.breaker.fallback((...args: unknown[]) => `fallback:${String(args[0])}`);
      await fireAll(h, r, ['ok', 'fail', 'fail', 'ok', 'ok']);
    });
  });

  it('matches when errorFilter accepts an error (a success that still rejects)', async () => {
    await expectSameAsOpossum({ timeout: false }, async (h, r) => {
      h.breaker.fallback(() => 'fallback');
      await fireAll(h, r, ['filtered', 'filtered', 'fail', 'ok']);
    });
  });

  it('matches volumeThreshold and errorThresholdPercentage (strictly above, at or above the volume)', async () => {
    await expectSameAsOpossum({ timeout: false, volumeThreshold: 4, errorThresholdPercentage: 50 }, (h, r) =>
      fireAll(h, r, ['fail', 'ok', 'fail', 'ok', 'fail', 'ok', 'fail', 'fail']),
    );
  });

  it('matches a manual open and close', async () => {
    await expectSameAsOpossum({ timeout: false }, async (h, r) => {
      h.breaker.open();
      h.breaker.open();
      await fireAll(h, r, ['ok']);
      h.breaker.close();
      h.breaker.close();
      await fireAll(h, r, ['ok']);
    });
  });

  it('matches a disabled breaker (only fire is emitted)', async () => {
    await expectSameAsOpossum({ timeout: false }, async (h, r) => {
      h.breaker.disable();
      h.breaker.open();
      await fireAll(h, r, ['ok', 'fail']);
    });
  });

  it('matches the semaphore: a call over capacity emits semaphoreLocked and counts as a failure', async () => {
    const seen = await expectSameAsOpossum({ timeout: false, capacity: 1, volumeThreshold: 5 }, async (h, r) => {
      h.breaker.fallback(() => 'fallback');
      const first = h.breaker.fire('gate');
      r.push(await outcome(h.breaker.fire('ok')));
      h.gates[0]?.('released');
      r.push(await outcome(first));
      r.push(await outcome(h.breaker.fire('ok')));
    });
    expect(seen.results).toEqual(['ok:fallback', 'ok:released', 'ok:done:ok']);
  });

  it('matches result caching (the second identical call is a cache hit)', async () => {
    const seen = await expectSameAsOpossum({ timeout: false, cache: true }, (h, r) => fireAll(h, r, ['ok', 'ok', 'fail', 'fail']));
    expect(seen.calls).toEqual(['ok', 'fail', 'fail']);
  });

  it('matches coalescing of concurrent identical calls, forgotten on success', async () => {
    const seen = await expectSameAsOpossum({ timeout: false, coalesce: true, coalesceResetOn: ['success', 'error'] }, async (h, r) => {
      const a = h.breaker.fire('gate');
      const b = h.breaker.fire('gate');
      h.gates[0]?.('shared');
      r.push(await outcome(a), await outcome(b));
      const c = h.breaker.fire('gate');
      h.gates[1]?.('fresh');
      r.push(await outcome(c));
    });
    expect(seen.calls).toEqual(['gate', 'gate']);
    expect(seen.results).toEqual(['ok:shared', 'ok:shared', 'ok:fresh']);
  });

  it('matches coalescing kept for coalesceTTL when no reset applies (errors are shared too)', async () => {
    const seen = await expectSameAsOpossum({ timeout: false, volumeThreshold: 10, coalesce: true, coalesceTTL: 60_000 }, (h, r) => fireAll(h, r, ['fail', 'fail', 'ok', 'ok']));
    expect(seen.calls).toEqual(['fail', 'ok']);
  });

  it('matches the shutdown behaviour (ESHUTDOWN, no events afterwards)', async () => {
    const h1 = harness('opossum', { timeout: false });
    const h2 = harness('edgekit', { timeout: false });
    for (const h of [h1, h2]) h.breaker.shutdown();
    expect(await outcome(h1.breaker.fire('ok'))).toBe('err:ESHUTDOWN');
    expect(await outcome(h2.breaker.fire('ok'))).toBe('err:ESHUTDOWN');
  });

  it('matches the shape of stats and of toJSON().state', async () => {
    const theirs = harness('opossum', { timeout: false });
    const ours = harness('edgekit', { timeout: false });
    for (const h of [theirs, ours]) await h.breaker.fire('ok');
    expect(Object.keys(ours.breaker.stats).sort()).toEqual(Object.keys(theirs.breaker.stats).sort());
    expect(Object.keys(ours.breaker.stats.percentiles as object).sort()).toEqual(Object.keys(theirs.breaker.stats.percentiles as object).sort());
    expect(Object.keys(ours.breaker.toJSON().state).sort()).toEqual(Object.keys(theirs.breaker.toJSON().state).sort());
    for (const h of [theirs, ours]) h.breaker.shutdown();
  });
});

describe('parity with opossum 9: time-driven behaviour (short real timers)', () => {
  it('matches a timeout: timeout then failure then open, with the fallback result', async () => {
    const seen = await expectSameAsOpossum({ timeout: 20 }, async (h, r) => {
      h.breaker.fallback((...args: unknown[]) => `late:${(args[1] as { code: string }).code}`);
      r.push(await outcome(h.breaker.fire('hang')));
    });
    expect(seen.events).toEqual(['fire', 'timeout', 'failure', 'open', 'fallback']);
    expect(seen.results).toEqual(['ok:late:ETIMEDOUT']);
    // A timeout is counted as a timeout and as a failure, each with a latency sample.
    expect(seen.counters).toMatchObject({ timeouts: 1, failures: 1 });
    expect(seen.latencySamples).toBe(2);
  });

  it('matches half-open: one probe goes through, the rest are rejected, success closes', async () => {
    const seen = await expectSameAsOpossum({ timeout: false, resetTimeout: 250 }, async (h, r) => {
      h.breaker.open();
      await waitFor(() => h.breaker.halfOpen);
      const probe = h.breaker.fire('gate');
      r.push(await outcome(h.breaker.fire('ok')));
      h.gates[0]?.('probe ok');
      r.push(await outcome(probe));
      r.push(await outcome(h.breaker.fire('ok')));
    });
    expect(seen.events).toEqual(['open', 'halfOpen', 'fire', 'fire', 'reject', 'close', 'success', 'fire', 'success']);
    expect(seen.results).toEqual(['err:EOPENBREAKER', 'ok:probe ok', 'ok:done:ok']);
  });

  it('matches half-open: a failed probe reopens', async () => {
    const seen = await expectSameAsOpossum({ timeout: false, resetTimeout: 250 }, async (h, r) => {
      h.breaker.open();
      await waitFor(() => h.breaker.halfOpen);
      r.push(await outcome(h.breaker.fire('fail')));
      r.push(await outcome(h.breaker.fire('ok')));
    });
    expect(seen.events).toEqual(['open', 'halfOpen', 'fire', 'failure', 'open', 'fire', 'reject']);
    expect(seen.state).toBe('open');
  });

  it('matches half-open: an error accepted by errorFilter closes the breaker', async () => {
    const seen = await expectSameAsOpossum({ timeout: false, resetTimeout: 250 }, async (h, r) => {
      h.breaker.open();
      await waitFor(() => h.breaker.halfOpen);
      r.push(await outcome(h.breaker.fire('filtered')));
    });
    expect(seen.state).toBe('closed');
    expect(seen.results).toEqual(['err:not found']);
  });

  it('matches the opossum AbortController option: aborted when a call times out', async () => {
    for (const impl of ['opossum', 'edgekit'] as const) {
      const abortController = new AbortController();
      const h = harness(impl, { timeout: 20, abortController });
      expect(await outcome(h.breaker.fire('hang'))).toBe('err:ETIMEDOUT');
      expect(abortController.signal.aborted).toBe(true);
      h.breaker.shutdown();
    }
  });

  it('matches autoRenewAbortController: a fresh controller once the breaker is half-open', async () => {
    for (const impl of ['opossum', 'edgekit'] as const) {
      const h = harness(impl, { timeout: 20, resetTimeout: 20, autoRenewAbortController: true });
      const breaker = h.breaker as unknown as { getSignal(): AbortSignal; getAbortController(): AbortController };
      const first = breaker.getSignal();
      expect(first).toBeInstanceOf(AbortSignal);
      expect(await outcome(h.breaker.fire('hang'))).toBe('err:ETIMEDOUT');
      expect(first.aborted).toBe(true);
      await waitFor(() => h.breaker.halfOpen);
      expect(breaker.getSignal()).not.toBe(first);
      expect(breaker.getSignal().aborted).toBe(false);
      h.breaker.shutdown();
    }
  });

  it('resolves a promise the same way after a timeout fired (late results are ignored)', async () => {
    const gateResults: string[] = [];
    for (const impl of ['opossum', 'edgekit'] as const) {
      const h = harness(impl, { timeout: 20 });
      const pending = h.breaker.fire('gate');
      gateResults.push(await outcome(pending));
      h.gates[0]?.('too late');
      await flush();
      gateResults.push(String(h.breaker.stats.successes));
      h.breaker.shutdown();
    }
    expect(gateResults).toEqual(['err:ETIMEDOUT', '0', 'err:ETIMEDOUT', '0']);
  });
});

describe('parity with opossum 9: events when a deferred is involved', () => {
  it('emits the same sequence when a slow call completes after others', async () => {
    await expectSameAsOpossum({ timeout: false, volumeThreshold: 10 }, async (h, r) => {
      const slow = h.breaker.fire('gate');
      r.push(await outcome(h.breaker.fire('fail')));
      r.push(await outcome(h.breaker.fire('ok')));
      const d = deferred<void>();
      h.gates[0]?.('slow');
      d.resolve();
      await d.promise;
      r.push(await outcome(slow));
    });
  });
});
