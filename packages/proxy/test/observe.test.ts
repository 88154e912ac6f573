import type { IncomingMessage } from 'node:http';
import { createManualClock } from '@edgekit/core/testing';
import { type AttemptEnd, type RequestEnd, createForwarder } from '@edgekit/proxy';
import { afterEach, describe, expect, it } from 'vitest';
import { send, startFront, startUpstream } from './helpers.js';

const cleanup: Array<() => Promise<void>> = [];
afterEach(async () => {
  while (cleanup.length > 0) await cleanup.pop()!();
});

describe('forwarder.observe', () => {
  it('tells each request\'s observer its decision, attempts and end, and sets header fields per attempt', async () => {
    const eu = await startUpstream('eu', { kind: 'reset' });
    const us = await startUpstream('us');
    cleanup.push(() => eu.close(), () => us.close());
    const forwarder = createForwarder({ regions: [eu.region(), us.region()], clock: createManualClock(1_000) });
    const log: unknown[] = [];
    const requests: IncomingMessage[] = [];
    forwarder.observe((req) => {
      requests.push(req);
      return {
        decision: (event) => log.push(['decision', event.candidates]),
        attempt: (start) => {
          log.push(['attempt', start.region, start.attempt, start.method, start.path, start.origin]);
          return {
            headers: { traceparent: `attempt-${start.attempt}`, 'x-drop-me': undefined },
            end: (end: AttemptEnd) => log.push(['attempt-end', start.region, end.outcome, end.status]),
          };
        },
        end: (end: RequestEnd) => log.push(['end', end.type, end.type === 'response' ? end.event.region : undefined]),
      };
    });
    const front = await startFront(forwarder);
    cleanup.push(async () => {
      await front.close();
      await forwarder.close();
    });
    const reply = await send(`${front.url}/items?a=1`, { headers: { traceparent: 'from-client', 'x-drop-me': 'yes' } });
    expect(reply.status).toBe(200);
    expect(requests).toHaveLength(1);
    expect(requests[0]!.url).toBe('/items?a=1');
    expect(log).toEqual([
      ['decision', ['eu', 'us']],
      ['attempt', 'eu', 1, 'GET', '/items?a=1', eu.url],
      ['attempt-end', 'eu', 'failed', 0],
      ['attempt', 'us', 2, 'GET', '/items?a=1', us.url],
      ['attempt-end', 'us', 'complete', 200],
      ['end', 'response', 'us'],
    ]);
    expect(eu.received[0]!.headers.traceparent).toBe('attempt-1');
    expect(us.received[0]!.headers.traceparent).toBe('attempt-2');
    expect(us.received[0]!.rawHeaders.filter((h) => h.toLowerCase() === 'traceparent')).toHaveLength(1);
    expect(us.received[0]!.headers['x-drop-me']).toBeUndefined();
  });

  it('reports an error end, keeps forwarding when an observer throws, and stops after dispose', async () => {
    const eu = await startUpstream('eu');
    cleanup.push(() => eu.close());
    const forwarder = createForwarder({ regions: [eu.region()] });
    const ends: string[] = [];
    const handle = forwarder.observe(() => ({
      decision: () => {
        throw new Error('observer bug');
      },
      attempt: () => {
        throw new Error('observer bug');
      },
      end: (end) => ends.push(end.type === 'error' ? `error:${end.event.code}` : end.type),
    }));
    forwarder.observe(() => {
      throw new Error('factory bug');
    });
    const warnings: unknown[] = [];
    const onWarning = (warning: unknown) => warnings.push(warning);
    process.on('warning', onWarning);
    cleanup.push(async () => {
      process.off('warning', onWarning);
    });
    const front = await startFront(forwarder);
    cleanup.push(async () => {
      await front.close();
      await forwarder.close();
    });
    expect((await send(`${front.url}/x`)).status).toBe(200);
    expect(ends).toEqual(['response']);
    eu.behaviour = { kind: 'reset' };
    expect((await send(`${front.url}/x`)).status).toBe(502);
    expect(ends).toEqual(['response', 'error:EUPSTREAM']);
    handle.dispose();
    await send(`${front.url}/x`);
    expect(ends).toHaveLength(2);
    await new Promise((resolve) => setImmediate(resolve));
    expect(warnings.length).toBeGreaterThan(0);
  });
});
