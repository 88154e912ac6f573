import { createManualClock } from '@edgekit/core/testing';
import { describe, expect, it } from 'vitest';
import { type CacheTransport, CircuitBreaker, MemoryCache } from '../src/index.js';
import { deferred, recordEvents } from './helpers.js';

function counting(options: Record<string, unknown>) {
  const clock = createManualClock(1000);
  const calls: string[] = [];
  const breaker = new CircuitBreaker(
    async (key: string) => {
      calls.push(key);
      if (key.startsWith('bad')) throw new Error(`bad ${key}`);
      return `value of ${key} #${calls.length}`;
    },
    { clock, timeout: false, volumeThreshold: 100, ...options },
  );
  return { breaker, clock, calls };
}

describe('cache', () => {
  it('returns the first successful result for the same arguments without calling the action again', async () => {
    const { breaker, calls } = counting({ cache: true });
    const events = recordEvents(breaker, ['cacheHit', 'cacheMiss']);
    await expect(breaker.fire('a')).resolves.toBe('value of a #1');
    await expect(breaker.fire('a')).resolves.toBe('value of a #1');
    await expect(breaker.fire('b')).resolves.toBe('value of b #2');
    expect(calls).toEqual(['a', 'b']);
    expect(events).toEqual(['cacheMiss', 'cacheHit', 'cacheMiss']);
    expect(breaker.stats).toMatchObject({ cacheHits: 1, cacheMisses: 2 });
  });

  it('does not cache failures', async () => {
    const { breaker, calls } = counting({ cache: true });
    await breaker.fire('bad').catch(() => {});
    await breaker.fire('bad').catch(() => {});
    expect(calls).toEqual(['bad', 'bad']);
  });

  it('expires entries after cacheTTL on the clock', async () => {
    const { breaker, clock, calls } = counting({ cache: true, cacheTTL: 500 });
    await breaker.fire('a');
    clock.advance(499);
    await breaker.fire('a');
    clock.advance(1);
    await breaker.fire('a');
    expect(calls).toEqual(['a', 'a']);
  });

  it('forgets everything on clearCache()', async () => {
    const { breaker, calls } = counting({ cache: true });
    await breaker.fire('a');
    breaker.clearCache();
    await breaker.fire('a');
    expect(calls).toEqual(['a', 'a']);
  });

  it('uses cacheGetKey for the key, with the breaker as this', async () => {
    const { breaker, calls } = counting({ cache: true, cacheGetKey: (key: string) => key.toLowerCase() });
    await breaker.fire('A');
    await breaker.fire('a');
    expect(calls).toEqual(['A']);
  });

  it('evicts the oldest entry past cacheSize', async () => {
    const { breaker, calls } = counting({ cache: true, cacheSize: 2 });
    for (const key of ['a', 'b', 'c', 'a']) await breaker.fire(key);
    expect(calls).toEqual(['a', 'b', 'c', 'a']);
  });

  it('stores in a custom cacheTransport with an absolute expiry time (0: never)', async () => {
    const stored = new Map<string, { value: unknown; expiresAt: number }>();
    const transport: CacheTransport = {
      get: (key) => stored.get(key)?.value,
      set: (key, value, expiresAt) => void stored.set(key, { value, expiresAt }),
      flush: () => stored.clear(),
    };
    const { breaker, clock } = counting({ cache: true, cacheTransport: transport, cacheTTL: 250 });
    await breaker.fire('a');
    expect(stored.get('["a"]')?.expiresAt).toBe(clock.now() + 250);
    await expect(breaker.fire('a')).resolves.toBe('value of a #1');
  });
});

describe('coalesce', () => {
  it('shares one action call between concurrent calls with the same key', async () => {
    const gate = deferred<string>();
    let calls = 0;
    const breaker = new CircuitBreaker(
      (_key: string) => {
        calls++;
        return gate.promise;
      },
      { timeout: false, coalesce: true },
    );
    const events = recordEvents(breaker, ['coalesceCacheHit', 'coalesceCacheMiss']);
    const a = breaker.fire('k');
    const b = breaker.fire('k');
    expect(a).toBe(b);
    gate.resolve('shared');
    await expect(Promise.all([a, b])).resolves.toEqual(['shared', 'shared']);
    expect(calls).toBe(1);
    expect(events).toEqual(['coalesceCacheMiss', 'coalesceCacheHit']);
  });

  it('forgets a coalesced call after coalesceTTL (default: the timeout)', async () => {
    const { breaker, clock, calls } = counting({ coalesce: true, timeout: 300 });
    await breaker.fire('a');
    clock.advance(299);
    await breaker.fire('a');
    clock.advance(1);
    await breaker.fire('a');
    expect(calls).toEqual(['a', 'a']);
  });

  it('forgets a call at once on the outcomes listed in coalesceResetOn', async () => {
    const { breaker, calls } = counting({ coalesce: true, coalesceTTL: 60_000, coalesceResetOn: ['error'] });
    await breaker.fire('bad').catch(() => {});
    await breaker.fire('bad').catch(() => {});
    await breaker.fire('good');
    await breaker.fire('good');
    expect(calls).toEqual(['bad', 'bad', 'good']);
  });

  it('does not share a call refused because the breaker is open', async () => {
    const { breaker, calls } = counting({ coalesce: true, coalesceTTL: 60_000 });
    breaker.open();
    await breaker.fire('a').catch(() => {});
    breaker.close();
    await breaker.fire('a');
    expect(calls).toEqual(['a']);
  });

  it('checks the result cache before coalescing', async () => {
    const { breaker, calls } = counting({ cache: true, coalesce: true });
    const events = recordEvents(breaker, ['cacheHit', 'cacheMiss', 'coalesceCacheHit', 'coalesceCacheMiss']);
    await breaker.fire('a');
    await breaker.fire('a');
    expect(calls).toEqual(['a']);
    expect(events).toEqual(['cacheMiss', 'coalesceCacheMiss', 'cacheHit']);
  });
});

describe('MemoryCache', () => {
  it('reads expiry from its clock and treats 0 as no expiry', () => {
    const clock = createManualClock(100);
    const cache = new MemoryCache(10, clock);
    cache.set('forever', 1, 0);
    cache.set('soon', 2, 150);
    clock.advance(49);
    expect(cache.get('soon')).toBe(2);
    clock.advance(1);
    expect(cache.get('soon')).toBeUndefined();
    expect(cache.get('forever')).toBe(1);
    expect(cache.size).toBe(1);
  });
});
