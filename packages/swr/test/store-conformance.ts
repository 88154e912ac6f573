import { expect, it } from 'vitest';
import type { SwrEntry, SwrStore } from '../src/index.js';

/** The behaviour every {@link SwrStore} owes swr. `elapse` lets `ms` pass for the store's expiry. */
export function swrStoreConformance(make: () => Promise<{ store: SwrStore; elapse: (ms: number) => Promise<void> }>): void {
  const entry = (value: unknown): SwrEntry => ({ value, createdAt: 1, freshUntil: 2, staleUntil: 3, errorUntil: 4 });

  it('returns what was set, windows included', async () => {
    const { store } = await make();
    await store.set('k', entry({ a: [1, 'x'] }), 10_000);
    expect(await store.get('k')).toEqual(entry({ a: [1, 'x'] }));
  });

  it('returns undefined for an absent key', async () => {
    const { store } = await make();
    expect(await store.get('absent')).toBeUndefined();
  });

  it('forgets an entry once its ttl has passed', async () => {
    const { store, elapse } = await make();
    await store.set('k', entry(1), 150);
    await elapse(400);
    expect(await store.get('k')).toBeUndefined();
  });

  it('deletes an entry', async () => {
    const { store } = await make();
    await store.set('k', entry(1), 10_000);
    await store.delete('k');
    expect(await store.get('k')).toBeUndefined();
  });

  it('keeps keys apart, including hostile ones (braces, CRLF, binary, long)', async () => {
    const { store } = await make();
    const keys = ['a', 'a}', '{a}', '}{', '%7B', 'line\r\nbreak', '\u0000\u00ff\ud83d\ude00', 'x'.repeat(4_000)];
    for (const [i, key] of keys.entries()) await store.set(key, entry(i), 10_000);
    for (const [i, key] of keys.entries()) expect((await store.get(key))?.value).toBe(i);
  });

  it('ignores a non-positive ttl', async () => {
    const { store } = await make();
    await store.set('k', entry(1), 0);
    expect(await store.get('k')).toBeUndefined();
  });
}
