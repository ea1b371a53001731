import { Clock, Effect, Fiber, Stream } from "effect"
import { Supervisor, SupervisorEvent, SupervisorTree, Task, TaskOutcome } from "@fibervisor/core"

// A job subtree: two downloads (significant: their end can complete the job) and a progress
// reporter that runs every 100 ms until the job is done.
const importJob = (name: string, autoShutdown: "any-significant" | "all-significant") =>
  Supervisor.task(
    name,
    [
      Task.periodic("progress", Effect.void, "100 millis"),
      Task.make("orders", Effect.sleep("250 millis"), { significant: true }),
      Task.make("invoices", Effect.sleep("400 millis"), { significant: true })
    ],
    { autoShutdown }
  )

export const program = Effect.gen(function* () {
  const start = yield* Clock.currentTimeMillis
  const sup = yield* Supervisor.make()
  const events = yield* sup.subscribe
  const collector = yield* Effect.forkChild(
    events.pipe(
      Stream.filter(SupervisorEvent.is("AutoShutdown")),
      Stream.map((event) => `${event.at - start} ${event.path}: ${event.mode}, trigger ${event.trigger}`),
      Stream.take(2),
      Stream.runCollect
    )
  )

  yield* sup.add(Task.restartable("api", Effect.never))
  const first = yield* sup.add(importJob("import-any", "any-significant"))
  const all = yield* sup.add(importJob("import-all", "all-significant"))
  yield* Effect.sleep("300 millis")
  const at300 = SupervisorTree.flatten(yield* sup.tree).map((node) => node.path)

  // When the job's supervisor completes, the supervisor task's attempt succeeds: under its
  // restart policy (onFailure by default) that completes the task, and the subtree is gone.
  const outcomes = [yield* first.await, yield* all.await].map(TaskOutcome.isSuccess)
  const after = SupervisorTree.flatten(yield* sup.tree).map((node) => node.path)

  return { autoShutdowns: yield* Fiber.join(collector), at300, outcomes, after }
}).pipe(Effect.scoped)

if (import.meta.url === `file://${process.argv[1]}`) {
  Effect.runPromise(program).then(console.log, console.error)
}
