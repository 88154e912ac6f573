import { type CacheOptions, EdgeCacheImpl, type EdgeCache } from './cache.js';
import { resolveOptions } from './options.js';
import { createSwrCoalescer } from './swr-coalescer.js';

/**
 * Creates an edge cache. With no `redis` it is a single node's memory cache; with `redis` every
 * node shares an L2 in Redis, tag generations, a bus that invalidates each node's L1, and one
 * origin call per key across nodes.
 *
 * @example
 * const cache = createCache({ redis, routes: { 'GET /api/products/:id': { ttl: 60_000, tags: ['product:{id}'] } } });
 * http.createServer(cache.handler(forwarder.forward)).listen(8080);
 * await cache.invalidateTag('product:42');
 */
export function createCache(options: CacheOptions = {}): EdgeCache {
  return new EdgeCacheImpl(resolveOptions(options), (deps) => createSwrCoalescer(deps));
}
