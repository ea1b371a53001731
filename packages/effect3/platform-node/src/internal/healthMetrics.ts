/**
 * `/metrics`: Effect's metrics (the global registry, so every `fibervisor_*` metric of the process)
 * in the Prometheus text exposition format, through `@effect/opentelemetry`'s `Metrics` layer and
 * OpenTelemetry's `PrometheusExporter` used as a pull-only reader (its own HTTP server never starts).
 *
 * How the names come out (checked against a real scrape in test/HealthServer.test.ts):
 *
 * - `@effect/opentelemetry` turns an incremental Effect counter into a monotonic OTel sum, which the
 *   exporter writes as `# TYPE <name> counter`. The exporter appends `_total` only to names that do
 *   not end with it already, and every fibervisor counter does, so the names are unchanged:
 *   `fibervisor_task_attempts_total`, `fibervisor_task_failures_total`, `fibervisor_task_timeouts_total`,
 *   `fibervisor_task_restarts_total`, `fibervisor_offload_spawned_total`, `fibervisor_offload_completed_total`,
 *   `fibervisor_offload_failed_total`, `fibervisor_offload_timeout_total`,
 *   `fibervisor_offload_deduplicated_total`, `fibervisor_offload_rejected_total`,
 *   `fibervisor_offload_interrupted_total` (no `_total_total`).
 * - Gauges keep their names: `fibervisor_task_running`, `fibervisor_offload_active` (`# TYPE … gauge`).
 * - Histograms keep their names and get the usual series: `fibervisor_task_attempt_duration_seconds_bucket`
 *   (with `le`, ending with `le="+Inf"`), `…_sum`, `…_count`; likewise `fibervisor_offload_duration_seconds`.
 * - No unit suffix is appended: Effect metrics carry no unit, so the descriptor's unit is `"1"`, which the
 *   exporter only prints as a `# UNIT <name> 1` comment line (text format 0.0.4 ignores such comments).
 * - Labels: the metric's tags (`task="root/db/pool"`, `kind="email"`) plus
 *   `otel_scope_name="@effect/opentelemetry/Metrics"` on every sample; a `target_info` gauge carries
 *   the resource (`service_name`, `telemetry_sdk_language`, `telemetry_sdk_name`).
 * - The registry is global, so every other Effect metric of the process is there too, among them
 *   Effect's runtime metrics, on by default in Effect 3: `effect_fiber_started_total`,
 *   `effect_fiber_active`, `effect_fiber_successes_total`, `effect_fiber_failures_total`,
 *   `effect_fiber_lifetimes` (a histogram; its `time_unit` tag becomes a label and `# UNIT … milliseconds`).
 *
 * @internal
 */
import * as Metrics from "@effect/opentelemetry/Metrics"
import * as Resource from "@effect/opentelemetry/Resource"
import { PrometheusExporter, PrometheusSerializer } from "@opentelemetry/exporter-prometheus"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"

/** The content type of the Prometheus text exposition format. */
export const contentType = "text/plain; version=0.0.4; charset=utf-8"

/** A pull-only Prometheus reader over Effect's metrics. */
export interface Prometheus {
  /** Registers the reader with `@effect/opentelemetry`'s producer; releasing it shuts the reader down. */
  readonly layer: Layer.Layer<never>
  /** Collects every metric now and renders the exposition text. */
  readonly scrape: Effect.Effect<string, Error>
}

export const make = (serviceName: string): Prometheus => {
  // `preventServerStart`: the exporter is only a `MetricReader` here; the health server serves the text.
  const exporter = new PrometheusExporter({ preventServerStart: true })
  // The exporter's defaults: no prefix, no timestamps, scope labels and `target_info` included.
  const serializer = new PrometheusSerializer()
  return {
    layer: Metrics.layer(() => exporter).pipe(Layer.provide(Resource.layer({ serviceName }))),
    scrape: Effect.tryPromise({
      try: () => exporter.collect(),
      catch: (cause) => (cause instanceof Error ? cause : new Error(String(cause)))
    }).pipe(
      Effect.tap(({ errors }) =>
        errors.length === 0 ? Effect.void : Effect.logWarning("metrics collection reported errors", ...errors)
      ),
      Effect.map(({ resourceMetrics }) => serializer.serialize(resourceMetrics))
    )
  }
}
