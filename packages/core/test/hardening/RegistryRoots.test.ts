/**
 * `SupervisorRegistry.roots` lists a root supervisor until its shutdown has finished, whoever
 * started that shutdown: its scope closing, `shutdown`, a failure (restart intensity, escalation)
 * or an automatic shutdown. Every timing runs on the TestClock.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Exit, Fiber } from "effect"
import { RestartPolicy, Supervisor, SupervisorError, SupervisorRegistry, Task, TaskError } from "@fibervisor/core"
import { TestTime } from "../helpers/tasks.js"

const withRegistry = (registry: SupervisorRegistry.SupervisorRegistry) =>
  Effect.provideService(SupervisorRegistry.SupervisorRegistry, registry)

describe("SupervisorRegistry.roots", () => {
  it.effect("a root stays listed while it runs and leaves once its requested shutdown has finished", () =>
    Effect.gen(function* () {
      const registry = SupervisorRegistry.make()
      const sup = yield* withRegistry(registry)(Supervisor.make({ grace: "1 second" }))
      const other = yield* withRegistry(registry)(Supervisor.make())
      yield* sup.add(
        Task.make(
          "slow",
          Effect.acquireRelease(Effect.void, () => Effect.sleep("100 millis")).pipe(Effect.andThen(Effect.never))
        )
      )
      yield* TestTime.adjust(0)
      expect(registry.roots).toEqual([sup, other])
      const shutdown = yield* Effect.forkChild(sup.shutdown)
      yield* TestTime.adjust("99 millis")
      // Still shutting down: still listed.
      expect(registry.roots).toEqual([sup, other])
      yield* TestTime.adjust("1 millis")
      expect(yield* Fiber.await(shutdown)).toEqual(Exit.void)
      // Its scope is still open, but its shutdown has finished.
      expect(registry.roots).toEqual([other])
      expect(registry.exceeded).toEqual([])
    })
  )

  it.effect("a root that failed (restart intensity) leaves once the shutdown its failure started has finished", () =>
    Effect.gen(function* () {
      const registry = SupervisorRegistry.make()
      const sup = yield* withRegistry(registry)(Supervisor.make({ intensity: { maxRestarts: 0, within: "1 second" } }))
      yield* sup.add(Task.make("flaky", Effect.fail(TaskError.fail("boom"))))
      expect(yield* Effect.flip(sup.join)).toBeInstanceOf(SupervisorError.RestartIntensityExceeded)
      expect(registry.roots).toEqual([])
    })
  )

  it.effect("a root that shut down automatically (autoShutdown) leaves the list", () =>
    Effect.gen(function* () {
      const registry = SupervisorRegistry.make()
      const sup = yield* withRegistry(registry)(Supervisor.make({ autoShutdown: "any-significant" }))
      yield* sup.add(Task.make("main", Effect.sleep("10 millis"), { restart: RestartPolicy.never, significant: true }))
      yield* TestTime.adjust("10 millis")
      yield* sup.join
      expect(registry.roots).toEqual([])
    })
  )

  it.effect("a shutdown that exceeded its grace is recorded once, and the root leaves when it is decided", () =>
    Effect.gen(function* () {
      const registry = SupervisorRegistry.make()
      const outcome = yield* Effect.scoped(
        Effect.gen(function* () {
          const sup = yield* withRegistry(registry)(Supervisor.make({ grace: "50 millis" }))
          yield* sup.add(Task.make("stuck", Effect.uninterruptible(Effect.sleep("200 millis"))))
          yield* TestTime.adjust(0)
          const shutdown = yield* Effect.forkChild(Effect.flip(sup.shutdown))
          yield* TestTime.adjust("50 millis")
          const error = yield* Fiber.join(shutdown)
          expect(registry.roots).toEqual([])
          return error
        })
      )
      // Closing the scope runs no second shutdown and records nothing more.
      expect(registry.exceeded).toEqual([outcome])
      yield* TestTime.adjust("150 millis")
    })
  )

  it.effect("closing the scope still removes the root", () =>
    Effect.gen(function* () {
      const registry = SupervisorRegistry.make()
      yield* Effect.scoped(
        Effect.gen(function* () {
          const sup = yield* withRegistry(registry)(Supervisor.make())
          expect(registry.roots).toEqual([sup])
        })
      )
      expect(registry.roots).toEqual([])
    })
  )
})

describe("SupervisorRegistry: a custom registry that throws", () => {
  it.effect("an unregister that throws does not break the shutdown or join", () =>
    Effect.gen(function* () {
      const inner = SupervisorRegistry.make()
      const registry: SupervisorRegistry.SupervisorRegistry = {
        get roots() {
          return inner.roots
        },
        get exceeded() {
          return inner.exceeded
        },
        get failed() {
          return inner.failed
        },
        get graceMs() {
          return inner.graceMs
        },
        onFailure: (f) => inner.onFailure(f),
        reportFailure: (supervisor, error) => inner.reportFailure(supervisor, error),
        register: (supervisor, graceMs) => inner.register(supervisor, graceMs),
        unregister: () => {
          throw new Error("registry bug")
        }
      }
      const sup = yield* withRegistry(registry)(Supervisor.make({ grace: "1 second" }))
      yield* sup.add(Task.make("t", Effect.never))
      yield* TestTime.adjust(0)
      expect(yield* Effect.exit(sup.shutdown)).toEqual(Exit.void)
      expect(yield* Effect.exit(sup.join)).toEqual(Exit.void)
    })
  )
})
