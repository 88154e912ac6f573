import { createServer } from 'node:http';
import { closeServer, listen } from '@edgekit/test-utils/node';
import * as jose from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildBrowserBundle } from '../scripts/browser-bundle.js';
import { signEdgeMap } from '../src/sign.js';
import { type ChromiumPage, hasChromium, launchChromium } from './chromium.js';
import { type DistantEdge, served, startDistantEdge } from './edges.js';

describe('browser build', () => {
  it('bundles for browsers with no Node built-in and stays under 8 kB min+gzip', async () => {
    // platform 'browser' with nothing external: an import of node:* anywhere fails the build.
    const bundle = await buildBrowserBundle();
    expect(bundle.code.match(/\brequire\(|\bprocess\.|\bBuffer\.|\bimport\b/g)).toBeNull();
    expect(bundle.gzipped).toBeLessThan(8 * 1024);
  });
});

describe.skipIf(!hasChromium)('the browser build in headless Chromium', () => {
  let near: DistantEdge;
  let far: DistantEdge;
  let site: ReturnType<typeof createServer>;
  let page: ChromiumPage;
  let origin: string;

  beforeAll(async () => {
    [near, far] = await Promise.all([startDistantEdge('near', 10), startDistantEdge('far', 60)]);
    const { publicKey, privateKey } = await jose.generateKeyPair('EdDSA', { extractable: true, crv: 'Ed25519' });
    const now = Date.now();
    const token = await signEdgeMap(
      {
        version: 1,
        issuedAt: now,
        expiresAt: now + 3_600_000,
        edges: [
          { id: 'far', region: 'us', url: far.proxy.url },
          { id: 'near', region: 'eu', url: near.proxy.url },
        ],
      },
      privateKey as never,
    );
    const bundle = (await buildBrowserBundle('iife')).code;
    const publicJwk = JSON.stringify(await jose.exportJWK(publicKey));
    // The page's clock is real time plus an offset the test moves, so breaker resets need no waiting.
    const html = `<!doctype html><meta charset="utf-8"><title>edgekit client</title>
<script src="/client.js"></script>
<script>
  const { createEdgeClient } = EdgekitClient;
  window.clock = { offset: 0, now: () => Date.now() + clock.offset, setTimeout: (f, ms) => ({ id: setTimeout(f, ms) }), clearTimeout: (t) => t && clearTimeout(t.id) };
  window.client = createEdgeClient({
    edgeMap: { url: '/.well-known/edge-map', publicKey: ${publicJwk} },
    storage: localStorage,
    probe: { interval: 3600000 },
    breaker: { failureThreshold: 1 },
    clock,
  });
  window.ready = client.ready();
  window.get = (path) => client.fetch(path).then((res) => res.text());
</script>`;
    site = createServer((req, res) => {
      if (req.url === '/client.js') res.writeHead(200, { 'content-type': 'text/javascript' }).end(bundle);
      else if (req.url === '/.well-known/edge-map') res.writeHead(200, { 'content-type': 'application/jose' }).end(token);
      else res.writeHead(200, { 'content-type': 'text/html' }).end(html);
    });
    origin = `http://127.0.0.1:${await listen(site)}`;
    page = await launchChromium();
    await page.open(`${origin}/`, 'window.ready');
  }, 60_000);

  afterAll(async () => {
    await page?.close();
    await closeServer(site);
    for (const d of [near, far]) await Promise.all([d.proxy.close(), d.edge.close()]);
  });

  it('verifies the signed edge map with WebCrypto, probes, and chooses the nearest edge', async () => {
    expect(await page.evaluate('client.explain().mapVersion')).toBe(1);
    // Three rounds: the first sample of each edge paid for its connection and is replaced.
    await page.evaluate('client.probe().then(() => client.probe()).then(() => client.probe())');
    expect(await page.evaluate('client.current().id'), JSON.stringify(await page.evaluate('client.explain()'))).toBe('near');
    expect(await page.evaluate("get('/api/items')")).toBe('near');
    expect(await page.evaluate('client.explain().probing')).toBe('on');
    const stored = await page.evaluate<{ near: { rtt: number }; far: { rtt: number } }>("JSON.parse(localStorage.getItem('edgekit-client')).latency");
    expect(stored.near.rtt).toBeLessThan(stored.far.rtt);
  });

  it('fails over when the nearest edge dies and returns once it heals', async () => {
    near.proxy.cut();
    expect(await page.evaluate("get('/api/items')")).toBe('far');
    expect(await page.evaluate('client.current().id')).toBe('far');
    near.proxy.restore();
    await page.evaluate('clock.offset += 20000; client.probe()');
    expect(await page.evaluate('client.current().id')).toBe('near');
    expect(await page.evaluate("get('/api/items')")).toBe('near');
    expect(served(far.edge)).toBe(1);
    expect(page.logs.filter((line) => line.startsWith('uncaught'))).toEqual([]);
  });
});
