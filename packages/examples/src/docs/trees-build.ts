import { Effect, Fiber, Stream } from "effect"
import { RestartPolicy, Supervisor, SupervisorEvent, SupervisorTree, Task } from "@fibervisor/core"

// A service: runs until it is stopped.
const service = (name: string) => Task.restartable(name, Effect.never)

// A supervisor task: each of its attempts runs a nested supervisor over `pool` and `replicator`.
// The options mix the nested supervisor's (strategy) and the task's own, as a child of its parent (restart).
const db = Supervisor.task("db", [service("pool"), service("replicator")], {
  strategy: "rest-for-one",
  restart: RestartPolicy.onFailure
})

export const program = Effect.gen(function* () {
  const sup = yield* Supervisor.make()

  // One bus for the whole tree: the root's subscription sees the nested supervisor's events too.
  const events = yield* sup.subscribe
  const starts = yield* Effect.forkChild(
    events.pipe(
      Stream.filter(SupervisorEvent.is("AttemptStarting")),
      Stream.map((event) => event.path),
      Stream.take(4),
      Stream.runCollect
    )
  )
  yield* sup.add(db)
  yield* sup.add(service("api"))
  const started = yield* Fiber.join(starts)

  // `list`: this supervisor's own tasks. `tree`: everything below it, nested supervisors included.
  const list = (yield* sup.list).map((info) => `${info.path} (${info.kind})`)
  const snapshot = yield* sup.tree
  const flat = SupervisorTree.flatten(snapshot).map((node) => `${node.path} ${node.state}`)

  // Children are checked when the parent admits the supervisor task.
  const invalid = yield* Effect.flip(sup.add(Supervisor.task("cache", [service("shard"), service("shard")])))

  return { started, list, flat, json: SupervisorTree.encode(snapshot), invalid: invalid.message }
}).pipe(Effect.scoped)

if (import.meta.url === `file://${process.argv[1]}`) {
  Effect.runPromise(program).then((result) => console.dir(result, { depth: null }), console.error)
}
