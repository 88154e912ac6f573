export { type L1Options, SWR_DEFAULTS, type Swr, type SwrErrorEvent, type SwrEvents, type SwrFetch, type SwrFetchContext, type SwrOptions, type SwrStats, createSwr } from './swr.js';
export type { SwrEntry, SwrPolicy, SwrResult, SwrStatus } from './entry.js';
export type { EntryCodec, SwrStore } from './store.js';
export { SWR_ENTRY_CODEC } from './codec.js';
export { MEMORY_STORE_DEFAULTS, MemoryStore, type MemoryStoreOptions, createMemoryStore } from './memory-store.js';
export { REDIS_STORE_DEFAULTS, RedisStore, type RedisStoreOptions, createRedisStore } from './redis-store.js';
export { compileGlob, escapeGlob } from './glob.js';
export {
  SINGLE_FLIGHT_DEFAULTS,
  type FlightCallOptions,
  type FlightNotice,
  type SingleFlight,
  type SingleFlightEvents,
  type SingleFlightOptions,
  type SingleFlightStats,
} from './single-flight.js';
export { createSingleFlight } from './flight.js';
export { SwrError, type SwrErrorCode, isSwrError } from './errors.js';
