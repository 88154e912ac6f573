import { createManualClock } from '@edgekit/core/testing';
import { describe, expect, it } from 'vitest';
import { ProgressWatch } from '../src/progress.js';

function watch(timeout: number, minRate: number) {
  const clock = createManualClock(0);
  let expired = 0;
  const w = new ProgressWatch(clock, timeout, minRate, () => expired++);
  return { clock, w, expired: () => expired };
}

describe('ProgressWatch', () => {
  it('expires after timeout without progress while waiting', () => {
    const { clock, w, expired } = watch(1_000, 0);
    w.wait();
    clock.advance(999);
    w.progress(1);
    clock.advance(999);
    expect(expired()).toBe(0);
    clock.advance(1);
    expect(expired()).toBe(1);
  });

  it('expires a client below minRate even when it is never idle for timeout', () => {
    const { clock, w, expired } = watch(1_000, 100);
    w.wait();
    // 1 byte every 500 ms: 2 bytes/s against 100 bytes/s; allowed 1 000 ms + 10 ms per byte.
    for (let i = 0; i < 2; i++) {
      clock.advance(500);
      w.progress(1);
    }
    expect(expired()).toBe(0);
    clock.advance(20);
    expect(expired()).toBe(1);
  });

  it('does not count time the proxy holds the client back', () => {
    const { clock, w, expired } = watch(1_000, 0);
    w.wait();
    clock.advance(600);
    w.progress(10);
    w.hold();
    clock.advance(60_000);
    expect(expired()).toBe(0);
    w.wait();
    clock.advance(999);
    expect(expired()).toBe(0);
    clock.advance(1);
    expect(expired()).toBe(1);
  });

  it('never fires once stopped', () => {
    const { clock, w, expired } = watch(1_000, 500);
    w.wait();
    w.stop();
    clock.advance(10_000);
    expect(expired()).toBe(0);
  });
});
