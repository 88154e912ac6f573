import fc from 'fast-check';
import { LRUCache } from 'lru-cache';
import { describe, expect, it } from 'vitest';
import { LruMap } from '../src/lru.js';

type Step = { op: 'get'; key: number } | { op: 'set'; key: number; value: number } | { op: 'clear' };

const step: fc.Arbitrary<Step> = fc.oneof(
  { weight: 5, arbitrary: fc.record({ op: fc.constant('get' as const), key: fc.integer({ min: 0, max: 12 }) }) },
  { weight: 5, arbitrary: fc.record({ op: fc.constant('set' as const), key: fc.integer({ min: 0, max: 12 }), value: fc.integer() }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('clear' as const) }) },
);

describe('LruMap (the locator cache)', () => {
  it('answers, evicts and counts exactly as lru-cache with the same max', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 6 }), fc.array(step, { maxLength: 200 }), (max, steps) => {
        const ours = new LruMap<number, number>(max);
        const theirs = new LRUCache<number, number>({ max });
        for (const s of steps) {
          if (s.op === 'get') expect(ours.get(s.key)).toBe(theirs.get(s.key));
          else if (s.op === 'set') {
            ours.set(s.key, s.value);
            theirs.set(s.key, s.value);
          } else {
            ours.clear();
            theirs.clear();
          }
          expect(ours.size).toBe(theirs.size);
        }
        for (let key = 0; key <= 12; key++) expect(ours.get(key)).toBe(theirs.get(key));
      }),
      { numRuns: 300 },
    );
  });
});
