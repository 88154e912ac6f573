import { createManualClock } from '@edgekit/core/testing';
import { describe, expect, it, vi } from 'vitest';
import CircuitBreakerDefault, { CircuitBreaker, OpenCircuitError, ShutdownError, isOurError } from '../src/index.js';
import { flush, outcome, recordEvents } from './helpers.js';

type Kind = 'ok' | 'fail';
const boom = new Error('boom');

function makeBreaker(options: ConstructorParameters<typeof CircuitBreaker<[Kind], string>>[1] = {}) {
  const clock = createManualClock(1_000);
  const calls: Kind[] = [];
  const breaker = new CircuitBreaker(
    async (kind: Kind) => {
      calls.push(kind);
      if (kind === 'fail') throw boom;
      return 'done';
    },
    { clock, timeout: false, ...options },
  );
  return { breaker, clock, calls };
}

describe('CircuitBreaker: closed state', () => {
  it('is the default export and the named export', () => {
    expect(CircuitBreakerDefault).toBe(CircuitBreaker);
  });

  it('resolves with the action result and passes every argument through', async () => {
    const breaker = new CircuitBreaker(async (a: number, b: string) => `${a}-${b}`, { timeout: false });
    await expect(breaker.fire(1, 'x')).resolves.toBe('1-x');
    breaker.shutdown();
  });

  it('rejects with the action error untouched, and it is not "our" error', async () => {
    const { breaker } = makeBreaker();
    const error = await breaker.fire('fail').catch((e: unknown) => e);
    expect(error).toBe(boom);
    expect(CircuitBreaker.isOurError(error)).toBe(false);
    expect(breaker.isOurError(error)).toBe(false);
  });

  it('treats a synchronous throw of the action as a failure and never throws from fire()', async () => {
    const breaker = new CircuitBreaker(
      (): string => {
        throw boom;
      },
      { timeout: false },
    );
    const pending = breaker.fire();
    expect(pending).toBeInstanceOf(Promise);
    await expect(pending).rejects.toBe(boom);
    expect(breaker.stats.failures).toBe(1);
  });

  it('accepts an action that returns a plain value', async () => {
    const breaker = new CircuitBreaker((x: number) => x * 2, { timeout: false });
    await expect(breaker.fire(21)).resolves.toBe(42);
    expect(breaker.stats.successes).toBe(1);
  });

  it('returns a non-function action as every call result, as opossum does', async () => {
    const breaker = new CircuitBreaker('foo' as never, { timeout: false });
    await expect(breaker.fire()).resolves.toBe('foo');
  });

  it('uses the context given to call() as the action this', async () => {
    const breaker = new CircuitBreaker(
      function (this: { base: number }, x: number) {
        return this.base + x;
      },
      { timeout: false },
    );
    await expect(breaker.call({ base: 40 }, 2)).resolves.toBe(42);
  });

  it('names itself after the action, else a random UUID', () => {
    async function fetchUser(): Promise<void> {}
    expect(new CircuitBreaker(fetchUser).name).toBe('fetchUser');
    expect(new CircuitBreaker(fetchUser, { name: 'users', group: 'api' }).group).toBe('api');
    expect(new CircuitBreaker(fetchUser, { name: 'users' }).group).toBe('users');
    expect(new CircuitBreaker(async () => {}).name).toMatch(/^[0-9a-f-]{36}$/);
  });
});

describe('CircuitBreaker: percentage mode', () => {
  it('opens when the failure rate in the window goes above errorThresholdPercentage', async () => {
    const { breaker } = makeBreaker({ errorThresholdPercentage: 50 });
    await breaker.fire('ok');
    await breaker.fire('fail').catch(() => {}); // 1 of 2 = 50 %: not above
    expect(breaker.closed).toBe(true);
    await breaker.fire('fail').catch(() => {}); // 2 of 3 = 66 %
    expect(breaker.opened).toBe(true);
    expect(breaker.state).toBe('open');
  });

  it('stays closed until volumeThreshold fires are in the window', async () => {
    const { breaker } = makeBreaker({ volumeThreshold: 3 });
    await breaker.fire('fail').catch(() => {});
    await breaker.fire('fail').catch(() => {});
    expect(breaker.closed).toBe(true);
    await breaker.fire('fail').catch(() => {});
    expect(breaker.opened).toBe(true);
  });

  it('forgets failures that have left the rolling window', async () => {
    const { breaker, clock } = makeBreaker({ volumeThreshold: 4, rollingCountTimeout: 1000, rollingCountBuckets: 10 });
    await breaker.fire('fail').catch(() => {});
    await breaker.fire('fail').catch(() => {});
    await breaker.fire('fail').catch(() => {});
    expect(breaker.stats.failures).toBe(3);
    clock.advance(1000);
    expect(breaker.stats.failures).toBe(0);
    await breaker.fire('fail').catch(() => {}); // 1 fire in the window: under the volume threshold
    expect(breaker.closed).toBe(true);
  });

  it('rejects without calling the action while open, with EOPENBREAKER', async () => {
    const { breaker, calls } = makeBreaker();
    breaker.open();
    const error = await breaker.fire('ok').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OpenCircuitError);
    expect((error as OpenCircuitError).code).toBe('EOPENBREAKER');
    expect((error as OpenCircuitError).message).toBe('Breaker is open');
    expect(isOurError(error)).toBe(true);
    expect(calls).toEqual([]);
    expect(breaker.stats.rejects).toBe(1);
    expect(breaker.stats.fires).toBe(1);
  });

  it('goes half-open after resetTimeout and closes when the probe succeeds', async () => {
    const { breaker, clock } = makeBreaker({ resetTimeout: 5000 });
    const events = recordEvents(breaker, ['open', 'halfOpen', 'close']);
    const halfOpenArgs: unknown[] = [];
    breaker.on('halfOpen', (resetTimeout) => halfOpenArgs.push(resetTimeout));
    breaker.open();
    clock.advance(4999);
    expect(breaker.opened).toBe(true);
    clock.advance(1);
    expect(breaker.halfOpen).toBe(true);
    expect(breaker.pendingClose).toBe(true);
    expect(halfOpenArgs).toEqual([5000]);
    await expect(breaker.fire('ok')).resolves.toBe('done');
    expect(breaker.closed).toBe(true);
    expect(events).toEqual(['open', 'halfOpen', 'close']);
  });

  it('reopens, and restarts the reset timer, when the half-open probe fails', async () => {
    const { breaker, clock } = makeBreaker({ resetTimeout: 5000 });
    breaker.open();
    clock.advance(5000);
    await breaker.fire('fail').catch(() => {});
    expect(breaker.opened).toBe(true);
    clock.advance(4999);
    expect(breaker.opened).toBe(true);
    clock.advance(1);
    expect(breaker.halfOpen).toBe(true);
  });

  it('lets exactly one probe through in half-open by default; the others are rejected', async () => {
    const { breaker, clock, calls } = makeBreaker({ resetTimeout: 100 });
    breaker.open();
    clock.advance(100);
    const probe = breaker.fire('ok');
    expect(breaker.pendingClose).toBe(false);
    const second = await outcome(breaker.fire('ok'));
    expect(second).toBe('err:EOPENBREAKER');
    expect(calls).toEqual(['ok']);
    await probe;
    expect(breaker.closed).toBe(true);
  });

  it('keeps failures from opening the breaker during the warm-up period', async () => {
    const { breaker, clock } = makeBreaker({ allowWarmUp: true, rollingCountTimeout: 1000 });
    expect(breaker.warmUp).toBe(true);
    await breaker.fire('fail').catch(() => {});
    await breaker.fire('fail').catch(() => {});
    expect(breaker.closed).toBe(true);
    clock.advance(1000);
    expect(breaker.warmUp).toBe(false);
    // Window slid past the warm-up failures; a new failure alone is 100 %.
    await breaker.fire('fail').catch(() => {});
    expect(breaker.opened).toBe(true);
  });

  it('counts errors accepted by errorFilter as successes but still rejects with them, without fallback', async () => {
    const notFound = Object.assign(new Error('not found'), { status: 404 });
    const fallback = vi.fn(() => 'fallback');
    const breaker = new CircuitBreaker(
      async (status: number) => {
        throw status === 404 ? notFound : boom;
      },
      { timeout: false, errorFilter: (error: { status?: number }, status) => error.status === 404 && status === 404 },
    ).fallback(fallback);
    const successes: unknown[] = [];
    breaker.on('success', (result) => successes.push(result));
    await expect(breaker.fire(404)).rejects.toBe(notFound);
    expect(successes).toEqual([notFound]);
    expect(fallback).not.toHaveBeenCalled();
    expect(breaker.stats.successes).toBe(1);
    expect(breaker.stats.failures).toBe(0);
    expect(breaker.closed).toBe(true);
    await expect(breaker.fire(500)).resolves.toBe('fallback');
    expect(breaker.stats.failures).toBe(1);
  });

  it('counts an error as a failure when errorFilter itself throws', async () => {
    const breaker = new CircuitBreaker(
      async () => {
        throw boom;
      },
      {
        timeout: false,
        errorFilter: () => {
          throw new Error('filter bug');
        },
      },
    );
    await expect(breaker.fire()).rejects.toBe(boom);
    expect(breaker.stats.failures).toBe(1);
  });
});

describe('CircuitBreaker: fallback', () => {
  it('resolves with the fallback result, called with the arguments and the error', async () => {
    const { breaker } = makeBreaker();
    const seen: unknown[][] = [];
    breaker.fallback((...args: unknown[]) => {
      seen.push(args);
      return 'plan b';
    });
    const fallbackEvents: unknown[][] = [];
    breaker.on('fallback', (result, error) => fallbackEvents.push([result, error]));
    await expect(breaker.fire('fail')).resolves.toBe('plan b');
    expect(seen).toEqual([['fail', boom]]);
    expect(fallbackEvents).toEqual([['plan b', boom]]);
    expect(breaker.stats.fallbacks).toBe(1);
  });

  it('runs the fallback when the breaker is open, with the EOPENBREAKER error', async () => {
    const { breaker } = makeBreaker();
    let received: unknown;
    breaker.fallback((_kind: unknown, error: unknown) => {
      received = error;
      return 'cached copy';
    });
    breaker.open();
    await expect(breaker.fire('ok')).resolves.toBe('cached copy');
    expect((received as OpenCircuitError).code).toBe('EOPENBREAKER');
  });

  it('rejects with the fallback error when the fallback throws or rejects', async () => {
    const { breaker } = makeBreaker();
    const fallbackError = new Error('fallback broke');
    breaker.fallback(() => {
      throw fallbackError;
    });
    await expect(breaker.fire('fail')).rejects.toBe(fallbackError);
    breaker.fallback(async () => Promise.reject(fallbackError));
    await expect(breaker.fire('fail')).rejects.toBe(fallbackError);
  });

  it('fires another breaker as the fallback, with the arguments and the error', async () => {
    const { breaker } = makeBreaker();
    const backup = new CircuitBreaker(async (kind: string, error: Error) => `backup for ${kind} after ${error.message}`, { timeout: false });
    breaker.fallback(backup);
    await expect(breaker.fire('fail')).resolves.toBe('backup for fail after boom');
    expect(backup.stats.fires).toBe(1);
  });

  it('throws a TypeError naming fallback for anything else', () => {
    const { breaker } = makeBreaker();
    expect(() => breaker.fallback(42 as never)).toThrow(/fallback must be a function/);
  });
});

describe('CircuitBreaker: enable, disable, shutdown', () => {
  it('calls the action without protection while disabled, counting only fires', async () => {
    const { breaker, calls } = makeBreaker();
    breaker.open();
    breaker.disable();
    expect(breaker.enabled).toBe(false);
    await expect(breaker.fire('ok')).resolves.toBe('done');
    await expect(breaker.fire('fail')).rejects.toBe(boom);
    expect(calls).toEqual(['ok', 'fail']);
    expect(breaker.stats.fires).toBe(2);
    expect(breaker.stats.failures).toBe(0);
    breaker.enable();
    await expect(outcome(breaker.fire('ok'))).resolves.toBe('err:EOPENBREAKER');
  });

  it('starts disabled with enabled: false', async () => {
    const { breaker } = makeBreaker({ enabled: false });
    breaker.open();
    await expect(breaker.fire('ok')).resolves.toBe('done');
  });

  it('emits shutdown, drops its listeners and timers, and rejects later calls with ESHUTDOWN', async () => {
    const { breaker, clock } = makeBreaker({ resetTimeout: 1000 });
    const events = recordEvents(breaker, ['shutdown']);
    breaker.open();
    breaker.healthCheck(async () => {}, 500);
    expect(clock.pendingTimers()).toBeGreaterThan(0);
    breaker.shutdown();
    expect(events).toEqual(['shutdown']);
    expect(breaker.listenerCount('shutdown')).toBe(0);
    expect(clock.pendingTimers()).toBe(0);
    expect(breaker.isShutdown).toBe(true);
    expect(breaker.state).toBe('shutdown');
    expect([breaker.closed, breaker.opened, breaker.halfOpen]).toEqual([false, false, false]);
    const error = await breaker.fire('ok').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ShutdownError);
    expect((error as ShutdownError).code).toBe('ESHUTDOWN');
  });

  it('shuts down through await using', async () => {
    const clock = createManualClock();
    let breaker!: CircuitBreaker;
    {
      await using b = new CircuitBreaker(async () => 1, { clock });
      breaker = b;
    }
    expect(breaker.isShutdown).toBe(true);
  });

  it('lets a call in flight at shutdown settle normally', async () => {
    let release!: (v: string) => void;
    const breaker = new CircuitBreaker(() => new Promise<string>((resolve) => (release = resolve)), { timeout: false });
    const pending = breaker.fire();
    breaker.shutdown();
    release('finished');
    await expect(pending).resolves.toBe('finished');
  });
});

describe('CircuitBreaker: healthCheck', () => {
  it('runs the check now and every interval, opening the breaker when it fails', async () => {
    const { breaker, clock } = makeBreaker();
    let healthy = true;
    const check = vi.fn(async () => {
      if (!healthy) throw new Error('unhealthy');
    });
    const failures: unknown[] = [];
    breaker.on('healthCheckFailed', (error) => failures.push(error));
    breaker.healthCheck(check, 1000);
    expect(check).toHaveBeenCalledTimes(1);
    await flush();
    expect(breaker.closed).toBe(true);
    healthy = false;
    await clock.advanceAsync(1000);
    expect(check).toHaveBeenCalledTimes(2);
    expect(failures).toHaveLength(1);
    expect(breaker.opened).toBe(true);
    breaker.shutdown();
  });

  it('treats a synchronous throw as a failed check and calls the check with the breaker as this', async () => {
    const { breaker } = makeBreaker();
    let self: unknown;
    breaker.healthCheck(function (this: unknown) {
      self = this;
      throw new Error('sync');
    });
    expect(self).toBe(breaker);
    expect(breaker.opened).toBe(true);
    breaker.shutdown();
  });

  it('rejects a non-function check and a non-numeric interval with opossum\'s messages', () => {
    const { breaker } = makeBreaker();
    // opossum's messages, which its users assert on.
    expect(() => breaker.healthCheck('nope' as never)).toThrow(new TypeError('Health check function must be a function'));
    expect(() => breaker.healthCheck(async () => {}, 'soon' as never)).toThrow(new TypeError('Health check interval must be a number'));
  });
});

describe('CircuitBreaker: listeners', () => {
  it('emits success with the result and latency measured on the clock', async () => {
    const clock = createManualClock();
    const breaker = new CircuitBreaker(
      () =>
        new Promise<string>((resolve) => {
          clock.setTimeout(() => resolve('slow'), 250);
        }),
      { clock, timeout: false },
    );
    const seen: unknown[][] = [];
    breaker.on('success', (result, latency) => seen.push([result, latency]));
    const pending = breaker.fire();
    await clock.advanceAsync(250);
    await pending;
    expect(seen).toEqual([['slow', 250]]);
    expect(breaker.stats.latencyTimes).toEqual([250]);
  });

  it('emits failure with the error, latency and arguments', async () => {
    const { breaker } = makeBreaker();
    const seen: unknown[][] = [];
    breaker.on('failure', (error, latency, args) => seen.push([error, latency, args]));
    await breaker.fire('fail').catch(() => {});
    expect(seen).toEqual([[boom, 0, ['fail']]]);
  });

  it('notices listeners added with once, prependListener and removed with off', async () => {
    const { breaker } = makeBreaker();
    const seen: string[] = [];
    breaker.once('fire', () => seen.push('once'));
    breaker.prependListener('fire', () => seen.push('prepend'));
    const off = (): number => seen.push('off');
    breaker.on('fire', off);
    await breaker.fire('ok');
    breaker.off('fire', off);
    await breaker.fire('ok');
    expect(seen).toEqual(['prepend', 'once', 'off', 'prepend']);
    breaker.removeAllListeners();
    await breaker.fire('ok');
    expect(seen).toHaveLength(4);
  });

  it('keeps its statistics when a user removes every listener (unlike opossum)', async () => {
    const { breaker } = makeBreaker();
    breaker.removeAllListeners();
    await breaker.fire('ok');
    expect(breaker.stats.successes).toBe(1);
  });

  it('reports state changes through onStateChange until disposed', async () => {
    const { breaker, clock } = makeBreaker({ resetTimeout: 10 });
    const changes: string[] = [];
    const subscription = breaker.onStateChange(({ from, to }) => changes.push(`${from}->${to}`));
    breaker.open();
    clock.advance(10);
    await breaker.fire('ok');
    subscription.dispose();
    breaker.open();
    expect(changes).toEqual(['closed->open', 'open->halfOpen', 'halfOpen->closed']);
  });

  it('rejects the caller with the error of a throwing success listener instead of hanging', async () => {
    const { breaker } = makeBreaker();
    const listenerError = new Error('listener bug');
    breaker.on('success', () => {
      throw listenerError;
    });
    await expect(breaker.fire('ok')).rejects.toBe(listenerError);
    expect(breaker.stats.successes).toBe(1);
  });
});

describe('CircuitBreaker: toJSON and initial state', () => {
  it('serialises state and stats in opossum shape', async () => {
    const { breaker, clock } = makeBreaker({ name: 'users' });
    await breaker.fire('ok');
    breaker.open();
    const json = breaker.toJSON();
    expect(json.state).toEqual({
      name: 'users',
      enabled: true,
      closed: false,
      open: true,
      halfOpen: false,
      warmUp: false,
      shutdown: false,
      lastTimerAt: clock.now(),
    });
    expect(json.status.fires).toBe(1);
    expect(JSON.parse(JSON.stringify(json)).state.open).toBe(true);
  });

  it('restores an open breaker whose reset time has passed as half-open', () => {
    const clock = createManualClock(10_000);
    const state = { closed: false, open: true, halfOpen: false, lastTimerAt: 1000 };
    const breaker = new CircuitBreaker(async () => 'x', { clock, resetTimeout: 1000, state });
    expect(breaker.halfOpen).toBe(true);
    expect(breaker.pendingClose).toBe(true);
  });

  it('restores the opossum way: closed unless closed is false, disabled and shut down states too', () => {
    expect(new CircuitBreaker(async () => 1, { state: {} }).closed).toBe(true);
    expect(new CircuitBreaker(async () => 1, { state: { closed: false, halfOpen: true } }).halfOpen).toBe(true);
    expect(new CircuitBreaker(async () => 1, { state: { enabled: false } }).enabled).toBe(false);
    expect(new CircuitBreaker(async () => 1, { state: { shutdown: true } }).isShutdown).toBe(true);
  });

  it('starts from counters given as status (a plain stats object or a Status)', async () => {
    const fromStats = new CircuitBreaker(async () => 1, { status: { fires: 10, failures: 6 } as never, timeout: false });
    expect(fromStats.stats.fires).toBe(10);
    const status = CircuitBreaker.newStatus({ stats: { fires: 3, successes: 3 } as never });
    const fromStatus = new CircuitBreaker(async () => 1, { status, timeout: false });
    expect(fromStatus.status).toBe(status);
    expect(fromStatus.stats.successes).toBe(3);
    fromStats.shutdown();
    fromStatus.shutdown();
  });
});

describe('CircuitBreaker: snapshot', () => {
  it('summarises state, counters and the next attempt time', async () => {
    const { breaker, clock } = makeBreaker({ resetTimeout: 3000, name: 'eu' });
    await breaker.fire('ok');
    await breaker.fire('fail').catch(() => {});
    await breaker.fire('fail').catch(() => {});
    expect(breaker.opened).toBe(true);
    const snap = breaker.snapshot();
    expect(snap).toMatchObject({
      name: 'eu',
      state: 'open',
      enabled: true,
      inFlight: 0,
      openedAt: clock.now(),
      nextAttemptAt: clock.now() + 3000,
      stats: { fires: 3, successes: 1, failures: 2, rejects: 0 },
    });
    expect(snap.stats.errorRate).toBeCloseTo(66.67, 1);
  });
});
