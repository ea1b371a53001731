import { Clock, type Duration, Effect, Fiber, Stream } from "effect"
import { Supervisor, type SupervisorEvent, Task } from "@fibervisor/core"

const line = (start: number) => (event: SupervisorEvent.SupervisorEvent) => {
  const at = event.at - start
  switch (event._tag) {
    case "TaskRemoveRequested":
      return `${at} stop requested: ${event.path}`
    case "TaskFinished":
      return `${at} ${event.outcome}: ${event.path}${event.outcome === "ForceAborted" ? ` (${event.reason})` : ""}`
    case "GraceExceeded":
      return `${at} GraceExceeded at ${event.path}: stuck ${event.stuck}, paths ${event.paths}`
    default:
      return `${at} ${event._tag}`
  }
}

export const program = Effect.gen(function* () {
  const start = yield* Clock.currentTimeMillis
  const notes: Array<string> = []
  const note = (text: string) =>
    Effect.flatMap(Clock.currentTimeMillis, (now) => Effect.sync(() => notes.push(`${now - start} ${text}`)))

  // A service that notes when it starts, and whose cleanup (a finalizer of its attempt's scope) takes `cleanup`.
  const service = (name: string, cleanup: Duration.Input) =>
    Task.restartable(
      name,
      Effect.acquireRelease(note(`started ${name}`), () =>
        Effect.andThen(Effect.sleep(cleanup), note(`cleaned up ${name}`))
      ).pipe(Effect.andThen(Effect.never))
    )

  const sup = yield* Supervisor.make({ grace: "200 millis" })
  const events = yield* sup.subscribe
  const collector = yield* Effect.forkChild(
    events.pipe(
      Stream.takeUntil((event) => event._tag === "TaskFinished" && event.task === "db"),
      Stream.filter(
        (event) =>
          event._tag === "GraceExceeded" || event._tag === "TaskRemoveRequested" || event._tag === "TaskFinished"
      ),
      Stream.map(line(start)),
      Stream.runCollect
    )
  )

  // Static children: started in list order, stopped in reverse order, each within its own grace.
  yield* sup.add(
    Supervisor.task(
      "app",
      [
        service("db", "500 millis"), // its cleanup outlasts the root's grace
        service("cache", "80 millis").pipe(Task.withGrace("50 millis")), // abandoned after 50 ms
        service("api", "10 millis")
      ],
      { grace: "1 second" }
    )
  )
  // Tasks added at runtime are dynamic: shutdown stops them all at once.
  yield* sup.add(service("metrics", "30 millis"))
  yield* Effect.sleep("100 millis")

  const shutdown = yield* Effect.flip(sup.shutdown)
  // The abandoned app goes on stopping db in the background.
  const timeline = yield* Fiber.join(collector)

  return { notes, timeline, shutdown: shutdown.message }
}).pipe(Effect.scoped)

if (import.meta.url === `file://${process.argv[1]}`) {
  Effect.runPromise(program).then(console.log, console.error)
}
