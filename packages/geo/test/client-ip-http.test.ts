import { type IncomingMessage, createServer, request } from 'node:http';
import { closeServer, listen } from '@edgekit/test-utils';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clientIp, createGeoLocator, createTrustedProxies } from '../src/index.js';

/** A real server on loopback that answers with what clientIp and locateRequest make of each request. */
describe('clientIp with a real Node HTTP server', () => {
  const trustedProxies = createTrustedProxies(['loopback']);
  const locator = createGeoLocator({ trustedProxies, cdn: 'cloudflare', resolver: (ip) => (ip === '81.2.69.160' ? { country: 'GB' } : null) });
  const server = createServer((req: IncomingMessage, res) => {
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ ip: clientIp(req, { trustedProxies }), untrusted: clientIp(req), country: locator.locateRequest(req)?.country ?? null }));
  });
  let port = 0;
  beforeAll(async () => {
    port = await listen(server);
  });
  afterAll(async () => {
    await closeServer(server);
    await locator.close();
  });

  function get(headers: Record<string, string | string[]>): Promise<{ ip: string; untrusted: string; country: string | null }> {
    return new Promise((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port, path: '/', headers }, (res) => {
        let body = '';
        res.on('data', (chunk: Buffer) => (body += chunk.toString()));
        res.on('end', () => resolve(JSON.parse(body)));
      });
      req.on('error', reject);
      req.end();
    });
  }

  it('answers the loopback peer when nothing is forwarded', async () => {
    expect(await get({})).toEqual({ ip: '127.0.0.1', untrusted: '127.0.0.1', country: null });
  });

  it('reads repeated X-Forwarded-For lines as Node joins them, and locates the client', async () => {
    const answer = await get({ 'x-forwarded-for': ['6.6.6.6', '81.2.69.160'] });
    expect(answer).toEqual({ ip: '81.2.69.160', untrusted: '127.0.0.1', country: 'GB' });
  });

  it('reads repeated Forwarded lines, and believes a CDN header from the trusted peer', async () => {
    const answer = await get({ forwarded: ['for=6.6.6.6', 'for="[2001:db8::7]:443"'], 'cf-ipcountry': 'NZ' });
    expect(answer).toEqual({ ip: '2001:db8::7', untrusted: '127.0.0.1', country: 'NZ' });
  });
});
