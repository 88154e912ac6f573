import type { Balancer, PickRequest } from './balancer.js';
import type { Endpoint } from './endpoint.js';

interface Slot {
  readonly endpoint: Endpoint;
  current: number;
}

/**
 * Smooth weighted round robin (nginx's): each pick adds every endpoint's weight to its credit,
 * takes the endpoint with the most credit and charges it the total. Weights 5:1:1 give
 * `a a b a c a a`, never five `a` in a row.
 */
export function createRoundRobinBalancer(): Balancer {
  let slots: Slot[] = [];
  let total = 0;

  return {
    kind: 'round-robin',
    setEndpoints(endpoints) {
      const old = new Map(slots.map((s) => [s.endpoint.id, s.current]));
      slots = endpoints.map((endpoint) => ({ endpoint, current: old.get(endpoint.id) ?? 0 }));
      total = endpoints.reduce((sum, e) => sum + e.weight, 0);
    },
    pick(request?: PickRequest) {
      const exclude = request?.exclude;
      let best: Slot | undefined;
      let sum = 0;
      for (const slot of slots) {
        if (exclude !== undefined && exclude.has(slot.endpoint.id)) continue;
        slot.current += slot.endpoint.weight;
        sum += slot.endpoint.weight;
        if (best === undefined || slot.current > best.current) best = slot;
      }
      if (best === undefined) return undefined;
      best.current -= exclude === undefined ? total : sum;
      return best.endpoint;
    },
    onRequestStart() {},
    onRequestEnd() {},
  };
}
