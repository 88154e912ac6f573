import { EventEmitter } from 'node:events';
import { createManualClock } from '@edgekit/core/testing';
import { describe, expect, it } from 'vitest';
import { CircuitBreaker, type Stats, Status } from '../src/index.js';

function breakerWithClock(options: Record<string, unknown> = {}) {
  const clock = createManualClock();
  let latency = 0;
  const breaker = new CircuitBreaker(
    (kind: 'ok' | 'fail') =>
      new Promise<string>((resolve, reject) => {
        clock.setTimeout(() => (kind === 'ok' ? resolve('ok') : reject(new Error('fail'))), latency);
      }),
    { clock, timeout: false, volumeThreshold: 1000, rollingCountTimeout: 1000, rollingCountBuckets: 4, ...options },
  );
  const run = async (kind: 'ok' | 'fail', ms: number): Promise<void> => {
    latency = ms;
    const pending = breaker.fire(kind).catch(() => {});
    await clock.advanceAsync(ms);
    await pending;
  };
  return { breaker, clock, run };
}

describe('Status: the rolling window', () => {
  it('slices the window into buckets, newest first, and drops the oldest as time passes', async () => {
    const { breaker, clock, run } = breakerWithClock();
    await run('ok', 0);
    clock.advance(250);
    await run('fail', 0);
    await run('fail', 0);
    const window = breaker.status.window;
    expect(window).toHaveLength(4);
    expect(window.map((b) => [b.fires, b.successes, b.failures])).toEqual([
      [2, 0, 2],
      [1, 1, 0],
      [0, 0, 0],
      [0, 0, 0],
    ]);
    clock.advance(750);
    expect(breaker.status.window.map((b) => b.fires)).toEqual([0, 0, 0, 2]);
    clock.advance(250);
    expect(breaker.stats.fires).toBe(0);
  });

  it('computes latency mean and percentiles the way opossum does', async () => {
    const { breaker, run } = breakerWithClock();
    for (const ms of [10, 20, 30, 40]) await run('ok', ms);
    const stats = breaker.stats;
    expect(stats.latencyTimes).toEqual([10, 20, 30, 40]);
    expect(stats.latencyMean).toBe(25);
    expect(stats.percentiles).toEqual({ 0: 10, 0.25: 10, 0.5: 20, 0.75: 30, 0.9: 40, 0.95: 40, 0.99: 40, 0.995: 40, 1: 40 });
  });

  it('reports -1 for latency when rollingPercentilesEnabled is false', async () => {
    const { breaker, run } = breakerWithClock({ rollingPercentilesEnabled: false });
    await run('ok', 10);
    expect(breaker.stats.latencyMean).toBe(-1);
    expect(breaker.stats.percentiles[0.5]).toBe(-1);
    expect(breaker.stats.latencyTimes).toEqual([]);
  });

  it('keeps at most latencySampleSize latency samples per bucket, each a real latency', async () => {
    const clock = createManualClock();
    const breaker = new CircuitBreaker(async (x: number) => x, { clock, timeout: false, latencySampleSize: 50 });
    for (let i = 0; i < 5000; i++) await breaker.fire(i);
    const samples = breaker.stats.latencyTimes;
    expect(samples).toHaveLength(50);
    expect(samples.every((ms) => ms === 0)).toBe(true);
    expect(breaker.stats.successes).toBe(5000);
  });

  it('marks the bucket in which the breaker opened or closed', () => {
    const { breaker, clock } = breakerWithClock();
    breaker.open();
    expect(breaker.status.window[0]?.isCircuitBreakerOpen).toBe(true);
    clock.advance(250);
    breaker.close();
    expect(breaker.status.window.map((b) => b.isCircuitBreakerOpen)).toEqual([false, true, undefined, undefined]);
  });

  it('emits a snapshot per bucket while someone listens', async () => {
    const { breaker, clock, run } = breakerWithClock();
    const snapshots: Stats[] = [];
    breaker.status.on('snapshot', (stats: Stats) => snapshots.push(stats));
    await run('ok', 0);
    clock.advance(500);
    expect(snapshots).toHaveLength(2);
    expect(snapshots[0]?.fires).toBe(1);
  });

  it('emits no snapshot with enableSnapshots: false', () => {
    const { breaker, clock } = breakerWithClock({ enableSnapshots: false });
    const snapshots: unknown[] = [];
    breaker.status.on('snapshot', (s) => snapshots.push(s));
    clock.advance(1000);
    expect(snapshots).toEqual([]);
  });

  it('advances without a timer, on slice boundaries aligned with its construction time', async () => {
    const { breaker, clock, run } = breakerWithClock();
    clock.advance(999);
    await run('ok', 0);
    expect(clock.pendingTimers()).toBe(0);
    expect(breaker.status.window[0]?.fires).toBe(1);
    clock.advance(1);
    expect(breaker.status.window[1]?.fires).toBe(1);
    clock.advance(9000);
    expect(breaker.stats.fires).toBe(0);
    expect(clock.pendingTimers()).toBe(0);
  });

  it('rotates on the rotateBucketController instead of the clock, and not while disabled', async () => {
    const controller = new EventEmitter();
    const { breaker, clock, run } = breakerWithClock({ rotateBucketController: controller });
    await run('ok', 0);
    clock.advance(5000);
    expect(breaker.stats.fires).toBe(1);
    for (let i = 0; i < 4; i++) controller.emit('rotate');
    expect(breaker.stats.fires).toBe(0);
    expect(controller.listenerCount('rotate')).toBe(1);
    breaker.disable();
    expect(controller.listenerCount('rotate')).toBe(0);
    breaker.enable();
    expect(controller.listenerCount('rotate')).toBe(1);
    breaker.shutdown();
    expect(controller.listenerCount('rotate')).toBe(0);
  });

  it('starts from saved counters', () => {
    const status = new Status({ stats: { fires: 5, failures: 2, latencyTimes: [3, 1] }, clock: createManualClock() });
    expect(status.stats).toMatchObject({ fires: 5, failures: 2, latencyTimes: [1, 3], latencyMean: 2 });
    expect(status.sum('fires')).toBe(5);
    status.shutdown();
  });
});
