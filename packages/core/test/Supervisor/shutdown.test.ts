import { describe, expect, it } from "@effect/vitest"
import { Clock, Deferred, Duration, Effect, Exit, Fiber, Layer, Metric, Option, Ref, Scope, Stream } from "effect"
import { Supervisor, SupervisorError, SupervisorEvent, Task, TaskContext, TaskOutcome } from "@fibervisor/core"
import { TestTime } from "@fibervisor/vitest"
import { flush, parked } from "../helpers/tasks.js"
import type { Ev } from "../helpers/recorder.js"

/** An attempt stuck in an uninterruptible region until `release` completes. */
const stubborn = (started: Deferred.Deferred<void>, release: Deferred.Deferred<void>) =>
  Effect.uninterruptible(Deferred.succeed(started, undefined).pipe(Effect.andThen(Deferred.await(release))))

const byShutdown = new TaskOutcome.Canceled({ reason: "stopped by shutdown" })

/** `[tag, task]` of each event (task omitted for supervisor-wide events). */
const brief = (events: ReadonlyArray<Ev>) => events.map((e) => ("task" in e ? [e._tag, e.task] : [e._tag]))

const collectUntil = (stream: Stream.Stream<Ev>, last: (e: Ev) => boolean) =>
  Stream.runCollect(Stream.takeUntil(stream, last))

describe("Supervisor shutdown: the operation", () => {
  it.effect("shutdown is one shared, cached operation: concurrent and later callers get the same result", () =>
    Effect.gen(function* () {
      const sup = yield* Supervisor.make()
      const events = yield* sup.subscribe
      const started = yield* Deferred.make<void>()
      const h = yield* sup.add(Task.make("w", parked(started, Effect.sleep("1 second"))))
      yield* Deferred.await(started)
      const first = yield* Effect.forkChild(sup.shutdown)
      const second = yield* Effect.forkChild(sup.shutdown)
      yield* TestTime.adjust("999 millis")
      expect(first.pollUnsafe()).toBeUndefined()
      expect(second.pollUnsafe()).toBeUndefined()
      expect(yield* sup.isShuttingDown).toBe(true)
      yield* TestTime.adjust("1 millis")
      expect(yield* Fiber.await(first)).toEqual(Exit.void)
      expect(yield* Fiber.await(second)).toEqual(Exit.void)
      expect(yield* Effect.exit(sup.shutdown)).toEqual(Exit.void)
      expect(yield* h.poll).toEqual(Option.some(byShutdown))
      const seen = yield* collectUntil(events, SupervisorEvent.is("AllStoppedWithinGrace"))
      expect(brief(seen)).toEqual([
        ["TaskAdded", "w"],
        ["AttemptStarting", "w"],
        ["ShutdownRequested"],
        ["TaskRemoveRequested", "w"],
        ["AttemptCanceled", "w"],
        ["TaskFinished", "w"],
        ["TaskRemoved", "w"],
        ["AllStoppedWithinGrace"]
      ])
      // Only one shutdown ran: nothing more was published after it.
      yield* sup.add(Task.once("late", Effect.void)).pipe(Effect.flip)
      const after = yield* Stream.runCollect(Stream.take(events, 1))
      expect(brief(after)).toEqual([["TaskAddFailed", "late"]])
    })
  )

  it.effect(
    "shutdown completes every task's cancelled before interrupting, waits for cleanup, then AllStoppedWithinGrace",
    () =>
      Effect.gen(function* () {
        const sup = yield* Supervisor.make()
        const watcherStarted = yield* Deferred.make<void>()
        const plainStarted = yield* Deferred.make<void>()
        const watcherLog: Array<string> = []
        const cancelledWhenInterrupted: Array<boolean> = []
        // Uninterruptible: it can only notice the stop through `cancelled`, then finishes its unit of work.
        const watcher = yield* sup.add(
          Task.make(
            "watcher",
            Effect.gen(function* () {
              const ctx = yield* TaskContext.TaskContext
              yield* Effect.uninterruptible(
                Effect.gen(function* () {
                  yield* Deferred.succeed(watcherStarted, undefined)
                  yield* ctx.cancelled
                  watcherLog.push("cancelled")
                  yield* Effect.sleep("500 millis")
                  watcherLog.push("unit done")
                })
              )
            })
          )
        )
        // Interruptible: when the interruption arrives, `cancelled` is already complete.
        const plain = yield* sup.add(
          Task.make(
            "plain",
            Effect.gen(function* () {
              const ctx = yield* TaskContext.TaskContext
              yield* Deferred.succeed(plainStarted, undefined)
              yield* Effect.never.pipe(
                Effect.onInterrupt(() =>
                  Effect.flatMap(ctx.isCancelled, (b) => Effect.sync(() => cancelledWhenInterrupted.push(b)))
                )
              )
            })
          )
        )
        yield* Deferred.await(watcherStarted)
        yield* Deferred.await(plainStarted)
        const events = yield* sup.subscribe
        const shutdown = yield* Effect.forkChild(sup.shutdown)
        yield* flush
        expect(watcherLog).toEqual(["cancelled"])
        expect(cancelledWhenInterrupted).toEqual([true])
        expect(yield* plain.poll).toEqual(Option.some(byShutdown))
        yield* TestTime.adjust("499 millis")
        expect(shutdown.pollUnsafe()).toBeUndefined()
        expect(yield* watcher.poll).toEqual(Option.none())
        yield* TestTime.adjust("1 millis")
        expect(yield* Fiber.await(shutdown)).toEqual(Exit.void)
        expect(watcherLog).toEqual(["cancelled", "unit done"])
        expect(yield* watcher.poll).toEqual(Option.some(byShutdown))
        const seen = yield* collectUntil(events, SupervisorEvent.is("AllStoppedWithinGrace"))
        expect(brief(seen)).toEqual([
          ["ShutdownRequested"],
          ["TaskRemoveRequested", "watcher"],
          ["TaskRemoveRequested", "plain"],
          ["AttemptCanceled", "plain"],
          ["TaskFinished", "plain"],
          ["TaskRemoved", "plain"],
          ["AttemptCanceled", "watcher"],
          ["TaskFinished", "watcher"],
          ["TaskRemoved", "watcher"],
          ["AllStoppedWithinGrace"]
        ])
        expect(seen.filter(SupervisorEvent.is("TaskRemoveRequested")).map((e) => e.reason)).toEqual([
          "shutdown",
          "shutdown"
        ])
        expect(seen[seen.length - 1].at).toBe(500)
      })
  )

  it.effect("add after shutdown began fails with SupervisorShuttingDown and emits TaskAddFailed", () =>
    Effect.gen(function* () {
      const sup = yield* Supervisor.make()
      const started = yield* Deferred.make<void>()
      yield* sup.add(Task.make("w", parked(started, Effect.sleep("1 second"))))
      yield* Deferred.await(started)
      const shutdown = yield* Effect.forkChild(sup.shutdown)
      yield* flush
      const events = yield* sup.subscribe
      let runs = 0
      const body = Effect.sync(() => runs++)
      expect(yield* Effect.flip(sup.add(Task.once("late", body)))).toEqual(new SupervisorError.SupervisorShuttingDown())
      expect(yield* Effect.flip(sup.addAll([Task.once("late2", body)]))).toEqual(
        new SupervisorError.SupervisorShuttingDown()
      )
      expect(yield* Effect.flip(sup.run([Task.once("late3", body)]))).toEqual(
        new SupervisorError.SupervisorShuttingDown()
      )
      const seen = yield* Stream.runCollect(Stream.take(events, 3))
      expect(seen.map((e) => (e._tag === "TaskAddFailed" ? [e.task, e.rejection, e.reason] : e._tag))).toEqual([
        ["late", "ShuttingDown", "the supervisor is shutting down"],
        ["late2", "ShuttingDown", "the supervisor is shutting down"],
        ["late3", "ShuttingDown", "the supervisor is shutting down"]
      ])
      yield* TestTime.adjust("1 second")
      expect(yield* Fiber.await(shutdown)).toEqual(Exit.void)
      expect(yield* Effect.flip(sup.add(Task.once("later", body)))).toEqual(
        new SupervisorError.SupervisorShuttingDown()
      )
      expect(runs).toBe(0)
      expect(yield* sup.list).toEqual([])
    })
  )

  it.effect("tasks waiting for a permit never start once shutdown began", () =>
    Effect.gen(function* () {
      const sup = yield* Supervisor.make({ maxConcurrent: 1 })
      const events = yield* sup.subscribe
      const started = yield* Deferred.make<void>()
      const entered = yield* Deferred.make<void>()
      const holder = yield* sup.add(
        Task.make(
          "holder",
          parked(started, Deferred.succeed(entered, undefined).pipe(Effect.andThen(Effect.sleep("1 second"))))
        )
      )
      yield* Deferred.await(started)
      let runs = 0
      const b = yield* sup.add(
        Task.once(
          "b",
          Effect.sync(() => runs++)
        )
      )
      const c = yield* sup.add(
        Task.once(
          "c",
          Effect.sync(() => runs++)
        )
      )
      yield* flush
      expect((yield* sup.list).map((i) => [i.name, i.state])).toEqual([
        ["holder", "running"],
        ["b", "waiting"],
        ["c", "waiting"]
      ])
      const shutdown = yield* Effect.forkChild(sup.shutdown)
      yield* Deferred.await(entered)
      yield* TestTime.adjust("1 second")
      expect(yield* Fiber.await(shutdown)).toEqual(Exit.void)
      expect(runs).toBe(0)
      expect(yield* holder.poll).toEqual(Option.some(byShutdown))
      expect(yield* b.poll).toEqual(Option.some(byShutdown))
      expect(yield* c.poll).toEqual(Option.some(byShutdown))
      const seen = yield* collectUntil(events, SupervisorEvent.is("AllStoppedWithinGrace"))
      expect(seen.filter(SupervisorEvent.is("AttemptStarting")).map((e) => e.task)).toEqual(["holder"])
    })
  )
})

describe("Supervisor shutdown: grace", () => {
  it.effect("a task in an uninterruptible region is force-aborted at exactly grace; the others stop normally", () =>
    Effect.gen(function* () {
      const sup = yield* Supervisor.make({ grace: "5 seconds" })
      const events = yield* sup.subscribe
      const stuckStarted = yield* Deferred.make<void>()
      const release = yield* Deferred.make<void>()
      const ok1Started = yield* Deferred.make<void>()
      const ok2Started = yield* Deferred.make<void>()
      const ok1 = yield* sup.add(Task.make("ok1", parked(ok1Started)))
      const stuck = yield* sup.add(Task.make("stuck", stubborn(stuckStarted, release)))
      const ok2 = yield* sup.add(Task.make("ok2", parked(ok2Started, Effect.sleep("1 second"))))
      yield* Deferred.await(ok1Started)
      yield* Deferred.await(stuckStarted)
      yield* Deferred.await(ok2Started)

      const first = yield* Effect.forkChild(sup.shutdown)
      const second = yield* Effect.forkChild(sup.shutdown)
      yield* flush
      expect(yield* ok1.poll).toEqual(Option.some(byShutdown))
      yield* TestTime.adjust("1 second")
      expect(yield* ok2.poll).toEqual(Option.some(byShutdown))
      yield* TestTime.adjust("3999 millis")
      expect(first.pollUnsafe()).toBeUndefined()
      expect(second.pollUnsafe()).toBeUndefined()
      expect(yield* stuck.poll).toEqual(Option.none())
      yield* TestTime.adjust("1 millis")
      const e1 = yield* Effect.flip(Fiber.join(first))
      const e2 = yield* Effect.flip(Fiber.join(second))
      const e3 = yield* Effect.flip(sup.shutdown)
      expect(e1).toEqual(
        new SupervisorError.GraceExceeded({ grace: Duration.millis(5000), stuck: ["stuck"], paths: ["root/stuck"] })
      )
      expect(e2).toBe(e1)
      expect(e3).toBe(e1)
      expect(yield* stuck.poll).toEqual(
        Option.some(new TaskOutcome.ForceAborted({ reason: "did not stop within the shutdown grace of 5000 ms" }))
      )
      // Abandoned, not gone: it keeps its name until its fiber really exits.
      expect((yield* sup.list).map((i) => [i.id, i.name, i.state])).toEqual([[stuck.id, "stuck", "stopping"]])
      expect(yield* sup.size).toBe(1)
      const upToGrace = yield* collectUntil(events, SupervisorEvent.is("GraceExceeded"))
      const last = upToGrace[upToGrace.length - 1]
      expect(last).toMatchObject({ _tag: "GraceExceeded", graceMs: 5000, stuck: ["stuck"], at: 5000 })
      expect(upToGrace.filter(SupervisorEvent.is("TaskFinished")).map((e) => [e.task, e.outcome, e.at])).toEqual([
        ["ok1", "Canceled", 0],
        ["ok2", "Canceled", 1000],
        ["stuck", "ForceAborted", 5000]
      ])
      expect(upToGrace.filter(SupervisorEvent.is("TaskRemoved")).map((e) => e.task)).toEqual(["ok1", "ok2"])
      expect(upToGrace.some(SupervisorEvent.is("AllStoppedWithinGrace"))).toBe(false)

      // When it finally exits, TaskRemoved follows and the registry is empty.
      yield* Deferred.succeed(release, undefined)
      const tail = yield* collectUntil(events, SupervisorEvent.is("TaskRemoved"))
      expect(tail.filter((e) => e._tag === "TaskRemoved" || e._tag === "TaskFinished").map((e) => e._tag)).toEqual([
        "TaskRemoved"
      ])
      expect(tail[tail.length - 1]).toMatchObject({ _tag: "TaskRemoved", task: "stuck", id: stuck.id })
      expect(yield* sup.list).toEqual([])
      expect(yield* stuck.poll).toEqual(
        Option.some(new TaskOutcome.ForceAborted({ reason: "did not stop within the shutdown grace of 5000 ms" }))
      )
    })
  )

  it.effect("an acquireRelease whose release hangs is force-aborted at exactly grace, not 1 ms before", () =>
    Effect.gen(function* () {
      const sup = yield* Supervisor.make({ grace: "2 seconds" })
      const started = yield* Deferred.make<void>()
      const release = yield* Deferred.make<void>()
      const h = yield* sup.add(Task.make("hangs", parked(started, Deferred.await(release))))
      yield* Deferred.await(started)
      const callers = yield* Effect.forEach([1, 2, 3], () => Effect.forkChild(sup.shutdown))
      yield* TestTime.adjust("1999 millis")
      for (const f of callers) expect(f.pollUnsafe()).toBeUndefined()
      expect(yield* h.poll).toEqual(Option.none())
      yield* TestTime.adjust("1 millis")
      const errors = yield* Effect.forEach(callers, (f) => Effect.flip(Fiber.join(f)))
      expect(errors[0]).toEqual(
        new SupervisorError.GraceExceeded({ grace: Duration.millis(2000), stuck: ["hangs"], paths: ["root/hangs"] })
      )
      expect(errors[1]).toBe(errors[0])
      expect(errors[2]).toBe(errors[0])
      expect((yield* h.poll).pipe(Option.map((o) => o._tag))).toEqual(Option.some("ForceAborted"))
      expect((yield* sup.list).map((i) => i.name)).toEqual(["hangs"])
      yield* Deferred.succeed(release, undefined)
      yield* flush
      expect(yield* sup.list).toEqual([])
    })
  )

  it.effect("during a shutdown, tasks already gone are found by no name, id or snapshot; the slow one still is", () =>
    Effect.gen(function* () {
      const sup = yield* Supervisor.make({ grace: "10 seconds" })
      const started = yield* Effect.forEach(["a", "b", "slow", "c"], () => Deferred.make<void>())
      const handles = yield* Effect.forEach(["a", "b", "slow", "c"], (name, i) =>
        sup.add(Task.make(name, parked(started[i]!, name === "slow" ? Effect.sleep("3 seconds") : Effect.void)))
      )
      yield* Effect.forEach(started, Deferred.await)
      // Looked up by id once before the shutdown: the id index exists and must skip the gone ones too.
      expect(Option.isSome(yield* sup.get(handles[0]!.id))).toBe(true)
      const shutdown = yield* Effect.forkChild(sup.shutdown)
      yield* flush
      expect(yield* sup.size).toBe(1)
      expect((yield* sup.list).map((info) => info.name)).toEqual(["slow"])
      expect((yield* sup.tree).tasks.map((node) => node.name)).toEqual(["slow"])
      for (const i of [0, 1, 3]) {
        expect(yield* sup.get(handles[i]!.name)).toEqual(Option.none())
        expect(yield* sup.get(handles[i]!.id)).toEqual(Option.none())
        expect(yield* sup.remove(handles[i]!.name)).toBe(false)
      }
      expect(Option.map(yield* sup.get("slow"), (info) => info.state)).toEqual(Option.some("stopping"))
      expect(Option.isSome(yield* sup.get(handles[2]!.id))).toBe(true)
      yield* TestTime.adjust("3 seconds")
      expect(yield* Fiber.join(shutdown)).toBe(undefined)
      expect(yield* sup.size).toBe(0)
      expect(yield* sup.list).toEqual([])
      expect(yield* sup.get("slow")).toEqual(Option.none())
      expect(yield* sup.get(handles[2]!.id)).toEqual(Option.none())
    })
  )

  it.effect("grace 0 abandons at once", () =>
    Effect.gen(function* () {
      const sup = yield* Supervisor.make({ grace: 0 })
      const started = yield* Deferred.make<void>()
      const release = yield* Deferred.make<void>()
      const h = yield* sup.add(Task.make("stuck", stubborn(started, release)))
      yield* Deferred.await(started)
      const error = yield* Effect.flip(sup.shutdown)
      expect(error).toEqual(
        new SupervisorError.GraceExceeded({ grace: Duration.millis(0), stuck: ["stuck"], paths: ["root/stuck"] })
      )
      expect(yield* Clock.currentTimeMillis).toBe(0)
      expect(yield* h.poll).toEqual(
        Option.some(new TaskOutcome.ForceAborted({ reason: "did not stop within the shutdown grace of 0 ms" }))
      )
      expect((yield* sup.list).map((i) => [i.name, i.state])).toEqual([["stuck", "stopping"]])
      yield* Deferred.succeed(release, undefined)
      yield* flush
      expect(yield* sup.list).toEqual([])
    })
  )

  it.effect("grace 0 abandons even a task that would stop at once: the result does not depend on scheduling", () =>
    Effect.gen(function* () {
      const sup = yield* Supervisor.make({ grace: 0 })
      const started = yield* Deferred.make<void>()
      const h = yield* sup.add(Task.make("polite", Effect.andThen(Deferred.succeed(started, undefined), Effect.never)))
      yield* Deferred.await(started)
      const error = yield* Effect.flip(sup.shutdown)
      expect(error.stuck).toEqual(["polite"])
      expect((yield* h.await)._tag).toBe("ForceAborted")
      yield* flush
      // It did stop right after: the name is free and the registry is empty.
      expect(yield* sup.list).toEqual([])
    })
  )
})

describe("Supervisor shutdown: scopes and layers", () => {
  it.effect("closing the scope of Supervisor.make runs the shutdown and waits for task finalizers", () =>
    Effect.gen(function* () {
      const scope = yield* Scope.make()
      const sup = yield* Scope.provide(Supervisor.make(), scope)
      const started = yield* Deferred.make<void>()
      const finalized = yield* Ref.make(false)
      const h = yield* sup.add(
        Task.make("w", parked(started, Effect.sleep("1 second").pipe(Effect.andThen(Ref.set(finalized, true)))))
      )
      yield* Deferred.await(started)
      const closing = yield* Effect.forkChild(Scope.close(scope, Exit.void))
      yield* TestTime.adjust("999 millis")
      expect(closing.pollUnsafe()).toBeUndefined()
      expect(yield* sup.isShuttingDown).toBe(true)
      yield* TestTime.adjust("1 millis")
      yield* Fiber.join(closing)
      expect(yield* Ref.get(finalized)).toBe(true)
      expect(yield* h.poll).toEqual(Option.some(byShutdown))
      expect(yield* Effect.flip(sup.add(Task.once("late", Effect.void)))).toEqual(
        new SupervisorError.SupervisorShuttingDown()
      )
    })
  )

  it.effect("closing the scope with a stubborn task returns at exactly grace", () =>
    Effect.gen(function* () {
      const scope = yield* Scope.make()
      const sup = yield* Scope.provide(Supervisor.make({ grace: "3 seconds" }), scope)
      const started = yield* Deferred.make<void>()
      const release = yield* Deferred.make<void>()
      const h = yield* sup.add(Task.make("stuck", stubborn(started, release)))
      yield* Deferred.await(started)
      const closing = yield* Effect.forkChild(Scope.close(scope, Exit.void))
      yield* TestTime.adjust("2999 millis")
      expect(closing.pollUnsafe()).toBeUndefined()
      yield* TestTime.adjust("1 millis")
      expect(yield* Fiber.await(closing)).toEqual(Exit.void)
      expect((yield* h.poll).pipe(Option.map((o) => o._tag))).toEqual(Option.some("ForceAborted"))
      yield* Deferred.succeed(release, undefined)
    })
  )

  it.effect("Supervisor.layer shuts down when the layer is released", () =>
    Effect.gen(function* () {
      const started = yield* Deferred.make<void>()
      const finalized = yield* Ref.make(false)
      const h = yield* Effect.gen(function* () {
        const handle = yield* Supervisor.add(Task.make("w", parked(started, Ref.set(finalized, true))))
        yield* Deferred.await(started)
        expect(yield* Ref.get(finalized)).toBe(false)
        return handle
      }).pipe(Effect.provide(Supervisor.layer({ grace: "1 second" })))
      expect(yield* Ref.get(finalized)).toBe(true)
      expect(yield* h.poll).toEqual(Option.some(byShutdown))
    })
  )

  it.effect("Supervisor.layer: a stubborn task does not make the release fail; it returns at grace", () =>
    Effect.gen(function* () {
      const started = yield* Deferred.make<void>()
      const release = yield* Deferred.make<void>()
      const scope = yield* Scope.make()
      const context = yield* Layer.buildWithScope(Supervisor.layer({ grace: "1 second" }), scope)
      const h = yield* Supervisor.add(Task.make("stuck", stubborn(started, release))).pipe(Effect.provide(context))
      yield* Deferred.await(started)
      const closing = yield* Effect.forkChild(Scope.close(scope, Exit.void))
      yield* TestTime.adjust("999 millis")
      expect(closing.pollUnsafe()).toBeUndefined()
      yield* TestTime.adjust("1 millis")
      expect(yield* Fiber.await(closing)).toEqual(Exit.void)
      expect((yield* h.poll).pipe(Option.map((o) => o._tag))).toEqual(Option.some("ForceAborted"))
      yield* Deferred.succeed(release, undefined)
    })
  )

  it.effect("the events stream ends after the scope closes", () =>
    Effect.gen(function* () {
      const scope = yield* Scope.make()
      const sup = yield* Scope.provide(Supervisor.make(), scope)
      const first = yield* Deferred.make<Ev>()
      const viaEvents = yield* Effect.forkChild(
        sup.events.pipe(
          Stream.tap((e) => Deferred.succeed(first, e)),
          Stream.runCollect
        )
      )
      const outer = yield* Scope.make()
      const subscribed = yield* Scope.provide(sup.subscribe, outer)
      const viaSubscribe = yield* Effect.forkChild(Stream.runCollect(subscribed))
      yield* flush
      const h = yield* sup.add(Task.once("ping", Effect.void))
      expect(yield* h.await).toEqual(TaskOutcome.completed)
      expect(yield* Deferred.await(first)).toMatchObject({ _tag: "TaskAdded", task: "ping" })
      yield* flush
      yield* Scope.close(scope, Exit.void)
      const collected = yield* Fiber.join(viaEvents)
      // Both streams end (the joins return), after delivering the shutdown's own events.
      expect(brief(collected)).toEqual([
        ["TaskAdded", "ping"],
        ["AttemptStarting", "ping"],
        ["AttemptSucceeded", "ping"],
        ["TaskFinished", "ping"],
        ["TaskRemoved", "ping"],
        ["ShutdownRequested"],
        ["AllStoppedWithinGrace"]
      ])
      const collected2 = yield* Fiber.join(viaSubscribe)
      expect(collected2).toEqual(collected)
      yield* Scope.close(outer, Exit.void)
    })
  )
})

/**
 * Effect's fiber tracking. Effect 4 has no `Supervisor.track`/`Effect.supervised`; its hook is
 * `Metric.FiberRuntimeMetrics`: every fiber started under a context holding it reports its start
 * and its end there, so fibers started while `track` runs are counted until they exit.
 */
const makeTracker = () => {
  let live = 0
  const service: Metric.FiberRuntimeMetricsService = {
    recordFiberStart: () => {
      live += 1
    },
    recordFiberEnd: () => {
      live -= 1
    }
  }
  return {
    track: <A, E, R>(effect: Effect.Effect<A, E, R>) =>
      Effect.provideService(effect, Metric.FiberRuntimeMetrics, service),
    /** Fibers started under `track` that have not exited yet. */
    live: () => live
  }
}

describe("Supervisor shutdown: no fiber left behind", () => {
  it.effect("after shutdown no fiber started by the supervisor is still running (Effect's fiber tracking)", () =>
    Effect.gen(function* () {
      const tracker = makeTracker()
      const started = yield* Deferred.make<void>()
      const childStarted = yield* Deferred.make<void>()
      const slowStarted = yield* Deferred.make<void>()
      const removedStarted = yield* Deferred.make<void>()
      const sup = yield* tracker.track(
        Effect.gen(function* () {
          const sup = yield* Supervisor.make()
          yield* sup.add(Task.make("plain", parked(started)))
          yield* sup.add(
            Task.make(
              "with-child",
              Effect.forkChild(Deferred.succeed(childStarted, undefined).pipe(Effect.andThen(Effect.never))).pipe(
                Effect.andThen(Effect.never)
              )
            )
          )
          yield* sup.add(Task.make("slow", parked(slowStarted, Effect.sleep("1 second"))))
          yield* sup.add(Task.make("removed", parked(removedStarted, Effect.sleep("1 second"))))
          return sup
        })
      )
      yield* Deferred.await(started)
      yield* Deferred.await(childStarted)
      yield* Deferred.await(slowStarted)
      yield* Deferred.await(removedStarted)
      yield* flush
      // The tracker sees the supervisor's task fibers: 4 task fibers + 1 child forked by an attempt.
      expect(tracker.live()).toBe(5)
      // `remove` starts a grace timer in the supervisor's own runtime (tracked as well).
      expect(yield* sup.remove("removed")).toBe(true)
      yield* flush
      expect(tracker.live()).toBe(6)
      const shutdown = yield* Effect.forkChild(sup.shutdown)
      yield* flush
      yield* TestTime.adjust("1 second")
      expect(yield* Fiber.await(shutdown)).toEqual(Exit.void)
      yield* flush
      expect(tracker.live()).toBe(0)
    })
  )
})
