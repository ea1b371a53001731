import { Clock, Effect, Fiber, Stream } from "effect"
import { Backoff, RestartPolicy, Supervisor, SupervisorEvent, Task, TaskError, TaskOutcome } from "@fibervisor/core"

const describe = (outcome: TaskOutcome.TaskOutcome) => `${outcome._tag}: ${TaskOutcome.reason(outcome)}`

export const program = Effect.gen(function* () {
  const start = yield* Clock.currentTimeMillis
  const sup = yield* Supervisor.make()
  const events = yield* sup.subscribe
  const collector = yield* Effect.forkChild(
    events.pipe(
      Stream.takeUntil((event) => event._tag === "TaskFinished" && event.path === "root/billing"),
      Stream.filter(SupervisorEvent.is("TaskFinished")),
      Stream.map((event) => `${event.at - start} ${event.path}: ${event.outcome}`),
      Stream.runCollect
    )
  )

  const billing = Supervisor.task(
    "billing",
    [
      // TaskError.fatal ends this child only; its siblings keep running.
      Task.make("exporter", Effect.fail(TaskError.fatal("exports are disabled"))),
      // TaskError.escalate ends this child and fails its supervisor (which stops the other children).
      Task.make(
        "migrations",
        Effect.andThen(Effect.sleep("30 millis"), TaskError.escalate("schema v9 is newer than this build"))
      ),
      Task.restartable("ledger", Effect.never)
    ],
    // As root's child, billing is restarted on failure after 100 ms, at most once.
    { restart: RestartPolicy.onFailure, backoff: Backoff.constant("100 millis"), maxRetries: 1 }
  )
  const handle = yield* sup.add(billing)
  const outcome = yield* handle.await
  const finished = yield* Fiber.join(collector)

  // `escalate: true`: the child escalates when it gives up by itself (here: its retries are spent).
  // At the root, Supervisor.run (and sup.join) fail with the supervisor's error.
  const license = Task.make("license", Effect.fail(TaskError.fail("license server unreachable")), {
    escalate: true,
    maxRetries: 2,
    backoff: Backoff.constant("10 millis")
  })
  const run = yield* Effect.flip(Supervisor.run([license, Task.restartable("web", Effect.never)]))

  return { finished, billing: describe(outcome), run: `${run._tag}: ${run.message}` }
}).pipe(Effect.scoped)

if (import.meta.url === `file://${process.argv[1]}`) {
  Effect.runPromise(program).then((result) => console.dir(result, { depth: null }), console.error)
}
