/**
 * The claims store's metrics, next to core's `fibervisor_offload_*`: how many claims this
 * replica holds, how often its session was lost, and how many claims were lost with it (the
 * work kept running, unclaimed). Per-kind series are capped like core's (`"_other"` past 1,000).
 *
 * @internal
 */
import * as Metric from "effect/Metric"

export const claimsHeld: Metric.Gauge<number> = Metric.gauge("fibervisor_offload_cluster_claims", {
  description: "Cluster claims (keys and slots) this replica holds now"
})

export const sessionsLost: Metric.Counter<number> = Metric.counter("fibervisor_offload_cluster_session_lost_total", {
  description: "Times this replica's claims session was lost and replaced",
  incremental: true
})

const lostName = "fibervisor_offload_cluster_claims_lost_total"
const lostDescription = "Claims of work in flight lost with the session and taken by another replica or not re-taken"

const maxKindLabels = 1_000
const lost = new Map<string, Metric.Counter<number>>()
const lostOther = Metric.counter(lostName, {
  description: lostDescription,
  incremental: true,
  attributes: { kind: "_other" }
})

/** `fibervisor_offload_cluster_claims_lost_total{kind}`. */
export const claimsLost = (kind: string): Metric.Counter<number> => {
  let counter = lost.get(kind)
  if (counter === undefined) {
    if (lost.size >= maxKindLabels) return lostOther
    counter = Metric.counter(lostName, { description: lostDescription, incremental: true, attributes: { kind } })
    lost.set(kind, counter)
  }
  return counter
}
