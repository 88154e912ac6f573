import { expect, it } from 'vitest';
import { CacheEntry, type EntryData } from '../src/entry.js';
import type { TagStore } from '../src/store.js';

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

/** Distinct cache entries for `@edgekit/swr/testing`'s store suite: responses, a vary record and a value. */
export function sample(n: number): CacheEntry {
  if (n % 3 === 1) return entry({ kind: 'vary', status: 0, headers: [], body: Buffer.alloc(0), vary: ['accept-language', `x-${n}`], token: `t${n}` });
  if (n % 3 === 2) return entry({ kind: 'value', status: 0, headers: [], body: Buffer.from(JSON.stringify({ n, list: [1, 'x'] })), etag: undefined, lastModified: undefined });
  return entry({ status: 200 + n, body: Buffer.from([n & 255, 0, 255, 13, 10, 0x7b]) });
}

/** Round-trip equality of cache entries: every field, the binary body included. */
export function same(actual: CacheEntry | undefined, expected: CacheEntry): void {
  expect(actual).toBeInstanceOf(CacheEntry);
  expect(actual!.data()).toEqual(expected.data());
  expect(Buffer.compare(actual!.body, expected.body)).toBe(0);
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
