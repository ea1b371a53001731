import { Effect } from "effect"
import { Backoff, Supervisor, Task, TaskContext, TaskError } from "@fibervisor/core"

// One attempt of a flaky job. The supervisor runs it again after each failure;
// attempts 1 and 2 fail, attempt 3 succeeds.
const flaky = Effect.gen(function* () {
  const ctx = yield* TaskContext.TaskContext
  yield* Effect.log(`${ctx.name}: attempt ${ctx.attempt}`)
  if (ctx.attempt < 3) return yield* TaskError.fail(`not ready yet (attempt ${ctx.attempt})`)
})

export const program = Effect.gen(function* () {
  // Scoped: when the scope closes (Effect.scoped below), the supervisor shuts down gracefully.
  const sup = yield* Supervisor.make({ grace: "1 second" })

  const job = yield* sup.add(Task.restartable("flaky-job", flaky).pipe(Task.withBackoff(Backoff.constant("50 millis"))))
  const hello = yield* sup.add(Task.once("hello", Effect.log("hello from a one-shot task")))

  // `await` resumes with the task's outcome once the task has finished and cleaned up.
  const outcomes = [yield* job.await, yield* hello.await]
  return outcomes.map((outcome) => outcome._tag) // ["Completed", "Completed"]
}).pipe(Effect.scoped)

if (import.meta.url === `file://${process.argv[1]}`) {
  Effect.runPromise(program).then(console.log, console.error)
}
