import { Data, Effect } from "effect"
import { Backoff, Supervisor, Task, TaskContext, TaskError, TaskOutcome } from "@fibervisor/core"

class AuthError extends Data.TaggedError("AuthError")<{}> {}

export const program = Effect.gen(function* () {
  // How many attempts each task made.
  const attempts = new Map<string, number>()
  const counted = <A, E>(body: Effect.Effect<A, E>) =>
    Effect.flatMap(TaskContext.TaskContext, (ctx) => {
      attempts.set(ctx.name, ctx.attempt)
      return body
    })

  // Every task may retry once, 10 ms after a failure.
  const sup = yield* Supervisor.make({ defaults: { maxRetries: 1, backoff: Backoff.constant("10 millis") } })
  const handles = yield* sup.addAll([
    Task.make("succeeds", counted(Effect.void)),
    Task.make("stopped-by-supervisor", counted(Effect.never)),
    Task.make("cancels-itself", counted(Effect.fail(TaskError.canceled("nothing left to do")))),
    Task.make("fatal", counted(Effect.fail(TaskError.fatal("config file missing", { exitCode: 78 })))),
    Task.make("is-fatal", counted(Effect.fail(new AuthError())), { isFatal: (error) => error._tag === "AuthError" }),
    Task.make("too-slow", counted(Effect.sleep("1 second")), { timeout: "20 millis" }),
    Task.make("fails", counted(Effect.fail(TaskError.fail("upstream returned 503")))),
    Task.make("own-timeout", counted(Effect.fail(TaskError.timeout("upstream took too long")))),
    Task.make("dies", counted(Effect.die(new Error("bug")))),
    Task.make("self-interrupts", counted(Effect.interrupt))
  ])

  yield* Effect.sleep("50 millis")
  yield* sup.remove("stopped-by-supervisor")

  const rows = []
  for (const handle of handles) {
    const outcome = yield* handle.await
    rows.push({
      task: handle.name,
      outcome: outcome._tag,
      reason: TaskOutcome.reason(outcome),
      exitCode: TaskOutcome.exitCode(outcome),
      attempts: attempts.get(handle.name)
    })
  }
  return rows
}).pipe(Effect.scoped)

if (import.meta.url === `file://${process.argv[1]}`) {
  Effect.runPromise(program).then(console.table, console.error)
}
