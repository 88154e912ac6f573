import { createAffinityKey, createTrafficSplit } from '@edgekit/balancer';
import { seededRandom } from '@edgekit/balancer/testing';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

const count = (names: string[]): Map<string, number> => {
  const out = new Map<string, number>();
  for (const n of names) out.set(n, (out.get(n) ?? 0) + 1);
  return out;
};

describe('traffic split', () => {
  it('keeps a 90/10 canary split within ±2 % over 10,000 requests, random and sticky by user', () => {
    const random = createTrafficSplit({ variants: [{ name: 'v1', weight: 90 }, { name: 'v2', weight: 10 }], random: seededRandom(11) });
    const sticky = createTrafficSplit({ variants: [{ name: 'v1', weight: 90 }, { name: 'v2', weight: 10 }], key: createAffinityKey({ header: 'x-user-id' }) });
    for (const split of [random, sticky]) {
      const names = Array.from({ length: 10_000 }, (_, i) => split.choose({ headers: { 'x-user-id': `user-${i}` } }));
      expect(Math.abs(count(names).get('v2')! / 10_000 - 0.1)).toBeLessThanOrEqual(0.02);
    }
  });

  it('holds any weights within ±2 % over 10,000 requests (property)', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: 100 }), { minLength: 2, maxLength: 4 }), fc.integer(), (weights, seed) => {
        const variants = weights.map((weight, i) => ({ name: `v${i}`, weight }));
        const split = createTrafficSplit({ variants, random: seededRandom(seed) });
        const counts = count(Array.from({ length: 10_000 }, () => split.choose({ headers: {} })));
        const total = weights.reduce((a, b) => a + b, 0);
        variants.forEach((v) => expect(Math.abs((counts.get(v.name) ?? 0) / 10_000 - v.weight / total)).toBeLessThanOrEqual(0.02));
      }),
      { numRuns: 30 },
    );
  });

  it('sends a tester to the variant its header names, and the same user always to the same variant', () => {
    const split = createTrafficSplit({ variants: [{ name: 'stable', weight: 100 }, { name: 'canary', weight: 0 }], header: 'x-canary', key: createAffinityKey({ cookie: 'uid' }) });
    expect(split.choose({ headers: { 'x-canary': 'canary' } })).toBe('canary');
    expect(split.choose({ headers: { 'x-canary': 'nope' } })).toBe('stable');
    const canary = createTrafficSplit({ variants: [{ name: 'a', weight: 50 }, { name: 'b', weight: 50 }], key: createAffinityKey({ cookie: 'uid' }) });
    for (let i = 0; i < 50; i++) {
      const req = { headers: { cookie: `uid=u${i}` } };
      expect(canary.choose(req)).toBe(canary.choose(req));
    }
  });

  it('rejects bad variants with the option named', () => {
    expect(() => createTrafficSplit({ variants: [] })).toThrow(/variants/);
    expect(() => createTrafficSplit({ variants: [{ name: 'a', weight: -1 }] })).toThrow(/variants\[0\]\.weight/);
    expect(() => createTrafficSplit({ variants: [{ name: 'a', weight: 0 }] })).toThrow(/weight > 0/);
    expect(() => createTrafficSplit({ variants: [{ name: 'a', weight: 1 }, { name: 'a', weight: 1 }] })).toThrow(/repeats/);
  });
});
