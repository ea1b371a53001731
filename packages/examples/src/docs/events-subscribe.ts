import { Effect, Fiber, Stream } from "effect"
import { Backoff, Supervisor, SupervisorEvent, Task, TaskContext, TaskError } from "@fibervisor/core"

const flaky = Effect.gen(function* () {
  const { attempt } = yield* TaskContext.TaskContext
  if (attempt === 1) return yield* TaskError.fail("connection reset", { exitCode: 75 })
})

export const program = Effect.gen(function* () {
  const sup = yield* Supervisor.make()

  // `subscribe` subscribes now: no event published after this line is missed.
  const events = yield* sup.subscribe
  const collector = yield* Effect.forkChild(
    events.pipe(Stream.takeUntil(SupervisorEvent.is("TaskRemoved")), Stream.runCollect)
  )

  yield* sup.add(Task.make("job", flaky, { backoff: Backoff.constant("10 millis") }))
  const collected = yield* Fiber.join(collector)

  // Events are a Schema union: encode to JSON, decode (and check) on the other side.
  const json = JSON.stringify(collected.map(SupervisorEvent.encode))
  const decoded = yield* Effect.forEach(JSON.parse(json) as Array<unknown>, SupervisorEvent.decode)

  return {
    timeline: collected.map((event) => `${event.seq} ${event._tag}`),
    failure: collected.find(SupervisorEvent.is("AttemptFailed")),
    roundTrip: decoded.length === collected.length && decoded.every((event, i) => event.seq === collected[i].seq)
  }
}).pipe(Effect.scoped)

if (import.meta.url === `file://${process.argv[1]}`) {
  Effect.runPromise(program).then(console.log, console.error)
}
