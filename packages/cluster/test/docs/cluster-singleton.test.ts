import { describe, expect, it } from "@effect/vitest"
import { Effect, Option } from "effect"
import { Supervisor } from "@fibervisor/core"
import { ClusterSupervisor, SingletonContext, Task } from "@fibervisor/cluster"
import { TestTime } from "@fibervisor/vitest"

// The tree that must run on one replica only.
const billing = (replica: string, log: Array<string>) =>
  Supervisor.task("billing", [
    Task.make(
      "poller",
      Effect.gen(function* () {
        const { epoch } = yield* SingletonContext.SingletonContext
        yield* Effect.acquireRelease(
          Effect.sync(() => log.push(`${replica} starts (epoch ${epoch})`)),
          () => Effect.sync(() => log.push(`${replica} stops (epoch ${epoch})`))
        )
        return yield* Effect.never
      })
    )
  ])

describe("a singleton on two replicas", () => {
  it.effect("one runs it, the other stands by and takes over on hand-off", () =>
    Effect.gen(function* () {
      // Two replicas in one process share an in-memory lease store (Postgres or SQLite in production).
      const leases = ClusterSupervisor.memoryLeases()
      const settings = { leases, refreshInterval: "1 second", expiry: "3 seconds" } as const
      const log: Array<string> = []
      const replica = (runnerId: string) =>
        Effect.gen(function* () {
          const sup = yield* Supervisor.make()
          yield* sup.add(Task.singleton(billing(runnerId, log)))
          return sup
        }).pipe(Effect.provide(ClusterSupervisor.layerMemory({ ...settings, runnerId })))
      const state = (sup: Supervisor.Supervisor) =>
        Effect.map(
          sup.get("billing"),
          Option.map((info) => info.state)
        )

      const a = yield* replica("a")
      yield* TestTime.settle()
      const b = yield* replica("b")
      yield* TestTime.settle()
      expect(yield* state(a)).toEqual(Option.some("running"))
      expect(yield* state(b)).toEqual(Option.some("standby"))

      // Stopping the owner's task (or shutting the replica down) hands the singleton off:
      // its tree stops first, then the lease is released, and b takes it at its next poll.
      yield* a.remove("billing")
      yield* TestTime.adjust("1 second")
      expect(log).toEqual(["a starts (epoch 1)", "a stops (epoch 1)", "b starts (epoch 2)"])
      expect(yield* state(b)).toEqual(Option.some("running"))
    })
  )
})
