/**
 * Order statistics of a small sample (linear interpolation between closest ranks, like R's type 7).
 */
export const quantile = (sorted: ReadonlyArray<number>, q: number): number => {
  if (sorted.length === 0) return Number.NaN
  const position = (sorted.length - 1) * q
  const lower = Math.floor(position)
  const upper = Math.ceil(position)
  const low = sorted[lower]!
  const high = sorted[upper]!
  return low + (high - low) * (position - lower)
}

export interface Summary {
  readonly median: number
  readonly min: number
  readonly max: number
  readonly q1: number
  readonly q3: number
}

export const summarize = (values: ReadonlyArray<number>): Summary => {
  const sorted = [...values].sort((a, b) => a - b)
  return {
    median: quantile(sorted, 0.5),
    min: sorted[0] ?? Number.NaN,
    max: sorted[sorted.length - 1] ?? Number.NaN,
    q1: quantile(sorted, 0.25),
    q3: quantile(sorted, 0.75)
  }
}
