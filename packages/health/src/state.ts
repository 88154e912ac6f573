/**
 * `unknown` until the first probe result; then `healthy` or `unhealthy`, flipping only after the
 * configured run of consecutive opposite results.
 */
export type HealthState = 'unknown' | 'healthy' | 'unhealthy';

/** The rise/fall counters of one target. */
export interface ThresholdCounters {
  state: HealthState;
  consecutiveSuccesses: number;
  consecutiveFailures: number;
}

/**
 * Applies one probe result to `counters` in place and returns the state before it.
 *
 * From `unknown` the first result decides at once (as Envoy does at startup: a region is not kept
 * in limbo for several intervals). From a known state, `healthy` becomes `unhealthy` after
 * `unhealthyThreshold` consecutive failures, and `unhealthy` becomes `healthy` after
 * `healthyThreshold` consecutive successes.
 */
export function applyProbeResult(
  counters: ThresholdCounters,
  ok: boolean,
  healthyThreshold: number,
  unhealthyThreshold: number,
): HealthState {
  const previous = counters.state;
  if (ok) {
    counters.consecutiveSuccesses++;
    counters.consecutiveFailures = 0;
    if (previous === 'unknown' || (previous === 'unhealthy' && counters.consecutiveSuccesses >= healthyThreshold)) {
      counters.state = 'healthy';
    }
  } else {
    counters.consecutiveFailures++;
    counters.consecutiveSuccesses = 0;
    if (previous === 'unknown' || (previous === 'healthy' && counters.consecutiveFailures >= unhealthyThreshold)) {
      counters.state = 'unhealthy';
    }
  }
  return previous;
}
