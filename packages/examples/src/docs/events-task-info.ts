import { Clock, Effect, Option } from "effect"
import { Backoff, Supervisor, Task, TaskError } from "@fibervisor/core"

// A compact view of `list`: state, attempt, restarts, last failure, ms until the next attempt.
const snapshot = (sup: Supervisor.Supervisor) =>
  Effect.gen(function* () {
    const now = yield* Clock.currentTimeMillis
    const infos = yield* sup.list
    return infos.map((info) =>
      [
        info.name,
        info.state,
        `attempt ${info.attempt}`,
        `restarts ${info.restarts}`,
        Option.getOrElse(info.lastFailure, () => "-"),
        Option.match(info.nextAttemptAt, { onNone: () => "-", onSome: (at) => `next in ${at - now} ms` })
      ].join(" | ")
    )
  })

export const program = Effect.gen(function* () {
  // One attempt at a time: a task waiting for the permit is "waiting".
  const sup = yield* Supervisor.make({ maxConcurrent: 1 })
  yield* sup.addAll([
    Task.make("flaky", Effect.fail(TaskError.fail("connection refused")), { backoff: Backoff.constant("100 millis") }),
    Task.make("busy", Effect.never),
    Task.make("queued", Effect.never)
  ])
  yield* Effect.sleep("50 millis")
  const before = yield* snapshot(sup)
  // flaky  | backing-off | attempt 1 | restarts 1 | connection refused | next in 50 ms
  // busy   | running     | attempt 1 | restarts 0 | -                  | -
  // queued | waiting     | attempt 0 | restarts 0 | -                  | -

  // A stop claimed by remove shows as "stopping" until the fiber is gone; then `get` finds nothing.
  yield* sup.remove("busy")
  const stopping = Option.map(yield* sup.get("busy"), (info) => info.state)
  yield* Effect.sleep("10 millis")
  const gone = Option.isNone(yield* sup.get("busy"))
  const after = yield* snapshot(sup)
  // flaky  | backing-off | ...
  // queued | running     | attempt 1 | ...

  return { before, stopping, gone, after }
}).pipe(Effect.scoped)

if (import.meta.url === `file://${process.argv[1]}`) {
  Effect.runPromise(program).then(console.log, console.error)
}
