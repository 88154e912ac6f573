import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type HealthState, type ThresholdCounters, applyProbeResult } from '../src/state.js';

const thresholds = fc.record({ rise: fc.integer({ min: 1, max: 6 }), fall: fc.integer({ min: 1, max: 6 }) });
const results = fc.array(fc.boolean(), { minLength: 1, maxLength: 60 });

function run(sequence: boolean[], rise: number, fall: number, start: HealthState = 'unknown') {
  const counters: ThresholdCounters = { state: start, consecutiveSuccesses: 0, consecutiveFailures: 0 };
  const transitions: Array<{ from: HealthState; to: HealthState; ok: boolean; counters: ThresholdCounters }> = [];
  for (const ok of sequence) {
    const from = applyProbeResult(counters, ok, rise, fall);
    if (from !== counters.state) transitions.push({ from, to: counters.state, ok, counters: { ...counters } });
  }
  return { counters, transitions };
}

function trailingRun(sequence: boolean[]): number {
  const last = sequence[sequence.length - 1];
  let n = 0;
  for (let i = sequence.length - 1; i >= 0 && sequence[i] === last; i--) n++;
  return n;
}

describe('applyProbeResult (rise/fall state machine)', () => {
  it('settles unknown on the first result', () => {
    fc.assert(
      fc.property(thresholds, fc.boolean(), ({ rise, fall }, ok) => {
        expect(run([ok], rise, fall).counters.state).toBe(ok ? 'healthy' : 'unhealthy');
      }),
    );
  });

  it('flips healthy to unhealthy only on exactly `fall` consecutive failures, and back only on exactly `rise` passes', () => {
    fc.assert(
      fc.property(thresholds, results, fc.constantFrom<HealthState>('healthy', 'unhealthy'), ({ rise, fall }, sequence, start) => {
        for (const t of run(sequence, rise, fall, start).transitions) {
          if (t.to === 'unhealthy') {
            expect(t.ok).toBe(false);
            expect(t.counters.consecutiveFailures).toBe(fall);
          } else {
            expect(t.ok).toBe(true);
            expect(t.counters.consecutiveSuccesses).toBe(rise);
          }
        }
      }),
    );
  });

  it('ends unhealthy after `fall` trailing failures and healthy after `rise` trailing passes', () => {
    fc.assert(
      fc.property(thresholds, results, fc.constantFrom<HealthState>('unknown', 'healthy', 'unhealthy'), ({ rise, fall }, sequence, start) => {
        const { counters } = run(sequence, rise, fall, start);
        const last = sequence[sequence.length - 1];
        const runLength = trailingRun(sequence);
        if (!last && runLength >= fall) expect(counters.state).toBe('unhealthy');
        if (last && runLength >= rise) expect(counters.state).toBe('healthy');
      }),
    );
  });

  it('counts the trailing run in exactly one counter', () => {
    fc.assert(
      fc.property(thresholds, results, ({ rise, fall }, sequence) => {
        const { counters } = run(sequence, rise, fall);
        const last = sequence[sequence.length - 1];
        expect(last ? counters.consecutiveSuccesses : counters.consecutiveFailures).toBe(trailingRun(sequence));
        expect(last ? counters.consecutiveFailures : counters.consecutiveSuccesses).toBe(0);
        expect(counters.state).not.toBe('unknown');
      }),
    );
  });
});
