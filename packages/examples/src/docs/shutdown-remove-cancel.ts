import { type Duration, Effect, Option, Result } from "effect"
import { Supervisor, Task, TaskOutcome } from "@fibervisor/core"

// Runs until stopped; its cleanup takes `cleanup`.
const service = (cleanup: Duration.Input) => Effect.never.pipe(Effect.onInterrupt(() => Effect.sleep(cleanup)))

export const program = Effect.gen(function* () {
  const sup = yield* Supervisor.make({ grace: "1 second" })
  const [a, b, c] = yield* sup.addAll([
    Task.make("a", service("30 millis")),
    Task.make("b", service("30 millis")),
    Task.make("c", service("200 millis"))
  ])
  yield* Effect.sleep("10 millis")

  // remove claims the stop and returns at once; the task is "stopping" until its cleanup is done.
  const removed = yield* sup.remove("a")
  const stateAfterRemove = Option.map(yield* sup.get("a"), (info) => info.state)

  // cancel waits for the cleanup. Of concurrent callers, exactly one gets `true`.
  const [first, second] = yield* Effect.all([sup.cancel("b"), sup.cancel("b")], { concurrency: "unbounded" })

  // Unknown (or already finished) tasks: false.
  const unknown = yield* sup.cancel("no-such-task")

  // With `timeout`, cancel stops waiting and fails with TaskTerminationTimeout; the stop itself continues.
  const impatient = yield* Effect.result(sup.cancel("c", { timeout: "50 millis" }))

  const outcomes = [yield* a.await, yield* b.await, yield* c.await].map((o) => `${o._tag}: ${TaskOutcome.reason(o)}`)
  return {
    removed, // true
    stateAfterRemove, // Some("stopping")
    cancels: [first, second].sort(), // [false, true]
    unknown, // false
    impatient: Result.isFailure(impatient) ? impatient.failure.message : "finished in time",
    outcomes // ["Canceled: stopped by remove", "Canceled: stopped by cancel", "Canceled: stopped by cancel"]
  }
}).pipe(Effect.scoped)

if (import.meta.url === `file://${process.argv[1]}`) {
  Effect.runPromise(program).then(console.log, console.error)
}
