/**
 * The bare forwarder composed as in the @edgekit/proxy README (geoip-lite locator, health checker,
 * breakers with REGION_BREAKER_DEFAULTS), two regions on one origin, loopback peers trusted for
 * X-Forwarded-For as the gateway does. `readme-forwarder.ts <originUrl>`; prints `READY <port>`.
 */
import http from 'node:http';
import { createBreakerRegistry } from '@edgekit/breaker';
import { createGeoLocator } from '@edgekit/geo';
import { createHealthChecker } from '@edgekit/health';
import { REGION_BREAKER_DEFAULTS, createForwarder } from '@edgekit/proxy';
import { listen } from '@edgekit/test-utils/node';

const originUrl = process.argv[2];
if (originUrl === undefined) throw new Error('usage: readme-forwarder.ts <originUrl>');
const regions = [
  { name: 'eu-central', url: originUrl, location: { lat: 50.11, lon: 8.68 } },
  { name: 'us-east', url: originUrl, location: { lat: 39.04, lon: -77.49 } },
];
const locator = createGeoLocator();
await locator.ready();
const health = createHealthChecker({ targets: regions, interval: 5_000 });
await health.checkNow();
const forwarder = createForwarder({
  regions,
  locate: locator.lookup,
  trustedProxies: ['loopback'],
  health,
  breakers: createBreakerRegistry({ defaults: REGION_BREAKER_DEFAULTS }),
});
const server = http.createServer(forwarder.handler);
console.log(`READY ${await listen(server)}`);
process.on('SIGTERM', () => process.exit(0));
