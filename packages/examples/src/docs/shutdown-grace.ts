import { Effect, Fiber, Result, Stream } from "effect"
import { Supervisor, Task, TaskOutcome } from "@fibervisor/core"

// A well-behaved task: its connection is a scoped resource, closed (in 20 ms) when the attempt ends.
const polite = Effect.scoped(
  Effect.gen(function* () {
    yield* Effect.acquireRelease(Effect.log("connection opened"), () =>
      Effect.sleep("20 millis").pipe(Effect.andThen(Effect.log("connection closed")))
    )
    yield* Effect.never
  })
)

// A task stuck in an uninterruptible region for 300 ms: interruption waits for the region to end.
const stuck = Effect.uninterruptible(Effect.sleep("300 millis"))

export const program = Effect.gen(function* () {
  const sup = yield* Supervisor.make({ grace: "100 millis" })
  const events = yield* sup.subscribe
  const tags = yield* Effect.forkChild(
    events.pipe(
      Stream.takeUntil((event) => event._tag === "TaskRemoved" && event.task === "stuck"),
      Stream.map((event) => ("task" in event ? `${event._tag} ${event.task}` : event._tag)),
      Stream.runCollect
    )
  )
  const handles = yield* sup.addAll([Task.make("polite", polite), Task.make("stuck", stuck)])
  yield* Effect.sleep("10 millis")

  // One deadline for all tasks; every caller of shutdown gets the same result.
  const [result, again] = yield* Effect.all([Effect.result(sup.shutdown), Effect.result(sup.shutdown)], {
    concurrency: "unbounded"
  })
  const outcomes = yield* Effect.forEach(handles, (handle) => handle.await)

  // The abandoned task still holds its name until its fiber really exits (here at 300 ms).
  const sizeAtShutdown = yield* sup.size
  const timeline = yield* Fiber.join(tags)
  const sizeLater = yield* sup.size

  return {
    shutdown: Result.isFailure(result) ? result.failure.message : "all stopped within grace",
    sameResult: Result.isFailure(again) && Result.isFailure(result) && again.failure === result.failure,
    outcomes: outcomes.map((o) => `${o._tag}: ${TaskOutcome.reason(o)}`),
    sizeAtShutdown, // 1
    sizeLater, // 0
    timeline
  }
}).pipe(Effect.scoped)

if (import.meta.url === `file://${process.argv[1]}`) {
  Effect.runPromise(program).then((result) => console.dir(result, { depth: null }), console.error)
}
