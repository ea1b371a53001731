import { Effect } from "effect"
import { Supervisor, Task } from "@fibervisor/core"

// Code that needs a supervisor asks for the `Supervisor.Supervisor` service...
const startJobs = Effect.gen(function* () {
  const cache = yield* Supervisor.add(Task.once("warm-cache", Effect.sleep("30 millis")))
  const report = yield* Supervisor.add(Task.once("send-report", Effect.sleep("10 millis")))

  yield* Effect.sleep("5 millis")
  const sup = yield* Supervisor.Supervisor
  const running = (yield* sup.list).map((info) => `${info.name}: ${info.state}`)

  const outcomes = [(yield* cache.await)._tag, (yield* report.await)._tag]
  return { running, outcomes }
})

// ...and a layer provides one. Releasing the layer shuts the supervisor down gracefully.
export const program = startJobs.pipe(Effect.provide(Supervisor.layer({ grace: "1 second" })))
// { running: ["warm-cache: running", "send-report: running"], outcomes: ["Completed", "Completed"] }

if (import.meta.url === `file://${process.argv[1]}`) {
  Effect.runPromise(program).then(console.log, console.error)
}
