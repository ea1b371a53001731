import { describe, expect, it } from "@effect/vitest"
import { Effect, Exit, Fiber, Ref } from "effect"
import { Offload, OffloadKey } from "@fibervisor/core"
import { TestOffload, TestTime } from "@fibervisor/vitest"

// The code under test: renaming a user offloads a reindex, keyed by user (one at a time per user).
const rename = (index: Ref.Ref<Array<string>>, userId: string) =>
  Offload.register(
    OffloadKey.keyed(userId, "reindex"),
    Effect.andThen(
      Effect.sleep("2 seconds"),
      Ref.update(index, (ids) => [...ids, userId])
    )
  )

describe("renaming offloads a reindex", () => {
  it.effect("TestOffload records the work; the test runs it", () =>
    Effect.gen(function* () {
      const index = yield* Ref.make<Array<string>>([])
      const outcomes = [yield* rename(index, "u1"), yield* rename(index, "u1"), yield* rename(index, "u2")]
      expect(outcomes).toEqual(["spawned", "deduplicated", "spawned"]) // u1 is pending: in flight

      const pending = yield* TestOffload.entries
      expect(pending.map((entry) => OffloadKey.format(entry.key))).toEqual(["reindex:u1", "reindex:u2"])
      expect(pending.map((entry) => entry.kind)).toEqual(["reindex", "reindex"])

      // runAll runs the pending work one by one in this fiber, under this test's clock.
      const run = yield* Effect.forkChild(TestOffload.runAll)
      yield* TestTime.adjust("4 seconds")
      expect((yield* Fiber.join(run)).every(Exit.isSuccess)).toBe(true)
      expect(yield* Ref.get(index)).toEqual(["u1", "u2"])

      expect(yield* TestOffload.entries).toEqual([]) // run: no longer pending...
      expect((yield* TestOffload.history).length).toBe(2) // ...but remembered
      expect(yield* rename(index, "u1")).toBe("spawned") // and no longer in flight
      yield* TestOffload.clear // dropped without running
      expect(yield* TestOffload.entries).toEqual([])
    }).pipe(Effect.provide(TestOffload.layer()))
  )

  it.effect("TestOffload.layer({ deduplicate: false }) records every registration", () =>
    Effect.gen(function* () {
      const index = yield* Ref.make<Array<string>>([])
      yield* rename(index, "u1")
      expect(yield* rename(index, "u1")).toBe("spawned")
      expect((yield* TestOffload.entries).length).toBe(2)
    }).pipe(Effect.provide(TestOffload.layer({ deduplicate: false })))
  )

  it.effect("Offload.layerDisabled: nothing runs", () =>
    Effect.gen(function* () {
      const index = yield* Ref.make<Array<string>>([])
      expect(yield* rename(index, "u1")).toBe("disabled")
      yield* TestTime.adjust("1 minute")
      expect(yield* Ref.get(index)).toEqual([])
    }).pipe(Effect.provide(Offload.layerDisabled))
  )

  it.effect("the real Offload.layer under the TestClock", () =>
    Effect.gen(function* () {
      const index = yield* Ref.make<Array<string>>([])
      const offload = yield* Offload.Offload
      expect(yield* rename(index, "u1")).toBe("spawned")
      expect(yield* offload.isInFlight(OffloadKey.keyed("u1", "reindex"))).toBe(true)
      // awaitIdle waits on the clock too: fork it, move the clock, join.
      const idle = yield* Effect.forkChild(Offload.awaitIdle("5 seconds"))
      yield* TestTime.adjust("2 seconds") // the work's sleep ends
      expect(yield* Fiber.join(idle)).toBe(true)
      expect(yield* Ref.get(index)).toEqual(["u1"])
    }).pipe(Effect.provide(Offload.layer()))
  )
})
