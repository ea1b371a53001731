/**
 * The attempt-exit table and the restart policies (the design's "How an attempt's exit is read",
 * "RestartPolicy, Backoff", "TaskContext"). Every timing runs on the TestClock, which starts at 0,
 * so event instants (`at`) are exact epoch milliseconds.
 */
import { describe, expect, it } from "@effect/vitest"
import { Cause, Clock, Data, Deferred, Effect, Fiber, Option, Ref, Result } from "effect"
import { Backoff, RestartPolicy, Task, TaskContext, TaskError, TaskOutcome } from "@fibervisor/core"
import { TestTime } from "@fibervisor/vitest"
import { ofTag, script, setup, startInstants, tags } from "../helpers/recorder.js"

const policies = [
  ["never", RestartPolicy.never],
  ["onFailure", RestartPolicy.onFailure],
  ["always", RestartPolicy.always()]
] as const

class ConfigMissing extends Data.TaggedError("ConfigMissing")<{ readonly reason: string; readonly exitCode: number }> {}
class Transient extends Data.TaggedError("Transient")<{ readonly reason: string }> {}

describe("SupervisorRestart: success", () => {
  for (const [label, restart] of [policies[0], policies[1]]) {
    it.effect(`a success under ${label} completes after one attempt`, () =>
      Effect.gen(function* () {
        const { sup, untilRemoved } = yield* setup()
        let attempts = 0
        const handle = yield* sup.add(
          Task.make(
            "ok",
            Effect.sync(() => ++attempts),
            { restart }
          )
        )
        const outcome = yield* handle.await
        expect(outcome).toEqual(TaskOutcome.completed)
        const events = yield* untilRemoved
        expect(tags(events)).toEqual([
          "TaskAdded",
          "AttemptStarting",
          "AttemptSucceeded",
          "TaskFinished",
          "TaskRemoved"
        ])
        expect(ofTag("TaskFinished")(events)[0]).toMatchObject({ outcome: "Completed" })
        yield* TestTime.adjust("1 hour")
        expect(attempts).toBe(1)
        expect(yield* sup.list).toEqual([])
      })
    )
  }

  it.effect("always() without interval restarts instantly successful attempts every 1 ms (11 starts in 10 ms)", () =>
    Effect.gen(function* () {
      const { sup, untilRemoved } = yield* setup()
      let attempts = 0
      const handle = yield* sup.add(
        Task.make(
          "hot",
          Effect.sync(() => ++attempts),
          { restart: RestartPolicy.always() }
        )
      )
      yield* TestTime.adjust("10 millis")
      // starts at 0, 1, …, 10
      expect(attempts).toBe(11)
      const info = Option.getOrThrow(yield* sup.get("hot"))
      expect(info.attempt).toBe(11)
      // Runs after a success are not restarts.
      expect(info.restarts).toBe(0)
      expect(info.lastFailure).toEqual(Option.none())
      expect(yield* sup.remove("hot")).toBe(true)
      expect((yield* handle.await)._tag).toBe("Canceled")
      const events = yield* untilRemoved
      expect(startInstants(events)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10])
      expect(ofTag("AttemptStarting")(events).map((e) => e.attempt)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11])
      expect(ofTag("AttemptSucceeded")(events)).toHaveLength(11)
      expect(ofTag("BackoffScheduled")(events)).toEqual([])
      expect(attempts).toBe(11)
    })
  )

  it.effect("always() without interval adds no wait after an attempt that already took ≥ 1 ms", () =>
    Effect.gen(function* () {
      const { sup, untilRemoved } = yield* setup()
      let attempts = 0
      yield* sup.add(
        Task.make(
          "slow",
          Effect.andThen(
            Effect.sync(() => ++attempts),
            Effect.sleep("3 millis")
          ),
          { restart: RestartPolicy.always() }
        )
      )
      yield* TestTime.adjust("10 millis")
      expect(attempts).toBe(4)
      yield* sup.remove("slow")
      const events = yield* untilRemoved
      expect(startInstants(events)).toEqual([0, 3, 6, 9])
      expect(ofTag("AttemptSucceeded")(events).map((e) => e.durationMs)).toEqual([3, 3, 3])
      expect(ofTag("BackoffScheduled")(events)).toEqual([])
    })
  )

  it.effect("always({ interval: 5 s }) restarts exactly 5 s after each success, with BackoffScheduled(success)", () =>
    Effect.gen(function* () {
      const { sup, waitFor, untilRemoved } = yield* setup()
      let attempts = 0
      yield* sup.add(
        Task.make(
          "tick",
          Effect.sync(() => ++attempts),
          { restart: RestartPolicy.always({ interval: "5 seconds" }) }
        )
      )
      yield* waitFor("BackoffScheduled")
      expect(attempts).toBe(1)
      const info = Option.getOrThrow(yield* sup.get("tick"))
      expect(info).toMatchObject({ state: "scheduled", attempt: 1, restarts: 0 })
      expect(info.nextAttemptAt).toEqual(Option.some(5000))
      expect(info.lastFailure).toEqual(Option.none())
      yield* TestTime.adjust("4999 millis")
      expect(attempts).toBe(1)
      yield* TestTime.adjust("1 millis")
      expect(attempts).toBe(2)
      yield* TestTime.adjust("4999 millis")
      expect(attempts).toBe(2)
      yield* TestTime.adjust("1 millis")
      expect(attempts).toBe(3)
      yield* sup.remove("tick")
      const events = yield* untilRemoved
      expect(startInstants(events)).toEqual([0, 5000, 10000])
      expect(
        ofTag("BackoffScheduled")(events).map(({ at, attempt, delayMs, reason, source }) => ({
          at,
          attempt,
          delayMs,
          source,
          reason
        }))
      ).toEqual([
        { at: 0, attempt: 1, delayMs: 5000, source: "success", reason: undefined },
        { at: 5000, attempt: 2, delayMs: 5000, source: "success", reason: undefined },
        { at: 10000, attempt: 3, delayMs: 5000, source: "success", reason: undefined }
      ])
      expect(ofTag("BackoffScheduled")(events).every((e) => !("reason" in e))).toBe(true)
    })
  )

  it.effect("always({ interval }) waits the interval after the attempt ends (fixed delay, not fixed rate)", () =>
    Effect.gen(function* () {
      const { sup, untilRemoved } = yield* setup()
      yield* sup.add(
        Task.make("work", Effect.sleep("2 seconds"), { restart: RestartPolicy.always({ interval: "5 seconds" }) })
      )
      yield* TestTime.adjust("14 seconds")
      yield* sup.remove("work")
      const events = yield* untilRemoved
      expect(startInstants(events)).toEqual([0, 7000, 14000])
      expect(ofTag("BackoffScheduled")(events).map((e) => [e.at, e.delayMs])).toEqual([
        [2000, 5000],
        [9000, 5000]
      ])
    })
  )

  it.effect("Task.periodic runs `every` after each success, and after a failure's backoff", () =>
    Effect.gen(function* () {
      const { sup, untilRemoved } = yield* setup()
      const beat = script(Effect.void, Effect.fail(TaskError.fail("flaky")), Effect.void)
      const task = Task.periodic("heartbeat", beat, "5 seconds").pipe(Task.withBackoff(Backoff.constant("1 second")))
      yield* sup.add(task)
      yield* TestTime.adjust("11 seconds")
      yield* sup.remove("heartbeat")
      const events = yield* untilRemoved
      // 0 ok → +5 s; 5000 fails → +1 s backoff; 6000 ok → +5 s; 11000
      expect(startInstants(events)).toEqual([0, 5000, 6000, 11000])
      expect(ofTag("BackoffScheduled")(events).map((e) => [e.at, e.source, e.delayMs])).toEqual([
        [0, "success", 5000],
        [5000, "failure", 1000],
        [6000, "success", 5000],
        [11000, "success", 5000]
      ])
    })
  )
})

describe("SupervisorRestart: TaskError.canceled and fatal are never restarted", () => {
  for (const [label, restart] of policies) {
    it.effect(`TaskError.canceled returned without a stop request ends Canceled under ${label}`, () =>
      Effect.gen(function* () {
        const { sup, untilRemoved } = yield* setup()
        let attempts = 0
        const handle = yield* sup.add(
          Task.make(
            "quit",
            Effect.suspend(() => {
              attempts++
              return Effect.fail(TaskError.canceled("nothing left to do", { exitCode: 3 }))
            }),
            { restart, backoff: Backoff.constant("10 millis") }
          )
        )
        const outcome = yield* handle.await
        expect(outcome._tag).toBe("Canceled")
        expect(outcome).toMatchObject({ reason: "nothing left to do", exitCode: 3 })
        const events = yield* untilRemoved
        expect(tags(events)).toEqual(["TaskAdded", "AttemptStarting", "AttemptCanceled", "TaskFinished", "TaskRemoved"])
        expect(ofTag("AttemptCanceled")(events)[0]).toMatchObject({ attempt: 1, reason: "nothing left to do" })
        expect(ofTag("TaskFinished")(events)[0]).toMatchObject({
          outcome: "Canceled",
          reason: "nothing left to do",
          exitCode: 3
        })
        yield* TestTime.adjust("1 hour")
        expect(attempts).toBe(1)
      })
    )

    it.effect(`TaskError.fatal ends Fatal under ${label}, with reason and exit code`, () =>
      Effect.gen(function* () {
        const { sup, untilRemoved } = yield* setup()
        let attempts = 0
        const error = TaskError.fatal("disk is gone", { exitCode: 70 })
        const handle = yield* sup.add(
          Task.make(
            "doomed",
            Effect.suspend(() => {
              attempts++
              return Effect.fail(error)
            }),
            { restart, backoff: Backoff.constant("10 millis") }
          )
        )
        const outcome = yield* handle.await
        if (outcome._tag !== "Fatal") return expect.fail(`expected Fatal, got ${outcome._tag}`)
        expect(outcome.reason).toBe("disk is gone")
        expect(outcome.exitCode).toBe(70)
        expect(Cause.findErrorOption(outcome.cause!)).toEqual(Option.some(error))
        const events = yield* untilRemoved
        expect(tags(events)).toEqual(["TaskAdded", "AttemptStarting", "AttemptFailed", "TaskFinished", "TaskRemoved"])
        expect(ofTag("AttemptFailed")(events)[0]).toMatchObject({
          attempt: 1,
          reason: "disk is gone",
          exitCode: 70,
          fatal: true
        })
        expect(ofTag("TaskFinished")(events)[0]).toMatchObject({
          outcome: "Fatal",
          reason: "disk is gone",
          exitCode: 70
        })
        yield* TestTime.adjust("1 hour")
        expect(attempts).toBe(1)
      })
    )

    it.effect(`an error isFatal accepts ends Fatal under ${label}, with reason and exit code`, () =>
      Effect.gen(function* () {
        const { sup, untilRemoved } = yield* setup()
        let attempts = 0
        const error = new ConfigMissing({ reason: "DATABASE_URL is not set", exitCode: 78 })
        const handle = yield* sup.add(
          Task.make(
            "configured",
            Effect.suspend((): Effect.Effect<void, ConfigMissing | Transient> => {
              attempts++
              return Effect.fail(error)
            }),
            {
              restart,
              backoff: Backoff.constant("10 millis"),
              isFatal: (e) => e._tag === "ConfigMissing"
            }
          )
        )
        const outcome = yield* handle.await
        if (outcome._tag !== "Fatal") return expect.fail(`expected Fatal, got ${outcome._tag}`)
        expect(outcome.reason).toBe("DATABASE_URL is not set")
        expect(outcome.exitCode).toBe(78)
        expect(Cause.findErrorOption(outcome.cause!)).toEqual(Option.some(error))
        const events = yield* untilRemoved
        expect(ofTag("AttemptFailed")(events)).toHaveLength(1)
        expect(ofTag("AttemptFailed")(events)[0]).toMatchObject({ fatal: true, exitCode: 78 })
        expect(ofTag("BackoffScheduled")(events)).toEqual([])
        yield* TestTime.adjust("1 hour")
        expect(attempts).toBe(1)
      })
    )
  }

  it.effect("errors isFatal rejects are retried; the first one it accepts stops the task", () =>
    Effect.gen(function* () {
      const { sup, untilRemoved } = yield* setup()
      const attempt = script(
        Effect.fail(new Transient({ reason: "connection reset" })),
        Effect.fail(new Transient({ reason: "connection reset" })),
        Effect.fail(new ConfigMissing({ reason: "bad config", exitCode: 78 }))
      ) as Effect.Effect<unknown, Transient | ConfigMissing, TaskContext.TaskContext>
      const handle = yield* sup.add(
        Task.make("mixed", attempt, {
          restart: RestartPolicy.always(),
          backoff: Backoff.constant("10 millis"),
          isFatal: (e) => e._tag === "ConfigMissing"
        })
      )
      const outcome = yield* Effect.forkChild(handle.await)
      yield* TestTime.adjust("20 millis")
      expect(yield* Fiber.join(outcome)).toMatchObject({ _tag: "Fatal", reason: "bad config", exitCode: 78 })
      const events = yield* untilRemoved
      expect(startInstants(events)).toEqual([0, 10, 20])
      expect(ofTag("AttemptFailed")(events).map((e) => [e.reason, e.fatal])).toEqual([
        ["connection reset", false],
        ["connection reset", false],
        ["bad config", true]
      ])
    })
  )
})

describe("SupervisorRestart: per-attempt timeout", () => {
  it.effect(
    "interrupts the attempt at exactly the timeout (finalizer runs), then a retry that succeeds completes",
    () =>
      Effect.gen(function* () {
        const { sup, events, waitFor, untilRemoved } = yield* setup()
        const finalizedAt = yield* Ref.make<Option.Option<number>>(Option.none())
        const hangs = Effect.never.pipe(
          Effect.ensuring(Effect.flatMap(Clock.currentTimeMillis, (t) => Ref.set(finalizedAt, Option.some(t))))
        )
        const handle = yield* sup.add(
          Task.make("slow", script(hangs, Effect.void), {
            timeout: "1 second",
            backoff: Backoff.constant("100 millis")
          })
        )
        yield* waitFor("AttemptStarting")
        yield* TestTime.adjust("999 millis")
        expect(yield* Ref.get(finalizedAt)).toEqual(Option.none())
        expect(ofTag("AttemptTimedOut")(yield* events)).toEqual([])
        yield* TestTime.adjust("1 millis")
        const timedOut = yield* waitFor("AttemptTimedOut")
        expect(yield* Ref.get(finalizedAt)).toEqual(Option.some(1000))
        expect(timedOut).toMatchObject({ at: 1000, attempt: 1, timeoutMs: 1000, durationMs: 1000 })
        const info = Option.getOrThrow(yield* sup.get("slow"))
        expect(info).toMatchObject({ state: "backing-off", attempt: 1, restarts: 1 })
        expect(info.lastFailure).toEqual(Option.some("attempt timed out after 1000 ms"))
        expect(info.nextAttemptAt).toEqual(Option.some(1100))
        yield* TestTime.adjust("99 millis")
        expect(yield* handle.poll).toEqual(Option.none())
        yield* TestTime.adjust("1 millis")
        expect(yield* handle.await).toEqual(TaskOutcome.completed)
        const all = yield* untilRemoved
        expect(tags(all)).toEqual([
          "TaskAdded",
          "AttemptStarting",
          "AttemptTimedOut",
          "BackoffScheduled",
          "AttemptStarting",
          "AttemptSucceeded",
          "TaskFinished",
          "TaskRemoved"
        ])
        expect(startInstants(all)).toEqual([0, 1100])
        expect(ofTag("BackoffScheduled")(all)[0]).toMatchObject({
          at: 1000,
          attempt: 1,
          delayMs: 100,
          source: "failure",
          reason: "attempt timed out after 1000 ms"
        })
        expect(ofTag("AttemptFailed")(all)).toEqual([])
      })
  )

  it.effect("a timed-out attempt's scoped resource is released, and timeouts count against maxRetries", () =>
    Effect.gen(function* () {
      const { sup, untilRemoved } = yield* setup()
      const released: Array<number> = []
      const attempt = Effect.scoped(
        Effect.andThen(
          Effect.acquireRelease(Effect.void, () =>
            Effect.flatMap(Clock.currentTimeMillis, (t) => Effect.sync(() => released.push(t)))
          ),
          Effect.never
        )
      )
      const handle = yield* sup.add(
        Task.make("stuck", attempt, { timeout: "50 millis", maxRetries: 1, backoff: Backoff.constant("10 millis") })
      )
      const outcome = yield* Effect.forkChild(handle.await)
      yield* TestTime.adjust("109 millis")
      expect(released).toEqual([50])
      expect(yield* handle.poll).toEqual(Option.none())
      yield* TestTime.adjust("1 millis")
      expect(yield* Fiber.join(outcome)).toMatchObject({
        _tag: "Failed",
        reason: "retry limit reached after 1 of 1 retries: attempt timed out after 50 ms"
      })
      expect(released).toEqual([50, 110])
      const events = yield* untilRemoved
      expect(startInstants(events)).toEqual([0, 60])
      expect(ofTag("AttemptTimedOut")(events).map((e) => [e.at, e.timeoutMs])).toEqual([
        [50, 50],
        [110, 50]
      ])
    })
  )

  it.effect("a timed-out attempt under never ends Failed after one attempt", () =>
    Effect.gen(function* () {
      const { sup, untilRemoved } = yield* setup()
      const handle = yield* sup.add(Task.make("once", Effect.never, { restart: RestartPolicy.never, timeout: 50 }))
      const outcome = yield* Effect.forkChild(handle.await)
      yield* TestTime.adjust("50 millis")
      expect(yield* Fiber.join(outcome)).toMatchObject({ _tag: "Failed", reason: "attempt timed out after 50 ms" })
      const events = yield* untilRemoved
      expect(tags(events)).toEqual(["TaskAdded", "AttemptStarting", "AttemptTimedOut", "TaskFinished", "TaskRemoved"])
    })
  )

  it.effect("a TaskError.timeout the task returns itself is AttemptFailed, not AttemptTimedOut", () =>
    Effect.gen(function* () {
      const { sup, untilRemoved } = yield* setup()
      const attempt = script(
        Effect.andThen(Effect.sleep("10 millis"), Effect.fail(TaskError.timeout("upstream too slow", { exitCode: 4 }))),
        Effect.void
      )
      const handle = yield* sup.add(
        Task.make("self-timeout", attempt, { timeout: "1 second", backoff: Backoff.constant("100 millis") })
      )
      const outcome = yield* Effect.forkChild(handle.await)
      yield* TestTime.adjust("110 millis")
      expect(yield* Fiber.join(outcome)).toEqual(TaskOutcome.completed)
      const events = yield* untilRemoved
      expect(ofTag("AttemptTimedOut")(events)).toEqual([])
      expect(
        ofTag("AttemptFailed")(events).map(({ at, reason, exitCode, fatal, durationMs }) => ({
          at,
          reason,
          exitCode,
          fatal,
          durationMs
        }))
      ).toEqual([{ at: 10, reason: "upstream too slow", exitCode: 4, fatal: false, durationMs: 10 }])
      expect(startInstants(events)).toEqual([0, 110])
    })
  )
})

describe("SupervisorRestart: typed failures and defects", () => {
  it.effect("a typed failure under never ends Failed after one attempt, with reason and exit code", () =>
    Effect.gen(function* () {
      const { sup, untilRemoved } = yield* setup()
      let attempts = 0
      const handle = yield* sup.add(
        Task.make(
          "fragile",
          Effect.suspend(() => {
            attempts++
            return Effect.fail(TaskError.fail("upstream returned 503", { exitCode: 75 }))
          }),
          { restart: RestartPolicy.never }
        )
      )
      const outcome = yield* handle.await
      expect(outcome).toMatchObject({ _tag: "Failed", reason: "upstream returned 503", exitCode: 75 })
      const events = yield* untilRemoved
      expect(tags(events)).toEqual(["TaskAdded", "AttemptStarting", "AttemptFailed", "TaskFinished", "TaskRemoved"])
      expect(ofTag("TaskFinished")(events)[0]).toMatchObject({
        outcome: "Failed",
        reason: "upstream returned 503",
        exitCode: 75
      })
      yield* TestTime.adjust("1 hour")
      expect(attempts).toBe(1)
    })
  )

  it.effect("a plain (non-TaskError) failure is retried per policy", () =>
    Effect.gen(function* () {
      const { sup, untilRemoved } = yield* setup()
      const handle = yield* sup.add(
        Task.make("plain", script(Effect.fail("oops"), Effect.void), { backoff: Backoff.constant("10 millis") })
      )
      const outcome = yield* Effect.forkChild(handle.await)
      yield* TestTime.adjust("10 millis")
      expect(yield* Fiber.join(outcome)).toEqual(TaskOutcome.completed)
      const events = yield* untilRemoved
      expect(ofTag("AttemptFailed")(events).map((e) => [e.reason, e.fatal])).toEqual([["oops", false]])
      expect(startInstants(events)).toEqual([0, 10])
    })
  )

  it.effect("Effect.die is retried; its message is in AttemptFailed, TaskInfo.lastFailure and the Failed outcome", () =>
    Effect.gen(function* () {
      const { sup, waitFor, untilRemoved } = yield* setup()
      let attempts = 0
      const handle = yield* sup.add(
        Task.make(
          "dies",
          Effect.suspend(() => {
            attempts++
            return Effect.die(new Error("kaboom"))
          }),
          { maxRetries: 1, backoff: Backoff.constant("100 millis") }
        )
      )
      const failed = yield* waitFor("AttemptFailed")
      expect(failed).toMatchObject({ attempt: 1, reason: "defect: Error: kaboom", fatal: false })
      yield* waitFor("BackoffScheduled")
      const info = Option.getOrThrow(yield* sup.get("dies"))
      expect(info.lastFailure).toEqual(Option.some("defect: Error: kaboom"))
      expect(info.state).toBe("backing-off")
      const outcome = yield* Effect.forkChild(handle.await)
      yield* TestTime.adjust("100 millis")
      const final = yield* Fiber.join(outcome)
      if (final._tag !== "Failed") return expect.fail(`expected Failed, got ${final._tag}`)
      expect(final.reason).toBe("retry limit reached after 1 of 1 retries: defect: Error: kaboom")
      expect(final.exitCode).toBeUndefined()
      expect(Result.getSuccess(Cause.findDefect(final.cause!))).toEqual(Option.some(new Error("kaboom")))
      expect(attempts).toBe(2)
      const events = yield* untilRemoved
      expect(ofTag("AttemptFailed")(events).map((e) => e.reason)).toEqual([
        "defect: Error: kaboom",
        "defect: Error: kaboom"
      ])
    })
  )

  it.effect("a throw inside Effect.sync is a defect, retried per policy", () =>
    Effect.gen(function* () {
      const { sup, untilRemoved } = yield* setup()
      const attempt = script(
        Effect.sync(() => {
          throw new Error("thrown in sync")
        }),
        Effect.void
      )
      const handle = yield* sup.add(Task.make("throws", attempt, { backoff: Backoff.constant("10 millis") }))
      const outcome = yield* Effect.forkChild(handle.await)
      yield* TestTime.adjust("10 millis")
      expect(yield* Fiber.join(outcome)).toEqual(TaskOutcome.completed)
      const events = yield* untilRemoved
      expect(ofTag("AttemptFailed")(events).map((e) => [e.reason, e.fatal])).toEqual([
        ["defect: Error: thrown in sync", false]
      ])
      expect(ofTag("BackoffScheduled")(events)).toMatchObject([
        { source: "failure", delayMs: 10, reason: "defect: Error: thrown in sync" }
      ])
    })
  )

  it.effect("a defect under never ends Failed after one attempt, the reason naming the defect", () =>
    Effect.gen(function* () {
      const { sup } = yield* setup()
      const handle = yield* sup.add(Task.once("dies-once", Effect.die(new Error("kaboom"))))
      expect(yield* handle.await).toMatchObject({ _tag: "Failed", reason: "defect: Error: kaboom" })
    })
  )

  it.effect("a failure under always is retried with backoff (not after the success interval)", () =>
    Effect.gen(function* () {
      const { sup, untilRemoved } = yield* setup()
      yield* sup.add(
        Task.make("a", script(Effect.fail(TaskError.fail("x")), Effect.void), {
          restart: RestartPolicy.always({ interval: "1 second" }),
          backoff: Backoff.constant("30 millis")
        })
      )
      yield* TestTime.adjust("1030 millis")
      yield* sup.remove("a")
      const events = yield* untilRemoved
      expect(startInstants(events)).toEqual([0, 30, 1030])
    })
  )
})

describe("SupervisorRestart: self-interruption", () => {
  it.effect("Effect.interrupt inside an attempt (no stop requested) is a retryable failure", () =>
    Effect.gen(function* () {
      const { sup, untilRemoved } = yield* setup()
      const handle = yield* sup.add(
        Task.make("self-interrupt", script(Effect.interrupt, Effect.void), { backoff: Backoff.constant("10 millis") })
      )
      const outcome = yield* Effect.forkChild(handle.await)
      yield* TestTime.adjust("10 millis")
      expect(yield* Fiber.join(outcome)).toEqual(TaskOutcome.completed)
      const events = yield* untilRemoved
      expect(tags(events)).toEqual([
        "TaskAdded",
        "AttemptStarting",
        "AttemptFailed",
        "BackoffScheduled",
        "AttemptStarting",
        "AttemptSucceeded",
        "TaskFinished",
        "TaskRemoved"
      ])
      expect(ofTag("AttemptFailed")(events)[0]).toMatchObject({
        reason: "the attempt was interrupted without a stop request",
        fatal: false
      })
      expect(ofTag("AttemptCanceled")(events)).toEqual([])
      expect(startInstants(events)).toEqual([0, 10])
    })
  )

  it.effect("Effect.interrupt inside an attempt under never ends Failed, not Canceled", () =>
    Effect.gen(function* () {
      const { sup } = yield* setup()
      const handle = yield* sup.add(Task.once("self-interrupt-once", Effect.interrupt))
      expect(yield* handle.await).toMatchObject({
        _tag: "Failed",
        reason: "the attempt was interrupted without a stop request"
      })
    })
  )
})

describe("SupervisorRestart: TaskContext", () => {
  it.effect("attempt is 1-based and increasing; name and id are the task's; isCancelled is false", () =>
    Effect.gen(function* () {
      const { sup } = yield* setup()
      const seen: Array<{ name: string; id: number; attempt: number; isCancelled: boolean }> = []
      const attempt = Effect.gen(function* () {
        const ctx = yield* TaskContext.TaskContext
        seen.push({ name: ctx.name, id: ctx.id, attempt: ctx.attempt, isCancelled: yield* ctx.isCancelled })
        if (ctx.attempt < 3) return yield* Effect.fail(TaskError.fail("again"))
      })
      const handle = yield* sup.add(Task.make("ctx", attempt, { backoff: Backoff.constant("10 millis") }))
      const outcome = yield* Effect.forkChild(handle.await)
      yield* TestTime.adjust("20 millis")
      expect(yield* Fiber.join(outcome)).toEqual(TaskOutcome.completed)
      expect(seen).toEqual([1, 2, 3].map((n) => ({ name: "ctx", id: handle.id, attempt: n, isCancelled: false })))
    })
  )

  it.effect(
    "cancelled resumes on remove before the interruption: an uninterruptible attempt can finish as Canceled",
    () =>
      Effect.gen(function* () {
        const { sup, untilRemoved } = yield* setup()
        const parked = yield* Deferred.make<void>()
        let attempts = 0
        let sawCancelled: boolean | undefined = undefined
        const attempt = Effect.uninterruptible(
          Effect.gen(function* () {
            attempts++
            const ctx = yield* TaskContext.TaskContext
            yield* Deferred.succeed(parked, undefined)
            yield* ctx.cancelled
            sawCancelled = yield* ctx.isCancelled
            return yield* Effect.fail(TaskError.canceled("finished the current unit"))
          })
        )
        const handle = yield* sup.add(Task.make("coop", attempt, { restart: RestartPolicy.always() }))
        yield* Deferred.await(parked)
        expect(sawCancelled).toBeUndefined()
        expect(yield* sup.remove("coop")).toBe(true)
        const outcome = yield* handle.await
        // The stop was requested, so the supervisor's reading ("stopped by remove") wins over the returned error.
        expect(outcome).toMatchObject({ _tag: "Canceled", reason: "stopped by remove" })
        expect(sawCancelled).toBe(true)
        const events = yield* untilRemoved
        expect(tags(events)).toEqual([
          "TaskAdded",
          "AttemptStarting",
          "TaskRemoveRequested",
          "AttemptCanceled",
          "TaskFinished",
          "TaskRemoved"
        ])
        expect(ofTag("TaskRemoveRequested")(events)[0]).toMatchObject({ reason: "remove" })
        expect(ofTag("AttemptCanceled")(events)[0]).toMatchObject({ attempt: 1, reason: "stopped by remove" })
        yield* TestTime.adjust("1 hour")
        expect(attempts).toBe(1)
      })
  )
})
