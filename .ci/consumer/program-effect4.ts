// The Effect 4 line's own packages, as a user installs them from npm (run by .ci/consumer-check):
// @fibervisor/cluster and @fibervisor/durable on their in-memory stores, installed without their
// optional drivers (@effect/sql-pg, @effect/sql-sqlite-node), which only their SQL layers load.
import { Supervisor } from "@fibervisor/core"
import { ClusterSupervisor, SingletonContext, Task } from "@fibervisor/cluster"
import { DurableOffload } from "@fibervisor/durable"
import { Deferred, Effect, Layer, Schema } from "effect"
import { expectResult } from "./expectResult.js"

const Greet = DurableOffload.kind("greet", { payload: Schema.Struct({ name: Schema.String }) })

const program = Effect.gen(function* () {
  // A singleton on an in-memory lease store: this replica takes the lease and runs the tree.
  const epoch = yield* Deferred.make<number>()
  const sup = yield* Supervisor.make({ grace: "1 second" })
  yield* sup.add(
    Task.singleton(
      Supervisor.task("solo", [
        Task.make(
          "work",
          Effect.gen(function* () {
            const context = yield* SingletonContext.SingletonContext
            yield* Deferred.succeed(epoch, context.epoch)
            return yield* Effect.never
          })
        )
      ])
    )
  )
  const owned = yield* Deferred.await(epoch).pipe(Effect.timeout("5 seconds"))

  // A durable job, enqueued twice under one key and run once by the workers.
  const greeted: Array<string> = []
  const done = yield* Deferred.make<void>()
  const handler = Greet.handle(({ name }) =>
    Effect.andThen(
      Effect.sync(() => greeted.push(name)),
      Deferred.succeed(done, undefined)
    )
  )
  const outcomes = yield* Effect.gen(function* () {
    const first = yield* DurableOffload.enqueue(Greet, { name: "consumer" }, { key: "once" })
    const second = yield* DurableOffload.enqueue(Greet, { name: "consumer" }, { key: "once" })
    yield* Deferred.await(done).pipe(Effect.timeout("5 seconds"))
    return [first, second]
  }).pipe(
    Effect.provide(
      Layer.provideMerge(
        DurableOffload.workers([handler], { pollInterval: "50 millis", grace: "1 second" }),
        DurableOffload.layerMemory
      )
    ),
    Effect.scoped
  )
  return { owned: owned >= 1, outcomes, greeted }
}).pipe(
  Effect.scoped,
  Effect.provide(ClusterSupervisor.layerMemory({ refreshInterval: "100 millis", expiry: "1 second" }))
)

expectResult(Effect.runPromise(program), { owned: true, outcomes: ["enqueued", "deduplicated"], greeted: ["consumer"] })
