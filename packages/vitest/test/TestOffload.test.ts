import { describe, expect, it } from "@effect/vitest"
import { Context, Effect, Exit, Fiber, Ref } from "effect"
import { Offload, OffloadKey } from "@fibervisor/core"
import { TestOffload, TestTime } from "@fibervisor/vitest"

class Greeting extends Context.Service<Greeting, string>()("Greeting") {}

describe("TestOffload", () => {
  it.effect("records registrations without running them, deduplicating keyed work", () =>
    Effect.gen(function* () {
      const runs = yield* Ref.make(0)
      const work = Ref.update(runs, (n) => n + 1)
      expect(yield* Offload.register(OffloadKey.keyed("u1", "revalidate"), work)).toBe("spawned")
      expect(yield* Offload.register(OffloadKey.keyed("u1", "revalidate"), work)).toBe("deduplicated")
      expect(yield* Offload.register(OffloadKey.keyed("u1", "warmup"), work)).toBe("spawned")
      yield* Offload.spawn("telemetry", work)
      yield* Offload.spawn("telemetry", work)
      expect(yield* Ref.get(runs)).toBe(0)
      const entries = yield* TestOffload.entries
      expect(entries.map((e) => [e.kind, OffloadKey.format(e.key)])).toEqual([
        ["revalidate", "revalidate:u1"],
        ["warmup", "warmup:u1"],
        ["telemetry", "telemetry:*"],
        ["telemetry", "telemetry:*"]
      ])
      const offload = yield* Offload.Offload
      expect(yield* offload.isInFlight(OffloadKey.keyed("u1", "revalidate"))).toBe(true)
      const exits = yield* TestOffload.runAll
      expect(exits.every(Exit.isSuccess)).toBe(true)
      expect(yield* Ref.get(runs)).toBe(4)
      expect(yield* TestOffload.entries).toEqual([])
      expect((yield* TestOffload.history).length).toBe(4)
      expect(yield* offload.isInFlight(OffloadKey.keyed("u1", "revalidate"))).toBe(false)
      expect(yield* Offload.register(OffloadKey.keyed("u1", "revalidate"), work)).toBe("spawned")
    }).pipe(Effect.provide(TestOffload.layer()))
  )

  it.effect("runs recorded work with the caller's services, under the test clock", () =>
    Effect.gen(function* () {
      const seen = yield* Ref.make<Array<string>>([])
      yield* Offload.spawn(
        "greet",
        Effect.flatMap(Greeting, (g) =>
          Effect.andThen(
            Effect.sleep("1 second"),
            Ref.update(seen, (s) => [...s, g])
          )
        )
      ).pipe(Effect.provideService(Greeting, "hello"))
      yield* Offload.spawn("boom", Effect.fail("nope"))
      const running = yield* Effect.forkChild(TestOffload.runAll)
      yield* TestTime.adjust("1 second")
      const exits = yield* Fiber.join(running)
      expect(yield* Ref.get(seen)).toEqual(["hello"])
      expect(exits[1]).toEqual(Exit.fail("nope"))
    }).pipe(Effect.provide(TestOffload.layer()))
  )

  it.effect("cancel and clear drop pending work; deduplicate: false records duplicates", () =>
    Effect.gen(function* () {
      const work = Effect.void
      yield* Offload.register(OffloadKey.keyed("a", "k"), work)
      yield* Offload.register(OffloadKey.keyed("a", "k"), work)
      yield* Offload.register(OffloadKey.keyed("b", "k"), work)
      const offload = yield* Offload.Offload
      expect(yield* offload.cancel(OffloadKey.keyed("a", "k"))).toBe(true)
      expect((yield* TestOffload.entries).length).toBe(1)
      yield* TestOffload.clear
      expect(yield* TestOffload.entries).toEqual([])
      expect(yield* offload.cancel(OffloadKey.auto("k"))).toBe(false)
    }).pipe(Effect.provide(TestOffload.layer({ deduplicate: false })))
  )
})
