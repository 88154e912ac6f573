import { createManualClock } from '@edgekit/core/testing';
import { describe, expect, it } from 'vitest';
import { CircuitBreaker, OpenCircuitError } from '../src/index.js';
import { recordEvents } from './helpers.js';

function breakerFor(options: Record<string, unknown> = {}) {
  const clock = createManualClock();
  const breaker = new CircuitBreaker(async () => 'unused', { clock, timeout: false, resetTimeout: 1000, ...options });
  return { breaker, clock };
}

describe('tryAcquire permits', () => {
  it('grants a permit while closed and counts success() like a successful call', () => {
    const { breaker } = breakerFor();
    const events = recordEvents(breaker, ['fire', 'success', 'failure']);
    const permit = breaker.tryAcquire();
    expect(permit).toBeDefined();
    permit?.success();
    expect(breaker.stats).toMatchObject({ fires: 1, successes: 1, failures: 0 });
    expect(events).toEqual(['fire', 'success']);
  });

  it('counts failure(error) and opens the breaker like a failed call', () => {
    const { breaker } = breakerFor({ mode: 'consecutive', failureThreshold: 2 });
    const errors: unknown[] = [];
    breaker.on('failure', (error, _latency, args) => errors.push([error, args]));
    const upstreamError = new Error('502 from upstream');
    breaker.tryAcquire()?.failure(upstreamError);
    breaker.tryAcquire()?.failure();
    expect(breaker.opened).toBe(true);
    expect(errors[0]).toEqual([upstreamError, []]);
    expect((errors[1] as [Error])[0]).toBeInstanceOf(Error);
  });

  it('returns undefined and emits reject while open, without an error object when nobody listens', () => {
    const { breaker } = breakerFor();
    breaker.open();
    expect(breaker.tryAcquire()).toBeUndefined();
    const rejects: unknown[] = [];
    breaker.on('reject', (error) => rejects.push(error));
    expect(breaker.tryAcquire()).toBeUndefined();
    expect(rejects).toHaveLength(1);
    expect(rejects[0]).toBeInstanceOf(OpenCircuitError);
    expect(breaker.stats.rejects).toBe(2);
  });

  it('hands out exactly halfOpenMaxCalls probe permits in half-open', () => {
    const { breaker, clock } = breakerFor({ halfOpenMaxCalls: 2 });
    breaker.open();
    clock.advance(1000);
    const a = breaker.tryAcquire();
    const b = breaker.tryAcquire();
    expect(a).toBeDefined();
    expect(b).toBeDefined();
    expect(breaker.tryAcquire()).toBeUndefined();
    a?.success();
    expect(breaker.halfOpen).toBe(true);
    b?.success();
    expect(breaker.closed).toBe(true);
  });

  it('gives the probe slot back on release() so another caller can probe', () => {
    const { breaker, clock } = breakerFor();
    breaker.open();
    clock.advance(1000);
    const probe = breaker.tryAcquire();
    expect(breaker.tryAcquire()).toBeUndefined();
    probe?.release();
    expect(breaker.stats).toMatchObject({ successes: 0, failures: 0 });
    const next = breaker.tryAcquire();
    expect(next).toBeDefined();
    next?.failure(new Error('still down'));
    expect(breaker.opened).toBe(true);
  });

  it('settles a permit once: later calls are ignored', () => {
    const { breaker } = breakerFor({ mode: 'consecutive', failureThreshold: 1 });
    const permit = breaker.tryAcquire();
    permit?.success();
    permit?.failure(new Error('ignored'));
    permit?.release();
    expect(breaker.stats).toMatchObject({ successes: 1, failures: 0 });
    expect(breaker.closed).toBe(true);
  });

  it('applies errorFilter to failure(error)', () => {
    const { breaker } = breakerFor({ errorFilter: (error: { status?: number }) => error.status === 404 });
    breaker.tryAcquire()?.failure(Object.assign(new Error('not found'), { status: 404 }));
    expect(breaker.stats).toMatchObject({ successes: 1, failures: 0 });
  });

  it('times a permit out after timeout: counted as a timeout and failure, its signal aborted, later settles ignored', async () => {
    const { breaker, clock } = breakerFor({ timeout: 500, mode: 'consecutive', failureThreshold: 1 });
    const events = recordEvents(breaker, ['timeout', 'failure', 'open']);
    const permit = breaker.tryAcquire();
    const signal = permit?.signal;
    expect(signal?.aborted).toBe(false);
    clock.advance(500);
    expect(signal?.aborted).toBe(true);
    expect((signal?.reason as { code: string }).code).toBe('ETIMEDOUT');
    expect(events).toEqual(['timeout', 'failure', 'open']);
    permit?.success();
    expect(breaker.stats.successes).toBe(0);
  });

  it('hands out an already aborted signal when asked after the timeout', () => {
    const { breaker, clock } = breakerFor({ timeout: 100, volumeThreshold: 10 });
    const permit = breaker.tryAcquire();
    clock.advance(100);
    expect(permit?.signal.aborted).toBe(true);
  });

  it('counts a permit against capacity; over capacity it fails like fire() does', () => {
    const { breaker } = breakerFor({ capacity: 1, volumeThreshold: 10 });
    const locked: unknown[] = [];
    breaker.on('semaphoreLocked', (error) => locked.push(error));
    const first = breaker.tryAcquire();
    expect(breaker.tryAcquire()).toBeUndefined();
    expect(locked).toHaveLength(1);
    expect(breaker.stats).toMatchObject({ semaphoreRejections: 1, failures: 1 });
    first?.release();
    expect(breaker.tryAcquire()).toBeDefined();
  });

  it('returns a no-op permit while disabled and undefined after shutdown', () => {
    const { breaker } = breakerFor();
    breaker.disable();
    breaker.open();
    const permit = breaker.tryAcquire();
    expect(permit).toBeDefined();
    permit?.failure(new Error('not counted'));
    expect(breaker.stats.failures).toBe(0);
    breaker.shutdown();
    expect(breaker.tryAcquire()).toBeUndefined();
  });

  it('measures permit latency on the clock', () => {
    const { breaker, clock } = breakerFor();
    const latencies: number[] = [];
    breaker.on('success', (_result, latency) => latencies.push(latency));
    const permit = breaker.tryAcquire();
    clock.advance(42);
    permit?.success();
    expect(latencies).toEqual([42]);
    expect(breaker.stats.latencyTimes).toEqual([42]);
  });
});
