import { checkOptionsObject, optionalFunction, optionalNumber } from '@edgekit/core';
import { type Balancer, type BalancerBaseOptions, type PickRequest, pickRandom } from './balancer.js';
import type { Endpoint } from './endpoint.js';
import { hash32 } from './hash.js';

/** Options of {@link createRingHashBalancer}. */
export interface RingHashBalancerOptions extends BalancerBaseOptions {
  /** Points on the ring per unit of weight; more points, more even shares. Default 256. */
  pointsPerWeight?: number;
}

/** Defaults of {@link createRingHashBalancer}. */
export const RING_HASH_DEFAULTS = Object.freeze({ pointsPerWeight: 256 });

/**
 * Consistent hashing on a ring (ketama, Envoy's `RING_HASH`): each endpoint owns points on a
 * 32-bit ring, a key goes to the first point at or after its hash. Removing one of N endpoints
 * moves only the keys it owned (about 1/N); adding one takes about 1/(N+1). Requests without a key
 * are spread at random; an excluded endpoint's keys go to the next endpoint on the ring.
 */
export function createRingHashBalancer(options: RingHashBalancerOptions = {}): Balancer {
  const scope = 'ring-hash balancer';
  const o = checkOptionsObject<RingHashBalancerOptions>(scope, options);
  const pointsPerWeight = optionalNumber(scope, 'pointsPerWeight', o.pointsPerWeight, RING_HASH_DEFAULTS.pointsPerWeight, { min: 1, max: 65_536 });
  const random = optionalFunction<() => number, () => number>(scope, 'random', o.random, Math.random);
  let endpoints: readonly Endpoint[] = [];
  let hashes = new Uint32Array(0);
  let owners = new Uint32Array(0);

  const build = (list: readonly Endpoint[]): void => {
    const points: { hash: number; owner: number }[] = [];
    list.forEach((endpoint, owner) => {
      const count = Math.max(1, Math.round(pointsPerWeight * endpoint.weight));
      for (let i = 0; i < count; i++) points.push({ hash: hash32(`${endpoint.id}#${i}`), owner });
    });
    // Ties broken by id, so every gateway builds the same ring from the same endpoints.
    points.sort((a, b) => a.hash - b.hash || (list[a.owner]!.id < list[b.owner]!.id ? -1 : 1));
    hashes = Uint32Array.from(points, (p) => p.hash);
    owners = Uint32Array.from(points, (p) => p.owner);
  };

  const firstAtOrAfter = (h: number): number => {
    let lo = 0;
    let hi = hashes.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (hashes[mid]! < h) lo = mid + 1;
      else hi = mid;
    }
    return lo === hashes.length ? 0 : lo;
  };

  return {
    kind: 'ring-hash',
    setEndpoints(list) {
      endpoints = list.slice();
      build(endpoints);
    },
    pick(request?: PickRequest) {
      const n = endpoints.length;
      if (n === 0) return undefined;
      const exclude = request?.exclude;
      const key = request?.key;
      if (key === undefined) return pickRandom(endpoints, exclude, random);
      let at = firstAtOrAfter(hash32(key));
      if (exclude === undefined || exclude.size === 0) return endpoints[owners[at]!];
      for (let step = 0; step < hashes.length; step++, at = at + 1 === hashes.length ? 0 : at + 1) {
        const endpoint = endpoints[owners[at]!]!;
        if (!exclude.has(endpoint.id)) return endpoint;
      }
      return undefined;
    },
    onRequestStart() {},
    onRequestEnd() {},
  };
}
