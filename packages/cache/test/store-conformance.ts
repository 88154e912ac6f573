import { expect, it } from 'vitest';
import { CacheEntry, type EntryData } from '../src/entry.js';
import type { CacheStore, TagStore } from '../src/store.js';

/** A store under test, with a way to let `ms` pass for its expiry (a manual clock, or real time). */
export interface StoreFixture {
  store: CacheStore;
  /** Waits until `check` holds, letting time pass as the store needs (advance a clock or poll). */
  elapse(ms: number): Promise<void>;
}

export function entry(overrides: Partial<EntryData> = {}): CacheEntry {
  return new CacheEntry({
    kind: 'response',
    status: 200,
    headers: ['content-type', 'application/octet-stream', 'etag', '"v1"', 'x-multi', 'a', 'x-multi', 'b'],
    body: Buffer.from([0, 1, 2, 255, 13, 10, 0x7b]),
    tags: ['product:1', 'naïve tag'],
    gen: 7,
    createdAt: 1_000,
    initialAge: 2_000,
    fresh: 60_000,
    swr: 5_000,
    sie: 10_000,
    mustRevalidate: false,
    etag: '"v1"',
    lastModified: 500_000,
    vary: [],
    token: '',
    ...overrides,
  });
}

/**
 * The conformance suite every {@link CacheStore} runs (memory and Redis, standalone and Cluster).
 * Call inside a `describe`; `setup` is called once per test.
 */
export function cacheStoreConformance(setup: () => Promise<StoreFixture>): void {
  it('returns undefined for a key it never stored', async () => {
    const { store } = await setup();
    expect(await store.get('{GET a.com/none}')).toBeUndefined();
  });

  it('round-trips every field of an entry, binary body included', async () => {
    const { store } = await setup();
    const original = entry();
    await store.set('{GET a.com/p/1}', original, 60_000);
    const got = await store.get('{GET a.com/p/1}');
    expect(got).toBeInstanceOf(CacheEntry);
    expect(got?.data()).toEqual(original.data());
    expect(Buffer.compare(got!.body, original.body)).toBe(0);
  });

  it('round-trips vary records and value entries', async () => {
    const { store } = await setup();
    await store.set('{GET a.com/v}', entry({ kind: 'vary', status: 0, headers: [], body: Buffer.alloc(0), vary: ['accept-language'], token: 'abc' }), 60_000);
    await store.set('{wrap:k}', entry({ kind: 'value', status: 0, headers: [], body: Buffer.from('{"a":[1,2]}'), etag: undefined, lastModified: undefined }), 60_000);
    expect((await store.get('{GET a.com/v}'))?.vary).toEqual(['accept-language']);
    expect((await store.get('{wrap:k}'))?.value()).toEqual({ a: [1, 2] });
  });

  it('replaces an entry stored under the same key', async () => {
    const { store } = await setup();
    await store.set('{k}', entry({ status: 200 }), 60_000);
    await store.set('{k}', entry({ status: 404 }), 60_000);
    expect((await store.get('{k}'))?.status).toBe(404);
  });

  it('forgets an entry once its ttl has passed', async () => {
    const fixture = await setup();
    await fixture.store.set('{short}', entry(), 150);
    await fixture.store.set('{long}', entry(), 600_000);
    await fixture.elapse(400);
    expect(await fixture.store.get('{short}')).toBeUndefined();
    expect(await fixture.store.get('{long}')).toBeDefined();
  });

  it('deletes keys and reports how many existed', async () => {
    const { store } = await setup();
    await store.set('{a}', entry(), 60_000);
    await store.set('{b}', entry(), 60_000);
    expect(await store.delete(['{a}', '{b}', '{missing}'])).toBe(2);
    expect(await store.get('{a}')).toBeUndefined();
    expect(await store.delete([])).toBe(0);
  });

  it('deletes by Redis glob pattern, variants included, and nothing else', async () => {
    const { store } = await setup();
    const keys = ['{GET a.com/api/products/1}', '{GET a.com/api/products/1}vt1:accept-language=en', '{GET a.com/api/products/2}', '{GET a.com/api/users/1}', '{GET b.com/api/products/1}'];
    for (const key of keys) await store.set(key, entry(), 60_000);
    expect(await store.deletePattern('{GET a.com/api/products/*}*')).toBe(3);
    expect(await store.get('{GET a.com/api/products/1}')).toBeUndefined();
    expect(await store.get('{GET a.com/api/products/1}vt1:accept-language=en')).toBeUndefined();
    expect(await store.get('{GET a.com/api/users/1}')).toBeDefined();
    expect(await store.get('{GET b.com/api/products/1}')).toBeDefined();
  });

  it('deletes thousands of matching keys in batches', async () => {
    const { store } = await setup();
    const small = entry({ body: Buffer.from('x'), headers: [] });
    await Promise.all(Array.from({ length: 1_500 }, (_, i) => store.set(`{GET a.com/bulk/${i}}`, small, 60_000)));
    await store.set('{GET a.com/keep}', small, 60_000);
    expect(await store.deletePattern('{GET a.com/bulk/*}*')).toBe(1_500);
    expect(await store.get('{GET a.com/bulk/42}')).toBeUndefined();
    expect(await store.get('{GET a.com/keep}')).toBeDefined();
  });

  it('treats glob metacharacters in a pattern as Redis does', async () => {
    const { store } = await setup();
    for (const key of ['{x?a=1}', '{x?b=1}', '{x[1]}', '{xx}']) await store.set(key, entry(), 60_000);
    expect(await store.deletePattern('{x\\?[a]=1}*')).toBe(1);
    expect(await store.deletePattern('{x\\[1\\]}*')).toBe(1);
    expect(await store.get('{x?b=1}')).toBeDefined();
    expect(await store.get('{xx}')).toBeDefined();
  });

  it('clears everything it holds', async () => {
    const { store } = await setup();
    await store.set('{a}', entry(), 60_000);
    await store.set('{b}', entry(), 60_000);
    await store.clear();
    expect(await store.get('{a}')).toBeUndefined();
    expect(await store.get('{b}')).toBeUndefined();
  });
}

/** The conformance suite every {@link TagStore} runs. */
export function tagStoreConformance(setup: () => Promise<TagStore>): void {
  it('starts every tag at generation 0', async () => {
    const tags = await setup();
    expect(await tags.generations(['never', 'seen'])).toEqual([0, 0]);
    expect(await tags.generations([])).toEqual([]);
  });

  it('advances the generation on every invalidation and stamps the tags with it', async () => {
    const tags = await setup();
    const before = await tags.generation();
    const g1 = await tags.invalidate(['product:1', 'category:a']);
    expect(g1).toBeGreaterThan(before);
    expect(await tags.generation()).toBe(g1);
    const g2 = await tags.invalidate(['product:2']);
    expect(g2).toBeGreaterThan(g1);
    expect(await tags.generations(['product:1', 'category:a', 'product:2', 'other'])).toEqual([g1, g1, g2, 0]);
  });

  it('advances without tags (pattern and key invalidations)', async () => {
    const tags = await setup();
    const g1 = await tags.generation();
    expect(await tags.invalidate([])).toBe(g1 + 1);
  });

  it('accepts tags with spaces, braces, CR/LF and non-ASCII as distinct tags', async () => {
    const tags = await setup();
    const hostile = ['a b', 'a\r\nb', '{x}', 'ünï', 'a%20b'];
    const g = await tags.invalidate(hostile.slice(0, 4));
    expect(await tags.generations(hostile)).toEqual([g, g, g, g, 0]);
  });
}
