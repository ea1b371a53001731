import * as Metric from "effect/Metric"
import * as MetricBoundaries from "effect/MetricBoundaries"
import * as MetricLabel from "effect/MetricLabel"

export const spawned = Metric.counter("fibervisor_offload_spawned_total", {
  description: "Offloaded work admitted (started or queued)",
  incremental: true
})
export const completed = Metric.counter("fibervisor_offload_completed_total", {
  description: "Offloaded work that succeeded",
  incremental: true
})
export const failed = Metric.counter("fibervisor_offload_failed_total", {
  description: "Offloaded work that failed or died",
  incremental: true
})
export const timedOut = Metric.counter("fibervisor_offload_timeout_total", {
  description: "Offloaded work interrupted by its timeout",
  incremental: true
})
export const deduplicated = Metric.counter("fibervisor_offload_deduplicated_total", {
  description: "Registrations skipped because the same key was in flight",
  incremental: true
})
export const rejected = Metric.counter("fibervisor_offload_rejected_total", {
  description: "Registrations refused (full, closed or invalid)",
  incremental: true
})
export const interrupted = Metric.counter("fibervisor_offload_interrupted_total", {
  description: "Offloaded work cancelled or cut off at shutdown",
  incremental: true
})
export const active = Metric.gauge("fibervisor_offload_active", { description: "Offloaded work running now" })
export const duration = Metric.histogram(
  "fibervisor_offload_duration_seconds",
  MetricBoundaries.exponential({ start: 0.001, factor: 2, count: 18 }),
  "Run time of offloaded work"
)

/**
 * At most this many distinct `kind` labels; later kinds share `"_other"`. Effect's metric registry
 * never forgets a label set, so one label per ad-hoc kind would grow without bound.
 */
export const maxKindLabels = 1_000

const labels = new Map<string, ReadonlyArray<MetricLabel.MetricLabel>>()
const other: ReadonlyArray<MetricLabel.MetricLabel> = [MetricLabel.make("kind", "_other")]

/** The `kind` label, built once per kind (the same array keeps Effect's hook cache warm). */
export const kindLabel = (kind: string): ReadonlyArray<MetricLabel.MetricLabel> => {
  let label = labels.get(kind)
  if (label === undefined) {
    if (labels.size >= maxKindLabels) return other
    label = [MetricLabel.make("kind", kind)]
    labels.set(kind, label)
  }
  return label
}
