import { createMemoryBus, createMemoryBusHub } from '@edgekit/bus';
import { describe, expect, it } from 'vitest';
import { createMemoryStore } from '@edgekit/swr';
import { CACHE_DEFAULTS, CACHE_ENTRY_CODEC, type InvalidationNotice, createCache, isCacheError } from '../src/index.js';
import { testOrigin, until } from './helpers.js';

describe('createCache options', () => {
  it('names the option and value in validation errors', () => {
    expect(() => createCache({ maxBodySize: -1 })).toThrow(/"maxBodySize".*-1/);
    expect(() => createCache({ operationTimeout: 0 })).toThrow(RangeError);
    expect(() => createCache({ name: 'has space' })).toThrow(/"name"/);
    expect(() => createCache({ requestCacheControl: 'always' as never })).toThrow(/"requestCacheControl"/);
    expect(() => createCache({ cacheableStatuses: [99] })).toThrow(/"cacheableStatuses"/);
    expect(() => createCache({ tagHeaders: ['bad header'] })).toThrow(/"tagHeaders"/);
    expect(() => createCache({ redis: {} as never })).toThrow(/"redis"/);
    expect(() => createCache({ prefix: 'a{b' })).toThrow(/"prefix"/);
    expect(() => createCache({ l1: false })).toThrow(/"l1" may be false only with a shared store/);
    expect(() => createCache({ routes: [] as never })).toThrow(/"routes"/);
    expect(() => createCache({ store: createMemoryStore({ codec: CACHE_ENTRY_CODEC }) })).toThrow(/needs a shared "tagStore"/);
  });

  it('refuses former option names with a coded TypeError naming the current one', () => {
    expect(() => createCache({ storeTimeout: 100 } as never)).toThrow(
      expect.objectContaining({ code: 'ERR_RENAMED_OPTION', message: expect.stringContaining('option "storeTimeout" was renamed; use "operationTimeout"') }),
    );
    expect(() => createCache({ storeCooldown: 100 } as never)).toThrow(/"storeCooldown" was renamed; use "cooldown"/);
  });

  it('exposes its defaults', () => {
    expect(CACHE_DEFAULTS.maxBodySize).toBe(4 * 1024 * 1024);
    expect(CACHE_DEFAULTS.requestCacheControl).toBe('ignore');
  });

  it('needs an origin for handler() and warm()', async () => {
    const cache = createCache();
    expect(() => cache.handler()).toThrow(/origin/);
    await expect(cache.warm(['/x'])).rejects.toThrow(/origin/);
  });

  it('reports an origin 5xx met while warming as ECACHESTORE caused by an EORIGINSTATUS CacheError', async () => {
    const { origin } = testOrigin(() => ({ status: 500, body: 'boom' }));
    const cache = createCache({ routes: { 'GET /api/*': { ttl: 60_000 } } });
    cache.handler(origin);
    const report = await cache.warm(['/api/x'], { host: 'shop.example' });
    await cache.close();
    expect(report.warmed).toEqual([]);
    const error = report.failed[0]?.error;
    expect(error).toMatchObject({ code: 'ECACHESTORE', message: expect.stringContaining('origin answered 500') });
    expect(isCacheError(error?.cause)).toBe(true);
    expect(error?.cause).toMatchObject({ code: 'EORIGINSTATUS', status: 500, operation: 'fetch' });
  });

  it('closes idempotently', async () => {
    const cache = createCache();
    await cache.close();
    await cache.close();
  });
});

describe('memory-only nodes on a shared in-process bus', () => {
  it('invalidates tags on every node without Redis', async () => {
    const hub = createMemoryBusHub();
    const nodes = [1, 2, 3].map(() => createCache({ bus: createMemoryBus({ hub }) }));
    const seen: InvalidationNotice[][] = nodes.map(() => []);
    nodes.forEach((n, i) => n.on('invalidate', (e) => seen[i]!.push(e)));
    let calls = 0;
    const fn = async () => ++calls;
    for (const node of nodes) await node.wrap('k', fn, { ttl: 60_000, tags: ['t'] });
    expect(calls).toBe(3);
    await nodes[0]!.invalidateTag('t');
    await until(() => seen.every((s) => s.length === 1));
    for (const node of nodes) await node.wrap('k', fn, { ttl: 60_000, tags: ['t'] });
    expect(calls).toBe(6);
    await Promise.all(nodes.map((n) => n.close()));
  });
});
