/**
 * `/metrics`: Effect's metrics (the registry of the server's context: Effect's global one unless the
 * application provides its own `Metric.MetricRegistry`, so every `fibervisor_*` metric of the process)
 * in the Prometheus text exposition format, rendered by `effect/observability/PrometheusMetrics`. No
 * OpenTelemetry package is involved.
 *
 * How the names come out (checked against a real scrape in test/HealthServer.test.ts):
 *
 * - A metric's name is its own, unchanged: nothing is appended. Every fibervisor counter already
 *   ends with `_total` (`fibervisor_task_attempts_total`, `fibervisor_task_failures_total`,
 *   `fibervisor_task_timeouts_total`, `fibervisor_task_restarts_total`, `fibervisor_offload_spawned_total`,
 *   `fibervisor_offload_completed_total`, `fibervisor_offload_failed_total`, `fibervisor_offload_timeout_total`,
 *   `fibervisor_offload_deduplicated_total`, `fibervisor_offload_rejected_total`,
 *   `fibervisor_offload_interrupted_total`), written as `# TYPE <name> counter`.
 * - Gauges: `fibervisor_task_running`, `fibervisor_offload_active` (`# TYPE … gauge`).
 * - Histograms get the usual series: `fibervisor_task_attempt_duration_seconds_bucket` (with `le`,
 *   ending with `le="+Inf"`), `…_sum`, `…_count`; likewise `fibervisor_offload_duration_seconds`.
 * - Labels: the metric's attributes (`task="root/db/pool"`, `kind="email"`), nothing else.
 * - A `target_info` gauge (value 1) carries `service_name`, as the OpenTelemetry exporter of the
 *   Effect 3 line did, so the `serviceName` option still names the scrape target.
 * - Effect's runtime metrics (`effect_fiber_*`) are off by default in Effect 4; an application that
 *   enables them (`Metric.enableRuntimeMetrics`) finds them here, with its own metrics.
 *
 * @internal
 */
import * as Effect from "effect/Effect"
import * as PrometheusMetrics from "effect/observability/PrometheusMetrics"

/** The content type of the Prometheus text exposition format. */
export const contentType = "text/plain; version=0.0.4; charset=utf-8"

/** Renders Effect's metrics on demand. */
export interface Prometheus {
  /** Renders the exposition text of every metric of the registry now. */
  readonly scrape: Effect.Effect<string, Error>
}

/** A label value as the exposition format escapes it. */
const escapeLabelValue = (value: string): string =>
  value.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n")

/** The `target_info` family naming the service. */
export const targetInfo = (serviceName: string): string =>
  `# HELP target_info Target metadata\n# TYPE target_info gauge\ntarget_info{service_name="${escapeLabelValue(serviceName)}"} 1\n`

export const make = (serviceName: string): Prometheus => {
  const target = targetInfo(serviceName)
  return {
    scrape: Effect.contextWith((context) =>
      Effect.try({
        try: () => PrometheusMetrics.formatUnsafe(context) + target,
        catch: (cause) => (cause instanceof Error ? cause : new Error(String(cause)))
      })
    )
  }
}
