import { createManualClock } from '@edgekit/core/testing';
import { describe, expect, it } from 'vitest';
import { type SwrEntry, type SwrStore, SwrError, createMemoryStore, createSwr } from '../src/index.js';

/** A memory store that records the retention asked for each write. */
function recordingStore(clock: ReturnType<typeof createManualClock>): SwrStore & { ttls: number[] } {
  const inner = createMemoryStore({ clock });
  const ttls: number[] = [];
  return {
    name: 'recording',
    ttls,
    get: (key) => inner.get(key),
    set: (key, entry, ttl) => {
      ttls.push(ttl);
      return inner.set(key, entry, ttl);
    },
    delete: (keys) => inner.delete(keys),
    deletePattern: (pattern) => inner.deletePattern(pattern),
    clear: () => inner.clear(),
    close: () => inner.close(),
  };
}

function deferred<T>(): { promise: Promise<T>; resolve: (v: T) => void; reject: (e: unknown) => void } {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

const flush = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('createSwr with the memory store', () => {
  it('answers miss, then fresh, then stale with one background refresh, then the refreshed value', async () => {
    const clock = createManualClock(1_000);
    const swr = createSwr({ clock });
    let calls = 0;
    const fetch = async (): Promise<string> => `v${++calls}`;
    const policy = { ttl: 1_000, staleWhileRevalidate: 5_000 };

    expect(await swr.resolve('k', fetch, policy)).toMatchObject({ value: 'v1', status: 'miss' });
    clock.advance(999);
    expect(await swr.resolve('k', fetch, policy)).toMatchObject({ value: 'v1', status: 'fresh' });
    clock.advance(1);
    const stale = await Promise.all([swr.resolve('k', fetch, policy), swr.resolve('k', fetch, policy)]);
    expect(stale.map((r) => [r.value, r.status])).toEqual([
      ['v1', 'stale'],
      ['v1', 'stale'],
    ]);
    await flush();
    expect(calls).toBe(2);
    expect(await swr.resolve('k', fetch, policy)).toMatchObject({ value: 'v2', status: 'fresh' });
    await swr.close();
  });

  it('runs one fetch for concurrent misses of a key in the process', async () => {
    const clock = createManualClock();
    const swr = createSwr({ clock });
    const gate = deferred<number>();
    let calls = 0;
    const results = Promise.all(
      Array.from({ length: 50 }, () =>
        swr('k', () => {
          calls++;
          return gate.promise;
        }, { ttl: 1_000 }),
      ),
    );
    await flush();
    gate.resolve(42);
    expect(await results).toEqual(Array(50).fill(42));
    expect(calls).toBe(1);
    expect(swr.stats()).toMatchObject({ miss: 50, flight: { fetches: 1, joined: 49 } });
    await swr.close();
  });

  it('stores an entry for ttl + max(staleWhileRevalidate, staleIfError), not ttl * 2', async () => {
    const clock = createManualClock();
    const store = recordingStore(clock);
    const swr = createSwr({ clock, store });
    await swr('a', () => 1, { ttl: 1_000, staleWhileRevalidate: 60_000 });
    await swr('b', () => 1, { ttl: 1_000, staleWhileRevalidate: 500, staleIfError: 9_000 });
    await swr('c', () => 1, { ttl: 1_000 });
    expect(store.ttls).toEqual([61_000, 10_000, 1_000]);
    await swr.close();
  });

  it('forgets a value after its stale window and fetches again (a miss)', async () => {
    const clock = createManualClock();
    const swr = createSwr({ clock });
    let calls = 0;
    const fetch = (): number => ++calls;
    await swr('k', fetch, { ttl: 100, staleWhileRevalidate: 100 });
    clock.advance(200);
    expect(await swr.resolve('k', fetch, { ttl: 100, staleWhileRevalidate: 100 })).toMatchObject({ value: 2, status: 'miss' });
    await swr.close();
  });

  it('serves the stale value inside stale-if-error when the fetch fails, and throws after it', async () => {
    const clock = createManualClock();
    const swr = createSwr({ clock });
    await swr('k', () => 'good', { ttl: 1_000, staleIfError: 5_000 });
    clock.advance(3_000);
    const failing = (): Promise<string> => Promise.reject(new Error('origin down'));
    expect(await swr.resolve('k', failing, { ttl: 1_000, staleIfError: 5_000 })).toMatchObject({ value: 'good', status: 'stale-error' });
    clock.advance(3_000);
    await expect(swr('k', failing, { ttl: 1_000, staleIfError: 5_000 })).rejects.toThrow('origin down');
    expect(swr.stats().staleError).toBe(1);
    await swr.close();
  });

  it('reports a failed background refresh through the error event, never as an unhandled rejection', async () => {
    const clock = createManualClock();
    const swr = createSwr({ clock });
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown): void => void unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    try {
      const errors: Array<{ key: string; operation: string; error: Error }> = [];
      swr.on('error', (e) => errors.push(e));
      await swr('k', () => 'v1', { ttl: 100, staleWhileRevalidate: 1_000 });
      clock.advance(150);
      expect(await swr('k', () => Promise.reject(new Error('refresh failed')), { ttl: 100, staleWhileRevalidate: 1_000 })).toBe('v1');
      await flush();
      await flush();
      expect(errors).toHaveLength(1);
      expect(errors[0]).toMatchObject({ key: 'k', operation: 'revalidate' });
      expect(errors[0]!.error.message).toBe('refresh failed');
      expect(unhandled).toEqual([]);
      // The stale value stays in place for the next caller.
      expect(await swr.resolve('k', () => 'v2', { ttl: 100, staleWhileRevalidate: 1_000 })).toMatchObject({ value: 'v1', status: 'stale' });
    } finally {
      process.off('unhandledRejection', onUnhandled);
      await swr.close();
    }
  });

  it('emits revalidate with the new entry after a background refresh', async () => {
    const clock = createManualClock();
    const swr = createSwr({ clock });
    const seen: SwrEntry[] = [];
    swr.on('revalidate', ({ entry }) => seen.push(entry));
    await swr('k', () => 1, { ttl: 10, staleWhileRevalidate: 100 });
    clock.advance(20);
    await swr('k', () => 2, { ttl: 10, staleWhileRevalidate: 100 });
    await flush();
    expect(seen.map((e) => e.value)).toEqual([2]);
    expect(seen[0]).toMatchObject({ createdAt: 20, freshUntil: 30, staleUntil: 130 });
    await swr.close();
  });

  it('keeps serving from the origin when the store fails, and reports the store error', async () => {
    const clock = createManualClock();
    const broken: SwrStore = {
      name: 'broken',
      get: () => Promise.reject(new Error('store down')),
      set: () => Promise.reject(new Error('store down')),
      delete: () => Promise.reject(new Error('store down')),
      deletePattern: () => Promise.reject(new Error('store down')),
      clear: () => Promise.reject(new Error('store down')),
      close: async () => {},
    };
    const swr = createSwr({ clock, store: broken });
    const errors: string[] = [];
    swr.on('error', (e) => errors.push(`${e.operation}:${(e.error as SwrError).code}`));
    expect(await swr('k', () => 'origin', { ttl: 1_000 })).toBe('origin');
    expect(errors).toEqual(['get:ESTORE', 'set:ESTORE']);
    await swr.close();
  });

  it('times out a store that never answers and fetches instead', async () => {
    const clock = createManualClock();
    const hanging: SwrStore = {
      name: 'hanging',
      get: () => new Promise(() => {}),
      set: () => new Promise(() => {}),
      delete: async () => 0,
      deletePattern: async () => 0,
      clear: async () => {},
      close: async () => {},
    };
    const swr = createSwr({ clock, store: hanging, operationTimeout: 50 });
    const errors: string[] = [];
    swr.on('error', (e) => errors.push((e.error as SwrError).code));
    const result = swr('k', () => 'origin', { ttl: 1_000 });
    await flush();
    await clock.advanceAsync(50);
    await clock.advanceAsync(50);
    expect(await result).toBe('origin');
    expect(errors).toEqual(['ETIMEDOUT', 'ETIMEDOUT']);
    await swr.close();
  });

  it('deletes a key so the next call fetches', async () => {
    const swr = createSwr({ clock: createManualClock() });
    let calls = 0;
    await swr('k', () => ++calls, { ttl: 1_000 });
    await swr.delete('k');
    expect(await swr('k', () => ++calls, { ttl: 1_000 })).toBe(2);
    await swr.close();
  });

  it('passes an abort signal to fetches and aborts it on close; later calls reject with ECLOSED', async () => {
    const swr = createSwr({ clock: createManualClock() });
    let signal: AbortSignal | undefined;
    const pending = swr('k', (ctx) => {
      signal = ctx.signal;
      return new Promise((_, reject) => ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason)));
    }, { ttl: 1_000 });
    await flush();
    await swr.close();
    expect(signal?.aborted).toBe(true);
    await expect(pending).rejects.toMatchObject({ code: 'ECLOSED' });
    await expect(swr('k', () => 1, { ttl: 1_000 })).rejects.toMatchObject({ code: 'ECLOSED' });
  });

  it('lets one caller stop waiting through its signal while the shared fetch goes on', async () => {
    const swr = createSwr({ clock: createManualClock() });
    const gate = deferred<string>();
    const controller = new AbortController();
    const first = swr('k', () => gate.promise, { ttl: 1_000 });
    const second = swr('k', () => gate.promise, { ttl: 1_000, signal: controller.signal });
    controller.abort(new Error('client left'));
    await expect(second).rejects.toThrow('client left');
    gate.resolve('done');
    expect(await first).toBe('done');
    await swr.close();
  });

  it('keeps the shared fetch for the others when the caller that started it gives up', async () => {
    const swr = createSwr({ clock: createManualClock() });
    const gate = deferred<string>();
    const controller = new AbortController();
    let calls = 0;
    const fetch = (): Promise<string> => {
      calls++;
      return gate.promise;
    };
    const first = swr('k', fetch, { ttl: 1_000, signal: controller.signal });
    const second = swr('k', fetch, { ttl: 1_000 });
    controller.abort(new Error('first client left'));
    await expect(first).rejects.toThrow('first client left');
    gate.resolve('done');
    expect(await second).toBe('done');
    expect(calls).toBe(1);
    await swr.close();
  });

  it('validates options and policies, naming the option', async () => {
    expect(() => createSwr({ lockTtl: 0 })).toThrow(/"lockTtl"/);
    expect(() => createSwr({ waitTimeout: -1 })).toThrow(/"waitTimeout"/);
    expect(() => createSwr({ redis: {} as never })).toThrow(/"redis"/);
    expect(() => createSwr({ prefix: 'a{b}' })).toThrow(/"prefix"/);
    expect(() => createSwr({ store: {} as never })).toThrow(/"store"/);
    const swr = createSwr();
    await expect(() => swr.resolve('k', () => 1, { ttl: 0 })).rejects.toThrow(/"ttl"/);
    await expect(() => swr.resolve('k', () => 1, {} as never)).rejects.toThrow(/"ttl"/);
    await expect(() => swr.resolve('k', () => 1, { ttl: 1, staleWhileRevalidate: -1 })).rejects.toThrow(/"staleWhileRevalidate"/);
    await expect(() => swr.resolve('', () => 1, { ttl: 1 })).rejects.toThrow(/key/);
    await expect(swr.resolve('k', () => 1, { ttl: 1, staleTtl: 5 } as never)).rejects.toThrow(
      expect.objectContaining({ code: 'ERR_RENAMED_OPTION', message: expect.stringContaining('option "staleTtl" was renamed; use "staleWhileRevalidate"') }),
    );
    await swr.close();
  });
});
