/**
 * `Task.repeat` (periodic work on any `Schedule`), runs after a success that are not restarts (the
 * `scheduled` state; `restarts`, the metric and the snapshot agree) and `TaskHandle.cancel`. Every
 * timing runs on the TestClock, which starts at 0, so instants are exact epoch milliseconds.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Exit, Fiber, Metric, Option, Result, Schedule } from "effect"
import {
  Backoff,
  RestartPolicy,
  Supervisor,
  SupervisorTree,
  Task,
  TaskContext,
  TaskError,
  TaskOutcome
} from "@fibervisor/core"
import { TestTime } from "@fibervisor/vitest"
import { ofTag, script, setup, startInstants } from "../helpers/recorder.js"

/** The `fibervisor_task_restarts_total` count of the task at `path`. */
const restartsMetric = (path: string): Effect.Effect<number> =>
  Effect.map(Metric.snapshot, (snapshots) => {
    const snapshot = snapshots.find((s) => s.id === "fibervisor_task_restarts_total" && s.attributes?.["task"] === path)
    return snapshot?.type === "Counter" ? Number(snapshot.state.count) : 0
  })

const ok = (ms: number) => Effect.sleep(`${ms} millis`)
const boom = (ms: number) => Effect.andThen(Effect.sleep(`${ms} millis`), Effect.fail(TaskError.fail("boom")))

describe("TaskRepeat: runs after a success are not restarts", () => {
  it.effect(
    "Task.periodic: `restarts`, the metric and the snapshot agree; waiting for the next run is `scheduled`",
    () =>
      Effect.gen(function* () {
        const { sup, events } = yield* setup({ name: "rep-periodic" })
        // Runs 1, 2 succeed, run 3 fails (a restart after 100 ms), runs 4, 5 succeed.
        yield* sup.add(
          Task.periodic("beat", script(ok(10), ok(10), boom(10), ok(10)), "1 second").pipe(
            Task.withBackoff(Backoff.constant("100 millis"))
          )
        )
        yield* TestTime.adjust("10 millis")
        const first = Option.getOrThrow(yield* sup.get("beat"))
        expect(first).toMatchObject({ state: "scheduled", attempt: 1, restarts: 0 })
        expect(first.nextAttemptAt).toEqual(Option.some(1010))
        const node = (yield* sup.tree).tasks[0]!
        expect(node).toMatchObject({ state: "scheduled", restarts: 0, nextAttemptAt: 1010 })
        // The snapshot's schema knows the state.
        const encoded = SupervisorTree.encode(yield* sup.tree)
        expect(encoded.tasks[0]!.state).toBe("scheduled")
        // run 2 at 1010, run 3 at 2020 fails at 2030, run 4 at 2130, run 5 at 3140
        yield* TestTime.adjust("2025 millis")
        expect(Option.getOrThrow(yield* sup.get("beat"))).toMatchObject({
          state: "backing-off",
          attempt: 3,
          restarts: 1
        })
        yield* TestTime.adjust("1110 millis")
        const info = Option.getOrThrow(yield* sup.get("beat"))
        expect(info).toMatchObject({ state: "running", attempt: 5, restarts: 1 })
        expect(yield* restartsMetric("rep-periodic/beat")).toBe(1)
        // What the demo's summary counts: the starts after a retried failure.
        const retries = ofTag("BackoffScheduled")(yield* events).filter((event) => event.source === "failure")
        expect(retries.map((event) => [event.at, event.attempt])).toEqual([[2030, 3]])
        yield* sup.remove("beat")
      })
  )

  it.effect("RestartPolicy.always without interval: every run after a success is `scheduled`, never a restart", () =>
    Effect.gen(function* () {
      const { sup } = yield* setup({ name: "rep-always" })
      yield* sup.add(Task.make("hot", Effect.void, { restart: RestartPolicy.always() }))
      yield* TestTime.adjust("5 millis")
      expect(Option.getOrThrow(yield* sup.get("hot"))).toMatchObject({ attempt: 6, restarts: 0 })
      expect(yield* restartsMetric("rep-always/hot")).toBe(0)
      yield* sup.remove("hot")
    })
  )
})

describe("TaskRepeat: Task.repeat on any Schedule", () => {
  it.effect(
    "Schedule.fixed is a fixed rate from the end of the first run (as Effect.repeat), whatever each run takes",
    () =>
      Effect.gen(function* () {
        const { sup, waitFor, events } = yield* setup()
        yield* sup.add(Task.repeat("fixed", ok(300), Schedule.fixed("1 second")))
        yield* TestTime.adjust("300 millis")
        const info = Option.getOrThrow(yield* sup.get("fixed"))
        expect(info).toMatchObject({ state: "scheduled", attempt: 1, restarts: 0 })
        expect(info.nextAttemptAt).toEqual(Option.some(1300))
        yield* TestTime.adjust("3000 millis")
        yield* waitFor("AttemptStarting", (event) => event.attempt === 4)
        const recorded = yield* events
        expect(startInstants(recorded)).toEqual([0, 1300, 2300, 3300])
        expect(ofTag("BackoffScheduled")(recorded).map((e) => [e.at, e.delayMs, e.source])).toEqual([
          [300, 1000, "success"],
          [1600, 700, "success"],
          [2600, 700, "success"]
        ])
        expect(Option.getOrThrow(yield* sup.get("fixed")).restarts).toBe(0)
        yield* sup.remove("fixed")
      })
  )

  it.effect("Schedule.spaced pauses after each run; Schedule.recurs ends the task as Completed", () =>
    Effect.gen(function* () {
      const { sup, waitFor, events } = yield* setup()
      const handle = yield* sup.add(
        Task.repeat("spaced", ok(200), Schedule.max([Schedule.spaced("500 millis"), Schedule.recurs(2)]))
      )
      yield* TestTime.adjust("2 seconds")
      expect(yield* handle.await).toEqual(TaskOutcome.completed)
      yield* waitFor("TaskRemoved")
      const recorded = yield* events
      expect(startInstants(recorded)).toEqual([0, 700, 1400])
      expect(ofTag("TaskFinished")(recorded).map((e) => [e.at, e.outcome])).toEqual([[1600, "Completed"]])
    })
  )

  it.effect("the schedule's input is the value each run succeeded with", () =>
    Effect.gen(function* () {
      const { sup } = yield* setup()
      const run = Effect.map(TaskContext.TaskContext, (ctx) => ctx.attempt * 10)
      const handle = yield* sup.add(
        Task.repeat(
          "input",
          run,
          Schedule.spaced("1 second").pipe(Schedule.while(({ input }: { input: number }) => input < 30))
        )
      )
      yield* TestTime.adjust("5 seconds")
      expect(yield* handle.await).toEqual(TaskOutcome.completed)
      // 10, 20 go on; 30 ends it: three runs.
      expect(yield* sup.list).toEqual([])
    })
  )

  it.effect("Schedule.cron: the next run at the next matching minute (UTC)", () =>
    Effect.gen(function* () {
      const { sup, waitFor, events } = yield* setup()
      yield* sup.add(Task.repeat("cron", ok(100), Schedule.cron("*/15 * * * *", "UTC")))
      yield* TestTime.adjust("100 millis")
      expect(Option.getOrThrow(yield* sup.get("cron"))).toMatchObject({
        state: "scheduled",
        nextAttemptAt: Option.some(15 * 60_000)
      })
      yield* TestTime.adjust(`${30 * 60_000} millis`)
      yield* waitFor("AttemptStarting", (event) => event.attempt === 3)
      expect(startInstants(yield* events)).toEqual([0, 15 * 60_000, 30 * 60_000])
      yield* sup.remove("cron")
    })
  )

  it.effect("a failed run goes through the backoff and does not step the schedule", () =>
    Effect.gen(function* () {
      const { sup, waitFor, events } = yield* setup({ name: "rep-fail" })
      // recurs(2): three successful runs in all; the failure in between is retried, not counted.
      const handle = yield* sup.add(
        Task.repeat(
          "flaky",
          script(ok(10), boom(10), ok(10)),
          Schedule.max([Schedule.spaced("1 second"), Schedule.recurs(2)]),
          { backoff: Backoff.constant("100 millis") }
        )
      )
      yield* TestTime.adjust("1020 millis")
      expect(Option.getOrThrow(yield* sup.get("flaky"))).toMatchObject({
        state: "backing-off",
        attempt: 2,
        restarts: 1,
        lastFailure: Option.some("boom")
      })
      yield* TestTime.adjust("2 seconds")
      expect(yield* handle.await).toEqual(TaskOutcome.completed)
      yield* waitFor("TaskRemoved")
      const recorded = yield* events
      // 0 ok, 1010 fails at 1020, 1120 ok, 2130 ok (the schedule's 2nd and last recurrence)
      expect(startInstants(recorded)).toEqual([0, 1010, 1120, 2130])
      expect(ofTag("BackoffScheduled")(recorded).map((e) => [e.at, e.source])).toEqual([
        [10, "success"],
        [1020, "failure"],
        [1130, "success"]
      ])
      expect(yield* restartsMetric("rep-fail/flaky")).toBe(1)
    })
  )

  it.effect("timeout applies to each run; maxRetries ends the task", () =>
    Effect.gen(function* () {
      const { sup } = yield* setup()
      const handle = yield* sup.add(
        Task.repeat("slow", script(ok(10), Effect.never), Schedule.spaced("1 second"), {
          timeout: "100 millis",
          maxRetries: 0
        })
      )
      yield* TestTime.adjust("1110 millis")
      const outcome = yield* handle.await
      expect(outcome).toMatchObject({
        _tag: "Failed",
        reason: "retry limit reached after 0 of 0 retries: attempt timed out after 100 ms"
      })
    })
  )

  // Effect 3's `Schedule.cron` died on a bad expression; Effect 4's fails the step with a `CronParseError`.
  it.effect("a schedule that fails when stepped (a bad cron expression) ends the task as Failed", () =>
    Effect.gen(function* () {
      const { sup } = yield* setup()
      const handle = yield* sup.add(Task.repeat("bad-cron", Effect.void, Schedule.cron("not a cron")))
      const outcome = yield* handle.await
      expect(outcome._tag).toBe("Failed")
      expect(TaskOutcome.reason(outcome)).toMatch(/^the repeat schedule failed: /)
    })
  )

  it.effect("a significant Task.repeat whose schedule ends completes an any-significant supervisor", () =>
    Effect.gen(function* () {
      const sup = yield* Supervisor.make({ autoShutdown: "any-significant" })
      yield* sup.add(Task.repeat("batch", Effect.void, Schedule.recurs(1), { significant: true }))
      yield* TestTime.adjust("10 millis")
      yield* sup.join
      expect(yield* sup.isShuttingDown).toBe(true)
    })
  )

  it.effect("bad input is refused by name: not a Schedule, `restart` next to the schedule, unknown keys", () =>
    Effect.gen(function* () {
      const notSchedule = yield* Effect.flip(Task.validate(Task.repeat("a", Effect.void, "1 second" as never)))
      expect([notSchedule.field, notSchedule.reason]).toEqual([
        "restart.schedule",
        'must be a Schedule, got "1 second"'
      ])
      const both = yield* Effect.flip(
        Task.validate(Task.repeat("b", Effect.void, Schedule.forever, { restart: RestartPolicy.never } as never))
      )
      expect([both.field, both.reason]).toEqual([
        "restart",
        "cannot be set on a Task.repeat task: its schedule is its restart policy"
      ])
      const typo = yield* Effect.flip(
        Task.validate(Task.repeat("c", Effect.void, Schedule.forever, { timout: 1 } as never))
      )
      expect(typo.field).toBe("timout")
      const options = yield* Effect.flip(Task.validate(Task.repeat("d", Effect.void, Schedule.forever, 5 as never)))
      expect(options.field).toBe("options")
      // The same checks through RestartPolicy.repeat.
      const policy = yield* Effect.result(
        Task.validate(Task.make("e", Effect.void, { restart: RestartPolicy.repeat(Schedule.spaced("1 second")) }))
      )
      expect(Result.isSuccess(policy)).toBe(true)
    })
  )
})

describe("TaskRepeat: TaskHandle.cancel", () => {
  it.effect("stops the task, waits for its cleanup and returns what sup.cancel returns", () =>
    Effect.gen(function* () {
      const { sup } = yield* setup()
      let cleaned = -1
      const handle = yield* sup.add(
        Task.make(
          "svc",
          Effect.andThen(
            Effect.addFinalizer(() =>
              Effect.andThen(
                Effect.sleep("200 millis"),
                Effect.flatMap(
                  Effect.clockWith((clock) => clock.currentTimeMillis),
                  (now) => Effect.sync(() => void (cleaned = now))
                )
              )
            ),
            Effect.never
          )
        )
      )
      yield* TestTime.adjust("50 millis")
      const fiber = yield* Effect.forkChild(handle.cancel())
      yield* TestTime.adjust("200 millis")
      expect(yield* Fiber.await(fiber)).toEqual(Exit.succeed(true))
      expect(cleaned).toBe(250)
      expect(yield* handle.await).toMatchObject({ _tag: "Canceled", reason: "stopped by cancel" })
      // Gone: like sup.cancel of an unknown task.
      expect(yield* handle.cancel()).toBe(false)
    })
  )

  it.effect("with a timeout, gives up waiting with TaskTerminationTimeout; a bad option is InvalidArgument", () =>
    Effect.gen(function* () {
      const { sup } = yield* setup()
      const handle = yield* sup.add(
        Task.make(
          "stuck",
          Effect.andThen(
            Effect.addFinalizer(() => Effect.sleep("1 second")),
            Effect.never
          )
        )
      )
      yield* TestTime.adjust("1 millis")
      const bad = yield* Effect.flip(handle.cancel({ timeout: -1 }))
      expect(bad._tag).toBe("InvalidArgument")
      const fiber = yield* Effect.forkChild(Effect.flip(handle.cancel({ timeout: "100 millis" })))
      yield* TestTime.adjust("100 millis")
      const error = yield* Fiber.join(fiber)
      expect(error).toMatchObject({ _tag: "TaskTerminationTimeout", task: "stuck", timeoutMs: 100 })
      yield* TestTime.adjust("900 millis")
      expect((yield* handle.await)._tag).toBe("Canceled")
    })
  )

  it.effect("works for a controller submission", () =>
    Effect.gen(function* () {
      const { sup } = yield* setup()
      const handle = yield* sup.submit(Task.make("job", Effect.never), { admission: "queue" })
      yield* TestTime.adjust("1 millis")
      expect(yield* handle.cancel()).toBe(true)
      expect((yield* handle.await)._tag).toBe("Canceled")
    })
  )
})
