/**
 * A task's fiber starts in its caller's context and makes its attempt's context (its own
 * `TaskContext`, `Scope`, log annotations) when the attempt begins (issue 15: a task waiting for
 * its first turn holds none). The loop finds its task through the fiber's observer list meanwhile,
 * never through the caller's context, which may hold another task's `TaskContext` (a task that
 * adds tasks) or none.
 */
import { describe, expect, it } from "@effect/vitest"
import { Context, Deferred, Effect, Fiber, Ref, Scope } from "effect"
import { Supervisor, Task, TaskContext, TaskOutcome } from "@fibervisor/core"

/** The fiber behind a handle (`add` returns the task's entry, which keeps it). */
const fiberOf = (handle: unknown): Fiber.Fiber<unknown, unknown> =>
  (handle as { readonly fiber: Fiber.Fiber<unknown, unknown> }).fiber

describe("the context of a task's first attempt", () => {
  it.effect("a task waiting for a permit holds no attempt context; it gets its own when its attempt begins", () =>
    Effect.gen(function* () {
      const sup = yield* Supervisor.make({ maxConcurrent: 1 })
      const release = yield* Deferred.make<void>()
      yield* sup.add(Task.once("first", Deferred.await(release)))
      const seen = yield* Ref.make<ReadonlyArray<string>>([])
      const second = yield* sup.add(
        Task.once(
          "second",
          Effect.gen(function* () {
            const task = yield* TaskContext.TaskContext
            const scope = yield* Scope.Scope
            yield* Ref.set(seen, [task.name, task.path, String(task.attempt), typeof scope.state])
          })
        )
      )
      yield* Effect.yieldNow
      yield* Effect.yieldNow
      // Waiting for the permit: its fiber runs in the caller's context (this test's: no task, the
      // test's own scope).
      const waiting = fiberOf(second).context
      expect(Context.getOrUndefined(waiting, TaskContext.TaskContext)).toBeUndefined()
      expect(Context.getOrUndefined(waiting, Scope.Scope)).toBe(yield* Scope.Scope)
      yield* Deferred.succeed(release, undefined)
      expect(yield* second.await).toBe(TaskOutcome.completed)
      expect(yield* Ref.get(seen)).toEqual(["second", "root/second", "1", "object"])
    }).pipe(Effect.scoped)
  )

  it.effect("a task added by another task's attempt finds itself, not its adder, from its first step", () =>
    Effect.gen(function* () {
      const sup = yield* Supervisor.make({ maxConcurrent: 1 })
      const names = yield* Ref.make<ReadonlyArray<string>>([])
      const record = Effect.flatMap(TaskContext.TaskContext, (task) =>
        Ref.update(names, (seen) => [...seen, `${task.name}#${task.attempt}`])
      )
      const parent = yield* sup.add(
        Task.once(
          "parent",
          Effect.gen(function* () {
            // Added from inside "parent"'s attempt: its caller's context holds "parent"'s TaskContext,
            // and it waits for the permit "parent" holds before its first attempt.
            const child = yield* sup.add(Task.once("child", record))
            yield* record
            return child
          })
        )
      )
      expect(yield* parent.await).toBe(TaskOutcome.completed)
      yield* sup.awaitEmpty
      expect(yield* Ref.get(names)).toEqual(["parent#1", "child#1"])
    }).pipe(Effect.scoped)
  )

  it.effect("a task stopped before its first attempt ends canceled without ever making one", () =>
    Effect.gen(function* () {
      const sup = yield* Supervisor.make({ maxConcurrent: 1 })
      const release = yield* Deferred.make<void>()
      yield* sup.add(Task.once("holder", Deferred.await(release)))
      let ran = false
      const waiting = yield* sup.add(
        Task.once(
          "waiting",
          Effect.sync(() => (ran = true))
        )
      )
      yield* Effect.yieldNow
      expect(yield* sup.remove("waiting")).toBe(true)
      const outcome = yield* waiting.await
      expect(outcome._tag).toBe("Canceled")
      expect(ran).toBe(false)
      expect(Fiber.isFiber(fiberOf(waiting))).toBe(true)
      yield* Deferred.succeed(release, undefined)
    }).pipe(Effect.scoped)
  )
})
