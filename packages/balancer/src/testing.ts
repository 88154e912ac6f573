import { describe, expect, it } from 'vitest';
import type { Balancer } from './balancer.js';
import { type Endpoint, toEndpoints } from './endpoint.js';

/** What the suite needs to know about a balancer under test. */
export interface BalancerConformanceOptions {
  /** True for balancers that map a key to one endpoint (ring hash, Maglev). */
  hashing?: boolean;
  /** True when weights shape the share of picks (all built-in balancers except the hashing ones without keys). */
  weighted?: boolean;
}

/** A seeded generator (mulberry32), so the suite's draws repeat exactly. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const endpointsOf = (n: number, weights?: number[]): Endpoint[] =>
  toEndpoints(
    Array.from({ length: n }, (_, i) => ({ url: `http://10.0.0.${i + 1}:8080`, weight: weights?.[i] ?? 1 })),
    'endpoints',
  );

/**
 * The behaviour every {@link Balancer} must have. Call it in a test file with a factory that
 * builds a fresh balancer (seeded with the `random` it receives when it draws random numbers):
 *
 * ```ts
 * describeBalancerConformance('least-request', (random) => createLeastRequestBalancer({ random }));
 * ```
 */
export function describeBalancerConformance(name: string, create: (random: () => number) => Balancer, options: BalancerConformanceOptions = {}): void {
  const fresh = (n: number, weights?: number[]): { balancer: Balancer; endpoints: Endpoint[] } => {
    const balancer = create(seededRandom(42));
    const endpoints = endpointsOf(n, weights);
    balancer.setEndpoints(endpoints);
    return { balancer, endpoints };
  };
  const keyOf = (i: number): string | undefined => (options.hashing ? `user-${i}` : undefined);

  describe(`balancer conformance: ${name}`, () => {
    it('has a kind', () => {
      expect(typeof create(seededRandom(1)).kind).toBe('string');
    });

    it('picks nothing from an empty set, before and after endpoints were known', () => {
      const balancer = create(seededRandom(1));
      expect(balancer.pick()).toBeUndefined();
      expect(balancer.pick({ key: 'k' })).toBeUndefined();
      balancer.setEndpoints(endpointsOf(3));
      balancer.setEndpoints([]);
      expect(balancer.pick({ key: keyOf(1) })).toBeUndefined();
    });

    it('only ever picks endpoints of the current set, and reaches every one of them', () => {
      const { balancer, endpoints } = fresh(5);
      const seen = new Map<string, number>();
      for (let i = 0; i < 2000; i++) {
        const e = balancer.pick({ key: keyOf(i) });
        expect(endpoints).toContain(e);
        seen.set(e!.id, (seen.get(e!.id) ?? 0) + 1);
      }
      expect(seen.size).toBe(5);
    });

    it('spreads requests evenly over equal endpoints (each within 25 % of a fair share)', () => {
      const { balancer } = fresh(4);
      const counts = new Map<string, number>();
      for (let i = 0; i < 8000; i++) {
        const e = balancer.pick({ key: keyOf(i) })!;
        balancer.onRequestStart(e);
        balancer.onRequestEnd(e, { latencyMs: 5, ok: true });
        counts.set(e.id, (counts.get(e.id) ?? 0) + 1);
      }
      for (const count of counts.values()) expect(Math.abs(count - 2000)).toBeLessThan(500);
    });

    it('follows a new set at once, forgetting removed endpoints', () => {
      const { balancer, endpoints } = fresh(4);
      const kept = endpoints.slice(0, 2);
      balancer.setEndpoints(kept);
      for (let i = 0; i < 500; i++) expect(kept).toContain(balancer.pick({ key: keyOf(i) }));
    });

    it('never picks an excluded endpoint, and picks nothing when all are excluded', () => {
      const { balancer, endpoints } = fresh(3);
      const exclude = new Set([endpoints[0]!.id, endpoints[1]!.id]);
      for (let i = 0; i < 300; i++) expect(balancer.pick({ key: keyOf(i), exclude })).toBe(endpoints[2]);
      expect(balancer.pick({ key: keyOf(1), exclude: new Set(endpoints.map((e) => e.id)) })).toBeUndefined();
    });

    it('ignores reports about endpoints it does not know', () => {
      const { balancer } = fresh(2);
      const stranger = endpointsOf(9)[8]!;
      expect(() => {
        balancer.onRequestStart(stranger);
        balancer.onRequestEnd(stranger, { latencyMs: 1, ok: false });
      }).not.toThrow();
    });

    it('keeps working with a single endpoint and with a retry that excluded it', () => {
      const { balancer, endpoints } = fresh(1);
      expect(balancer.pick({ key: keyOf(7) })).toBe(endpoints[0]);
      expect(balancer.pick({ key: keyOf(7), exclude: new Set([endpoints[0]!.id]) })).toBeUndefined();
    });

    if (options.weighted) {
      it('gives an endpoint of weight 3 about three times the share of one of weight 1', () => {
        const { balancer, endpoints } = fresh(2, [3, 1]);
        let heavy = 0;
        for (let i = 0; i < 8000; i++) {
          const e = balancer.pick({ key: keyOf(i) })!;
          balancer.onRequestStart(e);
          balancer.onRequestEnd(e, { latencyMs: 5, ok: true });
          if (e === endpoints[0]) heavy++;
        }
        expect(heavy / 8000).toBeGreaterThan(0.6);
        expect(heavy / 8000).toBeLessThan(0.85);
      });
    }

    if (options.hashing) {
      it('sends equal keys to the same endpoint, also from a second balancer built from the same set', () => {
        const { balancer } = fresh(5);
        const other = create(seededRandom(7));
        other.setEndpoints(endpointsOf(5));
        for (let i = 0; i < 200; i++) {
          const first = balancer.pick({ key: `session-${i}` })!;
          expect(balancer.pick({ key: `session-${i}` })).toBe(first);
          expect(other.pick({ key: `session-${i}` })!.id).toBe(first.id);
        }
      });

      it('moves only the keys of an excluded endpoint', () => {
        const { balancer, endpoints } = fresh(4);
        const exclude = new Set([endpoints[0]!.id]);
        for (let i = 0; i < 500; i++) {
          const home = balancer.pick({ key: `k${i}` })!;
          const retry = balancer.pick({ key: `k${i}`, exclude })!;
          if (home !== endpoints[0]) expect(retry).toBe(home);
          else expect(retry).not.toBe(home);
        }
      });
    } else {
      it('prefers the endpoint with fewer requests in flight or spreads them in turn', () => {
        const { balancer, endpoints } = fresh(2);
        // Five requests stuck on the first endpoint: the next picks go mostly to the second.
        for (let i = 0; i < 5; i++) balancer.onRequestStart(endpoints[0]!);
        let second = 0;
        for (let i = 0; i < 100; i++) if (balancer.pick() === endpoints[1]) second++;
        expect(second).toBeGreaterThanOrEqual(50);
      });
    }
  });
}
