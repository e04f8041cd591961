export interface LatencySummary {
  p50: number;
  p99: number;
  max: number;
}

/** Nearest-rank percentiles of an unsorted sample. */
export function summarize(sample: number[]): LatencySummary {
  if (sample.length === 0) return { p50: NaN, p99: NaN, max: NaN };
  const sorted = Float64Array.from(sample).sort();
  const at = (p: number) => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
  return { p50: at(50), p99: at(99), max: sorted[sorted.length - 1] };
}
