import type { Registry } from 'prom-client';

type Labels = Record<string, string>;

/** A value of the metric as prom-client's registries read it. */
interface MetricValue {
  value: number;
  labels: Record<string, string | number>;
  metricName: string;
  /** prom-client's buckets carry `exemplar: null` when exemplars are off. */
  exemplar?: null;
}

/**
 * A histogram of one fixed label set whose observations are additions to plain numbers: no label
 * validation, hashing or map lookup per observation, as a prom-client `Histogram` does. It is a
 * prom-client metric (`name`, `help`, `type`, `aggregator`, `get()`, `reset()`), so `/metrics`,
 * `getMetricsAsJSON()`, `getSingleMetric()` and cluster aggregation read it like a `Histogram`
 * with those labels, with the same series names and label order (`le` first).
 */
export class CountedHistogram {
  readonly name: string;
  readonly help: string;
  readonly type = 'histogram' as const;
  readonly aggregator = 'sum' as const;
  readonly #labels: Labels;
  readonly #bounds: readonly number[];
  /** Observations per bucket (not cumulative); the last slot is above every bound (`+Inf`). */
  #counts: Float64Array;
  #sum = 0;
  #count = 0;

  constructor(config: { name: string; help: string; buckets: readonly number[]; labels: Labels; registers: readonly Registry[] }) {
    this.name = config.name;
    this.help = config.help;
    this.#labels = { ...config.labels };
    this.#bounds = [...config.buckets].sort((a, b) => a - b);
    this.#counts = new Float64Array(this.#bounds.length + 1);
    // prom-client's registries take any object with this shape; their types list only their own classes.
    for (const registry of config.registers) registry.registerMetric(this as unknown as Parameters<Registry['registerMetric']>[0]);
  }

  /** Counts one observation (seconds, or any unit the buckets are in); values that are not finite numbers are ignored. */
  observe(value: number): void {
    if (!Number.isFinite(value)) return;
    const bounds = this.#bounds;
    let i = 0;
    while (i < bounds.length && value > bounds[i]!) i++;
    this.#counts[i]!++;
    this.#sum += value;
    this.#count++;
  }

  /** The series in prom-client's form: cumulative `_bucket` per bound and `+Inf`, then `_sum` and `_count`. */
  get(): Promise<{ name: string; help: string; type: 'histogram'; aggregator: 'sum'; values: MetricValue[] }> {
    const values: MetricValue[] = [];
    const bucket = `${this.name}_bucket`;
    let cumulative = 0;
    for (let i = 0; i < this.#bounds.length; i++) {
      cumulative += this.#counts[i]!;
      values.push({ value: cumulative, labels: { le: this.#bounds[i]!, ...this.#labels }, metricName: bucket, exemplar: null });
    }
    values.push({ value: this.#count, labels: { le: '+Inf', ...this.#labels }, metricName: bucket, exemplar: null });
    values.push({ value: this.#sum, labels: { ...this.#labels }, metricName: `${this.name}_sum` });
    values.push({ value: this.#count, labels: { ...this.#labels }, metricName: `${this.name}_count` });
    return Promise.resolve({ name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values });
  }

  /** Back to zero (`registry.resetMetrics()`). */
  reset(): void {
    this.#counts = new Float64Array(this.#bounds.length + 1);
    this.#sum = 0;
    this.#count = 0;
  }
}
