import { Effect } from "effect"
import { Supervisor, Task, TaskContext, TaskOutcome } from "@fibervisor/core"

export const program = Effect.gen(function* () {
  const committed: Array<number> = []

  // A batch must not be cut in half, so it runs uninterruptibly. Between items it checks
  // `isCancelled` (completed before the interrupt arrives) and stops after the current item.
  const importer = Effect.gen(function* () {
    const ctx = yield* TaskContext.TaskContext
    yield* Effect.uninterruptible(
      Effect.gen(function* () {
        for (let item = 1; item <= 100; item++) {
          yield* Effect.sleep("10 millis") // process one item
          committed.push(item)
          if (yield* ctx.isCancelled) return yield* Effect.log(`stop requested: committed ${item} items`)
        }
      })
    )
  })

  // A finalizer that waits must say how long. Finalizers run uninterruptibly, but Effect 4 runs
  // the timed wait in an interruptible fiber of its own, so the timeout ends it after 30 ms.
  const flushForever = Effect.never
  const writer = Effect.scoped(
    Effect.gen(function* () {
      yield* Effect.addFinalizer(() =>
        flushForever.pipe(
          Effect.timeoutOption("30 millis"),
          Effect.tap((flushed) => Effect.log(flushed._tag === "Some" ? "flushed" : "flush gave up after 30 ms"))
        )
      )
      yield* Effect.never
    })
  )

  const sup = yield* Supervisor.make({ grace: "200 millis" })
  const handles = yield* sup.addAll([Task.make("importer", importer), Task.make("writer", writer)])
  yield* Effect.sleep("55 millis")

  const shutdown = yield* Effect.result(sup.shutdown)
  const outcomes = yield* Effect.forEach(handles, (handle) => handle.await)
  return {
    shutdown: shutdown._tag, // "Success": everything stopped within the grace
    committed: committed.length, // 6: the item in progress at 55 ms was finished
    outcomes: outcomes.map((o) => `${o._tag}: ${TaskOutcome.reason(o)}`) // both "Canceled: stopped by shutdown"
  }
}).pipe(Effect.scoped)

if (import.meta.url === `file://${process.argv[1]}`) {
  Effect.runPromise(program).then(console.log, console.error)
}
