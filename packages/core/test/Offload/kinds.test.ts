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
})
