export { type L1Options, SWR_DEFAULTS, type Swr, type SwrErrorEvent, type SwrEvents, type SwrFetch, type SwrFetchContext, type SwrOptions, type SwrStats, createSwr } from './swr.js';
export type { SwrEntry, SwrPolicy, SwrResult, SwrStatus } from './entry.js';
export type { SwrStore } from './store.js';
export { MEMORY_STORE_DEFAULTS, type MemoryStoreOptions, createMemoryStore } from './memory-store.js';
export { REDIS_STORE_DEFAULTS, type RedisStoreOptions, createRedisStore } from './redis-store.js';
export {
  SINGLE_FLIGHT_DEFAULTS,
  type FlightCallOptions,
  type FlightNotice,
  type SingleFlight,
  type SingleFlightEvents,
  type SingleFlightOptions,
  type SingleFlightStats,
  createSingleFlight,
} from './flight.js';
export { SwrError, type SwrErrorCode } from './errors.js';
