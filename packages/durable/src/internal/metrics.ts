/**
 * The metrics of durable work: the `fibervisor_offload_*` series of core's `Offload`, with the
 * attribute `backend="durable"` beside `kind`, plus the queued gauge and the dead-letter counter.
 * One set per kind, built once (Effect keys a series by its attributes); capped at `maxKinds`
 * distinct kinds, later ones share `"_other"`, so ad-hoc kind names cannot grow the registry.
 */
import * as Metric from "effect/Metric"

const boundaries = Metric.exponentialBoundaries({ start: 0.001, factor: 2, count: 18 })

/** The metrics of one kind. */
export interface KindMetrics {
  /** Jobs stored by `enqueue`. */
  readonly spawned: Metric.Counter<number>
  readonly deduplicated: Metric.Counter<number>
  readonly rejected: Metric.Counter<number>
  /** Attempts that succeeded. */
  readonly completed: Metric.Counter<number>
  /** Attempts that failed or died (a timeout counts here and in `timedOut`). */
  readonly failed: Metric.Counter<number>
  readonly timedOut: Metric.Counter<number>
  /** Attempts interrupted: cancelled, cut off at shutdown (released), or whose lease was lost. */
  readonly interrupted: Metric.Counter<number>
  /** Jobs dead-lettered (`failed` for good). */
  readonly dead: Metric.Counter<number>
  /** Handlers running now in this process. */
  readonly active: Metric.Gauge<number>
  /** Jobs `pending` in the store, as last read (`counts`, and the workers' periodic read). */
  readonly queued: Metric.Gauge<number>
  readonly duration: Metric.Histogram<number>
}

const counter = (name: string, description: string, attributes: Metric.Metric.Attributes) =>
  Metric.counter(name, { description, incremental: true, attributes })

const make = (kind: string): KindMetrics => {
  const attributes = { kind, backend: "durable" }
  return {
    spawned: counter("fibervisor_offload_spawned_total", "Offloaded work admitted (started or queued)", attributes),
    deduplicated: counter(
      "fibervisor_offload_deduplicated_total",
      "Registrations skipped because the same key was in flight",
      attributes
    ),
    rejected: counter(
      "fibervisor_offload_rejected_total",
      "Registrations refused (full, closed or invalid)",
      attributes
    ),
    completed: counter("fibervisor_offload_completed_total", "Offloaded work that succeeded", attributes),
    failed: counter("fibervisor_offload_failed_total", "Offloaded work that failed or died", attributes),
    timedOut: counter("fibervisor_offload_timeout_total", "Offloaded work interrupted by its timeout", attributes),
    interrupted: counter(
      "fibervisor_offload_interrupted_total",
      "Offloaded work cancelled or cut off at shutdown",
      attributes
    ),
    dead: counter("fibervisor_offload_dead_total", "Durable work dead-lettered after its last attempt", attributes),
    active: Metric.gauge("fibervisor_offload_active", { description: "Offloaded work running now", attributes }),
    queued: Metric.gauge("fibervisor_offload_queued", { description: "Durable work waiting in the store", attributes }),
    duration: Metric.histogram("fibervisor_offload_duration_seconds", {
      description: "Run time of offloaded work",
      boundaries,
      attributes
    })
  }
}

/** At most this many kinds get series of their own. */
export const maxKinds = 1_000

const byKind = new Map<string, KindMetrics>()
const other = make("_other")

/** The metrics of `kind`. */
export const of = (kind: string): KindMetrics => {
  let metrics = byKind.get(kind)
  if (metrics === undefined) {
    if (byKind.size >= maxKinds) return other
    metrics = make(kind)
    byKind.set(kind, metrics)
  }
  return metrics
}
