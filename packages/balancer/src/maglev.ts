import { checkOptionsObject, optionalFunction, optionalNumber } from '@edgekit/core';
import { type Balancer, type BalancerBaseOptions, type PickRequest, pickRandom } from './balancer.js';
import type { Endpoint } from './endpoint.js';
import { hash32 } from './hash.js';

/** Options of {@link createMaglevBalancer}. */
export interface MaglevBalancerOptions extends BalancerBaseOptions {
  /** Lookup table size; a prime well above 100x the endpoint count. Default 65537 (Envoy's). */
  tableSize?: number;
}

/** Defaults of {@link createMaglevBalancer}. */
export const MAGLEV_DEFAULTS = Object.freeze({ tableSize: 65_537 });

function isPrime(n: number): boolean {
  if (n < 2) return false;
  for (let d = 2; d * d <= n; d++) if (n % d === 0) return false;
  return true;
}

/**
 * Maglev consistent hashing (Eisenbud et al., NSDI 2016; Envoy's `MAGLEV`): a fixed lookup table
 * filled from each endpoint's permutation, so a pick is one hash and one array read, and shares
 * are even to within a fraction of a percent. Weighted as Envoy does: an endpoint of half the
 * largest weight takes a turn every other round.
 */
export function createMaglevBalancer(options: MaglevBalancerOptions = {}): Balancer {
  const scope = 'maglev balancer';
  const o = checkOptionsObject<MaglevBalancerOptions>(scope, options);
  const tableSize = optionalNumber(scope, 'tableSize', o.tableSize, MAGLEV_DEFAULTS.tableSize, { min: 7, max: 5_000_011, integer: true });
  if (!isPrime(tableSize)) throw new RangeError(`${scope}: option "tableSize" must be a prime number (got ${tableSize})`);
  const random = optionalFunction<() => number, () => number>(scope, 'random', o.random, Math.random);
  let endpoints: readonly Endpoint[] = [];
  let table = new Int32Array(0);

  const build = (list: readonly Endpoint[]): void => {
    table = new Int32Array(tableSize).fill(-1);
    if (list.length === 0) return;
    const maxWeight = Math.max(...list.map((e) => e.weight));
    const entries = list.map((e) => ({
      offset: hash32(e.id, 0x5bd1e995) % tableSize,
      skip: (hash32(e.id, 0x1b873593) % (tableSize - 1)) + 1,
      normalized: e.weight / maxWeight,
      target: 1,
      next: 0,
    }));
    let filled = 0;
    for (let round = 1; filled < tableSize; round++) {
      for (let i = 0; i < entries.length && filled < tableSize; i++) {
        const entry = entries[i]!;
        if (round * entry.normalized < entry.target) continue;
        entry.target += 1;
        let slot = (entry.offset + entry.next * entry.skip) % tableSize;
        while (table[slot] !== -1) {
          entry.next++;
          slot = (entry.offset + entry.next * entry.skip) % tableSize;
        }
        table[slot] = i;
        entry.next++;
        filled++;
      }
    }
  };

  return {
    kind: 'maglev',
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
      let slot = hash32(key) % tableSize;
      if (exclude === undefined || exclude.size === 0) return endpoints[table[slot]!];
      // An excluded endpoint's keys move to the owners of the following slots: still deterministic.
      for (let step = 0; step < tableSize; step++, slot = slot + 1 === tableSize ? 0 : slot + 1) {
        const endpoint = endpoints[table[slot]!]!;
        if (!exclude.has(endpoint.id)) return endpoint;
      }
      return undefined;
    },
    onRequestStart() {},
    onRequestEnd() {},
  };
}
