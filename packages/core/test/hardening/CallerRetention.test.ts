/**
 * The record of the last caller that added a task (shared by consecutive adds from one fiber, so
 * that each task does not need its own) must not keep that caller's services alive once its tasks
 * and their supervisor are gone. Checked with the garbage collector: `--expose-gc` is turned on
 * for this file at run time (`v8.setFlagsFromString`), and a service object provided only to the
 * caller that added the tasks must be collectable after the supervisor's scope has closed.
 */
import * as v8 from "node:v8"
import * as vm from "node:vm"
import { describe, expect, it } from "@effect/vitest"
import { Context, Effect } from "effect"
import { Offload, Supervisor, Task } from "@fibervisor/core"

v8.setFlagsFromString("--expose-gc")
const gc = vm.runInNewContext("gc") as () => void

class Big extends Context.Service<Big, { readonly payload: Array<number> }>()("test/CallerRetention/Big") {}

/** Lets the current job end (microtasks included), then collects garbage twice. */
const collect = Effect.promise(
  () =>
    new Promise<void>((resolve) =>
      setImmediate(() => {
        gc()
        setImmediate(() => {
          gc()
          resolve()
        })
      })
    )
)

/** A `Big` known only through the returned WeakRef (made in a function so no local keeps it). */
const makeBig = (): [{ readonly payload: Array<number> }, WeakRef<object>] => {
  const big = { payload: Array.from({ length: 1_000 }, (_, i) => i) }
  return [big, new WeakRef(big)]
}

describe("CallerRetention: the last caller's services", () => {
  it.live("are not kept alive after a supervisor that a caller added tasks to has closed", () =>
    Effect.gen(function* () {
      const ref = yield* Effect.scoped(
        Effect.gen(function* () {
          const sup = yield* Supervisor.make()
          const [big, ref] = makeBig()
          yield* Effect.provideService(
            Effect.gen(function* () {
              yield* Effect.flatMap(Big, () => Effect.void)
              const handle = yield* sup.add(
                Task.once(
                  "uses-big",
                  Effect.flatMap(Big, () => Effect.void)
                )
              )
              yield* handle.await
            }),
            Big,
            big
          )
          return ref
        })
      )
      yield* collect
      expect(ref.deref()).toBeUndefined()
    })
  )

  it.live("are not kept alive after a refused add", () =>
    Effect.gen(function* () {
      const ref = yield* Effect.scoped(
        Effect.gen(function* () {
          const sup = yield* Supervisor.make()
          yield* sup.shutdown
          const [big, ref] = makeBig()
          const refused = yield* Effect.provideService(Effect.flip(sup.add(Task.once("late", Effect.void))), Big, big)
          expect(refused._tag).toBe("SupervisorShuttingDown")
          return ref
        })
      )
      yield* collect
      expect(ref.deref()).toBeUndefined()
    })
  )

  it.live("are not kept alive after an Offload that a caller spawned work on has closed", () =>
    Effect.gen(function* () {
      const ref = yield* Effect.scoped(
        Effect.gen(function* () {
          const service = yield* Offload.make()
          const [big, ref] = makeBig()
          yield* Effect.provideService(
            service.spawn(
              "job",
              Effect.flatMap(Big, () => Effect.void)
            ),
            Big,
            big
          )
          yield* service.awaitIdle()
          return ref
        })
      )
      yield* collect
      expect(ref.deref()).toBeUndefined()
    })
  )
})

describe("CallerRetention: the record is still shared", () => {
  it.effect("consecutive adds from one fiber in one turn share one caller record", () =>
    Effect.gen(function* () {
      const sup = yield* Supervisor.make()
      const handles = yield* Effect.forEach(["a", "b", "c"], (name) => sup.add(Task.make(name, Effect.never)))
      // `add`'s handle is the task's entry (internal): each keeps the caller it was added by.
      const callers = handles.map((handle) => (handle as unknown as { caller: unknown }).caller)
      expect(callers[0]).toBeDefined()
      expect(callers[1]).toBe(callers[0])
      expect(callers[2]).toBe(callers[0])
    })
  )
})
