import { checkOptionsObject, describeValue, firstHeader, optionalFunction } from '@edgekit/core';
import type { AffinityKey, AffinityRequest } from './affinity.js';
import { hash32 } from './hash.js';

/** One version of a service and its share of traffic. */
export interface SplitVariant {
  /** Name the split answers with (a service or version name). */
  name: string;
  /** Share of traffic, in any unit (percent, parts). 0 takes traffic only through `header`. */
  weight: number;
}

/** Options of {@link createTrafficSplit}. */
export interface TrafficSplitOptions {
  /** The versions and their weights; at least one with weight > 0. */
  variants: readonly SplitVariant[];
  /** A header that chooses a variant by name (`x-canary: v2`), for testers; unknown names are ignored. Default: none. */
  header?: string;
  /** Makes the choice sticky: requests with the same key get the same variant while weights stay. Default: none (random). */
  key?: AffinityKey;
  /** Random numbers in [0, 1) for requests without a key. Default `Math.random`. */
  random?: () => number;
}

/** Chooses a variant per request: weighted canary splits by percentage and by header. */
export interface TrafficSplit {
  readonly variants: readonly SplitVariant[];
  /** The variant name for `req`. */
  choose(req: AffinityRequest): string;
}

const SCOPE = 'traffic split';

/** Creates a {@link TrafficSplit}. */
export function createTrafficSplit(options: TrafficSplitOptions): TrafficSplit {
  const o = checkOptionsObject<TrafficSplitOptions>(SCOPE, options);
  if (!Array.isArray(o.variants) || o.variants.length === 0) throw new TypeError(`${SCOPE}: option "variants" must be a non-empty array (got ${describeValue(o.variants)})`);
  const names = new Set<string>();
  const variants = o.variants.map((v, i) => {
    if (v === null || typeof v !== 'object' || typeof v.name !== 'string' || v.name.length === 0) {
      throw new TypeError(`${SCOPE}: option "variants[${i}].name" must be a non-empty string (got ${describeValue(v?.name)})`);
    }
    if (typeof v.weight !== 'number' || !Number.isFinite(v.weight) || v.weight < 0) {
      throw new RangeError(`${SCOPE}: option "variants[${i}].weight" must be a finite number >= 0 (got ${describeValue(v.weight)})`);
    }
    if (names.has(v.name)) throw new TypeError(`${SCOPE}: option "variants[${i}].name" repeats ${describeValue(v.name)}`);
    names.add(v.name);
    return Object.freeze({ name: v.name, weight: v.weight });
  });
  const total = variants.reduce((sum, v) => sum + v.weight, 0);
  if (total <= 0) throw new RangeError(`${SCOPE}: option "variants" needs a weight > 0`);
  const header = o.header === undefined ? undefined : typeof o.header === 'string' && o.header.length > 0 ? o.header.toLowerCase() : undefined;
  if (o.header !== undefined && header === undefined) throw new TypeError(`${SCOPE}: option "header" must be a non-empty string (got ${describeValue(o.header)})`);
  const key = optionalFunction<AffinityKey, undefined>(SCOPE, 'key', o.key, undefined);
  const random = optionalFunction<() => number, () => number>(SCOPE, 'random', o.random, Math.random);
  const bounds = new Float64Array(variants.length);
  let running = 0;
  variants.forEach((v, i) => {
    running += v.weight / total;
    bounds[i] = running;
  });

  const at = (u: number): string => {
    for (let i = 0; i < bounds.length; i++) if (u < bounds[i]!) return variants[i]!.name;
    // Rounding left u just above the last bound: the last variant with weight.
    for (let i = variants.length - 1; i >= 0; i--) if (variants[i]!.weight > 0) return variants[i]!.name;
    return variants[0]!.name;
  };

  return {
    variants: Object.freeze(variants),
    choose(req) {
      if (header !== undefined) {
        const asked = firstHeader(req.headers, header);
        if (asked !== undefined && names.has(asked)) return asked;
      }
      const k = key?.(req);
      return at(k === undefined ? random() : hash32(k, 0x9e3779b9) / 4294967296);
    },
  };
}
