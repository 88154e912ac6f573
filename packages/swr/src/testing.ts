import { expect, it } from 'vitest';
import type { SwrStore } from './store.js';

/** A store under test. `setup` builds a fresh one (an empty store, or one under a unique prefix) per test. */
export interface StoreFixture<E> {
  store: SwrStore<E>;
  /** Lets `ms` pass for the store's expiry (advance a manual clock, or wait in real time). */
  elapse(ms: number): Promise<void>;
  /** A distinct sample entry for each `n`, exercising what the entry type can hold (binary bodies, odd strings). */
  sample(n: number): E;
  /** Asserts that `actual` is `expected` after a round trip. Default: deep equality. */
  same?(actual: E | undefined, expected: E): void;
}

/**
 * The behaviour every {@link SwrStore} owes its callers (swr, the cache's tiers): call it inside a
 * `describe` with a fixture factory; memory, Redis and Redis Cluster stores all run it.
 *
 * @example
 * describe('redis store', () => storeConformance(async () => ({ store: createRedisStore({ redis, prefix: unique() }), elapse: sleep, sample })));
 */
export function storeConformance<E>(setup: () => Promise<StoreFixture<E>>): void {
  const check = (fixture: StoreFixture<E>, actual: E | undefined, expected: E): void => {
    if (fixture.same) fixture.same(actual, expected);
    else expect(actual).toEqual(expected);
  };

  it('returns undefined for a key it never stored', async () => {
    const { store } = await setup();
    expect(await store.get('{never}')).toBeUndefined();
  });

  it('round-trips an entry', async () => {
    const fixture = await setup();
    await fixture.store.set('{GET a.com/p/1}', fixture.sample(1), 60_000);
    check(fixture, await fixture.store.get('{GET a.com/p/1}'), fixture.sample(1));
  });

  it('replaces an entry stored under the same key', async () => {
    const fixture = await setup();
    await fixture.store.set('{k}', fixture.sample(1), 60_000);
    await fixture.store.set('{k}', fixture.sample(2), 60_000);
    check(fixture, await fixture.store.get('{k}'), fixture.sample(2));
  });

  it('keeps keys apart, including hostile ones (braces, CRLF, binary, long)', async () => {
    const fixture = await setup();
    const keys = ['{a}', '{a}}', '{{a}', '{}{', '{%7B}', '{line\r\nbreak}', '{\u0000\u00ff\ud83d\ude00}', `{${'x'.repeat(4_000)}}`];
    for (const [i, key] of keys.entries()) await fixture.store.set(key, fixture.sample(i), 60_000);
    for (const [i, key] of keys.entries()) check(fixture, await fixture.store.get(key), fixture.sample(i));
  });

  it('stores nothing for a ttl that is not positive', async () => {
    const fixture = await setup();
    await fixture.store.set('{zero}', fixture.sample(1), 0);
    await fixture.store.set('{negative}', fixture.sample(1), -5);
    expect(await fixture.store.get('{zero}')).toBeUndefined();
    expect(await fixture.store.get('{negative}')).toBeUndefined();
  });

  it('forgets an entry once its ttl has passed, and only that one', async () => {
    const fixture = await setup();
    await fixture.store.set('{short}', fixture.sample(1), 150);
    await fixture.store.set('{long}', fixture.sample(2), 600_000);
    await fixture.elapse(400);
    expect(await fixture.store.get('{short}')).toBeUndefined();
    check(fixture, await fixture.store.get('{long}'), fixture.sample(2));
  });

  it('deletes keys and reports how many existed', async () => {
    const fixture = await setup();
    await fixture.store.set('{a}', fixture.sample(1), 60_000);
    await fixture.store.set('{b}', fixture.sample(2), 60_000);
    expect(await fixture.store.delete(['{a}', '{b}', '{missing}'])).toBe(2);
    expect(await fixture.store.get('{a}')).toBeUndefined();
    expect(await fixture.store.delete([])).toBe(0);
  });

  it('deletes by Redis glob pattern, suffixed keys included, and nothing else', async () => {
    const fixture = await setup();
    const keys = ['{GET a.com/api/products/1}', '{GET a.com/api/products/1}vt1:accept-language=en', '{GET a.com/api/products/2}', '{GET a.com/api/users/1}', '{GET b.com/api/products/1}'];
    for (const key of keys) await fixture.store.set(key, fixture.sample(1), 60_000);
    expect(await fixture.store.deletePattern('{GET a.com/api/products/*}*')).toBe(3);
    expect(await fixture.store.get('{GET a.com/api/products/1}vt1:accept-language=en')).toBeUndefined();
    expect(await fixture.store.get('{GET a.com/api/users/1}')).toBeDefined();
    expect(await fixture.store.get('{GET b.com/api/products/1}')).toBeDefined();
  });

  it('deletes thousands of matching keys in batches', async () => {
    const fixture = await setup();
    const small = fixture.sample(0);
    await Promise.all(Array.from({ length: 1_500 }, (_, i) => fixture.store.set(`{GET a.com/bulk/${i}}`, small, 60_000)));
    await fixture.store.set('{GET a.com/keep}', small, 60_000);
    expect(await fixture.store.deletePattern('{GET a.com/bulk/*}*')).toBe(1_500);
    expect(await fixture.store.get('{GET a.com/bulk/42}')).toBeUndefined();
    expect(await fixture.store.get('{GET a.com/keep}')).toBeDefined();
  });

  it('treats glob metacharacters in a pattern as Redis does', async () => {
    const fixture = await setup();
    for (const key of ['{x?a=1}', '{x?b=1}', '{x[1]}', '{xx}']) await fixture.store.set(key, fixture.sample(1), 60_000);
    expect(await fixture.store.deletePattern('{x\\?[a]=1}*')).toBe(1);
    expect(await fixture.store.deletePattern('{x\\[1\\]}*')).toBe(1);
    expect(await fixture.store.get('{x?b=1}')).toBeDefined();
    expect(await fixture.store.get('{xx}')).toBeDefined();
  });

  it('clears everything it holds', async () => {
    const fixture = await setup();
    await fixture.store.set('{a}', fixture.sample(1), 60_000);
    await fixture.store.set('{b}', fixture.sample(2), 60_000);
    await fixture.store.clear();
    expect(await fixture.store.get('{a}')).toBeUndefined();
    expect(await fixture.store.get('{b}')).toBeUndefined();
  });
}
