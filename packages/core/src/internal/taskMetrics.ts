/**
 * The task metrics (`fibervisor_task_*`), one set of metric objects per task path.
 *
 * Data flow: an entry looks its set up once (`Entry.metrics`); the task loop and the supervisor
 * update it with the task's caller context, so a `MetricRegistry` the application provides
 * receives them.
 *
 * Invariants: at most `maxTaskLabels` paths get series of their own (later ones share `"_other"`),
 * because Effect's registry keeps every series; series are never removed, so a counter stays
 * monotonic when a path is reused.
 *
 * @internal
 */
import * as Metric from "effect/Metric"
import { MetricUpdater } from "./compat.js"
import { counterUpdater as counter } from "./labels.js"

const names = {
  attempts: "fibervisor_task_attempts_total",
  failures: "fibervisor_task_failures_total",
  timeouts: "fibervisor_task_timeouts_total",
  restarts: "fibervisor_task_restarts_total",
  running: "fibervisor_task_running",
  duration: "fibervisor_task_attempt_duration_seconds"
} as const

const descriptions = {
  attempts: "Task attempts started",
  failures: "Task attempts that failed (typed failure, defect, or the supervisor's timeout)",
  timeouts: "Task attempts stopped by their per-attempt timeout",
  restarts: "Restarts scheduled after a failed attempt",
  running: "Task attempts running now",
  duration: "Run time of task attempts"
} as const

const boundaries = Metric.exponentialBoundaries({ start: 0.001, factor: 2, count: 20 })

/**
 * The task metrics of one `task` attribute value. Effect 4 keys a series by the metric's own
 * attributes (labels are no longer passed per update), so each path gets its own metric objects,
 * built once; every update takes the updating fiber's context (it holds the metric registry).
 */
export interface TaskMetrics {
  /** The `task` attribute: the task's path (`parent/name`), or `"_other"` past the label cap. */
  readonly path: string
  readonly attempts: MetricUpdater<number>
  readonly failures: MetricUpdater<number>
  readonly timeouts: MetricUpdater<number>
  readonly restarts: MetricUpdater<number>
  readonly running: MetricUpdater<number>
  readonly duration: MetricUpdater<number>
}

/**
 * The metrics of one attribute value (each behind a `MetricUpdater`: the hot path's updates skip
 * the series lookup). Built with the `attributes` option rather than
 * `Metric.withAttributes`: the same series, without a context copy on every update.
 */
const make = (path: string): TaskMetrics => {
  const attributes = { task: path }
  return {
    path,
    attempts: counter(names.attempts, descriptions.attempts, attributes),
    failures: counter(names.failures, descriptions.failures, attributes),
    timeouts: counter(names.timeouts, descriptions.timeouts, attributes),
    restarts: counter(names.restarts, descriptions.restarts, attributes),
    running: new MetricUpdater(Metric.gauge(names.running, { description: descriptions.running, attributes })),
    duration: new MetricUpdater(
      Metric.histogram(names.duration, { description: descriptions.duration, boundaries, attributes })
    )
  }
}

/**
 * At most this many distinct `task` attribute values; later tasks share `"_other"`. Effect's
 * metric registry keeps every series until it is removed (`Metric.remove`), so one series per
 * short-lived task would grow without bound.
 */
export const maxTaskLabels = 1_000

/** Metrics by the path of the supervisor, then by task name: both strings are already flat. */
const labels = new Map<string, Map<string, TaskMetrics>>()
/** The supervisor path last looked up, and its map (`undefined`: none yet). */
let lastParent: string | undefined = undefined
let lastByName: Map<string, TaskMetrics> | undefined = undefined
let labelCount = 0
const other: TaskMetrics = make("_other")

/**
 * The metrics of the task `name` under the supervisor at `parent` (attribute `task="parent/name"`,
 * its path), built once per path and shared by every task that ever holds it.
 */
export const taskLabel = (parent: string, name: string): TaskMetrics => {
  // Tasks are mostly added to the supervisor the previous one was added to: its map is at hand.
  let byName = parent === lastParent ? lastByName : (lastByName = labels.get((lastParent = parent)))
  const label = byName?.get(name)
  if (label !== undefined) return label
  if (labelCount >= maxTaskLabels) return other
  if (byName === undefined) {
    byName = new Map()
    labels.set(parent, byName)
    lastByName = byName
  }
  const made = make(`${parent}/${name}`)
  byName.set(name, made)
  labelCount += 1
  return made
}
