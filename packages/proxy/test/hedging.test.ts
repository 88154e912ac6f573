import type http from 'node:http';
import { createBreakerRegistry } from '@edgekit/breaker';
import { createManualClock } from '@edgekit/core/testing';
import { type Forwarder, type ForwarderOptions, createForwarder } from '@edgekit/proxy';
import { afterEach, describe, expect, it } from 'vitest';
import { type Upstream, send, startFront, startUpstream, waitFor } from './helpers.js';

const cleanup: Array<() => Promise<void>> = [];
afterEach(async () => {
  while (cleanup.length > 0) await cleanup.pop()!();
});

/** An upstream that holds every request until `release()`. */
async function heldUpstream(name: string): Promise<Upstream & { held: http.ServerResponse[]; release(): void }> {
  const held: http.ServerResponse[] = [];
  const upstream = await startUpstream(name, {
    kind: 'custom',
    handle: (req, res) => {
      req.resume();
      held.push(res);
    },
  });
  cleanup.push(() => upstream.close());
  return Object.assign(upstream, {
    held,
    release() {
      for (const res of held.splice(0)) res.end(JSON.stringify({ region: name }));
    },
  });
}

async function setup(options: Partial<ForwarderOptions> & { regions: ForwarderOptions['regions'] }): Promise<{ url: string; forwarder: Forwarder }> {
  const forwarder = createForwarder(options);
  const front = await startFront(forwarder);
  cleanup.push(async () => {
    await front.close();
    await forwarder.close();
  });
  return { url: front.url, forwarder };
}

describe('hedging', () => {
  it('sends a copy of a slow GET to the next region after the delay, keeps the first answer and aborts the loser', async () => {
    const eu = await heldUpstream('eu');
    const us = await startUpstream('us');
    cleanup.push(() => us.close());
    const clock = createManualClock();
    const breakers = createBreakerRegistry({ clock, defaults: { timeout: false } });
    cleanup.push(() => breakers.close());
    const { url, forwarder } = await setup({ regions: [eu.region(), us.region()], clock, breakers, hedge: { delay: 50 } });
    const hedges: unknown[] = [];
    forwarder.on('hedge', (e) => hedges.push(e));
    const pending = send(`${url}/slow`);
    await waitFor(() => eu.received.length === 1, 10_000, 'the first attempt');
    expect(us.received).toHaveLength(0);
    clock.advance(49);
    expect(us.received).toHaveLength(0);
    clock.advance(1);
    const reply = await pending;
    expect(reply.status).toBe(200);
    expect(reply.json().region).toBe('us');
    expect(hedges).toEqual([{ waiting: 'eu', to: 'us' }]);
    await waitFor(() => eu.closedSockets === 1, 10_000, 'the losing attempt to be aborted');
    // The loser's permit is released, not counted as a failure.
    expect(breakers.get('eu').snapshot()).toMatchObject({ inFlight: 0, stats: { failures: 0 } });
  });

  it('sends no copy when the first region answers within the delay', async () => {
    const eu = await startUpstream('eu');
    const us = await startUpstream('us');
    cleanup.push(() => eu.close(), () => us.close());
    const clock = createManualClock();
    const { url } = await setup({ regions: [eu.region(), us.region()], clock, hedge: { delay: 50 } });
    expect((await send(`${url}/fast`)).json().region).toBe('eu');
    clock.advance(1_000);
    expect(us.received).toHaveLength(0);
  });

  it('never hedges a POST', async () => {
    const eu = await heldUpstream('eu');
    const us = await startUpstream('us');
    cleanup.push(() => us.close());
    const clock = createManualClock();
    const { url } = await setup({ regions: [eu.region(), us.region()], clock, hedge: { delay: 50 } });
    const pending = send(`${url}/order`, { method: 'POST', body: 'once' });
    await waitFor(() => eu.received.length === 1, 10_000, 'the first attempt');
    clock.advance(1_000);
    eu.release();
    const reply = await pending;
    expect(reply.json().region).toBe('eu');
    expect(us.received).toHaveLength(0);
  });

  it('hedges only within the retry budget', async () => {
    const eu = await heldUpstream('eu');
    const us = await startUpstream('us');
    cleanup.push(() => us.close());
    const clock = createManualClock();
    const { url, forwarder } = await setup({ regions: [eu.region(), us.region()], clock, hedge: { delay: 50 }, retryBudget: { ratio: 0, minPerSecond: 0 } });
    const exhausted: unknown[] = [];
    forwarder.on('budgetExhausted', (e) => exhausted.push(e));
    const pending = send(`${url}/slow`);
    await waitFor(() => eu.received.length === 1, 10_000, 'the first attempt');
    clock.advance(50);
    expect(exhausted).toEqual([{ region: 'us', kind: 'hedge' }]);
    eu.release();
    expect((await pending).json().region).toBe('eu');
    expect(us.received).toHaveLength(0);
  });

  it('keeps waiting for the hedge when the first attempt fails meanwhile', async () => {
    const eu = await heldUpstream('eu');
    const us = await heldUpstream('us');
    const clock = createManualClock();
    const { url } = await setup({ regions: [eu.region(), us.region()], clock, hedge: { delay: 50 } });
    const pending = send(`${url}/slow`);
    await waitFor(() => eu.received.length === 1, 10_000, 'the first attempt');
    clock.advance(50);
    await waitFor(() => us.received.length === 1, 10_000, 'the hedge');
    for (const res of eu.held) res.socket?.destroy();
    // The request is still waiting on us; it answers.
    us.release();
    const reply = await pending;
    expect(reply.status).toBe(200);
    expect(reply.json().region).toBe('us');
  });
});
