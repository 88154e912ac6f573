import { createManualClock } from '@edgekit/core/testing';
import { describe, expect, it } from 'vitest';
import { type MemoryStoreOptions, createMemoryStore as createSwrMemoryStore } from '@edgekit/swr';
import { storeConformance } from '@edgekit/swr/testing';
import { CACHE_ENTRY_CODEC, type CacheEntry } from '../src/index.js';
import { createMemoryTagStore } from '../src/tag-store.js';
import { entry, same, sample, tagStoreConformance } from './store-conformance.js';

const createMemoryStore = (options: MemoryStoreOptions<CacheEntry> = {}) => createSwrMemoryStore<CacheEntry>({ maxSize: 64 * 1024 * 1024, ...options, codec: CACHE_ENTRY_CODEC });

describe('memory store of cache entries (the L1 tier)', () => {
  describe('conformance', () => {
    storeConformance(async () => {
      const clock = createManualClock(1_000);
      return { store: createMemoryStore({ clock }), elapse: async (ms) => clock.advance(ms), sample, same };
    });
  });

  it('stays within maxSize bytes, evicting the least recently used entries', () => {
    const store = createMemoryStore({ maxSize: 64 * 1024 });
    const big = entry({ body: Buffer.alloc(10 * 1024, 1), headers: [], tags: [] });
    for (let i = 0; i < 50; i++) store.put(`{k${i}}`, big, 60_000);
    expect(store.bytes).toBeLessThanOrEqual(64 * 1024);
    expect(store.size).toBeLessThan(7);
    expect(store.peek('{k49}')).toBeDefined();
    expect(store.peek('{k0}')).toBeUndefined();
  });

  it('does not keep an entry larger than maxEntrySize', () => {
    const store = createMemoryStore({ maxSize: 1024 * 1024, maxEntrySize: 4 * 1024 });
    store.put('{big}', entry({ body: Buffer.alloc(8 * 1024) }), 60_000);
    store.put('{small}', entry({ body: Buffer.alloc(100) }), 60_000);
    expect(store.peek('{big}')).toBeUndefined();
    expect(store.peek('{small}')).toBeDefined();
  });

  it('rejects invalid options naming the option', () => {
    expect(() => createMemoryStore({ maxSize: -1 })).toThrow(/"maxSize"/);
    expect(() => createMemoryStore({ maxSize: 4096, maxEntrySize: 8192 })).toThrow(/"maxEntrySize"/);
  });
});

describe('memory tag store', () => {
  tagStoreConformance(async () => createMemoryTagStore());

  it('forgets old tags beyond max by raising the floor, so no invalidation is lost', () => {
    const tags = createMemoryTagStore({ max: 2 });
    const entryGen = tags.current;
    tags.bump(['a']);
    tags.bump(['b']);
    tags.bump(['c']);
    expect(tags.size).toBe(2);
    // 'a' was forgotten, but an entry tagged 'a' from before its invalidation is still invalid.
    expect(tags.isValid(entryGen, ['a'])).toBe(false);
    expect(tags.isValid(tags.current, ['a', 'b', 'c'])).toBe(true);
  });

  it('refuses the former "maxTags" option, naming "max"', () => {
    expect(() => createMemoryTagStore({ maxTags: 2 } as never)).toThrow(expect.objectContaining({ code: 'ERR_RENAMED_OPTION', message: expect.stringContaining('use "max"') }));
  });

  it('drops records after their ttl without raising the floor', () => {
    const clock = createManualClock(0);
    const tags = createMemoryTagStore({ max: 1, ttl: 1_000, clock });
    tags.bump(['a']);
    clock.advance(1_000);
    tags.bump(['b']);
    expect(tags.floor).toBe(0);
  });
});
