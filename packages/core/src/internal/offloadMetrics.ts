/**
 * The offload metrics (`fibervisor_offload_*`), one set per kind, and the rejected counter of keys
 * too malformed to have a kind. Capped like the task metrics (`maxKindLabels`, then `"_other"`);
 * every update takes the job's caller context. A job's own updates (admitted, started, ended) go
 * through its `CallerSeries`, resolved once per caller context rather than once per update.
 *
 * @internal
 */
import type * as Context from "effect/Context"
import * as Metric from "effect/Metric"
import { isNativeTracer, type MetricSeries, MetricUpdater } from "./compat.js"
import { cappedLabels, counterUpdater as counter } from "./labels.js"

const spawnedName = "fibervisor_offload_spawned_total"
const spawnedDescription = "Offloaded work admitted (started or queued)"
const completedName = "fibervisor_offload_completed_total"
const completedDescription = "Offloaded work that succeeded"
const failedName = "fibervisor_offload_failed_total"
const failedDescription = "Offloaded work that failed or died"
const timedOutName = "fibervisor_offload_timeout_total"
const timedOutDescription = "Offloaded work interrupted by its timeout"
const deduplicatedName = "fibervisor_offload_deduplicated_total"
const deduplicatedDescription = "Registrations skipped because the same key was in flight"
const rejectedName = "fibervisor_offload_rejected_total"
const rejectedDescription = "Registrations refused (full, closed or invalid)"
const interruptedName = "fibervisor_offload_interrupted_total"
const interruptedDescription = "Offloaded work cancelled or cut off at shutdown"
const activeName = "fibervisor_offload_active"
const activeDescription = "Offloaded work running now"
const durationName = "fibervisor_offload_duration_seconds"
const durationDescription = "Run time of offloaded work"
const boundaries = Metric.exponentialBoundaries({ start: 0.001, factor: 2, count: 18 })

/** Registrations refused before they have a kind (an invalid key): the series without a `kind` attribute. */
export const rejectedWithoutKind: Metric.Counter<number> = Metric.counter(rejectedName, {
  description: rejectedDescription,
  incremental: true
})

/**
 * The offload metrics of one `kind` attribute value, built once per kind (Effect 4 keys a series
 * by the metric's own attributes; every update takes the updating fiber's context, which holds
 * the metric registry).
 */
export interface KindMetrics {
  /** The `kind` attribute: the kind, or `"_other"` past the label cap. */
  readonly kind: string
  readonly spawned: MetricUpdater<number>
  readonly completed: MetricUpdater<number>
  readonly failed: MetricUpdater<number>
  readonly timedOut: MetricUpdater<number>
  readonly deduplicated: MetricUpdater<number>
  readonly rejected: MetricUpdater<number>
  readonly interrupted: MetricUpdater<number>
  readonly active: MetricUpdater<number>
  readonly duration: MetricUpdater<number>
}

/**
 * Built with the `attributes` option rather than `Metric.withAttributes`: no context copy per
 * update; each behind a `MetricUpdater`, so the hot path's updates skip the series lookup.
 */
const make = (kind: string): KindMetrics => {
  const attributes = { kind }
  return {
    kind,
    spawned: counter(spawnedName, spawnedDescription, attributes),
    completed: counter(completedName, completedDescription, attributes),
    failed: counter(failedName, failedDescription, attributes),
    timedOut: counter(timedOutName, timedOutDescription, attributes),
    deduplicated: counter(deduplicatedName, deduplicatedDescription, attributes),
    rejected: counter(rejectedName, rejectedDescription, attributes),
    interrupted: counter(interruptedName, interruptedDescription, attributes),
    active: new MetricUpdater(Metric.gauge(activeName, { description: activeDescription, attributes })),
    duration: new MetricUpdater(
      Metric.histogram(durationName, { description: durationDescription, boundaries, attributes })
    )
  }
}

/**
 * At most this many distinct `kind` attribute values; later kinds share `"_other"`. Effect's
 * metric registry keeps every series until it is removed, so one series per ad-hoc kind would
 * grow without bound.
 */
export const maxKindLabels = 1_000

/** The metrics of `kind`, built once per kind. */
export const kindLabel: (kind: string) => KindMetrics = cappedLabels(maxKindLabels, make)

/**
 * What a job of one kind needs from its caller's context, read once per context rather than per
 * job: the series its admission, start and end update (five updates a job, one context), and
 * whether the tracer is Effect's native one (no span then, see `body`). Holds no reference to the
 * context: a job keeps its `CallerSeries`, and a kind the last one (see `KindState.seriesFor`).
 */
export class CallerSeries {
  readonly spawned: MetricSeries<number>
  readonly completed: MetricSeries<number>
  readonly active: MetricSeries<number>
  readonly duration: MetricSeries<number>
  readonly nativeTracer: boolean
  constructor(metrics: KindMetrics, context: Context.Context<never>) {
    this.spawned = metrics.spawned.seriesFor(context)
    this.completed = metrics.completed.seriesFor(context)
    this.active = metrics.active.seriesFor(context)
    this.duration = metrics.duration.seriesFor(context)
    this.nativeTracer = isNativeTracer(context)
  }
}
