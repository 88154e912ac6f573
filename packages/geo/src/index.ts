export { CDN_PRESETS, type CdnHeaderOptions, type CdnName, type CdnOption } from './cdn-headers.js';
export { CLIENT_IP_DEFAULTS, type ClientIpOptions, type ForwardedHeaderMode, type RequestLike, clientIp, createClientIp } from './client-ip.js';
export { CONTINENT_CODES, type ContinentCode, isContinentCode } from './continents.js';
export { EXTRA_COUNTRIES, ISO_COUNTRIES, type CountryFacts, continentOf, countryLocation, isCountryCode, normalizeCountry } from './countries.js';
export { EARTH_RADIUS_KM, FIBRE_KM_PER_MS, distanceKm, estimateRttMs } from './distance.js';
export { GeoError, type GeoErrorCode, isGeoError } from './errors.js';
export { GEOIP_LITE_DEFAULTS, type GeoipLiteDataset, type GeoipLiteResolver, type GeoipLiteResolverOptions, createGeoipLiteResolver } from './geoip-lite-resolver.js';
export { type IpFamily, formatForwardedNode, ipFamily, isPublicIp, normalizeIp } from './ip.js';
export { type GeoLocation, type RawGeoFields, toGeoLocation } from './location.js';
export {
  GEO_LOCATOR_DEFAULTS,
  type GeoLocator,
  type GeoLocatorOptions,
  type GeoLocatorStats,
  type GeoResolverName,
  createGeoLocator,
} from './locator.js';
export {
  MMDB_DEFAULTS,
  type MmdbRecordMapper,
  type MmdbReloadEvent,
  type MmdbResolver,
  type MmdbResolverEvents,
  type MmdbResolverOptions,
  createMmdbResolver,
  mapMmdbRecord,
} from './mmdb-resolver.js';
export {
  REGION_SELECTOR_DEFAULTS,
  type Region,
  type RegionLatency,
  type RegionRules,
  type RegionSelection,
  type RegionSelector,
  type RegionSelectorOptions,
  type SelectionReason,
  createRegionSelector,
} from './region-selector.js';
export { CUSTOM_RESOLVER_DEFAULTS, type CustomResolverOptions, type GeoLookupFunction, type GeoResolver, createCustomResolver } from './resolver.js';
export {
  TRUSTED_PROXY_PRESETS,
  type TrustedProxies,
  type TrustedProxyPredicate,
  type TrustedProxyPreset,
  createTrustedProxies,
} from './trusted-proxies.js';
export {
  type LocationSelector,
  REQUEST_SELECTOR_DEFAULTS,
  type RegionHintOptions,
  type RequestSelectionReason,
  type RequestSelector,
  type RequestSelectorOptions,
  type Residency,
  type SelectableRequest,
  createRequestSelector,
} from './request-selector.js';
