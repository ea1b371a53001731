import { Effect, Fiber, Schedule, Stream } from "effect"
import { type Backoff, Supervisor, SupervisorEvent, Task, TaskContext, TaskError, TaskOutcome } from "@fibervisor/core"

// Runs one task under `backoff` and returns its delays and how it ended.
const runWith = (task: Task.Task<unknown>) =>
  Effect.gen(function* () {
    const sup = yield* Supervisor.make()
    const events = yield* sup.subscribe
    const delays = yield* Effect.forkChild(
      events.pipe(
        Stream.takeUntil(SupervisorEvent.is("TaskRemoved")),
        Stream.filter(SupervisorEvent.is("BackoffScheduled")),
        Stream.map((event) => event.delayMs),
        Stream.runCollect
      )
    )
    const outcome = yield* (yield* sup.add(task)).await
    return { delays: yield* Fiber.join(delays), outcome: TaskOutcome.reason(outcome) }
  }).pipe(Effect.scoped)

const alwaysFails = Effect.fail(TaskError.fail("503"))

export const program = Effect.gen(function* () {
  // A schedule that ends: 10 ms apart, at most 2 retries.
  const limited = Schedule.spaced("10 millis").pipe(Schedule.upTo({ times: 2 }))
  const ends = yield* runWith(Task.make("limited", alwaysFails, { backoff: limited }))

  // Exponential capped by `Schedule.min` (the smaller delay wins), bounded by maxRetries.
  const capped = Schedule.min([Schedule.exponential("10 millis"), Schedule.spaced("30 millis")])
  const cap = yield* runWith(Task.make("capped", alwaysFails, { backoff: capped, maxRetries: 4 }))

  // A backoff reads each failure (a TaskFailure): give up at once on "401".
  const notOnAuth: Backoff.Backoff = Schedule.spaced("10 millis").pipe(
    Schedule.setInputType<Backoff.TaskFailure>(),
    Schedule.while(({ input }) => !input.reason.startsWith("401"))
  )
  const auth = Effect.gen(function* () {
    const { attempt } = yield* TaskContext.TaskContext
    return yield* TaskError.fail(attempt < 3 ? "503 service unavailable" : "401 unauthorized")
  })
  const readsFailure = yield* runWith(Task.make("auth", auth, { backoff: notOnAuth }))

  return { ends, cap, readsFailure }
  // ends:         { delays: [10, 10], outcome: "retry budget exhausted: the backoff schedule ended after 2 retries: 503" }
  // cap:          { delays: [10, 20, 30, 30], outcome: "retry limit reached after 4 of 4 retries: 503" }
  // readsFailure: { delays: [10, 10], outcome: "retry budget exhausted: ...ended after 2 retries: 401 unauthorized" }
})

if (import.meta.url === `file://${process.argv[1]}`) {
  Effect.runPromise(program).then(console.log, console.error)
}
