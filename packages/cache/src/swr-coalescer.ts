import { type SingleFlight, createSingleFlight } from '@edgekit/swr';
import type { Coalescer } from './coalesce.js';
import type { CacheEntry } from './entry.js';
import type { CoalescerDeps } from './cache.js';

/**
 * Request coalescing on `@edgekit/swr`'s single flight: one origin call per key in the process and,
 * with Redis, across every process (a `SET NX PX` lock per key, released by compare-and-delete;
 * waiters woken by a notice on the cache's bus, then reading the entry from L2). Lock keys are
 * `<prefix>lock:<coalescing key>`, which carries the URL's hash tag, so a lock and its entries share
 * a Cluster slot.
 */
export function createSwrCoalescer<V>(deps: CoalescerDeps): Coalescer<V> {
  const { options, clock, redis, bus } = deps;
  const flight: SingleFlight = createSingleFlight({
    clock,
    ...(redis === undefined ? {} : { redis, ...(bus === undefined ? {} : { bus }) }),
    ...(options.lockTtl === undefined ? {} : { lockTtl: options.lockTtl }),
    ...(options.waitTimeout === undefined ? {} : { waitTimeout: options.waitTimeout }),
    operationTimeout: options.operationTimeout,
    cooldown: options.cooldown,
    prefix: options.prefix,
    channel: `${options.channel}:flight`,
  });
  flight.on('error', (error) => deps.report(error));
  const callOptions = (key: string, after: number | undefined) => ({
    // What another process's fetch stored: a fresh entry newer than the one this caller holds.
    check: async (): Promise<V | undefined> => {
      const entry = await deps.lookup(key);
      if (entry === undefined || entry.age(clock.now()) >= entry.fresh) return undefined;
      return after === undefined || entry.createdAt > after ? (entry as V) : undefined;
    },
    stored: (value: V): boolean => deps.stored(value as unknown as CacheEntry),
  });
  return {
    run(key, fetch, after) {
      return flight.run(key, fetch, callOptions(key, after));
    },
    refresh(key, fetch, onDone, after) {
      flight.refresh(key, fetch, callOptions(key, after)).then(
        (value) => onDone(undefined, value),
        (error: unknown) => onDone(error),
      );
    },
    close() {
      return flight.close();
    },
  };
}
