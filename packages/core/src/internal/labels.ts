/**
 * The metric-series helpers the core metric modules share (taskMetrics.ts, offloadMetrics.ts,
 * offloadCluster.ts): a counter with its attributes fixed at construction, and a capped cache of
 * per-label metric sets.
 *
 * Why capped: Effect's metric registry keeps every series until it is removed, so one set per
 * ad-hoc label value would grow without bound; past the cap, later labels share the `"_other"` set.
 * Invariant: a label's set is built once and never replaced, so a counter stays monotonic.
 *
 * @internal
 */
import * as Metric from "effect/Metric"
import { MetricUpdater } from "./compat.js"

/**
 * An incremental counter behind a `MetricUpdater` (the hot path's updates skip the series lookup),
 * built with the `attributes` option rather than `Metric.withAttributes`: no context copy per update.
 */
export const counterUpdater = (
  name: string,
  description: string,
  attributes: Metric.Metric.Attributes
): MetricUpdater<number> => new MetricUpdater(Metric.counter(name, { description, incremental: true, attributes }))

/**
 * A lookup building `make(label)` once per label, for at most `max` labels; any later label gets
 * the set of `"_other"` (built up front).
 */
export const cappedLabels = <A>(max: number, make: (label: string) => A): ((label: string) => A) => {
  const labels = new Map<string, A>()
  const other = make("_other")
  return (label) => {
    let set = labels.get(label)
    if (set === undefined) {
      if (labels.size >= max) return other
      set = make(label)
      labels.set(label, set)
    }
    return set
  }
}
