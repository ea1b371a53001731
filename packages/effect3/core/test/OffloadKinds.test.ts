import { describe, expect, it } from "@effect/vitest"
import { Effect, Metric, TestClock } from "effect"
import { Offload } from "@fibervisor/core"

/** Distinct values of the `kind` label across the offload metrics in Effect's global registry. */
const kindLabels = (prefix: string): number => {
  const values = new Set<string>()
  for (const pair of Metric.unsafeSnapshot()) {
    if (!pair.metricKey.name.startsWith("fibervisor_offload_")) continue
    for (const tag of pair.metricKey.tags) if (tag.key === "kind" && tag.value.startsWith(prefix)) values.add(tag.value)
  }
  return values.size
}

describe("Offload: bookkeeping per kind stays bounded", () => {
  it.scoped(
    "2,500 distinct kinds, all finished: at most 1,000 kind label sets in the metric registry (like task labels)",
    () =>
      Effect.gen(function* () {
        const offload = yield* Offload.make({ grace: 0 })
        for (let i = 0; i < 2_500; i++) yield* offload.spawn(`distinct-kind-${i}`, Effect.void)
        yield* TestClock.adjust(0)
        expect(yield* offload.awaitIdle()).toBe(true)
        expect(kindLabels("distinct-kind-")).toBeLessThanOrEqual(1_000)
      })
  )

  it.scoped("2,500 distinct kinds, all finished: the service keeps at most 1,000 idle kinds' state", () =>
    Effect.gen(function* () {
      const offload = yield* Offload.make({ grace: 0 })
      for (let i = 0; i < 2_500; i++) yield* offload.spawn(`idle-kind-${i}`, Effect.void)
      yield* TestClock.adjust(0)
      expect(yield* offload.awaitIdle()).toBe(true)
      // internal: OffloadImpl.kinds — idle kinds are forgotten once there are more than 1,000
      expect((offload as unknown as { readonly kinds: Map<string, unknown> }).kinds.size).toBeLessThanOrEqual(1_001)
    })
  )
})
