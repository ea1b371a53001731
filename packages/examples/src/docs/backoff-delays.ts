import { Effect, Fiber, Random, Stream } from "effect"
import { Backoff, Supervisor, SupervisorEvent, Task, TaskError } from "@fibervisor/core"

// Runs a task that always fails (5 retries allowed) and returns the delay chosen before each retry.
const delaysOf = (backoff: Backoff.Backoff) =>
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
    yield* sup.add(Task.make("down", Effect.fail(TaskError.fail("still down")), { backoff, maxRetries: 5 }))
    return yield* Fiber.join(delays)
  }).pipe(Effect.scoped)

export const program = Effect.gen(function* () {
  // No jitter: min(first · factor^n, max).
  const plain = yield* delaysOf(Backoff.exponential({ first: "10 millis", factor: 2, max: "80 millis" }))

  // Equal jitter draws each delay from [d/2, d) with Effect's Random: a seeded Random repeats the draws.
  const jittered = Backoff.exponential({ first: "10 millis", factor: 2, max: "80 millis", jitter: "equal" })
  const run1 = yield* delaysOf(jittered).pipe(Random.withSeed("docs"))
  const run2 = yield* delaysOf(jittered).pipe(Random.withSeed("docs"))

  return { plain, run1, run2 } // plain: [10, 20, 40, 80, 80]; run1 equals run2
})

if (import.meta.url === `file://${process.argv[1]}`) {
  Effect.runPromise(program).then(console.log, console.error)
}
