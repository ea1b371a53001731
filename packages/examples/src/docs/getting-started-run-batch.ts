import { Effect } from "effect"
import { Backoff, Supervisor, Task, TaskError, TaskOutcome } from "@fibervisor/core"

export const program = Effect.gen(function* () {
  let pricesAttempts = 0
  const fetchPrices = Effect.suspend(() =>
    ++pricesAttempts < 2 ? Effect.fail(TaskError.fail("prices API returned 503")) : Effect.void
  )

  // Runs the batch under a fresh supervisor and returns when no task is left.
  const outcomes = yield* Supervisor.run(
    [
      Task.once("fetch-users", Effect.sleep("20 millis")),
      Task.once("fetch-orders", Effect.fail(TaskError.fail("orders API returned 500"))),
      Task.make("fetch-prices", fetchPrices, { backoff: Backoff.constant("10 millis"), maxRetries: 3 })
    ],
    { grace: "1 second" }
  )

  // The batch is all-or-nothing: a duplicate name starts nothing.
  let started = 0
  const count = Effect.sync(() => void started++)
  const duplicate = yield* Effect.flip(Supervisor.run([Task.once("same", count), Task.once("same", count)]))

  return {
    outcomes: outcomes.map((outcome) => [outcome._tag, TaskOutcome.reason(outcome)]),
    duplicate: duplicate._tag, // "TaskAlreadyExists"
    started // 0
  }
})

if (import.meta.url === `file://${process.argv[1]}`) {
  Effect.runPromise(program).then(console.log, console.error)
}
