import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type BrowserContext, chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLIENTS, type World, from, startWorld } from './helpers.js';

// The page functions below run in the browser; the project compiles without the DOM library.
declare const document: {
  getElementById(id: string): { textContent: string | null } | null;
  querySelector(selector: string): { textContent: string | null } | null;
  body: { dataset: Record<string, string | undefined> };
};

const CHROMIUM = '/usr/bin/chromium';
const available = existsSync(CHROMIUM);
const required = process.env.CI === 'true';

if (!available && !required) {
  console.warn(`\n\u001b[33m!!! SKIPPING the status page browser test: ${CHROMIUM} is not installed (apt-get install chromium). CI=true makes this a failure.\u001b[0m\n`);
}

describe.runIf(available || required)('status page in headless Chromium', () => {
  let world: World;
  let context: BrowserContext;
  let profile: string;

  beforeAll(async () => {
    if (!available) throw new Error(`${CHROMIUM} is required when CI=true (apt-get install chromium)`);
    // The status page and its event stream are served without a token on the admin listener only.
    world = await startWorld({ server: { host: '127.0.0.1', port: 0, adminPort: 0, shutdownDelay: 0, drainTimeout: 5_000, reloadDrainTimeout: 10_000 } });
    profile = mkdtempSync(join(tmpdir(), 'gateway-chromium-'));
    // A persistent context is how Playwright takes a user data dir; a fresh one per run.
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    });
  }, 60_000);
  afterAll(async () => {
    await context?.close();
    await world?.close();
    if (profile) rmSync(profile, { recursive: true, force: true });
  });

  it('shows regions, health, breakers, routing and cache hit rate, and follows changes live', async () => {
    const page = await context.newPage();
    const errors: string[] = [];
    page.on('pageerror', (error) => errors.push(error.message));
    await page.goto(`${world.gateway.adminUrl}/status`);

    await page.waitForSelector('tr[data-region="ap"]');
    expect(await page.textContent('#location')).toBe('test-edge');
    expect(await page.textContent('#node')).toBe('node-1');
    await page.waitForFunction(() => document.getElementById('live')?.textContent === 'live');
    for (const region of ['us', 'eu', 'ap']) {
      expect(await page.textContent(`tr[data-region="${region}"] .health`)).toBe('healthy');
      expect(await page.textContent(`tr[data-region="${region}"] .breaker`)).toBe('closed');
    }

    // Traffic from London goes to eu; the page's counters move without a reload.
    for (let i = 0; i < 6; i++) await (await fetch(`${world.url}/api/where`, { headers: from(CLIENTS.london) })).arrayBuffer();
    await page.waitForFunction(() => Number(document.querySelector('tr[data-region="eu"] .responses')?.textContent) >= 6);
    expect(await page.textContent('tr[data-region="eu"] .share')).toMatch(/^100\.0 %$/);

    // One miss then three hits: a 75 % hit rate.
    for (let i = 0; i < 4; i++) await (await fetch(`${world.url}/api/products/3`, { headers: from(CLIENTS.virginia) })).arrayBuffer();
    await page.waitForFunction(() => document.getElementById('hit-rate')?.textContent === '75.0 %');
    expect(await page.textContent('#cache-counts')).toBe('3 / 1');

    // A region going down shows up live.
    world.origins.ap.setHealthy(false);
    await page.waitForSelector('tr[data-region="ap"] .health.unhealthy', { timeout: 5_000 });
    // Its breaker is opened by the failing checks (health.openBreakers).
    await page.waitForSelector('tr[data-region="ap"] .breaker.open', { timeout: 5_000 });
    world.origins.ap.setHealthy(true);
    await page.waitForSelector('tr[data-region="ap"] .health.healthy', { timeout: 5_000 });

    const updates = Number(await page.getAttribute('body', 'data-updates'));
    await page.waitForFunction((seen) => Number(document.body.dataset.updates) > seen + 2, updates);
    expect(errors).toEqual([]);
    await page.close();
  });

  it('ends the live stream when the gateway drains', async () => {
    const page = await context.newPage();
    await page.goto(`${world.gateway.adminUrl}/status`);
    await page.waitForFunction(() => document.getElementById('live')?.textContent === 'live');
    const shutdown = world.gateway.close();
    await page.waitForFunction(() => document.getElementById('live')?.textContent !== 'live', undefined, { timeout: 5_000 });
    await shutdown;
    await page.close();
  });
});
