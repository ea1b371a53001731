/**
 * `sup.restartNow(ref)`: a task is stopped as a stop does and started again at once, without
 * counting as a failure, a restart, or against the restart intensity. Every timing runs on the
 * TestClock, which starts at 0, so instants are exact epoch milliseconds.
 */
import { describe, expect, it } from "@effect/vitest"
import { Clock, Effect, Fiber, Option, Result, Schedule } from "effect"
import { Backoff, Supervisor, Task, TaskContext, TaskError } from "@fibervisor/core"
import { TestTime } from "@fibervisor/vitest"
import { ofTag, script, setup, startInstants, tags } from "../helpers/recorder.js"

const boom = Effect.fail(TaskError.fail("boom"))

describe("RestartNow", () => {
  it.effect("during a backoff: the next attempt starts at once; not a restart, not against the intensity", () =>
    Effect.gen(function* () {
      // An intensity of 1 restart per minute: five restarts now would exceed it if they counted.
      const { sup, waitFor, events } = yield* setup({ intensity: { maxRestarts: 1, within: "1 minute" } })
      yield* sup.add(Task.make("flaky", script(boom, Effect.never), { backoff: Backoff.constant("10 seconds") }))
      yield* TestTime.adjust("2 seconds")
      expect(Option.getOrThrow(yield* sup.get("flaky"))).toMatchObject({ state: "backing-off", restarts: 1 })
      expect(yield* sup.restartNow("flaky")).toBe(true)
      yield* waitFor("AttemptStarting", (event) => event.attempt === 2)
      for (let i = 0; i < 4; i++) {
        yield* TestTime.adjust("1 second")
        expect(yield* sup.restartNow("flaky")).toBe(true)
        yield* waitFor("AttemptStarting", (event) => event.attempt === 3 + i)
      }
      const recorded = yield* events
      expect(startInstants(recorded)).toEqual([0, 2000, 3000, 4000, 5000, 6000])
      expect(ofTag("TaskRestartRequested")(recorded).map((e) => [e.at, e.state])).toEqual([
        [2000, "backing-off"],
        [3000, "running"],
        [4000, "running"],
        [5000, "running"],
        [6000, "running"]
      ])
      expect(ofTag("AttemptCanceled")(recorded).map((e) => e.reason)).toEqual(Array(4).fill("stopped by restart-now"))
      expect(Option.getOrThrow(yield* sup.get("flaky"))).toMatchObject({ state: "running", attempt: 6, restarts: 1 })
      expect(ofTag("RestartIntensityExceeded")(recorded)).toEqual([])
      expect(yield* sup.isShuttingDown).toBe(false)
      yield* sup.remove("flaky")
    })
  )

  it.effect("while scheduled: a Task.repeat runs at once and its schedule goes on from there", () =>
    Effect.gen(function* () {
      const { sup, waitFor, events } = yield* setup()
      yield* sup.add(Task.repeat("report", Effect.void, Schedule.spaced("1 hour")))
      yield* TestTime.adjust("10 minutes")
      expect(Option.getOrThrow(yield* sup.get("report")).state).toBe("scheduled")
      expect(yield* sup.restartNow("report")).toBe(true)
      yield* waitFor("AttemptSucceeded", (event) => event.attempt === 2)
      expect(Option.getOrThrow(yield* sup.get("report"))).toMatchObject({
        state: "scheduled",
        restarts: 0,
        nextAttemptAt: Option.some(70 * 60_000)
      })
      expect(startInstants(yield* events)).toEqual([0, 10 * 60_000])
      yield* sup.remove("report")
    })
  )

  it.effect("a running attempt sees `cancelled`, its finalizers run, and the next one starts when it has ended", () =>
    Effect.gen(function* () {
      const { sup, waitFor, events } = yield* setup()
      const seen: Array<[number, boolean, number]> = []
      // The first attempt flushes for 300 ms when stopped; the second one has nothing to flush.
      const attempt = Effect.gen(function* () {
        const ctx = yield* TaskContext.TaskContext
        if (ctx.attempt > 1) return yield* Effect.never
        yield* Effect.addFinalizer(() =>
          Effect.gen(function* () {
            seen.push([ctx.attempt, yield* ctx.isCancelled, yield* Clock.currentTimeMillis])
            yield* Effect.sleep("300 millis")
          })
        )
        yield* Effect.never
      })
      yield* sup.add(Task.make("svc", attempt, { grace: "1 second" }))
      yield* TestTime.adjust("100 millis")
      expect(yield* sup.restartNow("svc")).toBe(true)
      // Asked once: a second request while it restarts is refused.
      expect(yield* sup.restartNow("svc")).toBe(false)
      yield* TestTime.adjust("299 millis")
      expect(Option.getOrThrow(yield* sup.get("svc")).attempt).toBe(1)
      yield* TestTime.adjust("1 millis")
      yield* waitFor("AttemptStarting", (event) => event.attempt === 2)
      const recorded = yield* events
      expect(seen).toEqual([[1, true, 100]])
      expect(startInstants(recorded)).toEqual([0, 400])
      expect(tags(recorded)).toEqual([
        "TaskAdded",
        "AttemptStarting",
        "TaskRestartRequested",
        "AttemptCanceled",
        "AttemptStarting"
      ])
      expect(ofTag("AttemptCanceled")(recorded)[0]).toMatchObject({ at: 400, durationMs: 400 })
      // The new attempt has a fresh `cancelled`.
      expect(Option.getOrThrow(yield* sup.get("svc"))).toMatchObject({ state: "running", attempt: 2, restarts: 0 })
      yield* sup.remove("svc")
    })
  )

  it.effect(
    "a hanging finalizer: abandoned after its grace (ForceAborted, no new attempt), the name held until the fiber exits",
    () =>
      Effect.gen(function* () {
        const { sup, waitFor, events } = yield* setup()
        const attempt = Effect.andThen(
          Effect.addFinalizer(() => Effect.sleep("5 seconds")),
          Effect.never
        )
        const handle = yield* sup.add(Task.make("wedged", attempt, { grace: "1 second" }))
        yield* TestTime.adjust("100 millis")
        expect(yield* sup.restartNow("wedged")).toBe(true)
        yield* TestTime.adjust("999 millis")
        expect(yield* handle.poll).toEqual(Option.none())
        yield* TestTime.adjust("1 millis")
        expect(yield* handle.await).toMatchObject({
          _tag: "ForceAborted",
          reason: "did not stop within its grace of 1000 ms"
        })
        // Its name stays taken while its fiber runs the finalizer.
        const taken = yield* Effect.result(sup.add(Task.make("wedged", Effect.never)))
        expect(Result.isFailure(taken) && taken.failure._tag).toBe("TaskAlreadyExists")
        expect(yield* sup.restartNow("wedged")).toBe(false)
        yield* TestTime.adjust("4 seconds")
        yield* waitFor("TaskRemoved")
        const recorded = yield* events
        expect(startInstants(recorded)).toEqual([0])
        expect(ofTag("TaskFinished")(recorded).map((e) => [e.at, e.outcome])).toEqual([[1100, "ForceAborted"]])
        expect(ofTag("TaskRemoved")(recorded).map((e) => e.at)).toEqual([5100])
        expect(yield* sup.size).toBe(0)
      })
  )

  it.effect("a remove while the restart waits for the attempt to stop wins: the task ends, never restarted", () =>
    Effect.gen(function* () {
      const { sup, waitFor, events } = yield* setup()
      const handle = yield* sup.add(
        Task.make(
          "svc",
          Effect.andThen(
            Effect.addFinalizer(() => Effect.sleep("500 millis")),
            Effect.never
          ),
          {
            grace: "1 second"
          }
        )
      )
      yield* TestTime.adjust("1 millis")
      expect(yield* sup.restartNow("svc")).toBe(true)
      yield* TestTime.adjust("100 millis")
      expect(yield* sup.remove("svc")).toBe(true)
      yield* TestTime.adjust("400 millis")
      expect(yield* handle.await).toMatchObject({ _tag: "Canceled", reason: "stopped by remove" })
      yield* waitFor("TaskRemoved")
      const recorded = yield* events
      expect(startInstants(recorded)).toEqual([0])
      expect(ofTag("TaskFinished")(recorded).map((e) => e.at)).toEqual([501])
      // The restart's grace timer is not left behind (the file's leak check: the clock stops here).
      expect(yield* sup.size).toBe(0)
    })
  )

  it.effect("grace 0: a running attempt is abandoned at once", () =>
    Effect.gen(function* () {
      const { sup } = yield* setup()
      const handle = yield* sup.add(
        Task.make(
          "brutal",
          Effect.andThen(
            Effect.addFinalizer(() => Effect.sleep("1 second")),
            Effect.never
          ),
          {
            grace: 0
          }
        )
      )
      yield* TestTime.adjust("1 millis")
      expect(yield* sup.restartNow("brutal")).toBe(true)
      expect(yield* handle.poll).toEqual(
        Option.some(expect.objectContaining({ _tag: "ForceAborted", reason: "did not stop within its grace of 0 ms" }))
      )
      yield* TestTime.adjust("1 second")
    })
  )

  it.effect("refused during shutdown, for unknown tasks and for tasks being stopped", () =>
    Effect.gen(function* () {
      const { sup } = yield* setup()
      const handle = yield* sup.add(
        Task.make(
          "slow",
          Effect.andThen(
            Effect.addFinalizer(() => Effect.sleep("1 second")),
            Effect.never
          )
        )
      )
      const other = yield* sup.add(Task.make("other", Effect.never))
      yield* TestTime.adjust("1 millis")
      expect(yield* sup.restartNow("nope")).toBe(false)
      expect(yield* sup.restartNow(other.id)).toBe(true)
      yield* TestTime.adjust("1 millis")
      expect(yield* sup.remove(other.id)).toBe(true)
      expect(yield* sup.restartNow(other.id)).toBe(false)
      const shutdown = yield* Effect.forkChild(sup.shutdown)
      yield* TestTime.adjust("1 millis")
      expect(yield* sup.isShuttingDown).toBe(true)
      expect(yield* sup.restartNow("slow")).toBe(false)
      expect(yield* Supervisor.restartNow("slow").pipe(Effect.provideService(Supervisor.Supervisor, sup))).toBe(false)
      yield* TestTime.adjust("1 second")
      yield* Fiber.join(shutdown)
      expect((yield* handle.await)._tag).toBe("Canceled")
    })
  )

  it.effect(
    "a shutdown that starts while a restart waits for the attempt to stop: the task ends, never restarted",
    () =>
      Effect.gen(function* () {
        const { sup, events } = yield* setup()
        const handle = yield* sup.add(
          Task.make(
            "svc",
            Effect.andThen(
              Effect.addFinalizer(() => Effect.sleep("500 millis")),
              Effect.never
            )
          )
        )
        yield* TestTime.adjust("1 millis")
        expect(yield* sup.restartNow("svc")).toBe(true)
        yield* TestTime.adjust("100 millis")
        const shutdown = yield* Effect.forkChild(sup.shutdown)
        yield* TestTime.adjust("400 millis")
        yield* Fiber.join(shutdown)
        expect(yield* handle.await).toMatchObject({ _tag: "Canceled", reason: "stopped by shutdown" })
        expect(startInstants(yield* events)).toEqual([0])
      })
  )

  it.effect("a nested task by its path relative to the supervisor; its parent is not restarted", () =>
    Effect.gen(function* () {
      const { sup, waitFor, events } = yield* setup()
      yield* sup.add(
        Supervisor.task("app", [Task.make("connector", Effect.never), Task.make("importer", Effect.never)])
      )
      yield* waitFor("AttemptStarting", (event) => event.path === "root/app/importer")
      yield* TestTime.adjust("1 second")
      expect(yield* sup.restartNow("app/nope")).toBe(false)
      expect(yield* sup.restartNow("nope/connector")).toBe(false)
      expect(yield* sup.restartNow("app/connector/deeper")).toBe(false)
      expect(yield* sup.restartNow("root/app/connector")).toBe(false)
      expect(yield* sup.restartNow("app/connector")).toBe(true)
      yield* waitFor("AttemptStarting", (event) => event.path === "root/app/connector" && event.attempt === 2)
      const recorded = yield* events
      expect(ofTag("TaskRestartRequested")(recorded).map((e) => [e.at, e.path, e.state])).toEqual([
        [1000, "root/app/connector", "running"]
      ])
      expect(ofTag("AttemptStarting")(recorded).map((e) => [e.at, e.path, e.attempt])).toEqual([
        [0, "root/app", 1],
        [0, "root/app/connector", 1],
        [0, "root/app/importer", 1],
        [1000, "root/app/connector", 2]
      ])
      const tree = yield* sup.tree
      const app = tree.tasks[0]!
      expect(app).toMatchObject({ attempt: 1, restarts: 0, state: "running" })
      expect(app.supervisor!.tasks.map((t) => [t.name, t.attempt, t.restarts, t.state])).toEqual([
        ["connector", 2, 0, "running"],
        ["importer", 1, 0, "running"]
      ])
      // The nested supervisor itself, by name: its whole subtree starts again.
      expect(yield* sup.restartNow("app")).toBe(true)
      yield* waitFor("AttemptStarting", (event) => event.path === "root/app/importer" && event.attempt === 1)
      expect(Option.getOrThrow(yield* sup.get("app"))).toMatchObject({ attempt: 2, restarts: 0 })
    })
  )
})
