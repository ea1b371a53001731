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

/** Labels by the path of the supervisor, then by task name: both strings are already flat. */
const labels = new Map<string, Map<string, ReadonlyArray<MetricLabel.MetricLabel>>>()
let labelCount = 0
const other: ReadonlyArray<MetricLabel.MetricLabel> = [MetricLabel.make("task", "_other")]

/**
 * The `task` label of the task `name` under the supervisor at `parent` (value `parent/name`, its
 * path), built once per path (the same array keeps Effect's hook cache warm).
 */
export const taskLabel = (parent: string, name: string): ReadonlyArray<MetricLabel.MetricLabel> => {
  let byName = labels.get(parent)
  const label = byName?.get(name)
  if (label !== undefined) return label
  if (labelCount >= maxTaskLabels) return other
  if (byName === undefined) {
    byName = new Map()
    labels.set(parent, byName)
  }
  const made = [MetricLabel.make("task", `${parent}/${name}`)]
  byName.set(name, made)
  labelCount += 1
  return made
}
