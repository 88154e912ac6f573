import { REGION_BREAKER_DEFAULTS } from '@edgekit/proxy';
import { z } from 'zod';
import { regionEndpointsFields } from '../endpoints-config.js';
import { hintSchema, residencySchema, splitSchema } from '../region-routing.js';
import { coordinates, duration, httpUrl, positiveDuration } from './fields.js';
import { upstreamTlsSchema } from './tls.js';

const countryMap = z.record(z.string().regex(/^[A-Z]{2}$/, 'country codes are ISO 3166-1 alpha-2, upper case'), z.string());
const continentMap = z.partialRecord(z.enum(['AF', 'AN', 'AS', 'EU', 'NA', 'OC', 'SA']), z.string());

const staticLocation = z.strictObject({
  cidr: z.string().min(1),
  country: z.string().regex(/^[A-Z]{2}$/, 'must be an ISO 3166-1 alpha-2 code, upper case').optional(),
  lat: z.number().min(-90).max(90).optional(),
  lon: z.number().min(-180).max(180).optional(),
});

export const regionsSection = z
  .array(
    z.strictObject({
      name: z.string().regex(/^[a-z0-9][a-z0-9._-]*$/i, 'must be letters, digits, ".", "_" or "-"'),
      url: httpUrl,
      location: coordinates,
      /** Upstream connections to this region at most. Default: `proxy.connections`. */
      connections: z.number().int().min(1).optional(),
      /** HTTP/2 to this region (ALPN `h2` for `https:`, prior knowledge for `http:`, as gRPC servers expect). Default: `proxy.http2`. */
      http2: z.boolean().optional(),
      /** TLS towards this region's `https://` URL. Default: `proxy.tls`. */
      tls: upstreamTlsSchema.optional(),
      ...regionEndpointsFields,
    }),
  )
  .min(1, 'at least one region is required');

export const routingSection = z
  .strictObject({
    defaultRegion: z.string().optional(),
    rules: z.strictObject({ countries: countryMap.optional(), continents: continentMap.optional() }).default({}),
    routeFactor: z.number().min(1).optional(),
    /** Tenant residency over the top-level regions (as a service's `residency`). */
    residency: residencySchema.optional(),
    /** A signed sticky-region hint over the top-level regions (as a service's `hint`). */
    hint: hintSchema.optional(),
    /** A canary split of the requests no service matched: variants name services, `default` names the top-level regions. */
    split: splitSchema.optional(),
  })
  .prefault({});

export const geoSection = z
  .strictObject({
    trustedProxies: z.array(z.string().min(1)).default(['loopback']),
    header: z.enum(['prefer-x-forwarded-for', 'prefer-forwarded', 'x-forwarded-for', 'forwarded']).default('prefer-x-forwarded-for'),
    /** The CDN in front of the gateway whose location headers are believed (from trusted proxies only). Default: none. */
    cdn: z
      .union([
        z.enum(['cloudflare', 'cloudfront', 'vercel', 'appengine']),
        z.array(z.enum(['cloudflare', 'cloudfront', 'vercel', 'appengine'])),
        z.strictObject({ country: z.array(z.string().min(1)).optional(), coordinates: z.array(z.tuple([z.string().min(1), z.string().min(1)])).optional() }),
      ])
      .optional(),
    resolver: z
      .union([
        z.enum(['geoip-lite', 'geoip-lite-country', 'none']),
        z.strictObject({ mmdb: z.string().min(1) }),
        z.strictObject({ static: z.array(staticLocation) }),
      ])
      .default('geoip-lite-country'),
  })
  .prefault({});

export const healthSection = z
  .strictObject({
    path: z.string().startsWith('/').default('/health'),
    interval: positiveDuration.default(5_000),
    timeout: positiveDuration.default(2_000),
    jitter: duration.default(500),
    initialJitter: duration.default(1_000),
    healthyThreshold: z.number().int().min(1).default(2),
    unhealthyThreshold: z.number().int().min(1).default(3),
    openBreakers: z.boolean().default(true),
    /** Probe every endpoint of regions with `endpoints` too (`<endpoint><region url path><path>`); failing endpoints take no requests unless the region is in panic. */
    endpoints: z.boolean().default(true),
  })
  .prefault({});

export const breakersSection = z
  .strictObject({
    /** `percentage`: a failure rate over a volume opens a region; `consecutive`: `failureThreshold` failures in a row. */
    mode: z.enum(['consecutive', 'percentage']).default('percentage'),
    failureThreshold: z.number().int().min(1).default(5),
    errorThresholdPercentage: z.number().min(0).max(100).default(REGION_BREAKER_DEFAULTS.errorThresholdPercentage),
    volumeThreshold: z.number().int().min(0).default(REGION_BREAKER_DEFAULTS.volumeThreshold),
    resetTimeout: positiveDuration.default(REGION_BREAKER_DEFAULTS.resetTimeout),
    rollingCountTimeout: positiveDuration.default(REGION_BREAKER_DEFAULTS.rollingCountTimeout),
  })
  .prefault({});
