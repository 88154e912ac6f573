/**
 * Random sequences of calls, outcomes, permits, manual transitions and clock advances, checked
 * against the invariants every breaker must keep whatever happens.
 */
import { createManualClock } from '@edgekit/core/testing';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type BreakerPermit, CircuitBreaker } from '../src/index.js';
import { type Deferred, deferred } from './helpers.js';

const RESET = 1000;

type Op =
  | { t: 'fire'; outcome: 'ok' | 'fail' | 'pending' }
  | { t: 'settle'; index: number; ok: boolean }
  | { t: 'advance'; ms: number }
  | { t: 'acquire' }
  | { t: 'settlePermit'; index: number; how: 'success' | 'failure' | 'release' }
  | { t: 'open' }
  | { t: 'close' };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ t: fc.constant('fire' as const), outcome: fc.constantFrom('ok' as const, 'fail' as const, 'pending' as const) }) },
  { weight: 3, arbitrary: fc.record({ t: fc.constant('settle' as const), index: fc.nat(20), ok: fc.boolean() }) },
  { weight: 3, arbitrary: fc.record({ t: fc.constant('advance' as const), ms: fc.integer({ min: 0, max: RESET * 1.5 }) }) },
  { weight: 2, arbitrary: fc.record({ t: fc.constant('acquire' as const) }) },
  {
    weight: 2,
    arbitrary: fc.record({ t: fc.constant('settlePermit' as const), index: fc.nat(20), how: fc.constantFrom('success' as const, 'failure' as const, 'release' as const) }),
  },
  { weight: 1, arbitrary: fc.constant({ t: 'open' as const }) },
  { weight: 1, arbitrary: fc.constant({ t: 'close' as const }) },
);

const settle = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

interface InFlight {
  probeOf: number | undefined;
  done: boolean;
}

async function runScenario(ops: Op[], options: { mode: 'percentage' | 'consecutive'; halfOpenMaxCalls: number; failureThreshold: number }): Promise<void> {
  const clock = createManualClock();
  const pending: Array<{ gate: Deferred<string>; flight: InFlight }> = [];
  const permits: Array<{ permit: BreakerPermit; flight: InFlight }> = [];
  const flights: InFlight[] = [];
  let invocations = 0;
  let released = 0;
  let period = 0;
  let openedAt: number | undefined;
  let breaker!: CircuitBreaker<['ok' | 'fail' | 'pending'], string>;

  const track = (): InFlight => {
    const flight = { probeOf: breaker.halfOpen ? period : undefined, done: false };
    flights.push(flight);
    return flight;
  };

  breaker = new CircuitBreaker(
    (outcome: 'ok' | 'fail' | 'pending') => {
      invocations++;
      const flight = track();
      if (outcome === 'ok') return Promise.resolve('ok').finally(() => (flight.done = true));
      if (outcome === 'fail') return Promise.reject(new Error('fail')).finally(() => (flight.done = true));
      const gate = deferred<string>();
      pending.push({ gate, flight });
      return gate.promise;
    },
    {
      clock,
      timeout: false,
      resetTimeout: RESET,
      rollingCountTimeout: 10_000_000,
      volumeThreshold: 3,
      errorThresholdPercentage: 50,
      ...options,
    },
  );
  breaker.on('open', () => (openedAt = clock.now()));
  breaker.on('halfOpen', () => {
    // Half-open only follows open, and only once resetTimeout has passed.
    expect(openedAt).toBeDefined();
    expect(clock.now() - (openedAt as number)).toBeGreaterThanOrEqual(RESET);
    period++;
  });

  const checkInvariants = (): void => {
    const states = [breaker.closed, breaker.opened, breaker.halfOpen].filter(Boolean);
    expect(states).toHaveLength(1);
    if (breaker.halfOpen) {
      const probesInFlight = flights.filter((f) => !f.done && f.probeOf === period).length;
      expect(probesInFlight).toBeLessThanOrEqual(options.halfOpenMaxCalls);
    }
    const stats = breaker.stats;
    const snap = breaker.snapshot();
    // Every fire is accounted for: settled one way or another, refused, still running, or released.
    expect(stats.fires).toBe(stats.successes + stats.failures + stats.rejects + snap.inFlight + released);
    expect(snap.inFlight).toBeGreaterThanOrEqual(0);
  };

  for (const op of ops) {
    switch (op.t) {
      case 'fire': {
        const wasOpen = breaker.opened;
        const before = invocations;
        const result = breaker.fire(op.outcome).then(
          () => 'resolved',
          (error: { code?: string }) => error.code ?? 'action error',
        );
        if (wasOpen) {
          // An open breaker rejects without calling the action.
          expect(invocations).toBe(before);
          expect(await result).toBe('EOPENBREAKER');
        }
        break;
      }
      case 'settle': {
        const open = pending.filter((p) => !p.flight.done);
        const target = open[op.index % Math.max(open.length, 1)];
        if (target) {
          target.flight.done = true;
          if (op.ok) target.gate.resolve('late ok');
          else target.gate.reject(new Error('late fail'));
        }
        break;
      }
      case 'advance':
        clock.advance(op.ms);
        break;
      case 'acquire': {
        const wasOpen = breaker.opened;
        const flightProbe = breaker.halfOpen ? period : undefined;
        const permit = breaker.tryAcquire();
        if (wasOpen) expect(permit).toBeUndefined();
        if (permit) {
          const flight = { probeOf: flightProbe, done: false };
          flights.push(flight);
          permits.push({ permit, flight });
        }
        break;
      }
      case 'settlePermit': {
        const open = permits.filter((p) => !p.flight.done);
        const target = open[op.index % Math.max(open.length, 1)];
        if (target) {
          target.flight.done = true;
          if (op.how === 'success') target.permit.success();
          else if (op.how === 'failure') target.permit.failure(new Error('permit failed'));
          else {
            target.permit.release();
            released++;
          }
        }
        break;
      }
      case 'open':
        breaker.open();
        break;
      case 'close':
        breaker.close();
        break;
    }
    await settle();
    checkInvariants();
  }
  for (const p of pending) p.gate.resolve('end');
  breaker.shutdown();
}

describe('state machine properties', () => {
  it('keeps its invariants under random operations (percentage mode, random probe count)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(opArb, { minLength: 1, maxLength: 40 }), fc.integer({ min: 1, max: 3 }), (ops, halfOpenMaxCalls) =>
        runScenario(ops, { mode: 'percentage', halfOpenMaxCalls, failureThreshold: 5 }),
      ),
      { numRuns: 150 },
    );
  });

  it('keeps its invariants under random operations (consecutive mode)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(opArb, { minLength: 1, maxLength: 40 }), fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 4 }), (ops, halfOpenMaxCalls, failureThreshold) =>
        runScenario(ops, { mode: 'consecutive', halfOpenMaxCalls, failureThreshold }),
      ),
      { numRuns: 150 },
    );
  });

  it('in consecutive mode, a closed breaker opens exactly when failureThreshold failures come in a row', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.boolean(), { minLength: 1, maxLength: 60 }), fc.integer({ min: 1, max: 5 }), async (outcomes, threshold) => {
        const breaker = new CircuitBreaker(async (ok: boolean) => (ok ? 'ok' : Promise.reject(new Error('x'))), {
          clock: createManualClock(),
          timeout: false,
          mode: 'consecutive',
          failureThreshold: threshold,
        });
        let run = 0;
        for (const ok of outcomes) {
          if (!breaker.closed) break;
          await breaker.fire(ok).catch(() => {});
          run = ok ? 0 : run + 1;
          expect(breaker.opened).toBe(run >= threshold);
        }
        breaker.shutdown();
      }),
      { numRuns: 200 },
    );
  });

  it('in percentage mode, opens exactly when failures / fires is above the threshold with enough volume', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.boolean(), { minLength: 1, maxLength: 40 }),
        fc.integer({ min: 0, max: 100 }),
        fc.integer({ min: 0, max: 10 }),
        async (outcomes, threshold, volume) => {
          const breaker = new CircuitBreaker(async (ok: boolean) => (ok ? 'ok' : Promise.reject(new Error('x'))), {
            clock: createManualClock(),
            timeout: false,
            errorThresholdPercentage: threshold,
            volumeThreshold: volume,
          });
          let fires = 0;
          let failures = 0;
          for (const ok of outcomes) {
            if (!breaker.closed) break;
            await breaker.fire(ok).catch(() => {});
            fires++;
            if (!ok) failures++;
            // opossum's rule: checked on a failure, with at least volumeThreshold fires.
            const shouldOpen = !ok && fires >= volume && (failures / fires) * 100 > threshold;
            expect(breaker.opened).toBe(shouldOpen);
          }
          breaker.shutdown();
        },
      ),
      { numRuns: 200 },
    );
  });
});
