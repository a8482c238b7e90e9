// Order statistics for latency samples.

export function quantile(values: ArrayLike<number>, q: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = Float64Array.from(values).sort();
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] as number;
}

export function median(values: number[]): number {
  return quantile(values, 0.5);
}

/**
 * Quantiles of a Prometheus histogram from its text exposition: the upper bound of the first
 * bucket holding the quantile (so "p99 <= 5 ms" is exact, the value itself is a bound).
 */
export function histogramQuantiles(text: string, name: string): { p50: number; p99: number; count: number } {
  const buckets: Array<[number, number]> = [];
  for (const m of text.matchAll(new RegExp(`^${name}_bucket\\{[^}]*le="([^"]+)"[^}]*\\} (\\S+)`, 'gm'))) {
    buckets.push([m[1] === '+Inf' ? Infinity : Number(m[1]), Number(m[2])]);
  }
  buckets.sort((a, b) => a[0] - b[0]);
  const count = buckets.at(-1)?.[1] ?? 0;
  const at = (q: number) => buckets.find(([, c]) => c >= q * count)?.[0] ?? Number.NaN;
  return { p50: at(0.5), p99: at(0.99), count };
}
