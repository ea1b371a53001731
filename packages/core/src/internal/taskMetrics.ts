import * as Metric from "effect/Metric"
import * as MetricBoundaries from "effect/MetricBoundaries"
import * as MetricLabel from "effect/MetricLabel"

export const attempts = Metric.counter("fibervisor_task_attempts_total", {
  description: "Task attempts started",
  incremental: true
})
export const failures = Metric.counter("fibervisor_task_failures_total", {
  description: "Task attempts that failed (typed failure, defect, or the supervisor's timeout)",
  incremental: true
})
export const timeouts = Metric.counter("fibervisor_task_timeouts_total", {
  description: "Task attempts stopped by their per-attempt timeout",
  incremental: true
})
export const restarts = Metric.counter("fibervisor_task_restarts_total", {
  description: "Restarts scheduled after a failed attempt",
  incremental: true
})
export const running = Metric.gauge("fibervisor_task_running", { description: "Task attempts running now" })
export const duration = Metric.histogram(
  "fibervisor_task_attempt_duration_seconds",
  MetricBoundaries.exponential({ start: 0.001, factor: 2, count: 20 }),
  "Run time of task attempts"
)

/**
 * At most this many distinct `task` labels; later tasks share `"_other"`. Effect's metric registry
 * never forgets a label set, so one label per short-lived task would grow without bound.
 */
export const maxTaskLabels = 1_000

const labels = new Map<string, ReadonlyArray<MetricLabel.MetricLabel>>()
const other: ReadonlyArray<MetricLabel.MetricLabel> = [MetricLabel.make("task", "_other")]

/** The `task` label of a task path, built once per path (the same array keeps Effect's hook cache warm). */
export const taskLabel = (path: string): ReadonlyArray<MetricLabel.MetricLabel> => {
  let label = labels.get(path)
  if (label === undefined) {
    if (labels.size >= maxTaskLabels) return other
    label = [MetricLabel.make("task", path)]
    labels.set(path, label)
  }
  return label
}
