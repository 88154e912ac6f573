import { freePort, hasNginx, startNginx } from '@edgekit/test-utils';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLIENTS, type World, startWorld } from './helpers.js';

/**
 * A plain nginx in front of the gateway, as many deployments have: it appends the client address
 * to X-Forwarded-For and passes every other header through untouched, CDN headers included.
 */
describe.skipIf(!hasNginx())('CDN location headers behind a plain nginx', () => {
  const worlds: World[] = [];
  const stops: Array<() => Promise<void>> = [];

  async function throughNginx(geo: Record<string, unknown> = {}): Promise<string> {
    const world = await startWorld({
      geo: {
        trustedProxies: ['loopback'],
        resolver: { static: [{ cidr: '81.2.69.0/24', country: 'GB' }, { cidr: '3.3.3.0/24', country: 'US' }] },
        ...geo,
      },
    } as never);
    worlds.push(world);
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const nginx = await startNginx(
      `server {
        listen 127.0.0.1:${port};
        location / {
          proxy_pass ${world.url};
          proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
        }
      }`,
      { readyUrl: `${url}/ready` },
    );
    stops.push(() => nginx.stop());
    return url;
  }

  const servedBy = async (url: string, headers: Record<string, string>) => (await fetch(`${url}/api/where`, { headers })).headers.get('x-served-by');

  let plain: string;
  let vercel: string;
  beforeAll(async () => {
    plain = await throughNginx();
    vercel = await throughNginx({ cdn: 'vercel' });
  }, 60_000);
  afterAll(async () => {
    for (const stop of stops) await stop();
    for (const world of worlds) await world.close();
  });

  it('does not let a client choose Asia with x-vercel-ip-country: JP when no CDN is configured', async () => {
    expect(await servedBy(plain, { 'x-vercel-ip-country': 'JP' })).toBe('us');
    expect(await servedBy(plain, { 'x-forwarded-for': CLIENTS.london, 'x-vercel-ip-country': 'JP', 'cf-ipcountry': 'JP' })).toBe('eu');
  });

  it('believes the header only once geo.cdn names the CDN that writes it', async () => {
    expect(await servedBy(vercel, { 'x-forwarded-for': CLIENTS.london, 'x-vercel-ip-country': 'JP' })).toBe('ap');
    expect(await servedBy(vercel, { 'x-forwarded-for': CLIENTS.london, 'cf-ipcountry': 'JP' })).toBe('eu');
  });
});
