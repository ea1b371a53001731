import { Clock, Effect, Option, Schedule } from "effect"
import { Backoff, Supervisor, Task, TaskContext, TaskError } from "@fibervisor/core"

export const program = Effect.gen(function* () {
  const sup = yield* Supervisor.make()
  const starts: Record<string, Array<number>> = { sampler: [], flaky: [] }
  const run = (name: string, ms: number) =>
    Effect.flatMap(Clock.currentTimeMillis, (now) => {
      starts[name]!.push(now)
      return Effect.sleep(`${ms} millis`)
    })

  // A fixed rate: a run every second (counted from the end of the first run, as Effect.repeat does);
  // `Schedule.upTo({ times: 3 })` ends it after 3 more runs, and the task completes.
  const sampler = yield* sup.add(
    Task.repeat("sampler", run("sampler", 300), Schedule.fixed("1 second").pipe(Schedule.upTo({ times: 3 })))
  )

  // A pause of 500 ms after each run; run 2 fails and is retried after the backoff (a restart),
  // which does not step the schedule. Options are Task.make's, except `restart`.
  const flaky = Effect.andThen(
    run("flaky", 100),
    Effect.flatMap(TaskContext.TaskContext, ({ attempt }) =>
      attempt === 2 ? TaskError.fail("upstream returned 503") : Effect.void
    )
  )
  const flakyHandle = yield* sup.add(
    Task.repeat("flaky", flaky, Schedule.spaced("500 millis"), { backoff: Backoff.constant("200 millis") })
  )

  yield* Effect.sleep("1400 millis")
  // While it waits for its next run a task is `scheduled`, and runs after a success are not restarts.
  const info = Option.getOrThrow(yield* sup.get("flaky"))
  const flakyAt1400 = { state: info.state, attempt: info.attempt, restarts: info.restarts }

  // Run it again now (a dashboard's "restart" button): not a failure, not a restart.
  const restarted = yield* sup.restartNow("flaky")
  yield* Effect.sleep("50 millis")
  const afterRestart = Option.getOrThrow(yield* sup.get("flaky"))

  const samplerOutcome = (yield* sampler.await)._tag
  return {
    starts,
    flakyAt1400,
    restarted,
    afterRestart: { state: afterRestart.state, attempt: afterRestart.attempt, restarts: afterRestart.restarts },
    samplerOutcome,
    // `TaskHandle.cancel` is `sup.cancel(handle.id)`: it stops the task and waits for its cleanup.
    cancelled: yield* flakyHandle.cancel()
  }
}).pipe(Effect.scoped)

if (import.meta.url === `file://${process.argv[1]}`) {
  Effect.runPromise(program).then(console.log, console.error)
}
