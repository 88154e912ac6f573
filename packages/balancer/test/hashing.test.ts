import { type Balancer, type Endpoint, createMaglevBalancer, createRingHashBalancer, hash32, toEndpoints } from '@edgekit/balancer';
import { describe, expect, it } from 'vitest';

const KEYS = Array.from({ length: 20_000 }, (_, i) => `user-${i}`);
const endpointsOf = (n: number): Endpoint[] => toEndpoints(Array.from({ length: n }, (_, i) => `http://10.1.${i >> 8}.${i & 255}:8080`), 'endpoints');

function owners(balancer: Balancer): string[] {
  return KEYS.map((key) => balancer.pick({ key })!.id);
}

function movedFraction(before: string[], after: string[]): number {
  let moved = 0;
  for (let i = 0; i < before.length; i++) if (before[i] !== after[i]) moved++;
  return moved / before.length;
}

for (const [name, create] of [
  ['ring-hash', () => createRingHashBalancer()],
  ['maglev', () => createMaglevBalancer()],
] as const) {
  describe(`${name}: affinity under membership changes`, () => {
    for (const n of [3, 5, 10]) {
      it(`removing one of ${n} endpoints moves at most 1.2x the ideal 1/${n} of keys, and only its own`, () => {
        const balancer: Balancer = create();
        const endpoints = endpointsOf(n);
        balancer.setEndpoints(endpoints);
        const before = owners(balancer);
        const removed = endpoints[1]!;
        balancer.setEndpoints(endpoints.filter((e) => e !== removed));
        const after = owners(balancer);
        const moved = movedFraction(before, after);
        expect(moved).toBeLessThanOrEqual((1 / n) * 1.2);
        expect(moved).toBeGreaterThan(0);
        if (name === 'ring-hash') {
          // On a ring only the removed endpoint's keys move.
          for (let i = 0; i < KEYS.length; i++) if (before[i] !== removed.id) expect(after[i]).toBe(before[i]);
        }
      });

      it(`adding a ${n + 1}th endpoint moves at most 1.2x the ideal 1/${n + 1} of keys, all to it`, () => {
        const balancer: Balancer = create();
        const endpoints = endpointsOf(n + 1);
        balancer.setEndpoints(endpoints.slice(0, n));
        const before = owners(balancer);
        balancer.setEndpoints(endpoints);
        const after = owners(balancer);
        expect(movedFraction(before, after)).toBeLessThanOrEqual((1 / (n + 1)) * 1.2);
        const added = endpoints[n]!.id;
        let toNew = 0;
        let elsewhere = 0;
        for (let i = 0; i < KEYS.length; i++) if (before[i] !== after[i]) (after[i] === added ? toNew++ : elsewhere++);
        expect(toNew).toBeGreaterThan(0);
        // Maglev may reshuffle a sliver between old endpoints; the ring never does.
        expect(elsewhere / KEYS.length).toBeLessThanOrEqual(name === 'ring-hash' ? 0 : 0.02);
      });
    }

    it('gives every endpoint a share within 20 % of the fair one (10 endpoints)', () => {
      const balancer: Balancer = create();
      balancer.setEndpoints(endpointsOf(10));
      const counts = new Map<string, number>();
      for (const id of owners(balancer)) counts.set(id, (counts.get(id) ?? 0) + 1);
      for (const count of counts.values()) expect(Math.abs(count - 2000) / 2000).toBeLessThan(0.2);
    });
  });
}

describe('hash32', () => {
  it('is stable across calls and seeds change it', () => {
    expect(hash32('user-1')).toBe(hash32('user-1'));
    expect(hash32('user-1', 1)).not.toBe(hash32('user-1'));
    expect(hash32('')).toBeGreaterThanOrEqual(0);
  });
});
