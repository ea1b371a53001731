import { Clock, Effect, Fiber, Stream } from "effect"
import {
  Backoff,
  RestartPolicy,
  Supervisor,
  type SupervisorEvent,
  Task,
  TaskContext,
  TaskError
} from "@fibervisor/core"

// Runs until stopped; stopping it takes 10 ms (its scope's finalizer).
const service = Effect.never.pipe(Effect.ensuring(Effect.sleep("10 millis")))

// Fails 20 ms into its first attempt; later attempts run like `service`.
const failsOnce = Effect.gen(function* () {
  const { attempt } = yield* TaskContext.TaskContext
  if (attempt > 1) return yield* service
  yield* Effect.sleep("20 millis")
  return yield* TaskError.fail("connection reset")
})

// One line per event: milliseconds since `start`, the event, the child.
const line = (start: number) => (event: SupervisorEvent.SupervisorEvent) => {
  const at = `${event.at - start} ms`.padStart(6)
  switch (event._tag) {
    case "GroupRestart":
      return `${at} GroupRestart trigger=${event.trigger} affected=${event.affected.join(",")}`
    case "BackoffScheduled":
      return `${at} BackoffScheduled ${event.task} (${event.delayMs} ms)`
    case "TaskRemoveRequested":
    case "AttemptCanceled":
      return `${at} ${event._tag} ${event.task} (${event.reason})`
    case "TaskFinished":
      return `${at} TaskFinished ${event.task} ${event.outcome}`
    default:
      return `${at} ${event._tag} ${"task" in event ? event.task : event.path}`
  }
}

export const program = Effect.gen(function* () {
  const start = yield* Clock.currentTimeMillis
  const sup = yield* Supervisor.make()
  const events = yield* sup.subscribe
  const timeline = yield* Effect.forkChild(
    events.pipe(
      // The group's supervisor publishes GroupRestart; its children publish the rest.
      Stream.filter((event) => event._tag === "GroupRestart" || event.path.startsWith("root/app/")),
      Stream.filter((event) => event._tag !== "TaskAdded" && event._tag !== "TaskRemoved"),
      Stream.takeUntil((event) => event._tag === "AttemptStarting" && event.task === "api" && event.attempt === 2),
      Stream.map(line(start)),
      Stream.runCollect
    )
  )

  yield* sup.add(
    Supervisor.task(
      "app",
      [
        Task.once("migrate", Effect.void), // completes at once: stays completed
        Task.restartable("cache", service),
        Task.restartable("db", failsOnce).pipe(Task.withBackoff(Backoff.constant("100 millis"))),
        Task.restartable("api", service),
        Task.make("audit", service, { restart: RestartPolicy.never }) // never: stopped for good
      ],
      { strategy: "one-for-all" }
    )
  )

  return yield* Fiber.join(timeline)
}).pipe(Effect.scoped)

if (import.meta.url === `file://${process.argv[1]}`) {
  Effect.runPromise(program).then(console.log, console.error)
}
