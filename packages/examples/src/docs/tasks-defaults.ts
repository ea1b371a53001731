import { Effect } from "effect"
import { RestartPolicy, Supervisor, Task, TaskContext, TaskError } from "@fibervisor/core"

// Fails on its first attempt, succeeds after 60 ms on the next ones.
const work = Effect.gen(function* () {
  const { attempt } = yield* TaskContext.TaskContext
  if (attempt === 1) return yield* TaskError.fail("cold start")
  yield* Effect.sleep("60 millis")
})

export const program = Effect.gen(function* () {
  // Tasks that leave a setting out inherit these.
  const sup = yield* Supervisor.make({
    defaults: { restart: RestartPolicy.always({ interval: "10 millis" }), timeout: "40 millis", maxRetries: 2 }
  })

  const tasks = [
    // Inherits everything: restarted after the failure, then every attempt times out until maxRetries is spent.
    Task.make("inherits", work),
    // An explicit `undefined` means "none": no timeout, even though the default has one.
    // `restart` is explicit too, so this task completes after its second attempt.
    Task.make("no-timeout", work, { timeout: undefined, restart: RestartPolicy.onFailure }),
    // The dual modifiers set an explicit value; `Task.restartable` itself sets `restart: onFailure`.
    Task.restartable("own-timeout", work).pipe(Task.withTimeout("100 millis"))
  ]
  const handles = yield* sup.addAll(tasks)

  const outcomes: Record<string, string> = {}
  for (const handle of handles) {
    const outcome = yield* handle.await
    outcomes[handle.name] = outcome._tag === "Completed" ? outcome._tag : `${outcome._tag}: ${outcome.reason}`
  }
  return outcomes
}).pipe(Effect.scoped)

if (import.meta.url === `file://${process.argv[1]}`) {
  Effect.runPromise(program).then(console.log, console.error)
}
