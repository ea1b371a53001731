import { Clock, Effect, Fiber, Stream } from "effect"
import { Backoff, RestartPolicy, Supervisor, SupervisorEvent, Task, TaskError, TaskOutcome } from "@fibervisor/core"

// Fails 50 ms into every attempt; its own backoff is 50 ms.
const reader = Task.restartable(
  "reader",
  Effect.andThen(Effect.sleep("50 millis"), Effect.fail(TaskError.fail("connection refused")))
).pipe(Task.withBackoff(Backoff.constant("50 millis")))

const shown = new Set(["TaskAdded", "AttemptFailed", "TaskFinished", "RestartIntensityExceeded"])

const line = (start: number) => (event: SupervisorEvent.SupervisorEvent) =>
  `${event.at - start} ${event._tag} ${event.path}` +
  (event._tag === "AttemptFailed" ? ` (attempt ${event.attempt})` : "") +
  (event._tag === "TaskFinished" ? ` ${event.outcome}` : "")

export const program = Effect.gen(function* () {
  // Runs again every 10 ms: periodic re-runs are not restarts, they never count against the intensity.
  let beats = 0
  const heartbeat = Task.periodic(
    "heartbeat",
    Effect.sync(() => beats++),
    "10 millis"
  )

  // At most 2 restarts within any 1 s. As a child of root, `ingest` is restarted when it fails
  // (RestartPolicy.onFailure, the default) after 250 ms, at most once.
  const ingest = Supervisor.task("ingest", [reader, heartbeat], {
    intensity: { maxRestarts: 2, within: "1 second" },
    restart: RestartPolicy.onFailure,
    backoff: Backoff.constant("250 millis"),
    maxRetries: 1
  })

  const start = yield* Clock.currentTimeMillis
  const sup = yield* Supervisor.make()
  const events = yield* sup.subscribe
  const collector = yield* Effect.forkChild(
    events.pipe(
      Stream.takeUntil((event) => event._tag === "TaskFinished" && event.path === "root/ingest"),
      Stream.filter((event) => shown.has(event._tag) && !event.path.endsWith("/heartbeat")),
      Stream.runCollect
    )
  )

  const handle = yield* sup.add(ingest)
  const outcome = yield* handle.await
  const collected = yield* Fiber.join(collector)

  return {
    timeline: collected.map(line(start)),
    // The restart the intensity refused: the reader's outcome says why.
    refused: collected.filter(SupervisorEvent.is("TaskFinished")).find((event) => event.task === "reader")?.reason,
    outcome: `${outcome._tag}: ${TaskOutcome.reason(outcome)}`,
    beats
  }
}).pipe(Effect.scoped)

if (import.meta.url === `file://${process.argv[1]}`) {
  Effect.runPromise(program).then((result) => console.dir(result, { depth: null }), console.error)
}
