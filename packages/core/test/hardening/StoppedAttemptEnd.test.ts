/**
 * What a stop promises about the end of the attempt it interrupts: the fibers the attempt forked
 * stop first, then its scope's finalizers run (with the stop's interruption, in the attempt's
 * context), and only then is the attempt reported canceled and the outcome decided; the task keeps
 * its name until its finalizers are done, and the next attempt of a restart waits for them. (Kept
 * as the contract any change to the attempt's end must hold: an attempt body without an
 * uninterruptible region of its own was tried in issue 15, round 4, and passed these.)
 */
import { describe, expect, it } from "@effect/vitest"
import { Deferred, Effect, Exit, Fiber, Option, References, Scope, Stream } from "effect"
import { TestClock } from "effect/testing"
import { Supervisor, SupervisorEvent, Task, TaskContext } from "@fibervisor/core"

describe("the end of a stopped untimed attempt", () => {
  it.effect(
    "children are interrupted, then the scope's finalizers run in the attempt's context, then the attempt is canceled",
    () =>
      Effect.gen(function* () {
        const sup = yield* Supervisor.make()
        const events = yield* sup.subscribe
        const order: Array<string> = []
        const started = yield* Deferred.make<void>()
        const task: Effect.Effect<never, never, Scope.Scope | TaskContext.TaskContext> = Effect.gen(function* () {
          yield* Effect.forkChild(Effect.onInterrupt(Effect.never, () => Effect.sync(() => order.push("child"))))
          yield* Scope.addFinalizerExit(yield* Scope.Scope, (exit) =>
            Effect.gen(function* () {
              const annotations = yield* References.CurrentLogAnnotations
              // Read from the context of the fiber that closes the scope (a raw finalizer captures none).
              const self = yield* Effect.serviceOption(TaskContext.TaskContext)
              order.push(
                `finalizer ${Exit.hasInterrupts(exit) ? "interrupted" : "other"} ${String(annotations.task)} ${Option.getOrUndefined(self)?.name}`
              )
            })
          )
          yield* Deferred.succeed(started, undefined)
          return yield* Effect.never
        })
        const handle = yield* sup.add(Task.once("worker", task))
        yield* Deferred.await(started)
        const collected = yield* Effect.forkChild(
          Stream.runForEach(Stream.takeUntil(events, SupervisorEvent.is("TaskFinished")), (event) =>
            Effect.sync(() => {
              if (event._tag === "AttemptCanceled" || event._tag === "TaskFinished") order.push(event._tag)
            })
          )
        )
        yield* Effect.yieldNow
        expect(yield* sup.remove("worker")).toBe(true)
        const outcome = yield* handle.await
        yield* Fiber.join(collected)
        expect(outcome._tag).toBe("Canceled")
        expect(order).toEqual(["child", "finalizer interrupted worker worker", "AttemptCanceled", "TaskFinished"])
      }).pipe(Effect.scoped)
  )

  it.effect("a finalizer that takes time is waited for within the grace: the name stays taken until it is done", () =>
    Effect.gen(function* () {
      const sup = yield* Supervisor.make({ defaults: { grace: "10 seconds" } })
      const started = yield* Deferred.make<void>()
      let closed = false
      yield* sup.add(
        Task.once(
          "slow-close",
          Effect.gen(function* () {
            yield* Effect.acquireRelease(Effect.void, () =>
              Effect.andThen(
                Effect.sleep("3 seconds"),
                Effect.sync(() => {
                  closed = true
                })
              )
            )
            yield* Deferred.succeed(started, undefined)
            return yield* Effect.never
          })
        )
      )
      yield* Deferred.await(started)
      const cancel = yield* Effect.forkChild(sup.cancel("slow-close"))
      yield* TestClock.adjust("2999 millis")
      expect(closed).toBe(false)
      expect(yield* sup.size).toBe(1)
      expect((yield* sup.list).map((info) => info.name)).toEqual(["slow-close"])
      yield* TestClock.adjust("1 millis")
      expect(yield* Fiber.join(cancel)).toBe(true)
      expect(closed).toBe(true)
      expect(yield* sup.size).toBe(0)
    }).pipe(Effect.scoped)
  )

  it.effect("a restartNow waits for the stopped attempt's finalizers before the next attempt begins", () =>
    Effect.gen(function* () {
      const sup = yield* Supervisor.make()
      const order: Array<string> = []
      const ready = yield* Deferred.make<void>()
      yield* sup.add(
        Task.restartable(
          "again",
          Effect.gen(function* () {
            const self = yield* TaskContext.TaskContext
            order.push(`attempt ${self.attempt}`)
            // The first attempt's finalizer takes a second (the last one's must not: the test's scope
            // closes the supervisor without moving the clock).
            yield* Effect.addFinalizer(() =>
              Effect.andThen(
                self.attempt === 1 ? Effect.sleep("1 second") : Effect.void,
                Effect.sync(() => order.push(`closed ${self.attempt}`))
              )
            )
            if (self.attempt === 1) yield* Deferred.succeed(ready, undefined)
            return yield* Effect.never
          })
        )
      )
      yield* Deferred.await(ready)
      expect(yield* sup.restartNow("again")).toBe(true)
      yield* TestClock.adjust("999 millis")
      expect(order).toEqual(["attempt 1"])
      yield* TestClock.adjust("1 millis")
      yield* Effect.yieldNow
      yield* Effect.yieldNow
      expect(order).toEqual(["attempt 1", "closed 1", "attempt 2"])
    }).pipe(Effect.scoped)
  )

  it.effect("a stopped idle attempt that never used its scope leaves it closed, with an interruption", () =>
    Effect.gen(function* () {
      const sup = yield* Supervisor.make()
      const scopes: Array<Scope.Scope> = []
      const started = yield* Deferred.make<void>()
      const handle = yield* sup.add(
        Task.once(
          "idle",
          Effect.gen(function* () {
            scopes.push(yield* Scope.Scope)
            yield* Deferred.succeed(started, undefined)
            return yield* Effect.never
          })
        )
      )
      yield* Deferred.await(started)
      yield* sup.remove("idle")
      expect((yield* handle.await)._tag).toBe("Canceled")
      expect(scopes[0]!.state._tag).toBe("Closed")
      // A finalizer added to it afterwards runs at once, told of the interruption.
      const late: Array<boolean> = []
      yield* Scope.addFinalizerExit(scopes[0]!, (exit) => Effect.sync(() => late.push(Exit.hasInterrupts(exit))))
      expect(late).toEqual([true])
    }).pipe(Effect.scoped)
  )
})
