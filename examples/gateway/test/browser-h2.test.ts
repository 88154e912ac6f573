import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromiumArgsTrusting } from '@edgekit/test-utils/node';
import { type BrowserContext, chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Gateway } from '../src/index.js';
import { type EchoOrigin, type TestPki, createTestPki, startEchoOrigin, startGateway, tlsConfig } from './tls-world.js';

// Runs in the page; the project compiles without the DOM library.
declare const performance: { getEntries(): Array<{ nextHopProtocol?: string; name: string }> };
declare const document: { body: { textContent: string | null } };

const CHROMIUM = '/usr/bin/chromium';
const available = existsSync(CHROMIUM);
const required = process.env.CI === 'true';
if (!available && !required) {
  console.warn(`\n\u001b[33m!!! SKIPPING the HTTP/2 browser test: ${CHROMIUM} is not installed (apt-get install chromium). CI=true makes this a failure.\u001b[0m\n`);
}

describe.runIf(available || required)('a browser over HTTP/2 through the gateway', () => {
  let pki: TestPki;
  let origin: EchoOrigin;
  let gateway: Gateway;
  let context: BrowserContext;
  let profile: string;

  beforeAll(async () => {
    if (!available) throw new Error(`${CHROMIUM} is required when CI=true (apt-get install chromium)`);
    pki = createTestPki();
    origin = await startEchoOrigin();
    gateway = await startGateway(tlsConfig(origin.url, { server: { tls: { certificates: [{ cert: pki.server.certFile, key: pki.server.keyFile }] } } }));
    profile = mkdtempSync(join(tmpdir(), 'gateway-chromium-h2-'));
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      // The test certificate is trusted by its public key hash, as an operator would pin a private CA's leaf.
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync', ...chromiumArgsTrusting(pki.server)],
    });
  }, 90_000);
  afterAll(async () => {
    await context?.close();
    await gateway?.close();
    await origin?.close();
    pki?.remove();
    if (profile) rmSync(profile, { recursive: true, force: true });
  });

  it('loads a page from the origin over h2 with the certificate it was told to trust', async () => {
    const page = await context.newPage();
    const response = await page.goto(`https://localhost:${new URL(gateway.url).port}/page/h2`, { timeout: 60_000 });
    expect(response?.status()).toBe(200);
    const protocol = await page.evaluate(() => performance.getEntries()[0]?.nextHopProtocol);
    expect(protocol).toBe('h2');
    const text = await page.evaluate(() => document.body.textContent ?? '');
    expect(JSON.parse(text).url).toBe('/page/h2');
    expect(origin.seen.some((seen) => seen.url === '/page/h2' && seen.headers['x-forwarded-proto'] === 'https')).toBe(true);
    await page.close();
  }, 90_000);
});
