import { createManualClock } from '@edgekit/core/testing';
import fc from 'fast-check';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { type HealthChangeEvent, type HealthChecker, type ProbeEvent, createHealthChecker } from '../src/index.js';
import { type Upstream, startUpstream } from './upstream.js';

const wait = { timeout: 10_000, interval: 5 };
const cleanup: Array<() => Promise<void>> = [];

afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
});

async function upstream(routes: Parameters<typeof startUpstream>[0]): Promise<Upstream> {
  const up = await startUpstream(routes);
  cleanup.push(() => up.close());
  return up;
}

function track(checker: HealthChecker): HealthChecker {
  cleanup.push(() => checker.close());
  return checker;
}

describe('createHealthChecker: concurrency', () => {
  it('settles a fast region while a probe of another region still hangs', async () => {
    const up = await upstream({ '/fast': { status: 200 }, '/slow': { hang: true } });
    const clock = createManualClock();
    const checker = track(
      createHealthChecker({
        // The hanging region comes first: a loop that awaited each target in turn would block on it.
        targets: [
          { name: 'slow', url: up.url, path: '/slow' },
          { name: 'fast', url: up.url, path: '/fast' },
        ],
        clock,
        initialJitter: 0,
        jitter: 0,
        interval: 1_000,
        timeout: 60_000,
      }),
    );
    const changes: HealthChangeEvent[] = [];
    checker.on('change', (event) => changes.push(event));

    clock.advance(0);
    await vi.waitFor(() => expect(checker.state('fast')).toBe('healthy'), wait);
    expect(changes.map((e) => e.name)).toEqual(['fast']);
    expect(checker.state('slow')).toBe('unknown');
    expect(up.hanging).toBe(1);

    // The fast region keeps its own schedule; the slow one never gets a second, overlapping probe.
    clock.advance(1_000);
    await vi.waitFor(() => expect(checker.snapshot().fast?.checks).toBe(2), wait);
    expect(up.hits('/fast')).toBe(2);
    expect(up.hits('/slow')).toBe(1);
    expect(up.hanging).toBe(1);
  });

  it('reuses one keep-alive connection across probes of a target', async () => {
    const up = await upstream({ '/health': { status: 200 } });
    let connections = 0;
    up.server.on('connection', () => connections++);
    const clock = createManualClock();
    const checker = track(createHealthChecker({ targets: [{ name: 'eu', url: up.url }], clock, initialJitter: 0, jitter: 0, interval: 1_000 }));
    for (let probe = 1; probe <= 3; probe++) {
      await clock.advanceAsync(probe === 1 ? 0 : 1_000);
      await vi.waitFor(() => expect(checker.snapshot().eu?.checks).toBe(probe), wait);
    }
    expect(up.hits('/health')).toBe(3);
    expect(connections).toBe(1);
  });

  it('requests the target URL path followed by the probe path', async () => {
    const up = await upstream({ '/api/v1/healthz': { status: 200 } });
    const checker = track(createHealthChecker({ targets: [{ name: 'eu', url: `${up.url}/api/v1/` }], path: '/healthz', clock: createManualClock() }));
    await checker.checkNow();
    expect(up.hits('/api/v1/healthz')).toBe(1);
    expect(checker.state('eu')).toBe('healthy');
  });
});

describe('createHealthChecker: thresholds', () => {
  it('needs unhealthyThreshold consecutive failures to mark a region down and healthyThreshold passes to bring it back', async () => {
    const up = await upstream({ '/health': { status: 200 } });
    const checker = track(
      createHealthChecker({ targets: [{ name: 'eu', url: up.url }], healthyThreshold: 2, unhealthyThreshold: 3, clock: createManualClock() }),
    );
    const setStatus = (status: number): void => void up.routes.set('/health', { status });

    await checker.checkNow();
    expect(checker.state('eu')).toBe('healthy');

    setStatus(500);
    await checker.checkNow();
    expect(checker.isHealthy('eu')).toBe(true);
    await checker.checkNow();
    expect(checker.isHealthy('eu')).toBe(true);
    expect(checker.snapshot().eu?.consecutiveFailures).toBe(2);
    await checker.checkNow();
    expect(checker.isHealthy('eu')).toBe(false);
    expect(checker.state('eu')).toBe('unhealthy');

    setStatus(200);
    await checker.checkNow();
    expect(checker.isHealthy('eu')).toBe(false);
    setStatus(503);
    await checker.checkNow(); // a failure resets the run of passes
    setStatus(200);
    await checker.checkNow();
    expect(checker.isHealthy('eu')).toBe(false);
    await checker.checkNow();
    expect(checker.isHealthy('eu')).toBe(true);
  });

  it('treats a region with no result yet as healthy by default, and as unhealthy with unknownIsHealthy: false', async () => {
    const clock = createManualClock();
    const lenient = track(createHealthChecker({ targets: [{ name: 'eu', probe: () => true }], clock }));
    const strict = track(createHealthChecker({ targets: [{ name: 'eu', probe: () => true }], clock, unknownIsHealthy: false }));
    expect(lenient.state('eu')).toBe('unknown');
    expect(lenient.isHealthy('eu')).toBe(true);
    expect(strict.isHealthy('eu')).toBe(false);
    expect(lenient.isHealthy('not-watched')).toBe(true);
    expect(strict.isHealthy('not-watched')).toBe(false);
    await strict.checkNow();
    expect(strict.isHealthy('eu')).toBe(true);
  });

  it('settles an unknown region on its first result, in either direction', async () => {
    const clock = createManualClock();
    const checker = track(
      createHealthChecker({
        targets: [
          { name: 'up', probe: () => true },
          { name: 'down', probe: () => false },
        ],
        clock,
        healthyThreshold: 5,
        unhealthyThreshold: 5,
      }),
    );
    await checker.checkNow();
    expect(checker.state('up')).toBe('healthy');
    expect(checker.state('down')).toBe('unhealthy');
  });
});

describe('createHealthChecker: jitter and scheduling', () => {
  it('spreads first probes by a random per-target offset and adds random jitter to every interval', async () => {
    const up = await upstream({ '/a': { status: 200 }, '/b': { status: 200 }, '/c': { status: 200 } });
    const clock = createManualClock();
    // Offsets of a, b, c; then one draw per result, in the order results arrive (a, c, b).
    const draws = [0.1, 0.9, 0.5, 0.5, 0.99, 0];
    const checker = track(
      createHealthChecker({
        targets: ['a', 'b', 'c'].map((name) => ({ name, url: up.url, path: `/${name}` })),
        clock,
        interval: 1_000,
        initialJitter: 1_000,
        jitter: 400,
        random: () => draws.shift() ?? 0,
      }),
    );
    const checks = (name: string): number | undefined => checker.snapshot()[name]?.checks;

    clock.advance(150); // a is due at 100
    await vi.waitFor(() => expect(checks('a')).toBe(1), wait);
    expect([up.hits('/b'), up.hits('/c')]).toEqual([0, 0]);

    clock.advance(400); // now 550: c is due at 500
    await vi.waitFor(() => expect(checks('c')).toBe(1), wait);
    expect(up.hits('/b')).toBe(0);

    clock.advance(400); // now 950: b is due at 900
    await vi.waitFor(() => expect(checks('b')).toBe(1), wait);

    // a's result came at 150: next probe at 150 + 1000 + 0.5 * 400 = 1350.
    clock.advance(1_340 - 950);
    expect(up.hits('/a')).toBe(1);
    clock.advance(20);
    await vi.waitFor(() => expect(checks('a')).toBe(2), wait);
    expect([up.hits('/b'), up.hits('/c')]).toEqual([1, 1]);
  });

  it('starts every first probe at its random draw times initialJitter, within [0, initialJitter)', () => {
    const draw = fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true });
    fc.assert(
      fc.property(fc.array(draw, { minLength: 1, maxLength: 8 }), fc.integer({ min: 1, max: 60_000 }), (draws, initialJitter) => {
        const clock = createManualClock();
        const firstProbeAt = new Map<string, number>();
        const queue = [...draws];
        const checker = createHealthChecker({
          targets: draws.map((_, i) => ({ name: `r${i}` })),
          probe: ({ name }) => {
            if (!firstProbeAt.has(name)) firstProbeAt.set(name, clock.now());
            return new Promise(() => {});
          },
          initialJitter,
          timeout: 10 * initialJitter,
          random: () => queue.shift() ?? 0,
          clock,
        });
        clock.advance(initialJitter);
        draws.forEach((r, i) => {
          const at = firstProbeAt.get(`r${i}`);
          expect(at).toBe(r * initialJitter);
          expect(at).toBeLessThan(initialJitter);
        });
        void checker.close();
      }),
      { numRuns: 50 },
    );
  });

  it('probes again every interval, from the end of the previous probe', async () => {
    const clock = createManualClock();
    let calls = 0;
    const checker = track(
      createHealthChecker({
        targets: [{ name: 'eu', probe: () => void calls++ }],
        clock,
        interval: 1_000,
        initialJitter: 0,
        jitter: 0,
      }),
    );
    await clock.advanceAsync(0);
    expect(calls).toBe(1);
    await clock.advanceAsync(999);
    expect(calls).toBe(1);
    await clock.advanceAsync(1);
    expect(calls).toBe(2);
    await clock.advanceAsync(5_000);
    expect(calls).toBe(7);
    expect(checker.snapshot().eu?.checks).toBe(7);
  });
});

describe('createHealthChecker: timeout', () => {
  it('aborts a probe that outlives timeout: the server sees the socket close and the probe fails with ETIMEDOUT', async () => {
    const up = await upstream({ '/health': { hang: true } });
    const clock = createManualClock();
    const checker = track(createHealthChecker({ targets: [{ name: 'eu', url: up.url }], clock, timeout: 2_000, initialJitter: 0 }));
    const probes: ProbeEvent[] = [];
    checker.on('probe', (event) => probes.push(event));

    clock.advance(0);
    await vi.waitFor(() => expect(up.hanging).toBe(1), wait);
    clock.advance(1_999);
    expect(probes).toHaveLength(0);
    clock.advance(1);
    await vi.waitFor(() => expect(up.abortedByClient).toBe(1), wait);
    await vi.waitFor(() => expect(probes).toHaveLength(1), wait);
    expect(probes[0]).toMatchObject({ name: 'eu', ok: false, durationMs: 2_000, state: 'unhealthy' });
    expect(probes[0]?.error?.code).toBe('ETIMEDOUT');
    expect(checker.snapshot().eu?.lastErrorCode).toBe('ETIMEDOUT');
  });

  it('times out a custom probe that ignores its signal, and aborts that signal', async () => {
    const clock = createManualClock();
    let signal: AbortSignal | undefined;
    const checker = track(
      createHealthChecker({
        targets: [{ name: 'eu' }],
        probe: (context) => {
          signal = context.signal;
          return new Promise(() => {});
        },
        clock,
        timeout: 500,
        initialJitter: 0,
      }),
    );
    const result = checker.checkNow();
    await clock.advanceAsync(500);
    const snapshot = await result;
    expect(snapshot.eu).toMatchObject({ state: 'unhealthy', lastErrorCode: 'ETIMEDOUT' });
    expect(signal?.aborted).toBe(true);
  });
});

describe('createHealthChecker: custom probes', () => {
  it('passes a custom probe unless it returns false or throws, and gives it the target and a signal', async () => {
    const results: unknown[] = ['PONG', false, new Error('connection refused'), undefined];
    const seen: Array<{ name: string; url: string | undefined; signal: boolean }> = [];
    const checker = track(
      createHealthChecker({
        targets: [{ name: 'redis-eu', url: 'http://10.0.0.1:6379' }],
        probe: async (context) => {
          seen.push({ name: context.name, url: context.url, signal: context.signal instanceof AbortSignal });
          const result = results.shift();
          if (result instanceof Error) throw result;
          return result;
        },
        unhealthyThreshold: 1,
        healthyThreshold: 1,
        clock: createManualClock(),
      }),
    );
    expect((await checker.checkNow())['redis-eu']?.state).toBe('healthy');
    expect((await checker.checkNow())['redis-eu']).toMatchObject({ state: 'unhealthy', lastErrorCode: 'EPROBEFAILED' });
    expect((await checker.checkNow())['redis-eu']).toMatchObject({ state: 'unhealthy', lastError: 'redis-eu: connection refused' });
    expect((await checker.checkNow())['redis-eu']?.state).toBe('healthy');
    expect(seen[0]).toEqual({ name: 'redis-eu', url: 'http://10.0.0.1:6379', signal: true });
  });

  it('fails a probe that throws a non-error value, and keeps probing it', async () => {
    const clock = createManualClock();
    let calls = 0;
    const checker = track(
      createHealthChecker({
        targets: [{ name: 'eu' }],
        probe: () => {
          calls++;
          throw undefined;
        },
        clock,
        interval: 1_000,
        initialJitter: 0,
        jitter: 0,
      }),
    );
    expect((await checker.checkNow()).eu).toMatchObject({ state: 'unhealthy', lastErrorCode: 'EPROBEFAILED', lastError: 'eu: undefined' });
    await clock.advanceAsync(1_000);
    expect(calls).toBe(2);
  });

  it('lets a target probe override the checker probe and the HTTP probe', async () => {
    const up = await upstream({ '/health': { status: 500 } });
    const checker = track(
      createHealthChecker({
        targets: [
          { name: 'http', url: up.url },
          { name: 'own', url: up.url, probe: () => true },
        ],
        clock: createManualClock(),
      }),
    );
    await checker.checkNow();
    expect(checker.state('http')).toBe('unhealthy');
    expect(checker.state('own')).toBe('healthy');
    expect(up.hits('/health')).toBe(1);
  });
});

describe('createHealthChecker: events', () => {
  it('emits change on every state change with the previous state, the reason and the consecutive counts', async () => {
    const up = await upstream({ '/health': { status: 200 } });
    const clock = createManualClock(1_000);
    const checker = track(createHealthChecker({ targets: [{ name: 'eu', url: up.url }], unhealthyThreshold: 2, healthyThreshold: 2, clock }));
    const changes: HealthChangeEvent[] = [];
    checker.on('change', (event) => changes.push(event));

    await checker.checkNow();
    up.routes.set('/health', { status: 503 });
    await checker.checkNow();
    await checker.checkNow();
    up.routes.set('/health', { status: 200 });
    await checker.checkNow();
    await checker.checkNow();

    expect(changes).toHaveLength(3);
    expect(changes[0]).toMatchObject({ name: 'eu', healthy: true, state: 'healthy', previous: 'unknown', reason: 'first probe passed', at: 1_000 });
    expect(changes[1]).toMatchObject({
      name: 'eu',
      healthy: false,
      state: 'unhealthy',
      previous: 'healthy',
      consecutiveFailures: 2,
      consecutiveSuccesses: 0,
    });
    expect(changes[1]?.reason).toMatch(/status 503 is not one of 200-399 \(2 consecutive failures\)/);
    expect(changes[1]?.error?.code).toBe('EBADSTATUS');
    expect(changes[2]).toMatchObject({ healthy: true, previous: 'unhealthy', consecutiveSuccesses: 2, reason: '2 consecutive probes passed' });
  });

  it('emits probe after every probe with the outcome, status and duration', async () => {
    const up = await upstream({ '/health': { status: 204 } });
    const checker = track(createHealthChecker({ targets: [{ name: 'eu', url: up.url }], clock: createManualClock() }));
    const probes: ProbeEvent[] = [];
    const subscription = checker.on('probe', (event) => probes.push(event));
    await checker.checkNow();
    up.routes.set('/health', { status: 500 });
    await checker.checkNow();
    subscription.dispose();
    await checker.checkNow();
    expect(probes).toHaveLength(2);
    expect(probes[0]).toMatchObject({ name: 'eu', ok: true, status: 204, error: undefined, healthy: true, durationMs: 0 });
    expect(probes[1]).toMatchObject({ name: 'eu', ok: false, status: 500, healthy: true, state: 'healthy' });
    expect(probes[1]?.error?.code).toBe('EBADSTATUS');
  });

  it('keeps probing when a listener throws', async () => {
    const errors: unknown[] = [];
    const checker = track(
      createHealthChecker({
        targets: [{ name: 'eu', probe: () => true }],
        clock: createManualClock(),
        onListenerError: (error) => errors.push(error),
      }),
    );
    checker.on('change', () => {
      throw new Error('listener bug');
    });
    await checker.checkNow();
    await checker.checkNow();
    expect(checker.snapshot().eu?.checks).toBe(2);
    expect(errors).toHaveLength(1);
  });
});

describe('createHealthChecker: setTargets', () => {
  it('keeps unchanged targets, starts new ones and aborts the probe of a removed one', async () => {
    const up = await upstream({ '/a': { status: 200 }, '/b': { hang: true }, '/c': { status: 200 } });
    const clock = createManualClock();
    const checker = track(
      createHealthChecker({
        targets: [
          { name: 'a', url: up.url, path: '/a' },
          { name: 'b', url: up.url, path: '/b' },
        ],
        clock,
        initialJitter: 0,
        timeout: 60_000,
      }),
    );
    clock.advance(0);
    await vi.waitFor(() => expect(checker.state('a')).toBe('healthy'), wait);
    await vi.waitFor(() => expect(up.hanging).toBe(1), wait);

    checker.setTargets([
      { name: 'a', url: up.url, path: '/a' },
      { name: 'c', url: up.url, path: '/c' },
    ]);
    expect(checker.names()).toEqual(['a', 'c']);
    expect(checker.state('a')).toBe('healthy');
    expect(checker.snapshot().a?.checks).toBe(1);
    expect(checker.state('b')).toBeUndefined();
    expect(checker.state('c')).toBe('unknown');
    await vi.waitFor(() => expect(up.abortedByClient).toBe(1), wait);
    // a's next probe and c's first one; nothing left of b.
    await vi.waitFor(() => expect(clock.pendingTimers()).toBe(2), wait);

    clock.advance(0);
    await vi.waitFor(() => expect(checker.state('c')).toBe('healthy'), wait);
    expect(up.hits('/a')).toBe(1);
  });

  it('restarts a target whose URL or path changed', async () => {
    const up = await upstream({ '/a': { status: 200 }, '/a2': { status: 200 } });
    const checker = track(createHealthChecker({ targets: [{ name: 'a', url: up.url, path: '/a' }], clock: createManualClock() }));
    await checker.checkNow();
    checker.setTargets([{ name: 'a', url: up.url, path: '/a2' }]);
    expect(checker.state('a')).toBe('unknown');
    await checker.checkNow();
    expect(up.hits('/a2')).toBe(1);
  });

  it('rejects an invalid list and keeps the current targets', async () => {
    const checker = track(createHealthChecker({ targets: [{ name: 'a', probe: () => true }], clock: createManualClock() }));
    expect(() => checker.setTargets([{ name: 'a', probe: () => true }, { name: 'b' }])).toThrow(/targets\[1\]\.url/);
    expect(() => checker.setTargets([{ name: 'a', probe: () => true }, { name: 'a', probe: () => true }])).toThrow(/targets\[1\]\.name/);
    expect(checker.names()).toEqual(['a']);
  });

  it('adds and removes single targets', async () => {
    const checker = track(createHealthChecker({ targets: [{ name: 'a', probe: () => true }], clock: createManualClock() }));
    checker.addTarget({ name: 'b', probe: () => false });
    expect(() => checker.addTarget({ name: 'b', probe: () => true })).toThrow(/repeats the target name "b"/);
    await checker.checkNow();
    expect(checker.state('b')).toBe('unhealthy');
    expect(checker.removeTarget('b')).toBe(true);
    expect(checker.removeTarget('b')).toBe(false);
    expect(checker.names()).toEqual(['a']);
    expect(checker.state('a')).toBe('healthy');
  });
});

describe('createHealthChecker: close', () => {
  it('stops every timer, aborts probes in flight and closes its connections', async () => {
    const up = await upstream({ '/a': { status: 200 }, '/b': { hang: true } });
    const clock = createManualClock();
    const checker = createHealthChecker({
      targets: [
        { name: 'a', url: up.url, path: '/a' },
        { name: 'b', url: up.url, path: '/b' },
      ],
      clock,
      initialJitter: 0,
      timeout: 60_000,
    });
    const probes: ProbeEvent[] = [];
    checker.on('probe', (event) => probes.push(event));
    clock.advance(0);
    await vi.waitFor(() => expect(checker.state('a')).toBe('healthy'), wait);
    await vi.waitFor(() => expect(up.hanging).toBe(1), wait);
    expect(await up.connections()).toBe(2);

    await checker.close();
    expect(checker.closed).toBe(true);
    expect(clock.pendingTimers()).toBe(0);
    await vi.waitFor(() => expect(up.abortedByClient).toBe(1), wait);
    await vi.waitFor(async () => expect(await up.connections()).toBe(0), wait);
    expect(probes).toHaveLength(1);
    await expect(checker.checkNow()).rejects.toMatchObject({ code: 'ECLOSED' });
    expect(() => checker.setTargets([])).toThrow(/after close/);
    await checker.close(); // idempotent
    expect(checker.state('a')).toBe('healthy');
  });

  it('supports await using', async () => {
    const clock = createManualClock();
    {
      await using checker = createHealthChecker({ targets: [{ name: 'a', probe: () => true }], clock });
      expect(checker.names()).toEqual(['a']);
      expect(clock.pendingTimers()).toBe(1);
    }
    expect(clock.pendingTimers()).toBe(0);
  });
});
