/**
 * The metrics of cluster singletons, one set per singleton name (attribute `singleton`):
 * `fibervisor_singleton_owned` (1 on the owner, 0 elsewhere), `fibervisor_singleton_epoch` (the
 * epoch this replica last owned), `fibervisor_singleton_handoffs_total` (ownerships this replica
 * gave up, any reason).
 *
 * Invariants: updates take the attempt's context (so a test's metric registry sees them); the sets
 * are cached by name (a singleton name is a fixed, small set per process).
 *
 * @internal
 */
import * as Metric from "effect/Metric"

/** The metrics of one singleton name. */
export interface SingletonMetrics {
  readonly owned: Metric.Gauge<number>
  readonly epoch: Metric.Gauge<number>
  readonly handoffs: Metric.Counter<number>
}

const cache = new Map<string, SingletonMetrics>()

/** The metrics of singleton `name`. */
export const metricsOf = (name: string): SingletonMetrics => {
  let metrics = cache.get(name)
  if (metrics === undefined) {
    const attributes = { singleton: name }
    metrics = {
      owned: Metric.gauge("fibervisor_singleton_owned", {
        description: "1 while this replica owns the singleton, 0 otherwise",
        attributes
      }),
      epoch: Metric.gauge("fibervisor_singleton_epoch", {
        description: "The lease epoch of this replica's latest ownership of the singleton",
        attributes
      }),
      handoffs: Metric.counter("fibervisor_singleton_handoffs_total", {
        description: "Ownerships of the singleton this replica gave up (hand-off, lost lease, failure, completion)",
        incremental: true,
        attributes
      })
    }
    cache.set(name, metrics)
  }
  return metrics
}
