import { optionalFunction } from '@edgekit/core';
import { type Balancer, type BalancerBaseOptions, type PickRequest, cumulativeWeights, pickOfTwo, withoutExcluded } from './balancer.js';
import type { Endpoint } from './endpoint.js';

interface Load {
  readonly endpoint: Endpoint;
  inflight: number;
}

/** Options of {@link createLeastRequestBalancer}. */
export type LeastRequestBalancerOptions = BalancerBaseOptions;

/**
 * Power of two choices, least request (Envoy's `LEAST_REQUEST`, the default): picks two endpoints
 * at random (by weight) and sends the request to the one with fewer requests in flight.
 * Avoids the herd that "least of all" causes when every gateway sees the same counts.
 */
export function createLeastRequestBalancer(options: LeastRequestBalancerOptions = {}): Balancer {
  const random = optionalFunction<() => number, () => number>('balancer', 'random', options.random, Math.random);
  let loads: Load[] = [];
  let byId = new Map<string, Load>();
  let sums: Float64Array | undefined;
  const inflightOf = (load: Load): number => load.inflight;

  return {
    kind: 'least-request',
    setEndpoints(endpoints) {
      const next = new Map<string, Load>();
      loads = endpoints.map((endpoint) => {
        const load: Load = { endpoint, inflight: byId.get(endpoint.id)?.inflight ?? 0 };
        next.set(endpoint.id, load);
        return load;
      });
      byId = next;
      sums = cumulativeWeights(loads);
    },
    pick(request?: PickRequest) {
      const exclude = request?.exclude;
      if (exclude === undefined || exclude.size === 0) return pickOfTwo(random, loads, sums, inflightOf);
      const left = withoutExcluded(loads, exclude);
      return pickOfTwo(random, left, cumulativeWeights(left), inflightOf);
    },
    onRequestStart(endpoint) {
      const load = byId.get(endpoint.id);
      if (load !== undefined) load.inflight++;
    },
    onRequestEnd(endpoint) {
      const load = byId.get(endpoint.id);
      if (load !== undefined && load.inflight > 0) load.inflight--;
    },
  };
}
