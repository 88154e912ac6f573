import type http from 'node:http';
import { createBreakerRegistry } from '@edgekit/breaker';
import { createManualClock } from '@edgekit/core/testing';
import { type Forwarder, REGION_BREAKER_DEFAULTS, createForwarder } from '@edgekit/proxy';
import { afterEach, describe, expect, it } from 'vitest';
import { type Upstream, send, startFront, startUpstream } from './helpers.js';

const cleanup: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  while (cleanup.length > 0) await cleanup.pop()!();
});

type Failure = '503' | 'reset';

/** An origin region whose `/broken` fails (503 or a reset connection) and whose other paths answer 200. */
async function origin(name: string, failure: Failure, failing: (path: string) => boolean = (path) => path === '/broken'): Promise<Upstream> {
  const upstream = await startUpstream(name, {
    kind: 'custom',
    handle: (req: http.IncomingMessage, res: http.ServerResponse) => {
      if (failing(req.url ?? '/')) {
        if (failure === 'reset') req.socket.resetAndDestroy();
        else res.writeHead(503, { 'content-type': 'text/plain' }).end('down');
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ region: name }));
    },
  });
  cleanup.push(() => upstream.close());
  return upstream;
}

async function front(forwarder: Forwarder): Promise<string> {
  const f = await startFront(forwarder);
  cleanup.push(async () => {
    await f.close();
    await forwarder.close();
  });
  return f.url;
}

async function statusOf(url: string, ip: string): Promise<number> {
  try {
    return (await send(url, { headers: { 'x-forwarded-for': ip }, signal: AbortSignal.timeout(15_000) })).status;
  } catch {
    return 0;
  }
}

/**
 * One client sends `count` GETs of /broken, one every 20 ms (50/s), while four others browse other
 * pages one request after another until it is done; resolves with every status, by side.
 */
async function hammer(url: string, count: number): Promise<{ attacker: number[]; others: number[] }> {
  const attacker: Array<Promise<number>> = [];
  let attacking = true;
  const done = new Promise<void>((resolve) => {
    const timer = setInterval(() => {
      attacker.push(statusOf(`${url}/broken`, '203.0.113.66'));
      if (attacker.length === count) {
        clearInterval(timer);
        void Promise.all(attacker).then(() => resolve());
      }
    }, 20);
    cleanup.push(() => clearInterval(timer));
  });
  void done.then(() => (attacking = false));
  const browse = async (n: number): Promise<number[]> => {
    const statuses: number[] = [];
    for (let i = 0; attacking; i++) {
      statuses.push(await statusOf(`${url}/page/${(i % 7) + 1}`, `198.51.100.${n}`));
      await new Promise((resolve) => setTimeout(resolve, 40));
    }
    return statuses;
  };
  const others = (await Promise.all([1, 2, 3, 4].map(browse))).flat();
  return { attacker: await Promise.all(attacker), others };
}

describe('failures of one route', () => {
  for (const failure of ['503', 'reset'] as const) {
    it(`keep every other client at 100 % while one client hammers a URL that fails with ${failure} at 50 requests/s`, async () => {
      const eu = await origin('eu', failure);
      const us = await origin('us', failure);
      const ap = await origin('ap', failure);
      const breakers = createBreakerRegistry({ defaults: REGION_BREAKER_DEFAULTS });
      cleanup.push(() => breakers.close());
      const forwarder = createForwarder({ regions: [eu.region(), us.region(), ap.region()], breakers, trustedProxies: ['loopback'] });
      const url = await front(forwarder);

      const { attacker, others } = await hammer(url, 150);
      expect(attacker).toHaveLength(150);
      expect(attacker.every((status) => status === (failure === '503' ? 503 : 502))).toBe(true);
      expect(others.length).toBeGreaterThan(20);
      expect(others.filter((status) => status !== 200)).toEqual([]);
      for (const region of ['eu', 'us', 'ap']) expect(breakers.get(region).opened).toBe(false);
      // Once /broken failed in two regions it is answered from the first: not retried everywhere.
      const spread = [us, ap].map((u) => u.received.filter((r) => r.url === '/broken').length);
      expect(spread[0]! + spread[1]!).toBeLessThan(10);
    }, 30_000);
  }

  it('still opens a region whose failures are spread across its routes', async () => {
    const eu = await origin('eu', '503', () => true);
    const us = await origin('us', '503', () => false);
    const breakers = createBreakerRegistry({ defaults: REGION_BREAKER_DEFAULTS });
    cleanup.push(() => breakers.close());
    const forwarder = createForwarder({ regions: [eu.region(), us.region()], breakers });
    const url = await front(forwarder);
    for (let i = 0; i < 25; i++) {
      const reply = await send(`${url}/page/${i % 6}`);
      expect(reply.headers['x-served-by']).toBe('us');
    }
    expect(breakers.get('eu').opened).toBe(true);
    const seen = eu.received.length;
    expect((await send(`${url}/page/9`)).headers['x-served-by']).toBe('us');
    expect(eu.received).toHaveLength(seen);
  });

  it('does not open a quiet region for one failing route while its health checks pass', async () => {
    const eu = await origin('eu', 'reset');
    const breakers = createBreakerRegistry({ defaults: REGION_BREAKER_DEFAULTS });
    cleanup.push(() => breakers.close());
    const forwarder = createForwarder({ regions: [eu.region()], breakers, health: { isHealthy: () => true } });
    const url = await front(forwarder);
    // No other traffic yet: only the health checks vouch for the region.
    for (let i = 0; i < 30; i++) expect((await send(`${url}/broken`)).status).toBe(502);
    expect(breakers.get('eu').opened).toBe(false);
    expect((await send(`${url}/page/1`)).status).toBe(200);
  });

  it('opens a single-route region on its failure rate when nothing vouches for it', async () => {
    const eu = await origin('eu', 'reset');
    const breakers = createBreakerRegistry({ defaults: REGION_BREAKER_DEFAULTS });
    cleanup.push(() => breakers.close());
    const forwarder = createForwarder({ regions: [eu.region()], breakers });
    const url = await front(forwarder);
    for (let i = 0; i < 20; i++) expect((await send(`${url}/broken`)).status).toBe(502);
    expect(breakers.get('eu').opened).toBe(true);
  });

  it('counts every failure against the region with routeKey: false', async () => {
    const eu = await origin('eu', '503');
    const us = await origin('us', '503', () => false);
    const breakers = createBreakerRegistry({ defaults: { ...REGION_BREAKER_DEFAULTS, volumeThreshold: 4 } });
    cleanup.push(() => breakers.close());
    const forwarder = createForwarder({ regions: [eu.region(), us.region()], breakers, routeKey: false });
    const url = await front(forwarder);
    expect((await send(`${url}/ok`)).headers['x-served-by']).toBe('eu');
    for (let i = 0; i < 4; i++) await send(`${url}/broken`);
    expect(breakers.get('eu').opened).toBe(true);
  });
});

describe('panic trickle', () => {
  it('sends panicFraction of the requests that find every breaker open to the primary', async () => {
    const eu = await origin('eu', '503', () => false);
    const us = await origin('us', '503', () => false);
    const clock = createManualClock(0);
    const breakers = createBreakerRegistry({ clock, defaults: { ...REGION_BREAKER_DEFAULTS, resetTimeout: 60_000 } });
    cleanup.push(() => breakers.close());
    breakers.get('eu').open();
    breakers.get('us').open();
    const forwarder = createForwarder({ regions: [eu.region(), us.region()], breakers, panicFraction: 0.25, clock });
    const panics: boolean[] = [];
    const skipped: string[][] = [];
    forwarder.on('decision', (event) => {
      panics.push(event.panic);
      skipped.push(event.skipped.map((skip) => skip.region));
    });
    const url = await front(forwarder);
    const statuses: number[] = [];
    for (let i = 0; i < 8; i++) statuses.push((await send(`${url}/x`)).status);
    // The first request of a run goes through at once (recovery is seen), then one in four.
    expect(statuses).toEqual([200, 503, 503, 503, 200, 503, 503, 503]);
    expect(panics).toEqual([true, false, false, false, true, false, false, false]);
    // A panic request is sent to the primary: only the other region counts as skipped.
    expect(skipped).toEqual(panics.map((panic) => (panic ? ['us'] : ['eu', 'us'])));
    expect(eu.received).toHaveLength(2);
    expect(us.received).toHaveLength(0);
  });
});
