/** Small statistics for the harness: median and spread of repeated runs, percentiles of samples. */

export interface Spread {
  median: number;
  min: number;
  max: number;
}

export const spread = (values: number[]): Spread => {
  if (values.length === 0) throw new Error('no values');
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  const median =
    sorted.length % 2 === 1
      ? (sorted[mid] as number)
      : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
  return { median, min: sorted[0] as number, max: sorted[sorted.length - 1] as number };
};

/** The value below which `p` (0-100) of the samples fall (nearest rank). */
export const percentile = (samples: number[], p: number): number => {
  if (samples.length === 0) throw new Error('no samples');
  const sorted = [...samples].sort((a, b) => a - b);
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil((p / 100) * sorted.length)));
  return sorted[rank - 1] as number;
};
