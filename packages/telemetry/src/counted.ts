import type { Counter, Registry } from 'prom-client';

type Labels = Record<string, string>;

/** A value of a metric as prom-client's registries read it. */
interface MetricValue {
  value: number;
  labels: Record<string, string | number>;
  metricName: string;
  /** prom-client's buckets carry `exemplar: null` when exemplars are off. */
  exemplar?: null;
}

/** One label set of a {@link CountedHistogram}. */
export class HistogramSeries {
  /** Observations per bucket (not cumulative); the last slot is above every bound (`+Inf`). */
  counts: Float64Array;
  sum = 0;
  count = 0;
  /** False after a reset until the next observation: prom-client drops a reset series from its output. */
  present = true;

  constructor(
    readonly labels: Labels,
    readonly bounds: readonly number[],
  ) {
    this.counts = new Float64Array(bounds.length + 1);
  }

  /** Counts one observation; values that are not finite numbers are ignored. */
  observe(value: number): void {
    if (!Number.isFinite(value)) return;
    const bounds = this.bounds;
    let i = 0;
    while (i < bounds.length && value > bounds[i]!) i++;
    this.counts[i]!++;
    this.sum += value;
    this.count++;
    this.present = true;
  }
}

/**
 * A histogram whose observations are additions to plain numbers on a series the caller holds: no
 * label validation, hashing or map lookup per observation, as a prom-client `Histogram` does. It is
 * a prom-client metric (`name`, `help`, `type`, `aggregator`, `get()`, `reset()`), so `/metrics`,
 * `getMetricsAsJSON()`, `getSingleMetric()` and cluster aggregation read it like a `Histogram`
 * with the same series names and label order (`le` first). Label values must come from a bounded set.
 */
export class CountedHistogram {
  readonly name: string;
  readonly help: string;
  readonly type = 'histogram' as const;
  readonly aggregator = 'sum' as const;
  readonly #bounds: readonly number[];
  readonly #series = new Map<string, HistogramSeries>();

  constructor(config: { name: string; help: string; buckets: readonly number[]; registers: readonly Registry[] }) {
    this.name = config.name;
    this.help = config.help;
    this.#bounds = [...config.buckets].sort((a, b) => a - b);
    // prom-client's registries take any object with this shape; their types list only their own classes.
    for (const registry of config.registers) registry.registerMetric(this as unknown as Parameters<Registry['registerMetric']>[0]);
  }

  /** The series of `labels` (created at zero, and listed from then on, like prom-client's `zero()`). */
  series(labels: Labels): HistogramSeries {
    const key = Object.entries(labels).join('\n');
    let series = this.#series.get(key);
    if (series === undefined) {
      series = new HistogramSeries({ ...labels }, this.#bounds);
      this.#series.set(key, series);
    }
    series.present = true;
    return series;
  }

  /** The series in prom-client's form: cumulative `_bucket` per bound and `+Inf`, then `_sum` and `_count`. */
  get(): Promise<{ name: string; help: string; type: 'histogram'; aggregator: 'sum'; values: MetricValue[] }> {
    const values: MetricValue[] = [];
    const bucket = `${this.name}_bucket`;
    for (const series of this.#series.values()) {
      if (!series.present) continue;
      let cumulative = 0;
      for (let i = 0; i < this.#bounds.length; i++) {
        cumulative += series.counts[i]!;
        values.push({ value: cumulative, labels: { le: this.#bounds[i]!, ...series.labels }, metricName: bucket, exemplar: null });
      }
      values.push({ value: series.count, labels: { le: '+Inf', ...series.labels }, metricName: bucket, exemplar: null });
      values.push({ value: series.sum, labels: { ...series.labels }, metricName: `${this.name}_sum` });
      values.push({ value: series.count, labels: { ...series.labels }, metricName: `${this.name}_count` });
    }
    return Promise.resolve({ name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values });
  }

  /** Back to no series (`registry.resetMetrics()`); a series reappears with its next observation. */
  reset(): void {
    for (const series of this.#series.values()) {
      series.counts = new Float64Array(this.#bounds.length + 1);
      series.sum = 0;
      series.count = 0;
      series.present = false;
    }
  }
}

/**
 * Increments of a prom-client `Counter` kept in plain numbers per label set, added to the counter
 * when the registry reads it (call {@link PendingCounts.flush} from the counter's `collect`). Label
 * values must come from a bounded set; they are looked up as given (one map per label, in `names`
 * order), so counting builds no key string and allocates nothing once a label set was seen.
 */
export class PendingCounts<L extends string> {
  readonly #names: readonly L[];
  readonly #root = new Map<string, unknown>();
  readonly #entries: Array<{ labels: Partial<Record<L, string>>; n: number }> = [];

  /** `names`: the counter's label names, in the order {@link add} takes their values. */
  constructor(names: readonly L[]) {
    if (names.length < 1 || names.length > 3) throw new RangeError(`PendingCounts takes one to three label names (got ${names.length})`);
    this.#names = names;
  }

  /** Adds one to the label set whose values, in `names` order, are `a`, `b`, `c` (up to three labels). */
  add(a: string, b?: string, c?: string): void {
    const depth = this.#names.length;
    let level: Map<string, unknown> = this.#root;
    if (depth > 1) level = PendingCounts.#child(level, a);
    if (depth > 2) level = PendingCounts.#child(level, b!);
    const last = depth === 1 ? a : depth === 2 ? b! : c!;
    const entry = level.get(last) as { n: number } | undefined;
    if (entry !== undefined) {
      entry.n++;
      return;
    }
    const values = [a, b, c];
    const labels: Partial<Record<L, string>> = {};
    this.#names.forEach((name, i) => (labels[name] = values[i]));
    const created = { labels, n: 1 };
    this.#entries.push(created);
    level.set(last, created);
  }

  static #child(level: Map<string, unknown>, value: string): Map<string, unknown> {
    let next = level.get(value) as Map<string, unknown> | undefined;
    if (next === undefined) {
      next = new Map();
      level.set(value, next);
    }
    return next;
  }

  flush(counter: Counter<L>): void {
    for (const entry of this.#entries) {
      if (entry.n === 0) continue;
      counter.inc(entry.labels, entry.n);
      entry.n = 0;
    }
  }
}
