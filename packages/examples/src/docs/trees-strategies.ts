import { Effect, Stream } from "effect"
import { Backoff, Supervisor, SupervisorEvent, Task, TaskContext, TaskError } from "@fibervisor/core"

// Runs until stopped.
const service = Effect.never

// Fails 10 ms into its first attempt; later attempts run until stopped.
const failsOnce = Effect.gen(function* () {
  const { attempt } = yield* TaskContext.TaskContext
  if (attempt > 1) return yield* Effect.never
  yield* Effect.sleep("10 millis")
  return yield* TaskError.fail("lost its connection")
})

// The same failure of the middle child under each strategy.
const crash = (strategy: Supervisor.Strategy) =>
  Effect.gen(function* () {
    const sup = yield* Supervisor.make()
    const events = yield* sup.subscribe
    yield* sup.add(
      Supervisor.task(
        "group",
        [
          Task.restartable("a", service),
          Task.restartable("b", failsOnce).pipe(Task.withBackoff(Backoff.constant("100 millis"))),
          Task.restartable("c", service)
        ],
        { strategy }
      )
    )
    yield* Effect.sleep("200 millis")
    const [group] = (yield* sup.tree).tasks
    const children = group.supervisor?.tasks ?? []
    yield* sup.shutdown
    // Every event so far is buffered in the subscription; read up to the end of the shutdown.
    const published = yield* events.pipe(
      Stream.takeUntil((event) => event._tag === "AllStoppedWithinGrace" && event.path === "root"),
      Stream.runCollect
    )
    const groupRestart = published.find(SupervisorEvent.is("GroupRestart"))
    return {
      restarted: children.filter((node) => node.restarts > 0).map((node) => node.name),
      affected: groupRestart === undefined ? "no GroupRestart" : groupRestart.affected
    }
  }).pipe(Effect.scoped)

export const program = Effect.all({
  "one-for-one": crash("one-for-one"),
  "one-for-all": crash("one-for-all"),
  "rest-for-one": crash("rest-for-one")
})

if (import.meta.url === `file://${process.argv[1]}`) {
  Effect.runPromise(program).then(console.log, console.error)
}
