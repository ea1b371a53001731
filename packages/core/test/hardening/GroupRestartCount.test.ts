/**
 * Siblings that fail in the same instant under `one-for-all` / `rest-for-one` cause one group
 * restart, counted once against the restart intensity, and each child's `restarts` grows by one:
 * a failure that a pending group restart starts again anyway joins it. "The same instant" here is
 * a shared dependency failing (children waiting on one `Deferred` resume in one scheduler turn,
 * before the group restart runs), or a child failing while the restart under way stops its
 * siblings. Every timing runs on the TestClock (it starts at 0, so instants are exact).
 */
import { describe, expect, it } from "@effect/vitest"
import { Deferred, Effect, Exit, Fiber, Option } from "effect"
import { Backoff, Supervisor, SupervisorError, Task, TaskError } from "@fibervisor/core"
import { TestTime } from "@fibervisor/vitest"
import { type Ev, flush, type Log, makeLog, recorded, setupTree, timeline } from "../helpers/tree.js"

type Body = (attempt: number) => Effect.Effect<unknown, TaskError.Fail>

/** Attempt 1 (after `delayMs`, if any) waits for `lost`, then fails with "lost"; later attempts run forever. */
const failsOn =
  (lost: Deferred.Deferred<void>, delayMs = 0): Body =>
  (attempt) =>
    attempt === 1
      ? Effect.sleep(delayMs).pipe(
          Effect.andThen(Deferred.await(lost)),
          Effect.andThen(Effect.fail(TaskError.fail("lost")))
        )
      : Effect.never

/** Attempts in `failing` fail with "boom" `ms` after they start; the others run forever. */
const failsAfter =
  (ms: number, failing: ReadonlyArray<number> = [1]): Body =>
  (attempt) =>
    failing.includes(attempt) ? Effect.andThen(Effect.sleep(ms), Effect.fail(TaskError.fail("boom"))) : Effect.never

/**
 * Like `failsAfter(ms)`, but reached through two sleeps of `ms / 2`: it fails in the same instant as
 * a sibling's `failsAfter(ms)`, and its wake-up is registered after the sibling's. Effect 4's
 * TestClock wakes sleeps that end in the same instant in the order they were registered (Effect
 * 3's woke the latest first), so the sibling wakes first.
 */
const failsAfterTwoSleeps =
  (ms: number): Body =>
  (attempt) =>
    attempt === 1 ? Effect.andThen(Effect.sleep(ms / 2), failsAfter(ms / 2)(attempt)) : Effect.never

const forever: Body = () => Effect.never

/** A child whose attempts `body` runs, with a constant 100 ms backoff. */
const child = (log: Log, name: string, body: Body) =>
  Task.make(name, recorded(log, body), { backoff: Backoff.constant("100 millis") })

const shown: ReadonlyArray<Ev["_tag"]> = [
  "AttemptStarting",
  "AttemptFailed",
  "AttemptCanceled",
  "BackoffScheduled",
  "GroupRestart",
  "RestartIntensityExceeded",
  "TaskFinished"
]

/** `[name, state, attempt, restarts]` of every task. */
const counters = (sup: Supervisor.Supervisor) =>
  Effect.map(sup.list, (tasks) => tasks.map(({ attempt, name, restarts, state }) => [name, state, attempt, restarts]))

const running = (names: ReadonlyArray<string>, attempt = 2, restarts = 1) =>
  names.map((name) => [name, "running", attempt, restarts])

describe("GroupRestartCount: one-for-all, siblings failing in the same instant", () => {
  it.effect("two children lose their dependency at 10 ms, maxRestarts 1: one group restart, not exceeded", () =>
    Effect.gen(function* () {
      const { events, sup } = yield* setupTree({
        strategy: "one-for-all",
        intensity: { maxRestarts: 1, within: "1 second" }
      })
      const log = makeLog()
      const lost = yield* Deferred.make<void>()
      yield* sup.add(child(log, "a", failsOn(lost)))
      yield* sup.add(child(log, "b", failsOn(lost)))
      yield* sup.add(child(log, "c", forever))
      yield* TestTime.adjust("10 millis")
      yield* Deferred.succeed(lost, undefined)
      yield* flush
      expect(yield* counters(sup)).toEqual([
        ["a", "backing-off", 1, 1],
        ["b", "waiting", 1, 1],
        ["c", "waiting", 1, 0]
      ])
      yield* TestTime.adjust("100 millis")
      expect(timeline(yield* events, shown)).toEqual([
        "0 AttemptStarting root/a #1",
        "0 AttemptStarting root/b #1",
        "0 AttemptStarting root/c #1",
        "10 AttemptFailed root/a #1 lost",
        "10 BackoffScheduled root/a failure 100",
        // b joins a's restart: no backoff of its own, no second GroupRestart.
        "10 AttemptFailed root/b #1 lost",
        "10 GroupRestart root one-for-all trigger=a affected=a,b,c",
        "10 AttemptCanceled root/c #1 stopped by group-restart",
        "110 AttemptStarting root/a #2",
        "110 AttemptStarting root/b #2",
        "110 AttemptStarting root/c #2"
      ])
      expect(log.lines("start").slice(3)).toEqual(["110 start root/a#2", "110 start root/b#2", "110 start root/c#2"])
      expect(yield* counters(sup)).toEqual(running(["a", "b", "c"]))
      expect(yield* sup.isShuttingDown).toBe(false)
    })
  )

  it.effect(
    "the two failures count once: with maxRestarts 2 the third restart in the window exceeds, not the second",
    () =>
      Effect.gen(function* () {
        const { events, sup } = yield* setupTree({
          strategy: "one-for-all",
          intensity: { maxRestarts: 2, within: "1 second" }
        })
        const log = makeLog()
        const lost = yield* Deferred.make<void>()
        // a: attempt 1 fails with b at 10; attempts 2 and 3 fail 100 ms after they start (at 210, 410).
        const a: Body = (attempt) => (attempt === 1 ? failsOn(lost)(1) : failsAfter(100, [2, 3])(attempt))
        yield* sup.add(child(log, "a", a))
        yield* sup.add(child(log, "b", failsOn(lost)))
        yield* TestTime.adjust("10 millis")
        yield* Deferred.succeed(lost, undefined)
        yield* TestTime.adjust("1 second")
        expect(timeline(yield* events, ["GroupRestart", "RestartIntensityExceeded"])).toEqual([
          "10 GroupRestart root one-for-all trigger=a affected=a,b",
          "210 GroupRestart root one-for-all trigger=a affected=a,b",
          "410 RestartIntensityExceeded root"
        ])
        expect(yield* Effect.flip(sup.join)).toBeInstanceOf(SupervisorError.RestartIntensityExceeded)
      })
  )

  it.effect("three children fail together with maxRestarts 1: one group restart, each restarts once", () =>
    Effect.gen(function* () {
      const { events, sup } = yield* setupTree({
        strategy: "one-for-all",
        intensity: { maxRestarts: 1, within: "1 second" }
      })
      const log = makeLog()
      const lost = yield* Deferred.make<void>()
      for (const name of ["a", "b", "c"]) yield* sup.add(child(log, name, failsOn(lost)))
      yield* TestTime.adjust("10 millis")
      yield* Deferred.succeed(lost, undefined)
      yield* TestTime.adjust("100 millis")
      expect(timeline(yield* events, shown).slice(3)).toEqual([
        "10 AttemptFailed root/a #1 lost",
        "10 BackoffScheduled root/a failure 100",
        "10 AttemptFailed root/b #1 lost",
        "10 AttemptFailed root/c #1 lost",
        "10 GroupRestart root one-for-all trigger=a affected=a,b,c",
        "110 AttemptStarting root/a #2",
        "110 AttemptStarting root/b #2",
        "110 AttemptStarting root/c #2"
      ])
      expect(yield* counters(sup)).toEqual(running(["a", "b", "c"]))
    })
  )

  it.effect("maxRestarts 0: the first failure exceeds it, once; the others do not restart", () =>
    Effect.gen(function* () {
      const { events, sup } = yield* setupTree({
        strategy: "one-for-all",
        intensity: { maxRestarts: 0, within: "1 second" }
      })
      const log = makeLog()
      const lost = yield* Deferred.make<void>()
      for (const name of ["a", "b", "c"]) yield* sup.add(child(log, name, failsOn(lost)))
      yield* TestTime.adjust("10 millis")
      yield* Deferred.succeed(lost, undefined)
      yield* flush
      expect(timeline(yield* events, ["GroupRestart", "RestartIntensityExceeded", "AttemptStarting"]).slice(3)).toEqual(
        ["10 RestartIntensityExceeded root"]
      )
      expect(yield* Effect.flip(sup.join)).toMatchObject({ trigger: "a", reason: "lost" })
    })
  )

  it.effect("two children failing after the same sleep: one group restart, each restarts once", () =>
    Effect.gen(function* () {
      const { events, sup } = yield* setupTree({
        strategy: "one-for-all",
        intensity: { maxRestarts: 1, within: "1 second" }
      })
      const log = makeLog()
      yield* sup.add(child(log, "a", failsAfterTwoSleeps(10)))
      yield* sup.add(child(log, "b", failsAfter(10)))
      yield* TestTime.adjust("110 millis")
      // The TestClock wakes b first (its wake-up was registered first); b's restart stops a before a's own wake-up.
      expect(timeline(yield* events, shown).slice(2)).toEqual([
        "10 AttemptFailed root/b #1 boom",
        "10 BackoffScheduled root/b failure 100",
        "10 GroupRestart root one-for-all trigger=b affected=a,b",
        "10 AttemptCanceled root/a #1 stopped by group-restart",
        "110 AttemptStarting root/a #2",
        "110 AttemptStarting root/b #2"
      ])
      expect(yield* counters(sup)).toEqual(running(["a", "b"]))
    })
  )

  it.effect("one-for-one restarts per child: two failures in the same instant are two restarts", () =>
    Effect.gen(function* () {
      const { events, sup } = yield* setupTree({ intensity: { maxRestarts: 1, within: "1 second" } })
      const log = makeLog()
      const lost = yield* Deferred.make<void>()
      yield* sup.add(child(log, "a", failsOn(lost)))
      yield* sup.add(child(log, "b", failsOn(lost)))
      yield* TestTime.adjust("10 millis")
      yield* Deferred.succeed(lost, undefined)
      yield* flush
      expect(timeline(yield* events, ["BackoffScheduled", "RestartIntensityExceeded"])).toEqual([
        "10 BackoffScheduled root/a failure 100",
        "10 RestartIntensityExceeded root"
      ])
      expect(yield* Effect.flip(sup.join)).toMatchObject({ trigger: "b" })
    })
  )
})

describe("GroupRestartCount: rest-for-one", () => {
  it.effect("a and c fail together: one restart of a and the children after it, counted once", () =>
    Effect.gen(function* () {
      const { events, sup } = yield* setupTree({
        strategy: "rest-for-one",
        intensity: { maxRestarts: 1, within: "1 second" }
      })
      const log = makeLog()
      const lost = yield* Deferred.make<void>()
      yield* sup.add(child(log, "a", failsOn(lost)))
      yield* sup.add(child(log, "b", forever))
      yield* sup.add(child(log, "c", failsOn(lost)))
      yield* TestTime.adjust("10 millis")
      yield* Deferred.succeed(lost, undefined)
      yield* TestTime.adjust("100 millis")
      expect(timeline(yield* events, shown).slice(3)).toEqual([
        "10 AttemptFailed root/a #1 lost",
        "10 BackoffScheduled root/a failure 100",
        "10 AttemptFailed root/c #1 lost",
        "10 GroupRestart root rest-for-one trigger=a affected=a,b,c",
        "10 AttemptCanceled root/b #1 stopped by group-restart",
        "110 AttemptStarting root/a #2",
        "110 AttemptStarting root/b #2",
        "110 AttemptStarting root/c #2"
      ])
      expect(yield* counters(sup)).toEqual(running(["a", "b", "c"]))
      expect(yield* sup.isShuttingDown).toBe(false)
    })
  )

  it.effect("the later child's failure is seen first: the earlier child's restart takes it over, counted once", () =>
    Effect.gen(function* () {
      const { events, sup } = yield* setupTree({
        strategy: "rest-for-one",
        intensity: { maxRestarts: 1, within: "1 second" }
      })
      const log = makeLog()
      const lost = yield* Deferred.make<void>()
      // a starts waiting at 5, after c: c resumes (and fails) first.
      yield* sup.add(child(log, "a", failsOn(lost, 5)))
      yield* sup.add(child(log, "b", forever))
      yield* sup.add(child(log, "c", failsOn(lost)))
      yield* TestTime.adjust("10 millis")
      yield* Deferred.succeed(lost, undefined)
      yield* TestTime.adjust("100 millis")
      expect(timeline(yield* events, shown).slice(3)).toEqual([
        "10 AttemptFailed root/c #1 lost",
        "10 BackoffScheduled root/c failure 100",
        "10 AttemptFailed root/a #1 lost",
        "10 BackoffScheduled root/a failure 100",
        "10 GroupRestart root rest-for-one trigger=a affected=a,b,c",
        "10 AttemptCanceled root/b #1 stopped by group-restart",
        "110 AttemptStarting root/a #2",
        "110 AttemptStarting root/b #2",
        "110 AttemptStarting root/c #2"
      ])
      expect(yield* counters(sup)).toEqual(running(["a", "b", "c"]))
      expect(yield* sup.isShuttingDown).toBe(false)
    })
  )

  it.effect("two children failing after the same sleep: the later one's restart is taken over, counted once", () =>
    Effect.gen(function* () {
      const { events, sup } = yield* setupTree({
        strategy: "rest-for-one",
        intensity: { maxRestarts: 1, within: "1 second" }
      })
      const log = makeLog()
      yield* sup.add(child(log, "a", failsAfterTwoSleeps(10)))
      yield* sup.add(child(log, "b", failsAfter(10)))
      yield* TestTime.adjust("110 millis")
      // The TestClock wakes b first (its wake-up was registered first): b's restart begins, then a's failure takes it over.
      expect(timeline(yield* events, shown).slice(2)).toEqual([
        "10 AttemptFailed root/b #1 boom",
        "10 BackoffScheduled root/b failure 100",
        "10 GroupRestart root rest-for-one trigger=b affected=b",
        "10 AttemptFailed root/a #1 boom",
        "10 BackoffScheduled root/a failure 100",
        "10 GroupRestart root rest-for-one trigger=a affected=a,b",
        "110 AttemptStarting root/a #2",
        "110 AttemptStarting root/b #2"
      ])
      expect(yield* counters(sup)).toEqual(running(["a", "b"]))
      expect(yield* sup.isShuttingDown).toBe(false)
    })
  )

  it.effect("an earlier child failing while a later child's restart waits takes it over: one restart of all", () =>
    Effect.gen(function* () {
      const { events, sup } = yield* setupTree({
        strategy: "rest-for-one",
        intensity: { maxRestarts: 1, within: "1 second" }
      })
      const log = makeLog()
      yield* sup.add(child(log, "a", failsAfter(50)))
      yield* sup.add(child(log, "b", forever))
      yield* sup.add(child(log, "c", failsAfter(10)))
      yield* TestTime.adjust("250 millis")
      expect(timeline(yield* events, shown).slice(3)).toEqual([
        "10 AttemptFailed root/c #1 boom",
        "10 BackoffScheduled root/c failure 100",
        "10 GroupRestart root rest-for-one trigger=c affected=c",
        // c's restart is still in its backoff: a's restart takes it over (c is not started twice).
        "50 AttemptFailed root/a #1 boom",
        "50 BackoffScheduled root/a failure 100",
        "50 GroupRestart root rest-for-one trigger=a affected=a,b,c",
        "50 AttemptCanceled root/b #1 stopped by group-restart",
        "150 AttemptStarting root/a #2",
        "150 AttemptStarting root/b #2",
        "150 AttemptStarting root/c #2"
      ])
      expect(yield* counters(sup)).toEqual(running(["a", "b", "c"]))
      expect(yield* sup.isShuttingDown).toBe(false)
    })
  )

  it.effect("taken over while it stops a sibling: that stop finishes, then one restart starts all of them", () =>
    Effect.gen(function* () {
      const { events, sup } = yield* setupTree({
        strategy: "rest-for-one",
        intensity: { maxRestarts: 1, within: "1 second" }
      })
      const log = makeLog()
      yield* sup.add(child(log, "a", failsAfter(30)))
      yield* sup.add(child(log, "b", failsAfter(10)))
      yield* sup.add(
        Task.make("c", recorded(log, forever, { stopTakes: "50 millis" }), { backoff: Backoff.constant("100 millis") })
      )
      yield* TestTime.adjust("160 millis")
      expect(timeline(yield* events, shown).slice(3)).toEqual([
        "10 AttemptFailed root/b #1 boom",
        "10 BackoffScheduled root/b failure 100",
        "10 GroupRestart root rest-for-one trigger=b affected=b,c",
        "30 AttemptFailed root/a #1 boom",
        "30 BackoffScheduled root/a failure 100",
        "60 AttemptCanceled root/c #1 stopped by group-restart",
        "60 GroupRestart root rest-for-one trigger=a affected=a,b,c",
        "160 AttemptStarting root/a #2",
        "160 AttemptStarting root/b #2",
        "160 AttemptStarting root/c #2"
      ])
      expect(log.lines("stop")).toEqual([
        "10 stop root/b#1",
        "10 stop root/c#1",
        "30 stop root/a#1",
        "60 stopped root/c#1"
      ])
      expect(yield* counters(sup)).toEqual(running(["a", "b", "c"]))
      expect(yield* sup.isShuttingDown).toBe(false)
    })
  )

  it.effect(
    "once a later child's restart has started it again, an earlier child's failure is a restart of its own",
    () =>
      Effect.gen(function* () {
        const { events, sup } = yield* setupTree({
          strategy: "rest-for-one",
          intensity: { maxRestarts: 1, within: "1 second" }
        })
        const log = makeLog()
        yield* sup.add(child(log, "a", failsAfter(120)))
        yield* sup.add(child(log, "b", failsAfter(10)))
        yield* TestTime.adjust("120 millis")
        expect(
          timeline(yield* events, ["GroupRestart", "AttemptStarting", "RestartIntensityExceeded"]).slice(2)
        ).toEqual([
          "10 GroupRestart root rest-for-one trigger=b affected=b",
          "110 AttemptStarting root/b #2",
          "120 RestartIntensityExceeded root"
        ])
        expect(yield* Effect.flip(sup.join)).toMatchObject({ trigger: "a" })
      })
  )
})

describe("GroupRestartCount: a failure while a group restart is under way", () => {
  it.effect("a sibling that fails while the others are being stopped joins the restart under way", () =>
    Effect.gen(function* () {
      const { events, sup } = yield* setupTree({
        strategy: "one-for-all",
        intensity: { maxRestarts: 1, within: "1 second" }
      })
      const log = makeLog()
      yield* sup.add(child(log, "a", failsAfter(10)))
      // Not stopped yet at 30 (c is stopped first and takes 50 ms): its own failure joins.
      yield* sup.add(child(log, "b", failsAfter(30)))
      yield* sup.add(
        Task.make("c", recorded(log, forever, { stopTakes: "50 millis" }), { backoff: Backoff.constant("100 millis") })
      )
      yield* TestTime.adjust("160 millis")
      expect(timeline(yield* events, shown).slice(3)).toEqual([
        "10 AttemptFailed root/a #1 boom",
        "10 BackoffScheduled root/a failure 100",
        "10 GroupRestart root one-for-all trigger=a affected=a,b,c",
        "30 AttemptFailed root/b #1 boom",
        "60 AttemptCanceled root/c #1 stopped by group-restart",
        "160 AttemptStarting root/a #2",
        "160 AttemptStarting root/b #2",
        "160 AttemptStarting root/c #2"
      ])
      expect(yield* counters(sup)).toEqual(running(["a", "b", "c"]))
      expect(yield* sup.isShuttingDown).toBe(false)
    })
  )

  it.effect("a failure after the group has started again is a new restart, counted again", () =>
    Effect.gen(function* () {
      const { events, sup } = yield* setupTree({
        strategy: "one-for-all",
        intensity: { maxRestarts: 1, within: "1 second" }
      })
      const log = makeLog()
      yield* sup.add(child(log, "a", failsAfter(10)))
      // Attempt 2 of b fails 10 ms after the restart at 110: a second restart in the window.
      yield* sup.add(child(log, "b", failsAfter(10, [2])))
      yield* TestTime.adjust("120 millis")
      expect(timeline(yield* events, ["GroupRestart", "RestartIntensityExceeded"])).toEqual([
        "10 GroupRestart root one-for-all trigger=a affected=a,b",
        "120 RestartIntensityExceeded root"
      ])
      expect(yield* Effect.flip(sup.join)).toMatchObject({ trigger: "b", reason: "boom" })
    })
  )

  it.effect("a child failing again as soon as the restart starts it is not taken for a pending restart", () =>
    Effect.gen(function* () {
      const { events, sup } = yield* setupTree({
        strategy: "one-for-all",
        intensity: { maxRestarts: 1, within: "1 second" }
      })
      const log = makeLog()
      const lost = yield* Deferred.make<void>()
      // Every attempt of a and c fails at once once `lost` is done: the restart at 110 fails again.
      const always: Body = () => Effect.andThen(Deferred.await(lost), Effect.fail(TaskError.fail("lost")))
      yield* sup.add(child(log, "a", always))
      yield* sup.add(child(log, "b", forever))
      yield* sup.add(child(log, "c", always))
      yield* TestTime.adjust("10 millis")
      yield* Deferred.succeed(lost, undefined)
      yield* TestTime.adjust("100 millis")
      expect(timeline(yield* events, shown).slice(3)).toEqual([
        "10 AttemptFailed root/a #1 lost",
        "10 BackoffScheduled root/a failure 100",
        "10 AttemptFailed root/c #1 lost",
        "10 GroupRestart root one-for-all trigger=a affected=a,b,c",
        "10 AttemptCanceled root/b #1 stopped by group-restart",
        "110 AttemptStarting root/a #2",
        "110 AttemptFailed root/a #2 lost",
        "110 TaskFinished root/a Failed lost (not restarted: the restart intensity of its supervisor (1 in 1000 ms) was exceeded)",
        "110 RestartIntensityExceeded root",
        "110 TaskFinished root/b Canceled stopped by shutdown",
        "110 TaskFinished root/c Canceled stopped by shutdown"
      ])
    })
  )

  it.effect("nested one-for-all: two children failing together restart once, the parent sees no failure", () =>
    Effect.gen(function* () {
      const { events, sup } = yield* setupTree()
      const log = makeLog()
      const lost = yield* Deferred.make<void>()
      const g = yield* sup.add(
        Supervisor.task("g", [child(log, "a", failsOn(lost)), child(log, "b", failsOn(lost))], {
          strategy: "one-for-all",
          intensity: { maxRestarts: 1, within: "1 second" }
        })
      )
      yield* TestTime.adjust("10 millis")
      yield* Deferred.succeed(lost, undefined)
      yield* TestTime.adjust("100 millis")
      expect(timeline(yield* events, ["GroupRestart", "RestartIntensityExceeded", "AttemptFailed"])).toEqual([
        "10 AttemptFailed root/g/a #1 lost",
        "10 AttemptFailed root/g/b #1 lost",
        "10 GroupRestart root/g one-for-all trigger=a affected=a,b"
      ])
      const nested = (yield* sup.tree).tasks[0]!.supervisor!
      expect(nested.tasks.map(({ attempt, name, restarts }) => [name, attempt, restarts])).toEqual([
        ["a", 2, 1],
        ["b", 2, 1]
      ])
      expect(yield* g.poll).toEqual(Option.none())
      const shutdown = yield* Effect.forkChild(sup.shutdown)
      yield* flush
      expect(yield* Fiber.await(shutdown)).toEqual(Exit.void)
    })
  )
})
