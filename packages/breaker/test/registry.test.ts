import { createManualClock } from '@edgekit/core/testing';
import { describe, expect, it } from 'vitest';
import { CircuitBreaker, type RegistryStateChange, createBreakerRegistry } from '../src/index.js';
import { outcome } from './helpers.js';

const down = (): Promise<never> => Promise.reject(new Error('region down'));

describe('createBreakerRegistry', () => {
  it('creates one breaker per key on first use and returns the same one afterwards', () => {
    const registry = createBreakerRegistry();
    expect(registry.has('eu-west')).toBe(false);
    const eu = registry.get('eu-west');
    expect(eu).toBeInstanceOf(CircuitBreaker);
    expect(registry.get('eu-west')).toBe(eu);
    expect(registry.get('us-east')).not.toBe(eu);
    expect(registry.keys()).toEqual(['eu-west', 'us-east']);
    expect(registry.size).toBe(2);
    expect(eu.name).toBe('eu-west');
  });

  it('runs the task given to fire() with the per-call signal, and returns its result', async () => {
    const clock = createManualClock();
    const registry = createBreakerRegistry({ clock, defaults: { timeout: 100 } });
    let seen: AbortSignal | undefined;
    const result = await registry.get('eu').fire(async (signal) => {
      seen = signal;
      return { status: 200 };
    });
    expect(result).toEqual({ status: 200 });
    expect(seen).toBeInstanceOf(AbortSignal);
    const hanging = outcome(
      registry.get('eu').fire((signal) => new Promise((_, reject) => signal.addEventListener('abort', () => reject(signal.reason)))),
    );
    await clock.advanceAsync(100);
    expect(await hanging).toBe('err:ETIMEDOUT');
  });

  it('passes extra fire() arguments to the task before the signal', async () => {
    const registry = createBreakerRegistry();
    const breaker = registry.get('eu') as unknown as CircuitBreaker<[(...args: unknown[]) => unknown, ...unknown[]], unknown>;
    const seen = await breaker.fire((...args: unknown[]) => args.map((a) => (a instanceof AbortSignal ? 'signal' : a)), 'a', 2);
    expect(seen).toEqual(['a', 2, 'signal']);
    await registry.close();
  });

  it('refuses a task that is not a function without counting it as a failure', async () => {
    const registry = createBreakerRegistry();
    await expect(registry.get('eu').fire('GET /' as never)).rejects.toThrow(TypeError);
    expect(registry.get('eu').stats.failures).toBe(0);
  });

  it('builds every breaker from shared defaults with per-key overrides (record or function)', async () => {
    const clock = createManualClock();
    const registry = createBreakerRegistry({
      clock,
      defaults: { mode: 'consecutive', failureThreshold: 2, timeout: false },
      overrides: { 'ap-south': { failureThreshold: 1 } },
    });
    await registry.get('ap-south').fire(down).catch(() => {});
    expect(registry.get('ap-south').opened).toBe(true);
    await registry.get('eu').fire(down).catch(() => {});
    expect(registry.get('eu').closed).toBe(true);

    const byFunction = createBreakerRegistry({ clock, overrides: (key) => (key.startsWith('test-') ? { enabled: false } : undefined) });
    expect(byFunction.get('test-1').enabled).toBe(false);
    expect(byFunction.get('eu').enabled).toBe(true);
  });

  it('drives every breaker with the registry clock', async () => {
    const clock = createManualClock();
    const registry = createBreakerRegistry({ clock, defaults: { resetTimeout: 500 } });
    registry.get('eu').open();
    clock.advance(500);
    expect(registry.get('eu').halfOpen).toBe(true);
  });

  it('supports permits for callers that decide success themselves', () => {
    const registry = createBreakerRegistry({ defaults: { mode: 'consecutive', failureThreshold: 1 } });
    const permit = registry.get('eu').tryAcquire();
    permit?.failure(new Error('502'));
    expect(registry.get('eu').tryAcquire()).toBeUndefined();
  });

  it('snapshots every breaker: state, counters and when an open one will be retried', async () => {
    const clock = createManualClock(5000);
    const registry = createBreakerRegistry({ clock, defaults: { resetTimeout: 2000, timeout: false } });
    await registry.get('eu').fire(async () => 'ok');
    await registry.get('us').fire(down).catch(() => {});
    const snapshot = registry.snapshot();
    expect(Object.keys(snapshot)).toEqual(['eu', 'us']);
    expect(snapshot.eu).toMatchObject({ state: 'closed', nextAttemptAt: undefined, stats: { fires: 1, successes: 1 } });
    expect(snapshot.us).toMatchObject({ state: 'open', openedAt: 5000, nextAttemptAt: 7000, stats: { fires: 1, failures: 1, errorRate: 100 } });
  });

  it('keeps hostile keys as plain own properties of the snapshot', () => {
    const registry = createBreakerRegistry();
    registry.get('__proto__');
    registry.get('constructor');
    const snapshot = registry.snapshot();
    expect(Object.keys(snapshot)).toEqual(['__proto__', 'constructor']);
    expect(Object.getPrototypeOf(snapshot)).toBe(Object.prototype);
  });

  it('reports state changes of every breaker with its key, until disposed', async () => {
    const clock = createManualClock();
    const registry = createBreakerRegistry({ clock, defaults: { resetTimeout: 100, timeout: false } });
    const changes: RegistryStateChange[] = [];
    const subscription = registry.onStateChange((change) => changes.push(change));
    registry.get('eu').open();
    clock.advance(100);
    await registry.get('eu').fire(async () => 'ok');
    registry.get('us').open();
    subscription.dispose();
    registry.get('ap').open();
    expect(changes).toEqual([
      { key: 'eu', from: 'closed', to: 'open' },
      { key: 'eu', from: 'open', to: 'halfOpen' },
      { key: 'eu', from: 'halfOpen', to: 'closed' },
      { key: 'us', from: 'closed', to: 'open' },
    ]);
  });

  it('keeps reporting state changes after a user removes every listener of a breaker', () => {
    const registry = createBreakerRegistry();
    const changes: RegistryStateChange[] = [];
    registry.onStateChange((change) => changes.push(change));
    const eu = registry.get('eu');
    eu.removeAllListeners();
    eu.open();
    expect(changes).toEqual([{ key: 'eu', from: 'closed', to: 'open' }]);
  });

  it('replaces a breaker its user shut down with a fresh one', () => {
    const registry = createBreakerRegistry();
    const first = registry.get('eu');
    first.shutdown();
    expect(registry.has('eu')).toBe(false);
    const second = registry.get('eu');
    expect(second).not.toBe(first);
    expect(second.closed).toBe(true);
  });

  it('deletes one breaker, shutting it down', () => {
    const registry = createBreakerRegistry();
    const eu = registry.get('eu');
    expect(registry.delete('eu')).toBe(true);
    expect(eu.isShutdown).toBe(true);
    expect(registry.delete('eu')).toBe(false);
  });

  it('shuts every breaker down on close(), stops their timers, and refuses get() afterwards', async () => {
    const clock = createManualClock();
    const registry = createBreakerRegistry({ clock });
    const eu = registry.get('eu');
    const us = registry.get('us');
    eu.open();
    await us.fire(async () => 'ok');
    expect(clock.pendingTimers()).toBeGreaterThan(0);
    await registry.close();
    expect(eu.isShutdown && us.isShutdown).toBe(true);
    expect(clock.pendingTimers()).toBe(0);
    expect(() => registry.get('eu')).toThrow(expect.objectContaining({ code: 'ESHUTDOWN' }));
    await registry.close();
  });

  it('closes through await using', async () => {
    let breaker!: CircuitBreaker;
    {
      await using registry = createBreakerRegistry();
      breaker = registry.get('eu');
    }
    expect(breaker.isShutdown).toBe(true);
  });

  it('rejects bad defaults, overrides and keys at once, naming them', () => {
    expect(() => createBreakerRegistry({ defaults: { resetTimeout: 'soon' as never } })).toThrow(/"resetTimeout"/);
    expect(() => createBreakerRegistry({ overrides: { eu: { mode: 'sometimes' as never } } })).toThrow(/"mode"/);
    expect(() => createBreakerRegistry({ defaults: 'fast' as never })).toThrow(/"defaults"/);
    expect(() => createBreakerRegistry({ overrides: 3 as never })).toThrow(/"overrides"/);
    expect(() => createBreakerRegistry([] as never)).toThrow(TypeError);
    const registry = createBreakerRegistry();
    expect(() => registry.get('')).toThrow(TypeError);
    expect(() => registry.get(undefined as never)).toThrow(/key must be a non-empty string/);
  });
});
