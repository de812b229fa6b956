/** Summary statistics over timing samples; the measures doc asks for medians and percentiles. */

/**
 * The median of the samples: the middle one, or the mean of the middle two.
 * @example
 * median([3, 1, 2]); // 2
 */
export function median(samples: readonly number[]): number {
  if (samples.length === 0) throw new RangeError('median of no samples');
  const sorted = [...samples].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  const upper = sorted[middle] ?? 0;
  return sorted.length % 2 === 1 ? upper : ((sorted[middle - 1] ?? upper) + upper) / 2;
}

/**
 * The nearest-rank percentile (p in 0–100): the smallest sample that at least p% of samples do not exceed.
 * @example
 * percentile([1, 2, 3, 4], 50); // 2
 */
export function percentile(samples: readonly number[], p: number): number {
  if (samples.length === 0) throw new RangeError('percentile of no samples');
  if (!(p > 0 && p <= 100)) throw new RangeError(`percentile p must be in (0, 100], got ${p}`);
  const sorted = [...samples].sort((a, b) => a - b);
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[rank - 1] ?? 0;
}
