import { createManualClock } from '@edgekit/core/testing';
import { createOutlierDetector } from '@edgekit/balancer';
import { describe, expect, it } from 'vitest';

const ids = (n: number): string[] => Array.from({ length: n }, (_, i) => `e${i}`);

describe('outlier detection', () => {
  it('ejects after 5 consecutive 5xx, not after 4 or when a success intervenes', async () => {
    const clock = createManualClock();
    const detector = createOutlierDetector({ clock, maxEjectionPercent: 50 });
    detector.setEndpoints(ids(3));
    for (let i = 0; i < 4; i++) detector.record('e0', { status: 500 });
    detector.record('e0', { status: 200 });
    for (let i = 0; i < 4; i++) detector.record('e0', { status: 503 });
    expect(detector.isEjected('e0')).toBe(false);
    const events: unknown[] = [];
    detector.on('eject', (e) => events.push(e));
    detector.record('e0', { error: true });
    expect(detector.isEjected('e0')).toBe(true);
    expect(events).toEqual([{ id: 'e0', reason: 'consecutive-5xx', ejections: 1, until: 30_000 }]);
    await detector.close();
  });

  it('ejects on consecutive gateway failures when enabled; a 500 resets that count', async () => {
    const clock = createManualClock();
    const detector = createOutlierDetector({ clock, consecutive5xx: 0, consecutiveGatewayFailure: 3, maxEjectionPercent: 50 });
    detector.setEndpoints(ids(2));
    detector.record('e0', { status: 502 });
    detector.record('e0', { status: 504 });
    detector.record('e0', { status: 500 });
    detector.record('e0', { status: 503 });
    expect(detector.isEjected('e0')).toBe(false);
    detector.record('e0', { error: true });
    detector.record('e0', { status: 502 });
    expect(detector.isEjected('e0')).toBe(true);
    await detector.close();
  });

  it('returns an endpoint after the ejection time, and each repeat ejection lasts longer up to the maximum', async () => {
    const clock = createManualClock();
    const detector = createOutlierDetector({ clock, baseEjectionTime: 1000, maxEjectionTime: 2500, interval: 60_000 });
    detector.setEndpoints(ids(1));
    const fail = (): void => {
      for (let i = 0; i < 5; i++) detector.record('e0', { status: 500 });
    };
    const durations: number[] = [];
    for (let round = 0; round < 3; round++) {
      fail();
      const start = clock.now();
      expect(detector.isEjected('e0')).toBe(true);
      clock.advance(detector.state('e0')!.ejectedUntil! - start - 1);
      expect(detector.isEjected('e0')).toBe(true);
      clock.advance(1);
      expect(detector.isEjected('e0')).toBe(false);
      durations.push(clock.now() - start);
    }
    expect(durations).toEqual([1000, 2000, 2500]);
    await detector.close();
  });

  it('lets the multiplier decay by one per interval without ejection', async () => {
    const clock = createManualClock();
    const detector = createOutlierDetector({ clock, baseEjectionTime: 1000, interval: 10_000 });
    detector.setEndpoints(ids(1));
    for (let i = 0; i < 5; i++) detector.record('e0', { status: 500 });
    clock.advance(1000);
    expect(detector.state('e0')!.ejections).toBe(1);
    clock.advance(9000); // first interval tick: not ejected, multiplier decays
    expect(detector.state('e0')!.ejections).toBe(0);
    for (let i = 0; i < 5; i++) detector.record('e0', { status: 500 });
    expect(detector.state('e0')!.ejectedUntil! - clock.now()).toBe(1000);
    await detector.close();
  });

  it('never ejects more than maxEjectionPercent, but always allows one', async () => {
    const clock = createManualClock();
    const detector = createOutlierDetector({ clock, maxEjectionPercent: 10 });
    detector.setEndpoints(ids(4));
    for (const id of ids(4)) for (let i = 0; i < 5; i++) detector.record(id, { status: 500 });
    expect(detector.ejected()).toEqual(['e0']);
    await detector.close();

    const wide = createOutlierDetector({ clock, maxEjectionPercent: 50 });
    wide.setEndpoints(ids(4));
    for (const id of ids(4)) for (let i = 0; i < 5; i++) wide.record(id, { status: 500 });
    expect(wide.ejected()).toEqual(['e0', 'e1']);
    await wide.close();
  });

  it('ejects a success-rate outlier at the interval, with enough hosts and volume', async () => {
    const clock = createManualClock();
    const detector = createOutlierDetector({ clock, consecutive5xx: 0, interval: 10_000, maxEjectionPercent: 20 });
    detector.setEndpoints(ids(6));
    for (const id of ids(6)) {
      for (let i = 0; i < 200; i++) detector.record(id, { status: id === 'e3' && i % 4 === 0 ? 500 : 200 });
    }
    expect(detector.isEjected('e3')).toBe(false);
    const reasons: string[] = [];
    detector.on('eject', (e) => reasons.push(`${e.id}:${e.reason}`));
    clock.advance(10_000);
    expect(reasons).toEqual(['e3:success-rate']);
    await detector.close();
  });

  it('skips the success-rate check below the minimum hosts or volume', async () => {
    const clock = createManualClock();
    const detector = createOutlierDetector({ clock, consecutive5xx: 0, interval: 10_000, maxEjectionPercent: 100 });
    detector.setEndpoints(ids(4));
    for (const id of ids(4)) for (let i = 0; i < 200; i++) detector.record(id, { status: id === 'e3' ? 500 : 200 });
    clock.advance(10_000);
    expect(detector.ejected()).toEqual([]);
    await detector.close();
  });

  it('forgets endpoints removed from the set and frees their ejection slot', async () => {
    const clock = createManualClock();
    const detector = createOutlierDetector({ clock, maxEjectionPercent: 10 });
    detector.setEndpoints(ids(3));
    for (let i = 0; i < 5; i++) detector.record('e0', { status: 500 });
    detector.setEndpoints(['e1', 'e2']);
    expect(detector.state('e0')).toBeUndefined();
    for (let i = 0; i < 5; i++) detector.record('e1', { status: 500 });
    expect(detector.ejected()).toEqual(['e1']);
    await detector.close();
    expect(clock.pendingTimers()).toBe(0);
  });

  it('rejects bad options with the option named', () => {
    expect(() => createOutlierDetector({ consecutive5xx: -1 })).toThrow(/consecutive5xx/);
    expect(() => createOutlierDetector({ maxEjectionPercent: 101 })).toThrow(/maxEjectionPercent/);
    expect(() => createOutlierDetector({ baseEjectionTime: 10_000, maxEjectionTime: 5000 })).toThrow(/maxEjectionTime/);
    expect(() => createOutlierDetector('x' as never)).toThrow(TypeError);
  });
});
