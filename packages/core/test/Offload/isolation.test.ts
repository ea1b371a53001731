/**
 * Each piece of offloaded work sees only its own caller's services and fiber refs, and fibers it
 * forks do not outlive it — whatever fibers the service runs work on (a pool that reuses fibers
 * must keep both true).
 */
import { describe, expect, it } from "@effect/vitest"
import { Context, Deferred, Effect, Ref } from "effect"
import { Offload } from "@fibervisor/core"

class Caller extends Context.Service<Caller, string>()("test/Caller") {}

/** What Effect 3 called a fiber ref: a reference with a default, set for a region with `provideService`. */
const CallerRef = Context.Reference<string>("test/CallerRef", { defaultValue: () => "default" })

describe("Offload isolation", () => {
  it.effect("each job runs with its own caller's context and fiber refs, also one after another", () =>
    Effect.gen(function* () {
      const offload = yield* Offload.make()
      const seen = yield* Ref.make<ReadonlyArray<string>>([])
      const record = Effect.gen(function* () {
        const who = yield* Caller
        const value = yield* CallerRef
        yield* Ref.update(seen, (all) => [...all, `${who}:${value}`])
      })
      for (const who of ["a", "b", "c"]) {
        yield* offload
          .spawn("ctx", record)
          .pipe(Effect.provideService(Caller, who), Effect.provideService(CallerRef, `ref-${who}`))
        // Sequential on purpose: each job ends before the next is registered (a pool would reuse a fiber).
        expect(yield* offload.awaitIdle()).toBe(true)
      }
      yield* offload.spawn("ctx", record).pipe(Effect.provideService(Caller, "d"))
      expect(yield* offload.awaitIdle()).toBe(true)
      expect(yield* Ref.get(seen)).toEqual(["a:ref-a", "b:ref-b", "c:ref-c", "d:default"])
    })
  )

  it.effect("fibers a job forks are interrupted when the job ends, before it counts as finished", () =>
    Effect.gen(function* () {
      const offload = yield* Offload.make()
      const childStarted = yield* Deferred.make<void>()
      const childStopped = yield* Ref.make(false)
      const child = Effect.ensuring(
        Effect.andThen(Deferred.succeed(childStarted, undefined), Effect.never),
        Ref.set(childStopped, true)
      )
      yield* offload.spawn("forks", Effect.andThen(Effect.forkChild(child), Deferred.await(childStarted)))
      expect(yield* offload.awaitIdle()).toBe(true)
      expect(yield* Ref.get(childStopped)).toBe(true)
    })
  )
})
