/** Percentile by nearest rank of an unsorted sample; NaN for an empty sample. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil((p / 100) * sorted.length)));
  return sorted[rank - 1]!;
}

/** Rounds for tables: whole milliseconds above 10, one decimal below. */
export function ms(value: number): string {
  if (!Number.isFinite(value)) return '-';
  return value >= 10 ? value.toFixed(0) : value.toFixed(1);
}

/** Formats a ratio as a percentage change: -87% means 87% lower than the baseline. */
export function change(value: number, baseline: number): string {
  if (!Number.isFinite(value) || !Number.isFinite(baseline) || baseline === 0) return '-';
  const pct = ((value - baseline) / baseline) * 100;
  return `${pct > 0 ? '+' : ''}${pct.toFixed(0)}%`;
}
