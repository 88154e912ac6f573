import type { IncomingMessage, ServerResponse } from 'node:http';
import { type EdgeCache, createCache, createPurgeHandler } from '@edgekit/cache';
import { type ComponentSet, identity } from './components.js';
import type { GatewayConfig } from './config.js';
import { type PipelineContext, type SharedLayer, observe } from './pipeline-shared.js';
import { principalOf } from './principal.js';

/** The response cache in front of the default regions' forwarder, and its purge endpoint. */
export interface CacheLayer {
  cache: EdgeCache | undefined;
  purge: ((req: IncomingMessage, res: ServerResponse) => void) | undefined;
}

/** Builds (or reuses) the cache layer of `config`; none when `cache.enabled` is false. */
export async function buildCacheLayer(config: GatewayConfig, context: PipelineContext, components: ComponentSet, shared: SharedLayer): Promise<CacheLayer> {
  if (!config.cache.enabled) return { cache: undefined, purge: undefined };
  const { telemetry, counters, log } = context;
  const { redis, events } = shared;
  const apiKeyHeader = config.auth.apiKeys?.header;
  const built = await components.use('cache', { cache: config.cache, redis: identity(redis), events: identity(events), prefix: config.redis.prefix, apiKeyHeader, unsafeInvalidation: unsafeInvalidationOf(config) }, 'cache', () => {
    const created = createCache({
      routes: config.cache.routes,
      l1: { maxSize: config.cache.maxSize },
      maxBodySize: config.cache.maxBodySize,
      ignoreQueryParams: config.cache.ignoreQueryParams,
      // Authenticated requests are private (or keyed by principal).
      principal: principalOf,
      credentialHeaders: apiKeyHeader === undefined ? ['authorization'] : ['authorization', apiKeyHeader],
      unsafeInvalidation: unsafeInvalidationOf(config),
      ...(config.cache.host === undefined ? {} : { host: config.cache.host }),
      ...(redis === undefined ? {} : { redis, prefix: `${config.redis.prefix}cache:` }),
      ...(events === undefined ? {} : { bus: events.bus }),
    });
    const unobserve = observe([
      created.on('lookup', (event) => counters.recordLookup(event.status)),
      created.on('error', (error) => log('warn', 'cache error', { error: (error as Error).message })),
      telemetry.observeCache(created),
    ]);
    return Object.assign(created, { unobserve, purge: createPurgeHandler(created, { authorize: () => true }) });
  }, async (value) => {
    value.unobserve();
    await value.close();
  });
  return { cache: built.value, purge: built.value.purge };
}

export type UnsafeInvalidation = 'always' | 'authenticated' | 'never';

/** `cache.unsafeInvalidation`, or its default: 'authenticated' when the gateway authenticates (API keys or JWTs), else 'always'. */
export function unsafeInvalidationOf(config: GatewayConfig): UnsafeInvalidation {
  const configured = config.cache.unsafeInvalidation;
  if (configured !== undefined) return configured;
  return config.auth.apiKeys !== undefined || config.auth.jwt !== undefined ? 'authenticated' : 'always';
}
