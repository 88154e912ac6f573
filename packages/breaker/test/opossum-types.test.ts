/**
 * Code written against @types/opossum must compile against this package once the import changes.
 * The checks are made by the TypeScript compiler (`pnpm tsc -p tsconfig.json` covers this file);
 * the test bodies also run, so the code shown is real, working usage.
 */
import type Opossum from 'opossum';
import { describe, expect, expectTypeOf, it } from 'vitest';
import CircuitBreaker, { type BreakerPermit, type CircuitBreakerOptions, type RegistryBreaker, createBreakerRegistry } from '../src/index.js';

interface User {
  id: string;
  name: string;
}

async function fetchUser(id: string): Promise<User> {
  return { id, name: `user ${id}` };
}

describe('types: drop-in for @types/opossum', () => {
  it('accepts @types/opossum options and infers argument and result types from the action', async () => {
    const options: Opossum.Options<[string]> = {
      timeout: 3000,
      errorThresholdPercentage: 50,
      resetTimeout: 30000,
      rollingCountTimeout: 10000,
      rollingCountBuckets: 10,
      name: 'users',
      group: 'api',
      capacity: 10,
      volumeThreshold: 5,
      allowWarmUp: false,
      enabled: true,
      errorFilter: (err) => err.statusCode === 404,
      cache: false,
      cacheTTL: 0,
      cacheGetKey: (id) => id,
      abortController: new AbortController(),
      autoRenewAbortController: false,
      enableSnapshots: false,
      rollingPercentilesEnabled: true,
    };
    const breaker = new CircuitBreaker(fetchUser, options);
    expectTypeOf(breaker.fire).parameters.toEqualTypeOf<[string]>();
    expectTypeOf(breaker.fire('1')).toEqualTypeOf<Promise<User>>();
    // @ts-expect-error the action takes a string
    void breaker.fire(1).catch(() => {});
    const user = await breaker.fire('7');
    expect(user.name).toBe('user 7');
    breaker.shutdown();
  });

  it('is assignable to the @types/opossum instance type, so it can be passed to code typed with it', () => {
    const breaker = new CircuitBreaker(fetchUser, { timeout: false });
    const asOpossum: Opossum<[string], User> = breaker;
    const state: Opossum.State = breaker.toJSON().state;
    const stats: Opossum.Stats = breaker.stats;
    const status: Opossum.Status = breaker.status;
    const window: Opossum.Window = breaker.status.window;
    expect([asOpossum.closed, state.closed, stats.fires, status.stats.fires, window.length]).toEqual([true, true, 0, 0, 10]);
    breaker.shutdown();
  });

  it('types listeners the way @types/opossum declares them', () => {
    const breaker = new CircuitBreaker(fetchUser, { timeout: false });
    breaker
      .on('success', (result: User, latencyMs: number) => void [result.name, latencyMs])
      .on('failure', (err: Error, latencyMs: number, args: [string]) => void [err.message, latencyMs, args[0]])
      .on('timeout', (err: Error) => void err)
      .on('reject', (err: Error) => void err)
      .on('open', () => {})
      .on('halfOpen', (resetTimeout: number) => void resetTimeout)
      .on('close', () => {})
      .on('fire', (args: [string]) => void args)
      .on('fallback', (result: unknown, err: Error) => void [result, err])
      .on('semaphoreLocked', (err: Error) => void err)
      .on('healthCheckFailed', (err: Error) => void err)
      .on('shutdown', () => {})
      .on('cacheHit', () => {})
      .on('cacheMiss', () => {})
      .on('anything-else', (...args: unknown[]) => void args);
    breaker.status.on('snapshot', (snapshot: Opossum.Stats) => void snapshot);
    breaker.on('success', (result) => expectTypeOf(result).toEqualTypeOf<User>());
    breaker.on('failure', (_error, _latency, args) => expectTypeOf(args).toEqualTypeOf<[id: string]>());
    expect(breaker.listenerCount('success')).toBe(2);
    breaker.shutdown();
  });

  it('lets breakers of different actions share the default CircuitBreaker type', () => {
    const breakers: CircuitBreaker[] = [new CircuitBreaker(fetchUser), new CircuitBreaker(async (a: number, b: number) => a + b)];
    const constructor: typeof Opossum = CircuitBreaker;
    expect([breakers.length, typeof constructor]).toEqual([2, 'function']);
    for (const b of breakers) b.shutdown();
  });

  it('keeps the opossum statics and methods', () => {
    const isOurs: (error: Error) => boolean = CircuitBreaker.isOurError;
    const status: Opossum.Status = CircuitBreaker.newStatus({ rollingCountBuckets: 5, rollingCountTimeout: 5000 });
    const breaker = new CircuitBreaker(fetchUser, { timeout: false, status });
    const chained: typeof breaker = breaker.fallback(() => ({ id: '0', name: 'nobody' }));
    breaker.healthCheck(() => Promise.resolve(), 10_000);
    const methods: Array<() => void> = [breaker.open, breaker.close, breaker.disable, breaker.enable, breaker.clearCache, breaker.shutdown];
    expect([isOurs(new Error('x')), chained === breaker, methods.length]).toEqual([false, true, 6]);
    breaker.shutdown();
  });

  it('types the additions: appendSignal actions, permits and registry breakers', async () => {
    const withSignal = new CircuitBreaker(async (id: string, signal: AbortSignal) => ({ id, aborted: signal.aborted }), {
      appendSignal: true,
      timeout: 1000,
    });
    expectTypeOf(withSignal.fire).parameters.toEqualTypeOf<[string]>();
    expect(await withSignal.fire('a')).toEqual({ id: 'a', aborted: false });
    withSignal.shutdown();

    const permit: BreakerPermit | undefined = withSignal.tryAcquire();
    expect(permit).toBeUndefined();

    const registry = createBreakerRegistry();
    const region: RegistryBreaker = registry.get('eu-west');
    const status = await region.fire(async (signal) => (signal.aborted ? 0 : 200));
    expectTypeOf(status).toEqualTypeOf<number>();
    expect(status).toBe(200);
    await registry.close();
  });

  it('accepts fire(url) when appendSignal options are held in a const or typed as the options type', async () => {
    const action = async (url: string, signal: AbortSignal) => `${url}:${signal.aborted}`;
    const held = { appendSignal: true, timeout: 1000 };
    const typed: CircuitBreakerOptions = { appendSignal: true, timeout: 1000 };
    const fromConst = new CircuitBreaker(action, held);
    const fromTyped = new CircuitBreaker(action, typed);
    expectTypeOf(fromConst.fire('a')).toEqualTypeOf<Promise<string>>();
    expect(await fromConst.fire('a')).toBe('a:false');
    expect(await fromTyped.fire('b')).toBe('b:false');
    // @ts-expect-error still a string
    void fromTyped.fire(1).catch(() => {});
    fromConst.shutdown();
    fromTyped.shutdown();
  });

  it("types the fallback from the action's result", async () => {
    const breaker = new CircuitBreaker(fetchUser, { timeout: false });
    breaker.fallback((id: string, error: Error) => ({ id, name: error.message }));
    breaker.fallback(async () => ({ id: '0', name: 'nobody' }));
    // @ts-expect-error a fallback must return a User (or a promise of one)
    breaker.fallback(() => 'nobody');
    // @ts-expect-error the first argument is the action's
    breaker.fallback((id: number) => ({ id: String(id), name: '' }));
    breaker.fallback(new CircuitBreaker(fetchUser));
    expect((await breaker.fire('1')).name).toBe('user 1');
    breaker.shutdown();
  });
});
