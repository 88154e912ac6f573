import type { Endpoint } from './endpoint.js';

/** What a balancer may look at to pick an endpoint for one request. */
export interface PickRequest {
  /** Affinity key (user id, session): hashing balancers map equal keys to the same endpoint. */
  key?: string | undefined;
  /** Ids of endpoints not to pick (the ones a retry already tried). */
  exclude?: ReadonlySet<string> | undefined;
}

/** How one request to an endpoint ended, as a balancer sees it. */
export interface RequestOutcome {
  /** Milliseconds from start to the response head (or failure). */
  latencyMs: number;
  /** False for a 5xx answer or a connection-level failure. */
  ok: boolean;
  /** True when the caller gave up before any answer: only the in-flight count changes. */
  cancelled?: boolean | undefined;
}

/**
 * Chooses one endpoint of a region per request. Implementations are synchronous and allocate
 * nothing per pick on the common path; every one passes `describeBalancerConformance` from
 * `@edgekit/balancer/testing`.
 */
export interface Balancer {
  /** Short name for logs, metrics and decision events (`least-request`, `maglev`, ...). */
  readonly kind: string;
  /** Replaces the endpoints that may be picked; state of endpoints whose id stays is kept. */
  setEndpoints(endpoints: readonly Endpoint[]): void;
  /** One endpoint for a request, or `undefined` when none is left after `exclude`. */
  pick(request?: PickRequest): Endpoint | undefined;
  /** A request to `endpoint` started; unknown endpoints are ignored. */
  onRequestStart(endpoint: Endpoint): void;
  /** A request to `endpoint` ended; unknown endpoints are ignored. */
  onRequestEnd(endpoint: Endpoint, outcome: RequestOutcome): void;
}

/** Options every built-in balancer accepts. */
export interface BalancerBaseOptions {
  /** Random numbers in [0, 1). Default `Math.random`; inject a seeded one for reproducible tests. */
  random?: () => number;
}

/** Picks a uniformly random index in [0, n). */
export function randomIndex(random: () => number, n: number): number {
  const i = Math.floor(random() * n);
  return i < n ? i : n - 1;
}

/** Endpoints of `list` whose id is not in `exclude`. Only retries pay for this copy. */
export function withoutExcluded<T extends { readonly endpoint: Endpoint }>(list: readonly T[], exclude: ReadonlySet<string>): T[] {
  const out: T[] = [];
  for (const item of list) if (!exclude.has(item.endpoint.id)) out.push(item);
  return out;
}

/** Running sums of the weights of `list`, or `undefined` when all weights are equal (uniform draws). */
export function cumulativeWeights(list: readonly { readonly endpoint: Endpoint }[]): Float64Array | undefined {
  const first = list[0]?.endpoint.weight;
  if (list.every((item) => item.endpoint.weight === first)) return undefined;
  const sums = new Float64Array(list.length);
  let sum = 0;
  list.forEach((item, i) => {
    sum += item.endpoint.weight;
    sums[i] = sum;
  });
  return sums;
}

/** An index drawn with probability proportional to weight (uniform when `sums` is undefined). */
export function drawIndex(random: () => number, n: number, sums: Float64Array | undefined): number {
  if (sums === undefined) return randomIndex(random, n);
  const target = random() * sums[n - 1]!;
  let lo = 0;
  let hi = n - 1;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (sums[mid]! <= target) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * Power of two choices: two distinct candidates drawn by weight, the one with the lower `load`
 * wins (the first on a tie). Weights shape who gets compared; load decides between them.
 */
export function pickOfTwo<T extends { readonly endpoint: Endpoint }>(
  random: () => number,
  list: readonly T[],
  sums: Float64Array | undefined,
  load: (item: T) => number,
): Endpoint | undefined {
  const n = list.length;
  if (n === 0) return undefined;
  if (n === 1) return list[0]!.endpoint;
  const i = drawIndex(random, n, sums);
  let j = drawIndex(random, n, sums);
  // A second draw equal to the first retries a few times, then takes the neighbour.
  for (let tries = 0; j === i && tries < 3; tries++) j = drawIndex(random, n, sums);
  if (j === i) j = i + 1 === n ? 0 : i + 1;
  const a = list[i]!;
  const b = list[j]!;
  return (load(a) <= load(b) ? a : b).endpoint;
}

/** A uniformly random endpoint outside `exclude`: how the hashing balancers answer a request without a key. */
export function pickRandom<E extends { readonly id: string }>(endpoints: readonly E[], exclude: ReadonlySet<string> | undefined, random: () => number): E | undefined {
  if (exclude === undefined || exclude.size === 0) return endpoints.length === 0 ? undefined : endpoints[randomIndex(random, endpoints.length)];
  const left = endpoints.filter((e) => !exclude.has(e.id));
  return left.length === 0 ? undefined : left[randomIndex(random, left.length)];
}
