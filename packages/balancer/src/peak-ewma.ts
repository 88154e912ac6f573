import { type Clock, checkOptionsObject, optionalFunction, optionalNumber, systemClock } from '@edgekit/core';
import { type Balancer, type BalancerBaseOptions, type PickRequest, cumulativeWeights, pickOfTwo, withoutExcluded } from './balancer.js';
import type { Endpoint } from './endpoint.js';

/** Options of {@link createPeakEwmaBalancer}. */
export interface PeakEwmaBalancerOptions extends BalancerBaseOptions {
  /** Time constant of the moving average in ms: older latencies weigh e^(-age/decay). Default 10000. */
  decay?: number;
  /** Latency assumed for an endpoint with no measurement yet, in ms. Default 30 (Linkerd's default RTT). */
  defaultRtt?: number;
  /** Latency recorded for a failed request when it failed faster than this, in ms. Default 1000. */
  failurePenalty?: number;
  /** Time source. Default `systemClock`. */
  clock?: Clock;
}

/** Defaults of {@link createPeakEwmaBalancer}. */
export const PEAK_EWMA_DEFAULTS = Object.freeze({ decay: 10_000, defaultRtt: 30, failurePenalty: 1000 });

interface Cost {
  readonly endpoint: Endpoint;
  inflight: number;
  /** Moving average of latency in ms, jumping up at once to any slower sample (the "peak"). */
  rtt: number;
  stamp: number;
}

/**
 * Peak-EWMA (Finagle, Linkerd): the load of an endpoint is its latency average times its requests
 * in flight + 1; two random endpoints are compared and the cheaper one wins. The average follows
 * a slower sample at once and a faster one gradually, so a slowing instance sheds load quickly.
 */
export function createPeakEwmaBalancer(options: PeakEwmaBalancerOptions = {}): Balancer {
  const scope = 'peak-ewma balancer';
  const o = checkOptionsObject<PeakEwmaBalancerOptions>(scope, options);
  const decay = optionalNumber(scope, 'decay', o.decay, PEAK_EWMA_DEFAULTS.decay, { min: 0, exclusiveMin: true });
  const defaultRtt = optionalNumber(scope, 'defaultRtt', o.defaultRtt, PEAK_EWMA_DEFAULTS.defaultRtt, { min: 0 });
  const failurePenalty = optionalNumber(scope, 'failurePenalty', o.failurePenalty, PEAK_EWMA_DEFAULTS.failurePenalty, { min: 0 });
  const random = optionalFunction<() => number, () => number>(scope, 'random', o.random, Math.random);
  const clock = o.clock ?? systemClock;
  let costs: Cost[] = [];
  let byId = new Map<string, Cost>();

  let sums: Float64Array | undefined;
  // Finagle's reading: the average decays toward zero while nothing is observed, so an endpoint
  // that was slow and then left alone is tried again.
  const load = (c: Cost): number => c.rtt * Math.exp(-Math.max(0, clock.now() - c.stamp) / decay) * (c.inflight + 1);

  return {
    kind: 'peak-ewma',
    setEndpoints(endpoints) {
      const next = new Map<string, Cost>();
      const now = clock.now();
      costs = endpoints.map((endpoint) => {
        const old = byId.get(endpoint.id);
        const cost: Cost = old ? { endpoint, inflight: old.inflight, rtt: old.rtt, stamp: old.stamp } : { endpoint, inflight: 0, rtt: defaultRtt, stamp: now };
        next.set(endpoint.id, cost);
        return cost;
      });
      byId = next;
      sums = cumulativeWeights(costs);
    },
    pick(request?: PickRequest) {
      const exclude = request?.exclude;
      if (exclude === undefined || exclude.size === 0) return pickOfTwo(random, costs, sums, load);
      const left = withoutExcluded(costs, exclude);
      return pickOfTwo(random, left, cumulativeWeights(left), load);
    },
    onRequestStart(endpoint) {
      const cost = byId.get(endpoint.id);
      if (cost !== undefined) cost.inflight++;
    },
    onRequestEnd(endpoint, outcome) {
      const cost = byId.get(endpoint.id);
      if (cost === undefined) return;
      if (cost.inflight > 0) cost.inflight--;
      if (outcome.cancelled === true) return;
      const sample = outcome.ok ? Math.max(0, outcome.latencyMs) : Math.max(outcome.latencyMs, failurePenalty);
      const now = clock.now();
      if (sample > cost.rtt) {
        cost.rtt = sample;
      } else {
        const w = Math.exp(-Math.max(0, now - cost.stamp) / decay);
        cost.rtt = cost.rtt * w + sample * (1 - w);
      }
      cost.stamp = now;
    },
  };
}
