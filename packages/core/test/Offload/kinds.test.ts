import { describe, expect, it } from "@effect/vitest"
import { Effect, Metric } from "effect"
import { Offload } from "@fibervisor/core"
import { flush } from "../helpers/offload.js"

/** Distinct values of the `kind` label across the offload metrics in Effect's global registry. */
const kindLabels = (prefix: string): Effect.Effect<number> =>
  Effect.map(Metric.snapshot, (snapshots) => {
    const values = new Set<string>()
    for (const snapshot of snapshots) {
      if (!snapshot.id.startsWith("fibervisor_offload_")) continue
      const kind = snapshot.attributes?.kind
      if (kind !== undefined && kind.startsWith(prefix)) values.add(kind)
    }
    return values.size
  })

describe("Offload: bookkeeping per kind stays bounded", () => {
  it.effect(
    "2,500 distinct kinds, all finished: at most 1,000 kind label sets in the metric registry (like task labels)",
    () =>
      Effect.gen(function* () {
        const offload = yield* Offload.make({ grace: 0 })
        for (let i = 0; i < 2_500; i++) yield* offload.spawn(`distinct-kind-${i}`, Effect.void)
        yield* flush
        expect(yield* offload.awaitIdle()).toBe(true)
        expect(yield* kindLabels("distinct-kind-")).toBeLessThanOrEqual(1_000)
      })
  )

  it.effect("2,500 distinct kinds, all finished: the service keeps at most 1,000 idle kinds' state", () =>
    Effect.gen(function* () {
      const offload = yield* Offload.make({ grace: 0 })
      for (let i = 0; i < 2_500; i++) yield* offload.spawn(`idle-kind-${i}`, Effect.void)
      yield* flush
      expect(yield* offload.awaitIdle()).toBe(true)
      // internal: OffloadImpl.kinds — idle kinds are forgotten once there are more than 1,000
      expect((offload as unknown as { readonly kinds: Map<string, unknown> }).kinds.size).toBeLessThanOrEqual(1_001)
    })
  )

  it.effect("a kind forgotten while idle and registered again is tracked again (summary, cancelAll)", () =>
    Effect.gen(function* () {
      const offload = yield* Offload.make({ grace: 0 })
      // First, so that it has counts of its own in `summary` (the 1,001st kind's go to "_other").
      yield* offload.spawn("comeback", Effect.void)
      yield* flush
      // More than 1,000 kinds in flight: an idle kind's state is forgotten when its work ends.
      for (let i = 0; i < 1_001; i++) yield* offload.spawn(`busy-kind-${i}`, Effect.never)
      yield* offload.spawn("comeback", Effect.void)
      yield* flush
      const gone = yield* offload.summary!
      expect(gone.kinds.find((k) => k.kind === "comeback")?.active ?? 0).toBe(0)
      // The same kind again, right after it was the last one asked for: a fresh state, tracked.
      yield* offload.spawn("comeback", Effect.never)
      yield* flush
      const back = yield* offload.summary!
      expect(back.kinds.find((k) => k.kind === "comeback")?.active).toBe(1)
      expect(yield* offload.cancelAll).toBe(1_002)
      expect(yield* offload.activeCount).toBe(0)
    })
  )
})
