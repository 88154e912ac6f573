import { fileURLToPath } from 'node:url';
import { spawnTs } from '@edgekit/test-utils';
import { describe, expect, it } from 'vitest';
import { GeoError, createGeoLocator } from '../src/index.js';
import { requirePeer, resolvePeer } from '../src/peer.js';

describe('optional peer dependencies', () => {
  it('a missing geoip-lite or maxmind is EMISSINGPEER naming the package and the install command', async () => {
    // pnpm's NODE_PATH would find the workspace's copies from anywhere: the child runs without it.
    const child = spawnTs(fileURLToPath(new URL('./fixtures/missing-peer.ts', import.meta.url)), [], { NODE_PATH: '' });
    try {
      for (const specifier of ['geoip-lite', 'maxmind']) {
        const report = JSON.parse(await child.waitForLine((line) => line.includes(`"specifier":"${specifier}"`), 60_000));
        for (const outcome of [report.require, report.resolve]) {
          expect(outcome).toMatchObject({ threw: true, name: 'GeoError', code: 'EMISSINGPEER', resolver: specifier });
          expect(outcome.message).toContain(`npm install ${specifier}@1`);
        }
      }
    } finally {
      await child.stop();
    }
  }, 90_000);

  it('a peer that is installed but fails to load is EGEODATA with the failure as cause', () => {
    // `./broken` is found (so not missing) from this test file but throws while loading.
    const here = new URL('./fixtures/broken-peer.cjs', import.meta.url).href;
    let caught: unknown;
    try {
      requirePeer({ specifier: './broken-peer.cjs', range: '1', resolver: 'custom' }, here);
    } catch (error) {
      caught = error;
    }
    expect(caught).toMatchObject({ code: 'EGEODATA', resolver: 'custom' });
    expect(((caught as GeoError).cause as Error).message).toBe('broken on purpose');
  });

  it('finds an installed peer', () => {
    expect(typeof resolvePeer({ specifier: 'geoip-lite', range: '1', resolver: 'geoip-lite' })).toBe('string');
  });

  it("resolver 'none' never looks an address up, so no peer is needed", async () => {
    const locator = createGeoLocator({ resolver: 'none', trustedProxies: ['loopback'] });
    expect(locator.lookup('8.8.8.8')).toBeNull();
    expect(locator.resolver.name).toBe('none');
    await locator.close();
  });
});
