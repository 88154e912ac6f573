import { type GeoLocator, createCustomResolver, createGeoLocator, createMmdbResolver, createTrustedProxies } from '@edgekit/geo';
import type { GatewayConfig } from './config.js';

/** The client locator of the `geo` section: trusted proxies, the forwarding header, and a resolver. */
export function compileLocator(geo: GatewayConfig['geo']): GeoLocator {
  const trustedProxies = createTrustedProxies(geo.trustedProxies);
  const { resolver } = geo;
  if (resolver === 'none') return createGeoLocator({ trustedProxies, header: geo.header, resolver: createCustomResolver(() => null, { name: 'none' }) });
  if (resolver === 'geoip-lite' || resolver === 'geoip-lite-country') return createGeoLocator({ trustedProxies, header: geo.header, resolver });
  if ('mmdb' in resolver) return createGeoLocator({ trustedProxies, header: geo.header, resolver: createMmdbResolver({ path: resolver.mmdb }) });
  // A static table: first matching CIDR wins (for tests, labs and small private deployments).
  const table = resolver.static.map((entry, index) => {
    try {
      return { matches: createTrustedProxies([entry.cidr]), entry };
    } catch (error) {
      throw new Error(`geo.resolver.static[${index}].cidr: ${(error as Error).message}`);
    }
  });
  return createGeoLocator({
    trustedProxies,
    header: geo.header,
    resolver: createCustomResolver(
      (ip) => {
        const hit = table.find((row) => row.matches(ip));
        return hit ? { country: hit.entry.country, lat: hit.entry.lat, lon: hit.entry.lon } : null;
      },
      { name: 'static' },
    ),
  });
}
