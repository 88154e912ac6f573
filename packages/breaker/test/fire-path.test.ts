/**
 * The closed-breaker path of `fire()`: arguments passed as they came (no array unless a call
 * fails), promise reactions taken from a per-breaker pool and reused once a call has settled.
 * Each call must still see only its own arguments, value and error, whatever the concurrency.
 */
import { describe, expect, it } from 'vitest';
import { CircuitBreaker } from '../src/index.js';
import { deferred, type Deferred } from './helpers.js';

const lean = { timeout: false, volumeThreshold: 100_000 } as const;

describe('fire() on a closed breaker', () => {
  it('keeps each call its own value, error and arguments with more calls in flight than the pool holds', async () => {
    const pending: Deferred<string>[] = [];
    const breaker = new CircuitBreaker((id: number, tag: string) => {
      const d = deferred<string>();
      pending[id] = d;
      return d.promise;
    }, lean);
    const calls = Array.from({ length: 200 }, (_, id) => breaker.fire(id, `t${id}`).then((v) => `ok:${v}`, (e: Error) => `err:${e.message}`));
    // A failure listener added while the calls are in flight sees each failing call's own arguments.
    const failedArgs: unknown[][] = [];
    breaker.on('failure', (_error, _latency, args) => failedArgs.push(args));
    // Settle in an order unlike the start order, so reactions are reused across calls.
    for (let id = 199; id >= 0; id -= 2) pending[id]?.resolve(`v${id}`);
    for (let id = 0; id < 200; id += 2) pending[id]?.reject(new Error(`e${id}`));
    const results = await Promise.all(calls);
    expect(results).toEqual(Array.from({ length: 200 }, (_, id) => (id % 2 === 1 ? `ok:v${id}` : `err:e${id}`)));
    expect(failedArgs).toEqual(Array.from({ length: 100 }, (_, i) => [2 * i, `t${2 * i}`]));
    expect(breaker.stats).toMatchObject({ fires: 200, successes: 100, failures: 100 });
    breaker.shutdown();
  });

  it('passes exactly the arguments given, however many, to the action and the fallback', async () => {
    const seen: unknown[][] = [];
    const breaker = new CircuitBreaker(function (this: unknown, ...args: unknown[]) {
      seen.push([arguments.length, ...args]);
      return Promise.reject(new Error('no'));
    }, lean);
    const fallbackArgs: unknown[][] = [];
    breaker.fallback((...args: unknown[]) => {
      fallbackArgs.push(args.slice(0, -1));
      return 'fallback';
    });
    for (const args of [[], [1], [1, undefined], [1, 2, 3], [1, 2, 3, 4, 5]]) {
      expect(await breaker.fire(...args)).toBe('fallback');
    }
    expect(seen).toEqual([[0], [1, 1], [2, 1, undefined], [3, 1, 2, 3], [5, 1, 2, 3, 4, 5]]);
    expect(fallbackArgs).toEqual([[], [1], [1, undefined], [1, 2, 3], [1, 2, 3, 4, 5]]);
    breaker.shutdown();
  });

  it('keeps later calls apart when the action returns a thenable or a promise subclass whose then reacts twice', async () => {
    class TwiceThen<T> extends Promise<T> {
      // A then that calls its reaction twice must not settle another call through a reused reaction.
      override then<A = T, B = never>(onFulfilled?: ((v: T) => A | PromiseLike<A>) | null, onRejected?: ((e: unknown) => B | PromiseLike<B>) | null): Promise<A | B> {
        return super.then((v) => {
          onFulfilled?.(v);
          return onFulfilled ? onFulfilled(v) : (v as unknown as A);
        }, onRejected);
      }
    }
    let n = 0;
    const breaker = new CircuitBreaker((tag: string) => {
      const id = ++n;
      if (id > 6) return Promise.reject(new Error(tag));
      const thenable = { then: (resolve: (v: string) => void) => resolve(`thenable${id}`) } as unknown as PromiseLike<string>;
      return id % 2 === 0 ? TwiceThen.resolve(`odd${id}`) : thenable;
    }, lean);
    const results = await Promise.all(Array.from({ length: 6 }, (_, i) => breaker.fire(`a${i}`)));
    expect(results).toEqual(['thenable1', 'odd2', 'thenable3', 'odd4', 'thenable5', 'odd6']);
    // Later calls, in flight together, still fail each with its own arguments.
    const failedArgs: unknown[][] = [];
    breaker.on('failure', (_error, _latency, args) => failedArgs.push(args));
    const tags = Array.from({ length: 12 }, (_, i) => `b${i}`);
    const later = await Promise.all(tags.map((tag) => breaker.fire(tag).catch((e: Error) => e.message)));
    expect(later).toEqual(tags);
    expect(failedArgs).toEqual(tags.map((tag) => [tag]));
    breaker.shutdown();
  });
});
