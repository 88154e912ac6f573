import { createBreakerRegistry } from '@edgekit/breaker';
import { createManualClock } from '@edgekit/core/testing';
import { createGeoLocator } from '@edgekit/geo';
import { createHealthChecker } from '@edgekit/health';
import { createForwarder } from '@edgekit/proxy';
import { afterEach, describe, expect, it } from 'vitest';
import { type Upstream, send, startFront, startUpstream } from './helpers.js';

const cleanup: Array<() => Promise<void>> = [];
afterEach(async () => {
  while (cleanup.length > 0) await cleanup.pop()!();
});

const CLIENTS: Record<string, { country: string; lat: number; lon: number }> = {
  '8.8.8.8': { country: 'US', lat: 37.75, lon: -97.82 },
  '80.147.1.1': { country: 'DE', lat: 52.52, lon: 13.4 },
  '116.12.1.1': { country: 'SG', lat: 1.29, lon: 103.85 },
};

/** A region whose /health answers 200 until `down` is set, and that serves JSON (or resets, when `reset` is set). */
interface Region extends Upstream {
  down: boolean;
  reset: boolean;
  served(): string[];
}

async function region(name: string): Promise<Region> {
  let self: Region | undefined;
  const upstream = await startUpstream(name, {
    kind: 'custom',
    handle: (req, res) => {
      if (req.url === '/health') {
        res.writeHead(self?.down ? 503 : 200);
        res.end();
        return;
      }
      if (self?.reset) {
        req.socket.resetAndDestroy();
        return;
      }
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ region: name }));
    },
  });
  cleanup.push(() => upstream.close());
  self = Object.assign(upstream, {
    down: false,
    reset: false,
    served: () => upstream.received.filter((r) => r.url !== '/health').map((r) => r.url),
  });
  return self;
}

describe('with the real @edgekit/geo, @edgekit/health and @edgekit/breaker', () => {
  it('routes each client to its nearest region, skips unhealthy and open regions, and answers 503 when all are open', async () => {
    const eu = await region('eu');
    const us = await region('us');
    const ap = await region('ap');
    const regions = [eu.region(), us.region(), ap.region()];
    const clock = createManualClock(1_000_000);
    const locator = createGeoLocator({ resolver: (ip) => CLIENTS[ip] ?? null });
    const health = createHealthChecker({
      targets: regions.map((r) => ({ name: r.name, url: r.url })),
      interval: 60_000,
      healthyThreshold: 1,
      unhealthyThreshold: 1,
      initialJitter: 0,
      jitter: 0,
      clock,
    });
    const breakers = createBreakerRegistry({ clock, defaults: { timeout: false, volumeThreshold: 2, errorThresholdPercentage: 40, resetTimeout: 30_000 } });
    cleanup.push(() => health.close(), () => breakers.close(), () => locator.close());
    await health.checkNow();
    const forwarder = createForwarder({ regions, locate: locator.lookup, trustedProxies: ['loopback'], health, breakers, clock, panicFraction: 0 });
    const front = await startFront(forwarder);
    cleanup.push(async () => {
      await front.close();
      await forwarder.close();
    });
    const from = (ip: string, path: string) => send(`${front.url}${path}`, { headers: { 'x-forwarded-for': ip } });

    expect((await from('8.8.8.8', '/a')).headers['x-served-by']).toBe('us');
    expect((await from('80.147.1.1', '/b')).headers['x-served-by']).toBe('eu');
    expect((await from('116.12.1.1', '/c')).headers['x-served-by']).toBe('ap');

    // ap fails its health check: Singapore goes to the next nearest region, ap sees nothing.
    ap.down = true;
    await health.checkNow();
    expect(health.isHealthy('ap')).toBe(false);
    expect((await from('116.12.1.1', '/d')).headers['x-served-by']).toBe('eu');
    expect(ap.served()).toEqual(['/c']);

    // eu starts resetting connections: GETs fail over to us until eu's breaker opens, then eu is skipped.
    // The first failing route could be that route's fault alone (eu answered /b and /d): it is not
    // counted; failures spread over routes are.
    eu.reset = true;
    expect((await from('80.147.1.1', '/e')).headers['x-served-by']).toBe('us');
    expect((await from('80.147.1.1', '/f')).headers['x-served-by']).toBe('us');
    expect(breakers.get('eu').opened).toBe(false);
    expect((await from('80.147.1.1', '/f2')).headers['x-served-by']).toBe('us');
    expect((await from('80.147.1.1', '/f3')).headers['x-served-by']).toBe('us');
    expect(breakers.get('eu').opened).toBe(true);
    const euSeen = eu.served().length;
    expect((await from('80.147.1.1', '/g')).headers['x-served-by']).toBe('us');
    expect(eu.served()).toHaveLength(euSeen);

    // Every breaker open: 503 with Retry-After until the earliest one half-opens.
    clock.advance(10_000);
    breakers.get('us').open();
    breakers.get('ap').open();
    const reply = await from('8.8.8.8', '/h');
    expect(reply.status).toBe(503);
    expect(reply.headers['retry-after']).toBe('20');
    expect(reply.json()).toMatchObject({ status: 503, regionsTried: [], regionsSkipped: ['ap', 'us', 'eu'] });

    // eu half-opens 30 s after it opened; its probe succeeds once it stops resetting.
    eu.reset = false;
    clock.advance(20_000);
    expect((await from('80.147.1.1', '/i')).headers['x-served-by']).toBe('eu');
  });
});
