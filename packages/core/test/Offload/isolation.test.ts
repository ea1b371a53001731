/**
 * Each piece of offloaded work sees only its own caller's services and fiber refs, and fibers it
 * forks do not outlive it — whatever fibers the service runs work on (a pool that reuses fibers
 * must keep both true).
 */
import { AsyncLocalStorage } from "node:async_hooks"
import { describe, expect, it } from "@effect/vitest"
import { Context, Deferred, Effect, Ref } from "effect"
import { Offload } from "@fibervisor/core"
import { gate } from "../helpers/offload.js"

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

  it.effect("each job runs in its caller's async context, also a queued one started by another job's end", () =>
    Effect.gen(function* () {
      const offload = yield* Offload.make({ maxConcurrent: 1, onFull: { queue: 1 } })
      const context = yield* Effect.context<never>()
      const storage = new AsyncLocalStorage<string>()
      const seen: Array<string | undefined> = []
      const record = Effect.sync(() => void seen.push(storage.getStore()))
      const first = yield* gate(record)
      // Each registration runs inside its own store (it completes before `run` returns).
      const spawnIn = (store: string, work: Effect.Effect<void, unknown>) =>
        storage.run(store, () => Effect.runForkWith(context)(offload.spawn("async-context", work)))
      spawnIn("first", first.work)
      spawnIn("queued", record)
      expect(yield* offload.queuedCount).toBe(1)
      yield* first.release
      expect(yield* offload.awaitIdle()).toBe(true)
      // The queued job starts inside the first one's end, but in the async context of its own caller.
      expect(seen).toEqual(["first", "queued"])
    })
  )
})
