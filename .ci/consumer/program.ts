// A user's first program, type-checked (strict) and run against the packed tarballs by
// .ci/consumer-check. The same source serves both lines: their public names are the same.
import { Backoff, Offload, RestartPolicy, Supervisor, Task, TaskContext, TaskError } from "@fibervisor/core"
import { HealthServer } from "@fibervisor/platform-node"
import { Effect } from "effect"
import { expectResult } from "./expectResult.js"

const flaky = Task.make(
  "flaky",
  Effect.gen(function* () {
    const { attempt } = yield* TaskContext.TaskContext
    if (attempt < 3) return yield* TaskError.fail(`attempt ${attempt} failed`)
  }),
  {
    restart: RestartPolicy.onFailure,
    backoff: Backoff.exponential({ first: "10 millis", max: "50 millis" }),
    maxRetries: 5
  }
)

const program = Effect.gen(function* () {
  const sup = yield* Supervisor.make({ grace: "1 second" })
  const handle = yield* sup.add(flaky)
  const outcome = yield* handle.await
  let offloaded = 0
  yield* Offload.spawn(
    "consumer-check",
    Effect.sync(() => offloaded++)
  )
  const idle = yield* Offload.awaitIdle("5 seconds")
  const server = yield* HealthServer.make({ port: 0, host: "127.0.0.1" }).pipe(
    Effect.provideService(Supervisor.Supervisor, sup)
  )
  const healthz = yield* Effect.promise(() => fetch(`http://127.0.0.1:${server.port}/healthz`).then((r) => r.status))
  return { outcome: outcome._tag, offloaded, idle, healthz }
}).pipe(Effect.scoped, Effect.provide(Offload.layer()))

expectResult(Effect.runPromise(program), { outcome: "Completed", offloaded: 1, idle: true, healthz: 200 })
