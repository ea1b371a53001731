/**
 * Retry budget, backoff schedules, `resetAfter`, seeded jitter and the `TaskInfo` a task shows while
 * it backs off (the design's "RestartPolicy, Backoff", "Supervisor"). Every timing runs on the
 * TestClock, which starts at 0, so event instants (`at`) are exact epoch milliseconds.
 */
import { describe, expect, it } from "@effect/vitest"
import { Clock, Effect, Fiber, Option, Random, Schedule } from "effect"
import { Backoff, RestartPolicy, Task, TaskError, TaskOutcome } from "@fibervisor/core"
import { TestTime } from "@fibervisor/vitest"
import { type Ev, ofTag, script, setup, startInstants } from "../helpers/recorder.js"

const failureDelays = (events: ReadonlyArray<Ev>) =>
  ofTag("BackoffScheduled")(events)
    .filter((event) => event.source === "failure")
    .map((event) => event.delayMs)

const nope = Effect.fail(TaskError.fail("nope", { exitCode: 75 }))

describe("SupervisorRestart: maxRetries", () => {
  for (const n of [0, 1, 3]) {
    it.effect(`maxRetries = ${n} allows exactly ${n + 1} consecutive failed attempts`, () =>
      Effect.gen(function* () {
        const { sup, untilRemoved } = yield* setup()
        let attempts = 0
        const handle = yield* sup.add(
          Task.make(
            "budget",
            Effect.suspend(() => {
              attempts++
              return nope
            }),
            { maxRetries: n, backoff: Backoff.constant("10 millis") }
          )
        )
        const outcome = yield* Effect.forkChild(handle.await)
        if (n > 0) {
          yield* TestTime.adjust(`${n * 10 - 1} millis`)
          expect(attempts).toBe(n)
          expect(yield* handle.poll).toEqual(Option.none())
          yield* TestTime.adjust("1 millis")
        }
        const reason = `retry limit reached after ${n} of ${n} retries: nope`
        const final = yield* Fiber.join(outcome)
        expect(final).toMatchObject({ _tag: "Failed", reason, exitCode: 75 })
        expect(attempts).toBe(n + 1)
        const events = yield* untilRemoved
        expect(startInstants(events)).toEqual(Array.from({ length: n + 1 }, (_, i) => i * 10))
        expect(ofTag("AttemptFailed")(events)).toHaveLength(n + 1)
        expect(failureDelays(events)).toEqual(Array.from({ length: n }, () => 10))
        expect(ofTag("TaskFinished")(events)[0]).toMatchObject({ outcome: "Failed", reason, exitCode: 75 })
        yield* TestTime.adjust("1 hour")
        expect(attempts).toBe(n + 1)
      })
    )
  }

  it.effect("a success under always resets the failure streak and the backoff schedule", () =>
    Effect.gen(function* () {
      const { sup, untilRemoved } = yield* setup()
      // fail, fail, succeed, fail, fail, fail: with maxRetries 2 only the third failure in a row gives up.
      const attempt = script(nope, nope, Effect.void, nope, nope, nope, Effect.void)
      const handle = yield* sup.add(
        Task.make("streak", attempt, {
          restart: RestartPolicy.always(),
          maxRetries: 2,
          backoff: Backoff.exponential({ first: "10 millis", jitter: "none" })
        })
      )
      const outcome = yield* Effect.forkChild(handle.await)
      yield* TestTime.adjust("60 millis")
      expect(yield* handle.poll).toEqual(Option.none())
      yield* TestTime.adjust("1 millis")
      expect(yield* Fiber.join(outcome)).toMatchObject({
        _tag: "Failed",
        reason: "retry limit reached after 2 of 2 retries: nope"
      })
      const events = yield* untilRemoved
      // 0 F +10 | 10 F +20 | 30 ok +1 | 31 F +10 (schedule restarted) | 41 F +20 | 61 F → gives up
      expect(startInstants(events)).toEqual([0, 10, 30, 31, 41, 61])
      expect(failureDelays(events)).toEqual([10, 20, 10, 20])
      expect(ofTag("AttemptSucceeded")(events).map((e) => e.attempt)).toEqual([3])
    })
  )

  it.effect("success-driven restarts under always never consume the retry budget", () =>
    Effect.gen(function* () {
      const { sup, untilRemoved } = yield* setup()
      let attempts = 0
      yield* sup.add(
        Task.make(
          "ok",
          Effect.sync(() => ++attempts),
          { restart: RestartPolicy.always({ interval: "1 second" }), maxRetries: 0 }
        )
      )
      yield* TestTime.adjust("5 seconds")
      expect(attempts).toBe(6)
      expect(yield* sup.remove("ok")).toBe(true)
      const events = yield* untilRemoved
      expect(startInstants(events)).toEqual([0, 1000, 2000, 3000, 4000, 5000])
      expect(ofTag("TaskFinished")(events)[0]).toMatchObject({ outcome: "Canceled" })
    })
  )
})

describe("SupervisorRestart: resetAfter", () => {
  const longFailure = Effect.andThen(Effect.sleep("1 second"), nope)

  it.effect("an attempt that ran resetAfter before failing restarts the backoff at `first`", () =>
    Effect.gen(function* () {
      const { sup, waitFor, untilRemoved } = yield* setup()
      const attempt = script(nope, nope, nope, longFailure, nope)
      yield* sup.add(
        Task.make("healthy-then-flaky", attempt, {
          backoff: Backoff.exponential({ first: "100 millis", jitter: "none" }),
          resetAfter: "1 second"
        })
      )
      // Step the clock to 1 ms before, then to, each expected start instant: exactly one attempt begins there.
      const attemptNow = Effect.map(sup.get("healthy-then-flaky"), (info) => Option.getOrThrow(info).attempt)
      const expectedStarts = [0, 100, 300, 700, 1800, 2000, 2400]
      yield* waitFor("AttemptStarting")
      expect(yield* attemptNow).toBe(1)
      for (let i = 1; i < expectedStarts.length; i++) {
        yield* TestTime.adjust(`${expectedStarts[i] - expectedStarts[i - 1] - 1} millis`)
        expect(yield* attemptNow).toBe(i)
        yield* TestTime.adjust("1 millis")
        expect(yield* attemptNow).toBe(i + 1)
      }
      yield* sup.remove("healthy-then-flaky")
      const events = yield* untilRemoved
      expect(startInstants(events)).toEqual([0, 100, 300, 700, 1800, 2000, 2400])
      expect(failureDelays(events)).toEqual([100, 200, 400, 100, 200, 400, 800])
      expect(ofTag("AttemptFailed")(events).map((e) => e.durationMs)).toEqual([0, 0, 0, 1000, 0, 0, 0])
    })
  )

  it.effect("an attempt shorter than resetAfter keeps the backoff growing", () =>
    Effect.gen(function* () {
      const { sup, untilRemoved } = yield* setup()
      const attempt = script(nope, nope, nope, Effect.andThen(Effect.sleep("999 millis"), nope), nope)
      yield* sup.add(
        Task.make("not-long-enough", attempt, {
          backoff: Backoff.exponential({ first: "100 millis", jitter: "none" }),
          resetAfter: "1 second"
        })
      )
      yield* TestTime.adjust("2499 millis")
      yield* sup.remove("not-long-enough")
      const events = yield* untilRemoved
      expect(startInstants(events)).toEqual([0, 100, 300, 700, 2499])
      expect(failureDelays(events)).toEqual([100, 200, 400, 800, 1600])
    })
  )

  it.effect("resetAfter also resets the retry streak counted by maxRetries", () =>
    Effect.gen(function* () {
      const { sup, untilRemoved } = yield* setup()
      const attempt = script(nope, longFailure, nope, nope)
      const handle = yield* sup.add(
        Task.make("budget-reset", attempt, {
          maxRetries: 1,
          backoff: Backoff.constant("10 millis"),
          resetAfter: "1 second"
        })
      )
      const outcome = yield* Effect.forkChild(handle.await)
      yield* TestTime.adjust("1019 millis")
      expect(yield* handle.poll).toEqual(Option.none())
      yield* TestTime.adjust("1 millis")
      expect(yield* Fiber.join(outcome)).toMatchObject({
        _tag: "Failed",
        reason: "retry limit reached after 1 of 1 retries: nope"
      })
      const events = yield* untilRemoved
      // 0 F (streak 1) | 10..1010 F, long: streak restarts at 1 | 1020 F (streak 2 > 1) → gives up
      expect(startInstants(events)).toEqual([0, 10, 1020])
    })
  )
})

describe("SupervisorRestart: backoff schedules", () => {
  it.effect("a backoff Schedule that ends gives up with Failed: retry budget exhausted (Schedule.recurs)", () =>
    Effect.gen(function* () {
      const { sup, untilRemoved } = yield* setup()
      let attempts = 0
      const handle = yield* sup.add(
        Task.make(
          "recurs",
          Effect.suspend(() => {
            attempts++
            return nope
          }),
          { backoff: Schedule.recurs(2) }
        )
      )
      const outcome = yield* handle.await
      expect(outcome).toMatchObject({
        _tag: "Failed",
        reason: "retry budget exhausted: the backoff schedule ended after 2 retries: nope",
        exitCode: 75
      })
      expect(attempts).toBe(3)
      const events = yield* untilRemoved
      expect(startInstants(events)).toEqual([0, 0, 0])
      expect(failureDelays(events)).toEqual([0, 0])
    })
  )

  it.effect(
    "Backoff.constant intersected with Schedule.recurs(2) (Schedule.max) retries twice, 50 ms apart, then gives up",
    () =>
      Effect.gen(function* () {
        const { sup, untilRemoved } = yield* setup()
        const handle = yield* sup.add(
          Task.make("bounded", nope, {
            backoff: Schedule.max([Backoff.constant("50 millis"), Schedule.recurs(2)])
          })
        )
        const outcome = yield* Effect.forkChild(handle.await)
        yield* TestTime.adjust("99 millis")
        expect(yield* handle.poll).toEqual(Option.none())
        yield* TestTime.adjust("1 millis")
        const final = yield* Fiber.join(outcome)
        expect(final).toMatchObject({
          _tag: "Failed",
          reason: "retry budget exhausted: the backoff schedule ended after 2 retries: nope"
        })
        const events = yield* untilRemoved
        expect(startInstants(events)).toEqual([0, 50, 100])
        expect(failureDelays(events)).toEqual([50, 50])
        expect(ofTag("TaskFinished")(events)[0]).toMatchObject({ outcome: "Failed", reason: TaskOutcome.reason(final) })
      })
  )

  const anySchedule = [
    ["Schedule.spaced(30 ms)", Schedule.spaced("30 millis"), [30, 30, 30], [0, 30, 60, 90]],
    ["Schedule.exponential(10 ms)", Schedule.exponential("10 millis"), [10, 20, 40], [0, 10, 30, 70]],
    ["Schedule.fibonacci(10 ms)", Schedule.fibonacci("10 millis"), [10, 10, 20], [0, 10, 20, 40]]
  ] as const

  for (const [label, backoff, delays, starts] of anySchedule) {
    it.effect(`${label} works as a backoff`, () =>
      Effect.gen(function* () {
        const { sup, untilRemoved } = yield* setup()
        const handle = yield* sup.add(Task.make("any", script(nope, nope, nope, Effect.void), { backoff }))
        const outcome = yield* Effect.forkChild(handle.await)
        yield* TestTime.adjust(`${starts[3]} millis`)
        expect(yield* Fiber.join(outcome)).toEqual(TaskOutcome.completed)
        const events = yield* untilRemoved
        expect(failureDelays(events)).toEqual(delays)
        expect(startInstants(events)).toEqual(starts)
      })
    )
  }

  it.effect("the backoff schedule is stepped once per failure with the TaskFailure", () =>
    Effect.gen(function* () {
      const { sup } = yield* setup()
      const inputs: Array<Backoff.TaskFailure> = []
      const backoff = Schedule.tap(Backoff.constant("10 millis"), ({ input }) => Effect.sync(() => inputs.push(input)))
      const attempt = script(Effect.fail(TaskError.fail("first")), Effect.never, Effect.void)
      const handle = yield* sup.add(Task.make("inputs", attempt, { backoff, timeout: "50 millis" }))
      const outcome = yield* Effect.forkChild(handle.await)
      yield* TestTime.adjust("70 millis")
      expect(yield* Fiber.join(outcome)).toEqual(TaskOutcome.completed)
      expect(
        inputs.map(({ attempt, id, reason, streak, task, timedOut }) => ({
          task,
          id,
          attempt,
          streak,
          reason,
          timedOut
        }))
      ).toEqual([
        { task: "inputs", id: handle.id, attempt: 1, streak: 1, reason: "first", timedOut: false },
        {
          task: "inputs",
          id: handle.id,
          attempt: 2,
          streak: 2,
          reason: "attempt timed out after 50 ms",
          timedOut: true
        }
      ])
    })
  )
})

describe("SupervisorRestart: seeded jitter", () => {
  const run = (seed: number) =>
    Effect.suspend(() =>
      Effect.scoped(
        Effect.gen(function* () {
          const { sup, untilRemoved } = yield* setup()
          const t0 = yield* Clock.currentTimeMillis
          // The default backoff: exponential 200 ms ×2, equal jitter.
          const handle = yield* sup.add(Task.make("jittered", nope, { maxRetries: 5 }))
          const outcome = yield* Effect.forkChild(handle.await)
          yield* TestTime.adjust("1 minute")
          expect(yield* Fiber.join(outcome)).toMatchObject({ _tag: "Failed" })
          const events = yield* untilRemoved
          return { delays: failureDelays(events), starts: startInstants(events).map((at) => at - t0) }
        })
      ).pipe(Random.withSeed(seed))
    )

  it.effect("the default backoff's jitter is reproducible with a seeded Random", () =>
    Effect.gen(function* () {
      const first = yield* run(42)
      const second = yield* run(42)
      expect(second).toEqual(first)
      // The exact delays: equal jitter draws d/2 + r·d/2 (whole ms) from the seeded generator.
      const draws = yield* Random.withSeed(Effect.replicateEffect(Random.next, 5), 42)
      const expected = draws.map((r, i) => {
        const base = 200 * 2 ** i
        return Math.floor(base / 2 + (r * base) / 2)
      })
      expect(first.delays).toEqual(expected)
      first.delays.forEach((delay, i) => {
        const base = 200 * 2 ** i
        expect(delay).toBeGreaterThanOrEqual(base / 2)
        expect(delay).toBeLessThanOrEqual(base)
      })
      let at = 0
      expect(first.starts).toEqual([0, ...first.delays.map((delay) => (at += delay))])
      const other = yield* run(7)
      expect(other.delays).not.toEqual(first.delays)
    })
  )
})

describe("SupervisorRestart: TaskInfo while backing off", () => {
  it.effect("get and list show backing-off with attempt, restarts, lastFailure and nextAttemptAt", () =>
    Effect.gen(function* () {
      const { sup, waitFor } = yield* setup()
      yield* TestTime.adjust("1 second")
      const attempt = script(
        Effect.fail(TaskError.fail("db down")),
        Effect.andThen(Effect.sleep("30 millis"), Effect.fail(TaskError.fail("db still down"))),
        Effect.never
      )
      const handle = yield* sup.add(
        Task.make("db", attempt, { backoff: Backoff.exponential({ first: "250 millis", jitter: "none" }) })
      )
      yield* waitFor("BackoffScheduled")
      const first = Option.getOrThrow(yield* sup.get("db"))
      expect(first).toEqual({
        id: handle.id,
        name: "db",
        path: "root/db",
        kind: "worker",
        state: "backing-off",
        attempt: 1,
        restarts: 1,
        lastFailure: Option.some("db down"),
        nextAttemptAt: Option.some(1250)
      })
      expect(yield* sup.list).toEqual([first])
      expect(yield* sup.get(handle.id)).toEqual(Option.some(first))

      yield* TestTime.adjust("249 millis")
      expect(Option.getOrThrow(yield* sup.get("db"))).toEqual(first)
      yield* TestTime.adjust("1 millis")
      yield* waitFor("AttemptStarting", (e) => e.attempt === 2)
      expect(Option.getOrThrow(yield* sup.get("db"))).toEqual({
        ...first,
        state: "running",
        attempt: 2,
        nextAttemptAt: Option.none()
      })

      yield* TestTime.adjust("30 millis")
      yield* waitFor("BackoffScheduled", (e) => e.attempt === 2)
      // failed at 1280; second retry waits 500 ms
      const second = Option.getOrThrow(yield* sup.get("db"))
      expect(second).toEqual({
        ...first,
        attempt: 2,
        restarts: 2,
        lastFailure: Option.some("db still down"),
        nextAttemptAt: Option.some(1780)
      })
      expect(yield* sup.list).toEqual([second])

      yield* TestTime.adjust("500 millis")
      yield* waitFor("AttemptStarting", (e) => e.attempt === 3)
      expect(Option.getOrThrow(yield* sup.get("db"))).toEqual({
        ...second,
        state: "running",
        attempt: 3,
        nextAttemptAt: Option.none()
      })
      expect(yield* sup.cancel("db")).toBe(true)
      expect(yield* sup.get("db")).toEqual(Option.none())
    })
  )
})
