import { type Disposable, systemClock } from '@edgekit/core';
import { Redis } from 'ioredis';
import type { ComponentSet } from './components.js';
import type { GatewayConfig } from './config.js';
import { type EventStream, openEventStream } from './event-stream.js';
import type { GeoLocator } from '@edgekit/geo';
import { compileLocator } from './locator.js';
import type { StatusCounters } from './status.js';
import type { GatewayTelemetry } from './telemetry.js';

/** What every pipeline shares with the gateway (outlives reloads). */
export interface PipelineContext {
  counters: StatusCounters;
  telemetry: GatewayTelemetry;
  log: (level: 'info' | 'warn' | 'error', msg: string, fields?: Record<string, unknown>) => void;
}

/** Disposes every subscription of a component when it is released. */
export const observe = (disposables: Array<Disposable | undefined>) => () => {
  for (const disposable of disposables) disposable?.[Symbol.dispose]();
};

/** The connections and data every layer may use: Redis, the NATS event stream, the client locator. */
export interface SharedLayer {
  redis: Redis | undefined;
  events: EventStream | undefined;
  locator: GeoLocator;
}

/** Builds (or reuses) the shared layer of `config`. */
export async function buildShared(config: GatewayConfig, context: PipelineContext, components: ComponentSet): Promise<SharedLayer> {
  const { log } = context;
  const redis = config.redis.url === null
    ? undefined
    : (await components.use('redis', config.redis.url, 'redis.url', () => {
        // Commands fail fast while Redis is away, so the cache steps aside instead of queueing.
        const client = new Redis(config.redis.url!, { maxRetriesPerRequest: 1, lazyConnect: false });
        client.on('error', (error: Error) => log('warn', 'redis error', { error: error.message }));
        return client;
      }, (client) => void client.disconnect())).value;

  const nats = config.bus.driver === 'nats' ? config.bus.nats : undefined;
  const events = nats === undefined
    ? undefined
    : (await components.use('events', { nats, nodeId: config.edge.nodeId }, 'bus.nats', async () => {
        const opened = await openEventStream(nats, config.edge.nodeId, systemClock);
        const unobserve = observe([
          opened.bus.on('behind', () => log('warn', 'event stream: behind', { lag: opened.bus.lag })),
          opened.bus.on('caughtUp', (info) => log('info', 'event stream: caught up', { replayed: info.replayed })),
          opened.bus.on('error', (error) => log('warn', 'event stream error', { code: error.code, error: error.message })),
        ]);
        return Object.assign(opened, { unobserve });
      }, async (value) => {
        value.unobserve();
        await value.close();
      })).value;

  const { value: locator } = await components.use('locator', config.geo, 'geo', async () => {
    const created = compileLocator(config.geo);
    await created.ready();
    return created;
  }, (value) => value.close());
  return { redis, events, locator };
}
