import { type Duration, Effect } from "effect"
import { Backoff, Supervisor, Task, TaskError, TaskOutcome } from "@fibervisor/core"

// Fails 100 ms into every attempt and is retried at once: its failures are exactly 100 ms apart.
const poller = Task.restartable(
  "poller",
  Effect.andThen(Effect.sleep("100 millis"), Effect.fail(TaskError.fail("upstream timeout")))
).pipe(Task.withBackoff(Backoff.none), Task.withMaxRetries(3))

// A root supervisor has no restart limit unless it is given one. Supervisor.run fails when it fails.
const runWithin = (within: Duration.Input) =>
  Supervisor.run([poller], { intensity: { maxRestarts: 1, within } }).pipe(
    Effect.map((outcomes) => outcomes.map((outcome) => `${outcome._tag}: ${TaskOutcome.reason(outcome)}`)),
    Effect.catchTag("RestartIntensityExceeded", (error) => Effect.succeed(error.message))
  )

export const program = Effect.all({
  // Failures at t and t' share a window only when t' - t < within: failures exactly 100 ms apart
  // never share a 100 ms window, so each restart is alone in it.
  "100 millis": runWithin("100 millis"),
  // In a 200 ms window the second failure is a second restart: one more than allowed.
  "200 millis": runWithin("200 millis")
})

if (import.meta.url === `file://${process.argv[1]}`) {
  Effect.runPromise(program).then(console.log, console.error)
}
