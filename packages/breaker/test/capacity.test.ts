import { createManualClock } from '@edgekit/core/testing';
import { describe, expect, it } from 'vitest';
import { CircuitBreaker, SemaphoreLockedError, isOurError } from '../src/index.js';
import { type Deferred, deferred, outcome } from './helpers.js';

function gated(options: Record<string, unknown>) {
  const clock = createManualClock();
  const gates: Array<Deferred<string>> = [];
  const breaker = new CircuitBreaker(
    () => {
      const d = deferred<string>();
      gates.push(d);
      return d.promise;
    },
    { clock, timeout: false, volumeThreshold: 100, ...options },
  );
  return { breaker, clock, gates };
}

describe('capacity (semaphore)', () => {
  it('lets capacity calls run at once and refuses the next with ESEMLOCKED', async () => {
    const { breaker, gates } = gated({ capacity: 2, name: 'db' });
    const a = breaker.fire();
    const b = breaker.fire();
    const error = await breaker.fire().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SemaphoreLockedError);
    expect(error).toMatchObject({ code: 'ESEMLOCKED', message: 'Semaphore locked', capacity: 2, breaker: 'db' });
    expect(isOurError(error)).toBe(true);
    expect(gates).toHaveLength(2);
    expect(breaker.stats.semaphoreRejections).toBe(1);
    for (const g of gates) g.resolve('ok');
    await Promise.all([a, b]);
  });

  it('frees a slot when a call settles', async () => {
    const { breaker, gates } = gated({ capacity: 1 });
    const a = breaker.fire();
    gates[0]?.resolve('first');
    await a;
    const b = breaker.fire();
    expect(gates).toHaveLength(2);
    gates[1]?.resolve('second');
    await expect(b).resolves.toBe('second');
  });

  it('frees a slot when a call times out, even though the action still runs (as opossum)', async () => {
    const { breaker, clock, gates } = gated({ capacity: 1, timeout: 100 });
    const a = outcome(breaker.fire());
    await clock.advanceAsync(100);
    expect(await a).toBe('err:ETIMEDOUT');
    const b = breaker.fire();
    expect(gates).toHaveLength(2);
    gates[1]?.resolve('ok');
    await expect(b).resolves.toBe('ok');
  });

  it('emits semaphoreLocked then failure, and may open the breaker', async () => {
    const { breaker } = gated({ capacity: 1, volumeThreshold: 0, errorThresholdPercentage: 40 });
    const events: string[] = [];
    for (const name of ['semaphoreLocked', 'failure', 'open']) breaker.on(name, () => events.push(name));
    void breaker.fire();
    await breaker.fire().catch(() => {});
    expect(events).toEqual(['semaphoreLocked', 'failure', 'open']);
  });

  it('refuses every call with capacity 0', async () => {
    const { breaker, gates } = gated({ capacity: 0 });
    expect(await outcome(breaker.fire())).toBe('err:ESEMLOCKED');
    expect(gates).toHaveLength(0);
  });
});
