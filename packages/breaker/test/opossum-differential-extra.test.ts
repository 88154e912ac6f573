/**
 * Differential scenarios found by fuzzing beyond the generated ones: timer order under fake timers,
 * option values opossum reports as given, snapshots with a rotateBucketController, fallback(null)
 * and the buckets' latencies without percentiles.
 */
import { EventEmitter } from 'node:events';
import { describe, expect, it } from 'vitest';
import { type Run, runBothFree } from './differential/both.js';
import { type ScenarioOptions, type Step, advance, fire, op, runBoth } from './differential/harness.js';

async function expectSameTrace(scenario: ScenarioOptions, steps: Step[]): Promise<void> {
  const { opossum, edgekit } = await runBoth(scenario, steps);
  expect(edgekit).toEqual(opossum);
}

async function expectSame(body: (run: Run) => Promise<void>): Promise<void> {
  const { opossum, edgekit } = await runBothFree(body);
  expect(edgekit).toEqual(opossum);
}

describe('differential: timer order under fake timers', () => {
  it('times a call out after a timer created earlier for the same time (no reused timer fires first)', async () => {
    await expectSameTrace({ options: { timeout: 50 } }, [fire('ok'), op('disable'), fire('ok', 50, 2), op('enable'), fire('hang', 0, 3), advance(50)]);
  });

  it('orders two breakers timing out at the same time as opossum', async () => {
    await expectSame(async ({ B, listen, advance }) => {
      const first = new B((x: string) => (x === 'hang' ? new Promise(() => {}) : Promise.resolve(x)), { name: 'first', timeout: 50 });
      const second = new B(() => new Promise(() => {}), { name: 'second', timeout: 50 });
      listen(first, ['timeout']);
      listen(second, ['timeout']);
      await first.fire('ok');
      second.fire().catch(() => {});
      first.fire('hang').catch(() => {});
      await advance(50);
      first.shutdown();
      second.shutdown();
    });
  });

  it('runs a healthCheck on an interval that keeps its place among timers due at the same time', async () => {
    await expectSame(async ({ B, log, listen, advance }) => {
      const breaker = new B((ms: number) => new Promise((resolve) => setTimeout(() => resolve(ms), ms)), { name: 'h', timeout: false });
      listen(breaker, ['success', 'healthCheckFailed', 'open']);
      let checks = 0;
      breaker.healthCheck(() => (++checks % 2 === 0 ? Promise.reject(new Error(`check ${checks}`)) : Promise.resolve()), 40);
      await advance(1);
      breaker.fire(199).then((value: unknown) => log('settled', Date.now(), value));
      await advance(250);
      breaker.shutdown();
    });
  });
});

describe('differential: option values opossum reports as given', () => {
  it.each([0.5, -5])('timeout %s: the ETIMEDOUT message and timing', async (timeout) => {
    await expectSameTrace({ options: { timeout } }, [fire('hang'), advance(5), fire('ok')]);
  });

  it('resetTimeout -5: the halfOpen event reports it', async () => {
    await expectSameTrace({ options: { resetTimeout: -5, timeout: false } }, [op('open'), advance(5), fire('ok')]);
  });
});

describe('differential: snapshots with a rotateBucketController', () => {
  it('are emitted on the interval from construction, not on rotate events', async () => {
    await expectSame(async ({ B, log, advance }) => {
      const controller = new EventEmitter();
      const options = { rotateBucketController: controller, rollingCountBuckets: 4, rollingCountTimeout: 100, timeout: false };
      const a = new B((x: unknown) => Promise.resolve(x), { ...options, name: 'a' });
      const b = new B(() => Promise.reject(new Error('x')), { ...options, name: 'b', errorThresholdPercentage: 100 });
      await a.fire(1);
      await b.fire().catch(() => {});
      await advance(37);
      a.status.on('snapshot', (stats: { fires: number }) => log('a', Date.now(), stats.fires));
      b.status.on('snapshot', (stats: { fires: number }) => log('b', Date.now(), stats.fires));
      controller.emit('rotate');
      await advance(30);
      a.disable();
      controller.emit('rotate');
      controller.emit('rotate');
      log(a.stats.fires, b.stats.fires, controller.listenerCount('rotate'));
      a.enable();
      await advance(100);
      a.shutdown();
      b.shutdown();
      log(controller.listenerCount('rotate'));
    });
  });
});

describe('differential: fallback and buckets', () => {
  it('fallback(null) removes the fallback', async () => {
    await expectSame(async ({ B, log, listen }) => {
      const breaker = new B(() => Promise.reject(new Error('x')), { name: 'f', timeout: false });
      listen(breaker);
      breaker.fallback(() => 'fallback');
      log(await breaker.fire());
      breaker.fallback(null);
      log(await breaker.fire().catch((error: Error) => error));
      breaker.fallback(undefined);
      log(await breaker.fire().catch((error: Error) => error));
      breaker.shutdown();
    });
  });

  it('keeps latencies in the buckets with rollingPercentilesEnabled: false (stats omit them)', async () => {
    await expectSame(async ({ B, log, advance }) => {
      const breaker = new B((ms: number) => new Promise((resolve) => setTimeout(() => resolve(ms), ms)), {
        name: 'p',
        rollingPercentilesEnabled: false,
        rollingCountBuckets: 3,
        rollingCountTimeout: 300,
      });
      breaker.fire(7);
      await advance(120);
      breaker.fire(3);
      await advance(3);
      log(breaker.status.window, breaker.stats);
      breaker.shutdown();
    });
  });
});

describe('differential: a window restored from exported stats', () => {
  it('shows the restored percentiles and mean in the first slice until it rotates out', async () => {
    await expectSame(async ({ B, log, advance }) => {
      const source = new B((x: number) => Promise.resolve(x), { rollingCountTimeout: 1_000, rollingCountBuckets: 4 });
      await source.fire(1);
      await advance(3);
      await source.fire(2);
      const saved = JSON.parse(JSON.stringify(source.toJSON().status));
      source.shutdown();
      const restored = new B((x: number) => Promise.resolve(x), { rollingCountTimeout: 1_000, rollingCountBuckets: 4, status: saved });
      log(restored.status.window, restored.stats);
      await restored.fire(3);
      log(restored.status.window[0]);
      await advance(250);
      log(restored.status.window);
      restored.shutdown();
    });
  });
});
