import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GeoError, type GeoResolver, continentOf } from '../src/index.js';

/** What a resolver under test must know. */
export interface ResolverConformanceSetup {
  create(): GeoResolver;
  /** Public addresses and the country the data places them in. */
  known: ReadonlyArray<readonly [ip: string, country: string]>;
  /** Addresses the data has no location for. */
  unknown: readonly string[];
  /** True when the resolver needs `ready()` before its first lookup. */
  needsReady?: boolean;
}

/** The behaviour every {@link GeoResolver} shares: run it for each implementation. */
export function describeResolverConformance(name: string, setup: ResolverConformanceSetup): void {
  describe(`GeoResolver conformance: ${name}`, () => {
    let resolver: GeoResolver;
    beforeAll(async () => {
      resolver = setup.create();
      await resolver.ready?.();
    });
    afterAll(async () => {
      await resolver.close?.();
    });

    it('has a name that it reports as the source of its answers', () => {
      expect(typeof resolver.name).toBe('string');
      expect(resolver.name.length).toBeGreaterThan(0);
    });

    it('places known addresses in the right country, with a consistent continent', () => {
      for (const [ip, country] of setup.known) {
        const location = resolver.lookup(ip);
        expect(location, ip).not.toBeNull();
        expect(location!.country, ip).toBe(country);
        expect(location!.continent, ip).toBe(continentOf(country));
        expect(location!.source).toBe(resolver.name);
        expect(Object.isFrozen(location)).toBe(true);
        if (location!.lat !== undefined) {
          expect(Math.abs(location!.lat)).toBeLessThanOrEqual(90);
          expect(Math.abs(location!.lon!)).toBeLessThanOrEqual(180);
          expect(location!.lat === 0 && location!.lon === 0).toBe(false);
        }
      }
    });

    it('answers null, without throwing, for addresses it does not know', () => {
      for (const ip of setup.unknown) expect(resolver.lookup(ip), ip).toBeNull();
    });

    it('can be made ready twice', async () => {
      await resolver.ready?.();
      await resolver.ready?.();
      expect(resolver.lookup(setup.known[0]![0])?.country).toBe(setup.known[0]![1]);
    });

    if (setup.needsReady) {
      it('throws ENOTREADY for a lookup before ready()', async () => {
        const fresh = setup.create();
        expect(() => fresh.lookup(setup.known[0]![0])).toThrow(expect.objectContaining({ code: 'ENOTREADY' }));
        await fresh.close?.();
      });
    }

    it('throws ECLOSED for a lookup after close()', async () => {
      const fresh = setup.create();
      if (fresh.close === undefined) return;
      await fresh.ready?.();
      await fresh.close();
      let error: unknown;
      try {
        fresh.lookup(setup.known[0]![0]);
      } catch (caught) {
        error = caught;
      }
      expect(error).toBeInstanceOf(GeoError);
      expect((error as GeoError).code).toBe('ECLOSED');
    });
  });
}
