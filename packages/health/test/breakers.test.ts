import { createBreakerRegistry } from '@edgekit/breaker';
import { createManualClock } from '@edgekit/core/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { createHealthChecker, linkBreakers } from '../src/index.js';

const cleanup: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
});

function setup(options: { holdOpen?: boolean; openOnUnhealthy?: boolean } = {}) {
  const clock = createManualClock();
  const health = { eu: true };
  const checker = createHealthChecker({
    targets: [{ name: 'eu' }],
    probe: ({ name }) => health[name as 'eu'],
    unhealthyThreshold: 2,
    healthyThreshold: 2,
    clock,
  });
  const registry = createBreakerRegistry({ defaults: { resetTimeout: 10_000 }, clock });
  const link = linkBreakers(checker, registry, options);
  cleanup.push(async () => {
    link.dispose();
    await checker.close();
    await registry.close();
  });
  return { clock, health, checker, registry, link };
}

describe('linkBreakers', () => {
  it('opens the breaker of a region whose checks fail, so a proxy gets no permit for it', async () => {
    const { health, checker, registry } = setup();
    await checker.checkNow();
    expect(registry.get('eu').tryAcquire()).toBeDefined();
    health.eu = false;
    await checker.checkNow();
    expect(registry.get('eu').opened).toBe(false); // one failed check is not enough
    await checker.checkNow();
    expect(registry.get('eu').opened).toBe(true);
    expect(registry.get('eu').tryAcquire()).toBeUndefined();
  });

  it('never closes a breaker that real traffic opened, even while checks pass', async () => {
    const { checker, registry } = setup({ holdOpen: true });
    registry.get('eu').open(); // real requests failed
    await checker.checkNow();
    await checker.checkNow();
    expect(checker.isHealthy('eu')).toBe(true);
    expect(registry.get('eu').opened).toBe(true);
  });

  it('with holdOpen, re-opens a breaker that went half-open while the region still fails its checks', async () => {
    const { clock, health, checker, registry } = setup({ holdOpen: true });
    health.eu = false;
    await checker.checkNow();
    expect(registry.get('eu').opened).toBe(true);
    clock.advance(10_000);
    expect(registry.get('eu').halfOpen).toBe(true);
    await checker.checkNow();
    expect(registry.get('eu').opened).toBe(true);
  });

  it('without holdOpen, leaves the half-open trial to real traffic', async () => {
    const { clock, health, checker, registry } = setup();
    health.eu = false;
    await checker.checkNow();
    clock.advance(10_000);
    await checker.checkNow();
    expect(registry.get('eu').halfOpen).toBe(true);
  });

  it('maps names with keyOf and stops after dispose', async () => {
    const clock = createManualClock();
    const opened: string[] = [];
    const checker = createHealthChecker({ targets: [{ name: 'eu' }, { name: 'us' }], probe: () => false, clock });
    cleanup.push(() => checker.close());
    const link = linkBreakers(checker, { get: (key) => ({ open: () => opened.push(key) }) }, { keyOf: (name) => `region:${name}` });
    await checker.checkNow();
    expect(opened.sort()).toEqual(['region:eu', 'region:us']);
    link.dispose();
    checker.setTargets([{ name: 'ap' }]);
    await checker.checkNow();
    expect(opened).toHaveLength(2);
  });
});
