import { describe, expect, it } from "@effect/vitest"
import { Cause, Deferred, Effect, Exit, Fiber, Logger, Option, References } from "effect"
import { Offload, OffloadKey } from "@fibervisor/core"
import { TestOffload, TestTime } from "@fibervisor/vitest"

/** Values the real layer refuses, as a JavaScript caller could pass them. */
const invalidKeys: ReadonlyArray<readonly [string, OffloadKey.OffloadKey]> = [
  ["an empty kind", OffloadKey.auto("")],
  ["a blank kind", OffloadKey.auto("  ")],
  ["a blank kind of a keyed key", OffloadKey.keyed("k", "\t")],
  ["an empty key", OffloadKey.keyed("", "x")],
  ["a blank key", OffloadKey.keyed(" ", "x")],
  ["a key that is not a string", OffloadKey.keyed(42 as unknown as string, "x")],
  ["a plain object", { _tag: "Auto", kind: "x" } as unknown as OffloadKey.OffloadKey],
  ["undefined", undefined as unknown as OffloadKey.OffloadKey]
]

const captureWarnings = () => {
  const lines: Array<readonly [unknown, Record<string, unknown>]> = []
  const layer = Logger.layer([
    Logger.make(({ fiber, message }) => {
      lines.push([Array.isArray(message) ? message[0] : message, { ...fiber.getRef(References.CurrentLogAnnotations) }])
    })
  ])
  return { lines, layer }
}

describe("TestOffload refuses exactly what the real layer refuses", () => {
  for (const [name, key] of invalidKeys) {
    it.effect(`${name}: "rejected", logged as the real layer logs it, never recorded`, () =>
      Effect.gen(function* () {
        const recorded = captureWarnings()
        const real = captureWarnings()
        const work = Effect.void
        const outcome = yield* Offload.register(key, work).pipe(Effect.provide(recorded.layer))
        const handle = yield* Offload.submit(key, work).pipe(Effect.provide(recorded.layer))
        const offload = yield* Offload.Offload
        expect(yield* offload.isInFlight(key)).toBe(false)
        expect(yield* offload.cancel(key)).toBe(false)
        const realOutcome = yield* Offload.register(key, work).pipe(
          Effect.provide(real.layer),
          Effect.provide(Offload.layer({ grace: 0 }))
        )
        expect([outcome, handle.outcome]).toEqual([realOutcome, realOutcome])
        expect(outcome).toBe("rejected")
        expect(yield* handle.await).toEqual(Option.none())
        expect(yield* TestOffload.history).toEqual([])
        expect(recorded.lines).toEqual([real.lines[0], real.lines[0]])
      }).pipe(Effect.provide(TestOffload.layer()))
    )
  }
})

describe("TestOffload.submit", () => {
  it.effect("spawned: await resumes when runAll runs the entry, with its exit (success or failure)", () =>
    Effect.gen(function* () {
      const ok = yield* Offload.submit(OffloadKey.keyed("u1", "revalidate"), Effect.as(Effect.sleep("1 second"), 7))
      const failing = yield* Offload.submit(OffloadKey.auto("flush"), Effect.fail("boom" as const))
      expect([ok.outcome, failing.outcome]).toEqual(["spawned", "spawned"])
      const waiting = yield* Effect.forkChild(ok.await)
      yield* TestTime.adjust("1 second")
      expect(waiting.pollUnsafe()).toBeUndefined()
      const running = yield* Effect.forkChild(TestOffload.runAll)
      yield* TestTime.adjust("1 second")
      yield* Fiber.join(running)
      const result: Option.Option<Exit.Exit<number, never>> = yield* Fiber.join(waiting)
      expect(result).toEqual(Option.some(Exit.succeed(7)))
      expect(yield* failing.await).toEqual(Option.some(Exit.fail("boom")))
    }).pipe(Effect.provide(TestOffload.layer()))
  )

  it.effect("deduplicated: await resumes with none once the pending entry under the key is run", () =>
    Effect.gen(function* () {
      const first = yield* Offload.submit(OffloadKey.keyed("u1", "revalidate"), Effect.succeed("first"))
      const second = yield* Offload.submit(OffloadKey.keyed("u1", "revalidate"), Effect.succeed("second"))
      expect([first.outcome, second.outcome]).toEqual(["spawned", "deduplicated"])
      const waiting = yield* Effect.forkChild(second.await)
      yield* TestTime.settle()
      expect(waiting.pollUnsafe()).toBeUndefined()
      yield* TestOffload.runAll
      expect(yield* Fiber.join(waiting)).toEqual(Option.none())
      expect(yield* first.await).toEqual(Option.some(Exit.succeed("first")))
    }).pipe(Effect.provide(TestOffload.layer()))
  )

  it.effect("dropped by cancel, cancelAll or clear: await resumes with an interruption", () =>
    Effect.gen(function* () {
      const offload = yield* Offload.Offload
      const a = yield* Offload.submit(OffloadKey.keyed("a", "x"), Effect.void)
      const b = yield* Offload.submit(OffloadKey.auto("y"), Effect.void)
      const c = yield* Offload.submit(OffloadKey.auto("z"), Effect.void)
      expect(yield* offload.cancel(OffloadKey.keyed("a", "x"))).toBe(true)
      expect(yield* offload.cancelAll).toBe(2)
      const d = yield* Offload.submit(OffloadKey.auto("z"), Effect.void)
      yield* TestOffload.clear
      for (const handle of [a, b, c, d]) {
        const result = yield* handle.await
        expect(
          Option.isSome(result) && Exit.isFailure(result.value) && Cause.hasInterruptsOnly(result.value.cause)
        ).toBe(true)
      }
    }).pipe(Effect.provide(TestOffload.layer()))
  )

  it.effect("runAll interrupted: the entries it took and did not run resume with an interruption", () =>
    Effect.gen(function* () {
      const started = yield* Deferred.make<void>()
      const first = yield* Offload.submit(
        OffloadKey.auto("x"),
        Effect.andThen(Deferred.succeed(started, undefined), Effect.never)
      )
      const second = yield* Offload.submit(OffloadKey.auto("x"), Effect.void)
      const running = yield* Effect.forkChild(TestOffload.runAll)
      yield* Deferred.await(started)
      yield* Fiber.interrupt(running)
      for (const handle of [first, second]) {
        const result = yield* handle.await
        expect(Option.isSome(result) && Exit.hasInterrupts(result.value)).toBe(true)
      }
    }).pipe(Effect.provide(TestOffload.layer()))
  )
})
