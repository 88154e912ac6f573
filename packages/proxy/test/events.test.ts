import { createManualClock } from '@edgekit/core/testing';
import type { GeoLocation } from '@edgekit/geo';
import { type ForwarderEvents, createForwarder } from '@edgekit/proxy';
import { afterEach, describe, expect, it } from 'vitest';
import { send, startFront, startUpstream } from './helpers.js';

const cleanup: Array<() => Promise<void>> = [];
afterEach(async () => {
  while (cleanup.length > 0) await cleanup.pop()!();
});

const PARIS: GeoLocation = { country: 'FR', continent: 'EU', lat: 48.86, lon: 2.35, source: 'custom' };

describe('events', () => {
  it('reports the decision, each attempt, the failover and the response in order', async () => {
    const eu = await startUpstream('eu', { kind: 'reset' });
    const us = await startUpstream('us');
    cleanup.push(() => eu.close(), () => us.close());
    const clock = createManualClock(5_000);
    const forwarder = createForwarder({ regions: [eu.region(), us.region()], locate: () => PARIS, clock });
    const log: Array<[keyof ForwarderEvents, unknown]> = [];
    for (const name of ['decision', 'skip', 'attempt', 'failover', 'hedge', 'budgetExhausted', 'response', 'error', 'abort'] as const) {
      forwarder.on(name, (event: unknown) => log.push([name, event]));
    }
    const front = await startFront(forwarder);
    cleanup.push(async () => {
      await front.close();
      await forwarder.close();
    });
    await send(`${front.url}/x`);
    expect(log).toEqual([
      ['decision', { service: undefined, method: 'GET', clientIp: '127.0.0.1', location: PARIS, reason: 'nearest', candidates: ['eu', 'us'], skipped: [], healthIgnored: false, panic: false, region: 'eu', endpoint: undefined }],
      ['attempt', { region: 'eu', attempt: 1, hedge: false }],
      ['failover', { from: 'eu', to: 'us', reason: 'reset' }],
      ['attempt', { region: 'us', attempt: 2, hedge: false }],
      ['response', { method: 'GET', region: 'us', status: 200, attempts: 2, durationMs: 0, ttfbMs: 0 }],
    ]);
  });

  it('reports a final failure as an error event with the regions tried', async () => {
    const eu = await startUpstream('eu');
    await eu.kill();
    const forwarder = createForwarder({ regions: [eu.region()] });
    const errors: Array<{ status: number; code: string; regionsTried: string[] }> = [];
    forwarder.on('error', (e) => errors.push(e));
    const front = await startFront(forwarder);
    cleanup.push(async () => {
      await front.close();
      await forwarder.close();
    });
    await send(`${front.url}/x`);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({ status: 502, code: 'EUPSTREAM', regionsTried: ['eu'] });
  });

  it('keeps forwarding when a listener throws, and stops calling a disposed listener', async () => {
    const eu = await startUpstream('eu');
    cleanup.push(() => eu.close());
    const forwarder = createForwarder({ regions: [eu.region()] });
    const warnings: unknown[] = [];
    const onWarning = (w: unknown): void => void warnings.push(w);
    process.on('warning', onWarning);
    cleanup.push(async () => void process.off('warning', onWarning));
    forwarder.on('attempt', () => {
      throw new Error('listener bug');
    });
    let responses = 0;
    const subscription = forwarder.on('response', () => responses++);
    const front = await startFront(forwarder);
    cleanup.push(async () => {
      await front.close();
      await forwarder.close();
    });
    expect((await send(`${front.url}/a`)).status).toBe(200);
    subscription.dispose();
    expect((await send(`${front.url}/b`)).status).toBe(200);
    expect(responses).toBe(1);
  });
});
