import { Effect, Fiber, Stream } from "effect"
import { Backoff, RestartPolicy, Supervisor, SupervisorEvent, Task, TaskContext, TaskError } from "@fibervisor/core"

// The delays a task's BackoffScheduled events announce, as "source delay".
const scheduledDelays = (sup: Supervisor.Supervisor, task: Task.Task<unknown>) =>
  Effect.gen(function* () {
    const events = yield* sup.subscribe
    const collected = yield* Effect.forkChild(
      events.pipe(
        Stream.takeUntil((event) => event._tag === "TaskRemoved" && event.task === task.name),
        Stream.filter(SupervisorEvent.is("BackoffScheduled")),
        Stream.map((event) => `${event.source} ${event.delayMs}`),
        Stream.runCollect
      )
    )
    yield* sup.add(task)
    return yield* Fiber.join(collected)
  }).pipe(Effect.scoped)

const backoff = Backoff.exponential({ first: "10 millis", factor: 2, max: "1 second" })

export const program = Effect.gen(function* () {
  const sup = yield* Supervisor.make()

  // resetAfter: attempt 3 runs for 60 ms before failing, longer than resetAfter (50 ms),
  // so the streak and the schedule start over: the next delay is `first` again.
  const recovering = Effect.gen(function* () {
    const { attempt } = yield* TaskContext.TaskContext
    if (attempt === 3) yield* Effect.sleep("60 millis")
    if (attempt < 6) return yield* TaskError.fail(`failure ${attempt}`)
  })
  const afterLongAttempt = yield* scheduledDelays(
    sup,
    Task.make("recovering", recovering, { backoff, resetAfter: "50 millis" })
  )

  // A success resets the schedule too (seen here with `always`, which restarts after a success).
  const sometimes = Effect.gen(function* () {
    const { attempt } = yield* TaskContext.TaskContext
    if (attempt === 5) return yield* TaskError.canceled("done for today")
    if (attempt !== 3) return yield* TaskError.fail(`failure ${attempt}`)
  })
  const afterSuccess = yield* scheduledDelays(
    sup,
    Task.make("sometimes", sometimes, { backoff, restart: RestartPolicy.always({ interval: "5 millis" }) })
  )

  return { afterLongAttempt, afterSuccess }
  // afterLongAttempt: ["failure 10", "failure 20", "failure 10", "failure 20", "failure 40"]
  // afterSuccess:     ["failure 10", "failure 20", "success 5", "failure 10"]
}).pipe(Effect.scoped)

if (import.meta.url === `file://${process.argv[1]}`) {
  Effect.runPromise(program).then(console.log, console.error)
}
