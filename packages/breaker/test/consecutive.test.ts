import { createManualClock } from '@edgekit/core/testing';
import { describe, expect, it } from 'vitest';
import { CircuitBreaker } from '../src/index.js';
import { type Deferred, deferred, outcome, recordEvents } from './helpers.js';

function consecutive(options: Record<string, unknown> = {}) {
  const clock = createManualClock();
  const pending: Array<Deferred<string>> = [];
  let started = 0;
  const breaker = new CircuitBreaker(
    (kind: 'ok' | 'fail' | 'wait') => {
      started++;
      if (kind === 'fail') return Promise.reject(new Error('down'));
      if (kind === 'wait') {
        const d = deferred<string>();
        pending.push(d);
        return d.promise;
      }
      return Promise.resolve('up');
    },
    { clock, timeout: false, mode: 'consecutive', failureThreshold: 3, resetTimeout: 1000, ...options },
  );
  return { breaker, clock, pending, started: () => started };
}

describe('consecutive mode', () => {
  it('opens after failureThreshold failures in a row', async () => {
    const { breaker } = consecutive();
    for (let i = 0; i < 2; i++) await breaker.fire('fail').catch(() => {});
    expect(breaker.closed).toBe(true);
    await breaker.fire('fail').catch(() => {});
    expect(breaker.opened).toBe(true);
  });

  it('starts counting again after a success', async () => {
    const { breaker } = consecutive();
    await breaker.fire('fail').catch(() => {});
    await breaker.fire('fail').catch(() => {});
    await breaker.fire('ok');
    await breaker.fire('fail').catch(() => {});
    await breaker.fire('fail').catch(() => {});
    expect(breaker.closed).toBe(true);
    await breaker.fire('fail').catch(() => {});
    expect(breaker.opened).toBe(true);
  });

  it('ignores the failure rate: one success in a hundred calls keeps it closed if failures never line up', async () => {
    const { breaker } = consecutive({ failureThreshold: 3 });
    for (let i = 0; i < 30; i++) {
      await breaker.fire('fail').catch(() => {});
      await breaker.fire('fail').catch(() => {});
      await breaker.fire('ok');
    }
    expect(breaker.closed).toBe(true);
    expect(breaker.stats.failures).toBe(60);
  });

  it('goes half-open after resetTimeout and closes after a successful probe', async () => {
    const { breaker, clock } = consecutive();
    const events = recordEvents(breaker, ['open', 'halfOpen', 'close']);
    for (let i = 0; i < 3; i++) await breaker.fire('fail').catch(() => {});
    clock.advance(1000);
    expect(breaker.halfOpen).toBe(true);
    await breaker.fire('ok');
    expect(breaker.closed).toBe(true);
    expect(events).toEqual(['open', 'halfOpen', 'close']);
    // The count starts afresh after closing.
    for (let i = 0; i < 2; i++) await breaker.fire('fail').catch(() => {});
    expect(breaker.closed).toBe(true);
  });

  it('rejects fast with EOPENBREAKER while open, without calling the action', async () => {
    const { breaker, started } = consecutive();
    for (let i = 0; i < 3; i++) await breaker.fire('fail').catch(() => {});
    const before = started();
    expect(await outcome(breaker.fire('ok'))).toBe('err:EOPENBREAKER');
    expect(started()).toBe(before);
  });

  it('keeps failures from opening it during warm-up', async () => {
    const { breaker, clock } = consecutive({ allowWarmUp: true, rollingCountTimeout: 500 });
    for (let i = 0; i < 5; i++) await breaker.fire('fail').catch(() => {});
    expect(breaker.closed).toBe(true);
    clock.advance(500);
    await breaker.fire('fail').catch(() => {});
    expect(breaker.opened).toBe(true);
  });
});

describe('halfOpenMaxCalls', () => {
  it('lets exactly halfOpenMaxCalls probes through at once and rejects the rest fast', async () => {
    const { breaker, clock, pending, started } = consecutive({ halfOpenMaxCalls: 3 });
    breaker.open();
    clock.advance(1000);
    const probes = [breaker.fire('wait'), breaker.fire('wait'), breaker.fire('wait')];
    expect(await outcome(breaker.fire('wait'))).toBe('err:EOPENBREAKER');
    expect(started()).toBe(3);
    expect(breaker.pendingClose).toBe(false);
    for (const d of pending) d.resolve('up');
    await Promise.all(probes);
    expect(breaker.closed).toBe(true);
  });

  it('closes only when every probe succeeded', async () => {
    const { breaker, clock, pending } = consecutive({ halfOpenMaxCalls: 2 });
    breaker.open();
    clock.advance(1000);
    const first = breaker.fire('wait');
    const second = breaker.fire('wait');
    pending[0]?.resolve('up');
    await first;
    expect(breaker.halfOpen).toBe(true);
    pending[1]?.resolve('up');
    await second;
    expect(breaker.closed).toBe(true);
  });

  it('reopens as soon as one probe fails; the other probe result no longer matters', async () => {
    const { breaker, clock, pending } = consecutive({ halfOpenMaxCalls: 2 });
    breaker.open();
    clock.advance(1000);
    const first = breaker.fire('wait');
    const second = breaker.fire('wait');
    pending[0]?.reject(new Error('still down'));
    await first.catch(() => {});
    expect(breaker.opened).toBe(true);
    pending[1]?.resolve('up');
    await second;
    expect(breaker.opened).toBe(true);
  });

  it('applies in percentage mode too', async () => {
    const clock = createManualClock();
    const breaker = new CircuitBreaker(async () => new Promise<string>(() => {}), { clock, timeout: false, resetTimeout: 10, halfOpenMaxCalls: 2 });
    breaker.open();
    clock.advance(10);
    void breaker.fire();
    void breaker.fire();
    expect(await outcome(breaker.fire())).toBe('err:EOPENBREAKER');
    expect(breaker.snapshot().inFlight).toBe(2);
  });
});
