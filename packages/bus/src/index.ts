export { BusError, type BusErrorCode, isBusError } from './errors.js';
export { BUS_DEFAULTS } from './local.js';
export { type MemoryBusHub, type MemoryBusOptions, createMemoryBus, createMemoryBusHub } from './memory.js';
export { REDIS_BUS_DEFAULTS, type RedisBusOptions, createRedisBus } from './redis.js';
export type { Bus, BusEvents, BusGap, BusMeta } from './types.js';
