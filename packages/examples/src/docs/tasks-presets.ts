import { Effect } from "effect"
import { Backoff, Supervisor, Task, TaskContext, TaskError, type TaskOutcome } from "@fibervisor/core"

const describe = (outcome: TaskOutcome.TaskOutcome) =>
  outcome._tag === "Completed" ? outcome._tag : `${outcome._tag}: ${outcome.reason}`

export const program = Effect.gen(function* () {
  const sup = yield* Supervisor.make()

  // once: never restarted, whatever happens.
  const once = yield* sup.add(Task.once("migrate", Effect.fail(TaskError.fail("table is locked"))))

  // restartable: restarted after failures (with backoff) until an attempt succeeds.
  const connect = Effect.gen(function* () {
    const { attempt } = yield* TaskContext.TaskContext
    if (attempt < 3) return yield* TaskError.fail(`connection refused (attempt ${attempt})`)
  })
  const restartable = yield* sup.add(
    Task.restartable("connect", connect).pipe(Task.withBackoff(Backoff.constant("10 millis")))
  )

  // periodic: runs again 20 ms after each success. This one stops itself on its third run:
  // `TaskError.canceled` ends a task as Canceled, and it is never restarted.
  const beat = Effect.gen(function* () {
    const { attempt } = yield* TaskContext.TaskContext
    yield* Effect.log(`heartbeat ${attempt}`)
    if (attempt === 3) return yield* TaskError.canceled("three beats are enough")
  })
  const periodic = yield* sup.add(Task.periodic("heartbeat", beat, "20 millis"))

  return {
    once: describe(yield* once.await), // "Failed: table is locked"
    restartable: describe(yield* restartable.await), // "Completed"
    periodic: describe(yield* periodic.await) // "Canceled: three beats are enough"
  }
}).pipe(Effect.scoped)

if (import.meta.url === `file://${process.argv[1]}`) {
  Effect.runPromise(program).then(console.log, console.error)
}
