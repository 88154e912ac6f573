import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rawExchange, requestHead, statusOf } from './fronts.js';
import { type World, startWorld } from './helpers.js';

// A front that writes only `Forwarded` (HAProxy's `option forwarded`, Envoy with RFC 7239 on) passes
// a client's own `X-Forwarded-For` through untouched; `geo.header: forwarded` says which one to believe.
describe('geo.header decides the client address everywhere, not only for geo', () => {
  let world: World;
  let port: number;
  beforeAll(async () => {
    world = await startWorld({
      geo: {
        trustedProxies: ['loopback'],
        header: 'forwarded',
        resolver: { static: [{ cidr: '81.2.69.0/24', country: 'GB' }, { cidr: '1.0.0.0/24', country: 'SG' }, { cidr: '198.51.100.0/24', country: 'US' }] },
      },
      rateLimits: { tight: { limit: 2, window: 60_000, by: 'ip' } },
      routes: [{ path: '/api/limited', rateLimit: 'tight' }],
    });
    port = Number(new URL(world.url).port);
  });
  afterAll(() => world?.close());

  it('counts a limit by the Forwarded client, whatever X-Forwarded-For the client wrote', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++) {
      const raw = await rawExchange(port, requestHead('GET', '/api/limited', { forwarded: 'for=198.51.100.20', 'x-forwarded-for': `6.6.6.${i}` }));
      statuses.push(statusOf(raw));
    }
    expect(statuses).toEqual([200, 200, 429, 429]);
  });

  it('routes by the Forwarded client, not by a client-written X-Forwarded-For', async () => {
    // Forwarded says London (eu); the X-Forwarded-For the client added says Singapore (ap).
    const raw = await rawExchange(port, requestHead('GET', '/api/where', { forwarded: 'for=81.2.69.160', 'x-forwarded-for': '1.0.0.1' }));
    expect(statusOf(raw)).toBe(200);
    expect(raw.toLowerCase()).toContain('x-served-by: eu');
  });
});
