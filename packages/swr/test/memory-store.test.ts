import { createManualClock } from '@edgekit/core/testing';
import { storeConformance } from '@edgekit/swr/testing';
import { describe, expect, it } from 'vitest';
import { createMemoryStore } from '../src/index.js';
import { sample } from './samples.js';

describe('memory store', () => {
  describe('conformance', () => {
    storeConformance(async () => {
      const clock = createManualClock(1_000);
      return {
        store: createMemoryStore({ clock }),
        elapse: async (ms) => clock.advance(ms),
        sample,
      };
    });
  });

  it('keeps at most max entries, dropping the least recently used', async () => {
    const store = createMemoryStore({ max: 2 });
    await store.set('a', sample(1), 60_000);
    await store.set('b', sample(2), 60_000);
    await store.get('a');
    await store.set('c', sample(3), 60_000);
    expect(await store.get('b')).toBeUndefined();
    expect(await store.get('a')).toEqual(sample(1));
    expect(store.size).toBe(2);
  });
});
