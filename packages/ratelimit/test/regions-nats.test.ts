import type { Bus } from '@edgekit/bus';
import { createNatsBus } from '@edgekit/bus/nats';
import { describeNats, useNatsSupercluster } from '@edgekit/test-utils';
import type { NatsConnection } from '@nats-io/nats-core';
import { connect } from '@nats-io/transport-node';
import { systemClock } from '@edgekit/core';
import { expect, it } from 'vitest';
import { type EdgeRateLimiter, createEdgeLimiter } from '../src/index.js';
import { onCleanup } from './helpers.js';

const REGIONS = ['us-east', 'eu-west', 'ap-south'] as const;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function regionBus(url: string, nodeId: string): Promise<Bus> {
  const nc: NatsConnection = await connect({ servers: url, maxReconnectAttempts: -1, reconnectTimeWait: 100, ignoreClusterUpdates: true });
  const bus = createNatsBus({ connection: nc, nodeId });
  onCleanup(async () => {
    await bus.close();
    await nc.close();
  });
  return bus;
}

describeNats('edge limiter across three regions of a NATS supercluster', () => {
  const cluster = useNatsSupercluster(Object.fromEntries(REGIONS.map((r) => [r, 1])));

  it('holds a global limit under load far beyond the allowed rate, within the overage bound', async () => {
    const limit = 300;
    // One long window that starts with the load (the limiters' clock is shifted to a window boundary),
    // so a stalled test process cannot carry the load into the next window.
    const window = 600_000;
    const syncInterval = 50;
    const startAt = Date.now() + 1_000;
    const clock = { ...systemClock, now: () => Date.now() - startAt + window * 1_000 };
    const limiters = new Map<string, EdgeRateLimiter>();
    for (const region of REGIONS) {
      const bus = await regionBus(cluster.current.urls(region)[0]!, `${region}-1`);
      const limiter = createEdgeLimiter({ bus, region, limit, window, syncInterval, algorithm: 'fixed-window', predict: false, clock });
      onCleanup(() => limiter.close());
      limiters.set(region, limiter);
    }
    // Interest in the channel crosses the gateways with the first messages: publish once before the window.
    for (const limiter of limiters.values()) limiter.limit('warm-up');
    await sleep(startAt - Date.now());

    const perTick = 3; // per region every 10 ms: up to 300/s each, far beyond the allowed rate
    let offered = 0;
    const allowed = new Map<string, number>(REGIONS.map((r) => [r, 0]));
    const startedAt = Date.now();
    while (Date.now() - startedAt < 2_000) {
      for (const [region, limiter] of limiters) {
        for (let i = 0; i < perTick; i++) {
          offered++;
          if (limiter.limit('tenant-42').allowed) allowed.set(region, allowed.get(region)! + 1);
        }
      }
      await sleep(10);
    }
    const elapsed = Date.now() - startedAt;
    const total = [...allowed.values()].reduce((a, b) => a + b, 0);
    // r: one region's offered rate; D: the bus's delivery time between regions, generous for a loaded machine.
    const r = offered / REGIONS.length / elapsed;
    const delivery = 250;
    const bound = (REGIONS.length - 1) * r * (syncInterval + delivery);
    const detail = `allowed per region ${JSON.stringify([...allowed])}, bound ${bound.toFixed(0)}`;
    expect(total, detail).toBeGreaterThanOrEqual(limit);
    expect(total - limit, detail).toBeLessThanOrEqual(bound);
    // Without the bus each region would admit the whole limit: 3x.
    expect(total, detail).toBeLessThan(limit * 2);
    for (const region of REGIONS) expect(allowed.get(region), detail).toBeGreaterThan(0);
  }, 60_000);
});
