import { describeValue } from '@edgekit/core';
import type { Balancer } from './balancer.js';
import { createLeastRequestBalancer } from './least-request.js';
import { createMaglevBalancer } from './maglev.js';
import { type PeakEwmaBalancerOptions, createPeakEwmaBalancer } from './peak-ewma.js';
import { createRingHashBalancer } from './ring-hash.js';
import { createRoundRobinBalancer } from './round-robin.js';

/** Names of the built-in balancers. */
export type BalancerKind = 'least-request' | 'peak-ewma' | 'round-robin' | 'ring-hash' | 'maglev';

/** Every built-in balancer name. */
export const BALANCER_KINDS: readonly BalancerKind[] = Object.freeze(['least-request', 'peak-ewma', 'round-robin', 'ring-hash', 'maglev']);

/** A balancer by name, or a factory for your own; `where` names the option in error messages. */
export type BalancerChoice = BalancerKind | (() => Balancer);

/** Builds the balancer `choice` names, passing the shared options to the built-in ones. */
export function createBalancer(choice: BalancerChoice, shared: PeakEwmaBalancerOptions = {}, where = 'balancer'): Balancer {
  if (typeof choice === 'function') return choice();
  const random = shared.random;
  switch (choice) {
    case 'least-request':
      return createLeastRequestBalancer({ ...(random && { random }) });
    case 'peak-ewma':
      return createPeakEwmaBalancer(shared);
    case 'round-robin':
      return createRoundRobinBalancer();
    case 'ring-hash':
      return createRingHashBalancer({ ...(random && { random }) });
    case 'maglev':
      return createMaglevBalancer({ ...(random && { random }) });
    default:
      throw new TypeError(`${where} must be one of ${BALANCER_KINDS.map((k) => `"${k}"`).join(', ')} or a function (got ${describeValue(choice)})`);
  }
}
