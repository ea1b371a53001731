/**
 * The `SupervisorRegistry` reports the failures of the root supervisors it knows (issue 12, item 3:
 * what `runMain` watches to exit non-zero), and their grace (item 19: `runMain`'s default).
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Result } from "effect"
import { Backoff, RestartPolicy, Supervisor, SupervisorRegistry, Task } from "@fibervisor/core"
import { flush } from "../helpers/tasks.js"

const failing = Task.make("flaky", Effect.fail("crash"), { backoff: Backoff.constant(0) })
const intensity = { maxRestarts: 0, within: "1 second" } as const

describe("SupervisorRegistry: root failures", () => {
  it.effect("a root made by Supervisor.make that fails is reported, synchronously, to every listener", () =>
    Effect.gen(function* () {
      const registry = SupervisorRegistry.make()
      const heard: Array<string> = []
      registry.onFailure((failure, supervisor) => heard.push(`a ${failure._tag} ${failure.path} ${supervisor === sup}`))
      const removed = registry.onFailure(() => heard.push("removed"))
      removed()
      const sup = yield* Supervisor.make({ name: "app", intensity }).pipe(
        Effect.provideService(SupervisorRegistry.SupervisorRegistry, registry)
      )
      expect(registry.failed).toEqual([])
      yield* sup.add(failing)
      yield* flush
      expect(heard).toEqual(["a RestartIntensityExceeded app true"])
      expect(registry.failed.map((failure) => failure._tag)).toEqual(["RestartIntensityExceeded"])
      expect(Result.isFailure(yield* Effect.result(sup.join))).toBe(true)
    })
  )

  it.effect("escalation is reported too", () =>
    Effect.gen(function* () {
      const registry = SupervisorRegistry.make()
      const sup = yield* Supervisor.make().pipe(Effect.provideService(SupervisorRegistry.SupervisorRegistry, registry))
      yield* sup.add(Task.make("t", Effect.fail("gave up"), { restart: RestartPolicy.never, escalate: true }))
      yield* flush
      expect(registry.failed.map((failure) => failure._tag)).toEqual(["Escalated"])
    })
  )

  it.effect("Supervisor.run's root returns its failure to its caller instead: not reported", () =>
    Effect.gen(function* () {
      const registry = SupervisorRegistry.make()
      let heard = 0
      registry.onFailure(() => heard++)
      const result = yield* Effect.result(
        Supervisor.run([failing], { intensity }).pipe(
          Effect.provideService(SupervisorRegistry.SupervisorRegistry, registry)
        )
      )
      expect(Result.isFailure(result) && result.failure._tag).toBe("RestartIntensityExceeded")
      expect(registry.failed).toEqual([])
      expect(heard).toBe(0)
    })
  )

  it.effect("graceMs: the longest grace of the roots whose shutdown has not finished", () =>
    Effect.gen(function* () {
      const registry = SupervisorRegistry.make()
      const provide = Effect.provideService(SupervisorRegistry.SupervisorRegistry, registry)
      expect(registry.graceMs).toBeUndefined()
      yield* provide(Supervisor.make())
      expect(registry.graceMs).toBe(10_000)
      yield* Effect.scoped(
        Effect.flatMap(provide(Supervisor.make({ grace: "30 seconds" })), () =>
          Effect.sync(() => expect(registry.graceMs).toBe(30_000))
        )
      )
      expect(registry.graceMs).toBe(10_000)
    })
  )
})
