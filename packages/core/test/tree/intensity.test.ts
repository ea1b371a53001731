/**
 * Restart intensity (OTP's MaxR/MaxT): every restart-worthy failure records its instant; restarts
 * at t and t' count together when t' - t < within; more than maxRestarts in the window refuses the
 * restart, fails the supervisor (`RestartIntensityExceeded`) and stops its children in reverse
 * order. Every timing runs on the TestClock (it starts at 0, so `at` is exact epoch ms).
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Exit, Fiber, Option } from "effect"
import { Backoff, RestartPolicy, Supervisor, SupervisorError, Task, TaskOutcome } from "@fibervisor/core"
import { ofTag, script, setup } from "../helpers/recorder.js"
import { flush } from "../helpers/tasks.js"
import {
  boom,
  failsAfter,
  failureOf,
  fieldsOf,
  forever,
  intensityMessage,
  notRestarted,
  recordsStop,
  trace,
  advance,
  every
} from "../helpers/intensity.js"

describe("Intensity: at the limit and one past it", () => {
  it.effect("maxRestarts 2 in 1 s: 2 restarts inside the window are allowed, the supervisor keeps running", () =>
    Effect.gen(function* () {
      const { sup, events } = yield* setup()
      const g = yield* sup.add(
        Supervisor.task(
          "g",
          [
            Task.make("a", forever),
            Task.make("b", script(boom(), boom(), forever), { backoff: every(100) }),
            Task.make("c", forever)
          ],
          { intensity: { maxRestarts: 2, within: "1 second" } }
        )
      )
      yield* advance(10_000)
      const all = yield* events
      expect(trace(all, ["AttemptStarting", "AttemptFailed", "BackoffScheduled", "RestartIntensityExceeded"])).toEqual([
        "0 AttemptStarting root/g",
        "0 AttemptStarting root/g/a",
        "0 AttemptStarting root/g/b",
        "0 AttemptFailed root/g/b",
        "0 BackoffScheduled root/g/b",
        "0 AttemptStarting root/g/c",
        "100 AttemptStarting root/g/b",
        "100 AttemptFailed root/g/b",
        "100 BackoffScheduled root/g/b",
        "200 AttemptStarting root/g/b"
      ])
      expect(yield* g.poll).toEqual(Option.none())
      const tree = yield* sup.tree
      expect(tree.state).toBe("running")
      const nested = tree.tasks[0]!.supervisor!
      expect(nested.path).toBe("root/g")
      expect(nested.state).toBe("running")
      expect(nested.tasks.map((t) => [t.path, t.state, t.attempt, t.restarts])).toEqual([
        ["root/g/a", "running", 1, 0],
        ["root/g/b", "running", 3, 2],
        ["root/g/c", "running", 1, 0]
      ])
    })
  )

  it.effect(
    "one past the limit: RestartIntensityExceeded, children stopped in reverse order, the trigger Failed, the supervisor task fails",
    () =>
      Effect.gen(function* () {
        const { sup, events } = yield* setup()
        const stops: Array<string> = []
        const g = yield* sup.add(
          Supervisor.task(
            "g",
            [
              Task.make("a", recordsStop(stops, "a")),
              Task.make("b", script(boom(), boom(), boom(), forever), { backoff: every(100) }),
              Task.make("c", recordsStop(stops, "c")),
              Task.make("d", recordsStop(stops, "d"))
            ],
            { intensity: { maxRestarts: 2, within: "1 second" }, restart: RestartPolicy.never }
          )
        )
        yield* advance(199)
        expect(yield* g.poll).toEqual(Option.none())
        expect(stops).toEqual([])
        yield* advance(1)
        const outcome = yield* g.await
        const message = intensityMessage("root/g", 2, 1000, "b", "boom")
        expect(outcome).toMatchObject({ _tag: "Failed", reason: message })
        const error = failureOf(outcome)
        expect(error).toBeInstanceOf(SupervisorError.RestartIntensityExceeded)
        expect(fieldsOf(error)).toEqual({
          _tag: "RestartIntensityExceeded",
          path: "root/g",
          maxRestarts: 2,
          withinMs: 1000,
          trigger: "b",
          reason: "boom"
        })
        expect(stops).toEqual(["d", "c", "a"])
        const all = yield* events
        expect(trace(all.filter((e) => e.at === 200))).toEqual([
          "200 AttemptStarting root/g/b",
          "200 AttemptFailed root/g/b",
          "200 TaskFinished root/g/b",
          "200 RestartIntensityExceeded root/g",
          "200 TaskRemoved root/g/b",
          "200 TaskRemoveRequested root/g/d",
          "200 AttemptCanceled root/g/d",
          "200 TaskFinished root/g/d",
          "200 TaskRemoved root/g/d",
          "200 TaskRemoveRequested root/g/c",
          "200 AttemptCanceled root/g/c",
          "200 TaskFinished root/g/c",
          "200 TaskRemoved root/g/c",
          "200 TaskRemoveRequested root/g/a",
          "200 AttemptCanceled root/g/a",
          "200 TaskFinished root/g/a",
          "200 TaskRemoved root/g/a",
          "200 AllStoppedWithinGrace root/g",
          "200 AttemptFailed root/g",
          "200 TaskFinished root/g",
          "200 TaskRemoved root/g"
        ])
        const exceeded = ofTag("RestartIntensityExceeded")(all)
        expect(exceeded.map(({ seq: _seq, ...rest }) => rest)).toEqual([
          {
            _tag: "RestartIntensityExceeded",
            at: 200,
            path: "root/g",
            maxRestarts: 2,
            withinMs: 1000,
            trigger: "b",
            reason: "boom"
          }
        ])
        const finished = ofTag("TaskFinished")(all)
        expect(finished.map((e) => [e.path, e.outcome, e.reason])).toEqual([
          ["root/g/b", "Failed", notRestarted("boom", 2, 1000)],
          ["root/g/d", "Canceled", "stopped by shutdown"],
          ["root/g/c", "Canceled", "stopped by shutdown"],
          ["root/g/a", "Canceled", "stopped by shutdown"],
          ["root/g", "Failed", message]
        ])
        // The refused restart schedules nothing: two backoffs, for the two allowed restarts.
        expect(ofTag("BackoffScheduled")(all).map((e) => [e.at, e.path])).toEqual([
          [0, "root/g/b"],
          [100, "root/g/b"]
        ])
        expect(ofTag("AttemptFailed")(all).find((e) => e.path === "root/g")).toMatchObject({
          attempt: 1,
          durationMs: 200,
          reason: message,
          fatal: false
        })
        expect(yield* sup.list).toEqual([])
        // The root is unaffected.
        expect(yield* sup.isShuttingDown).toBe(false)
      })
  )

  it.effect("at the root: join fails with RestartIntensityExceeded, tasks are stopped, add is refused after", () =>
    Effect.gen(function* () {
      const { sup, events } = yield* setup({ intensity: { maxRestarts: 2, within: "1 second" } })
      const stops: Array<string> = []
      const x = yield* sup.add(Task.make("x", recordsStop(stops, "x")))
      const y = yield* sup.add(Task.make("y", script(boom(), boom(), boom(), forever), { backoff: every(100) }))
      const joined = yield* Effect.forkChild(sup.join)
      yield* advance(199)
      expect(joined.pollUnsafe()).toBeUndefined()
      expect(yield* sup.isShuttingDown).toBe(false)
      yield* advance(1)
      const error = yield* Effect.flip(Fiber.join(joined))
      expect(error).toBeInstanceOf(SupervisorError.RestartIntensityExceeded)
      expect(fieldsOf(error)).toEqual({
        _tag: "RestartIntensityExceeded",
        path: "root",
        maxRestarts: 2,
        withinMs: 1000,
        trigger: "y",
        reason: "boom"
      })
      expect(error.message).toBe(intensityMessage("root", 2, 1000, "y", "boom"))
      expect(yield* y.await).toMatchObject({ _tag: "Failed", reason: notRestarted("boom", 2, 1000) })
      expect(yield* x.await).toEqual(new TaskOutcome.Canceled({ reason: "stopped by shutdown" }))
      expect(stops).toEqual(["x"])
      // join keeps failing with the same error; shutdown (already done) succeeds.
      expect(yield* Effect.flip(sup.join)).toBe(error)
      expect(yield* sup.isShuttingDown).toBe(true)
      expect((yield* sup.tree).state).toBe("stopped")
      const refused = yield* Effect.flip(sup.add(Task.make("late", forever)))
      expect(refused).toBeInstanceOf(SupervisorError.SupervisorShuttingDown)
      expect(yield* Effect.exit(sup.shutdown)).toEqual(Exit.void)
      yield* flush
      const all = yield* events
      expect(trace(all, ["RestartIntensityExceeded", "ShutdownRequested", "AllStoppedWithinGrace"])).toEqual([
        "200 RestartIntensityExceeded root",
        "200 AllStoppedWithinGrace root"
      ])
      expect(ofTag("TaskAddFailed")(all).map(({ path, task, rejection }) => ({ path, task, rejection }))).toEqual([
        { path: "root", task: "late", rejection: "ShuttingDown" }
      ])
    })
  )

  it.effect("Supervisor.run fails with RestartIntensityExceeded (path = the root's name) at the exact instant", () =>
    Effect.gen(function* () {
      const run = yield* Effect.forkChild(
        Supervisor.run(
          [Task.make("x", forever), Task.make("y", boom(), { backoff: every(100) }), Task.make("z", forever)],
          { name: "app", intensity: { maxRestarts: 3, within: "1 second" } }
        )
      )
      yield* advance(299)
      expect(run.pollUnsafe()).toBeUndefined()
      yield* advance(1)
      const error = yield* Effect.flip(Fiber.join(run))
      expect(error).toBeInstanceOf(SupervisorError.RestartIntensityExceeded)
      expect(fieldsOf(error)).toEqual({
        _tag: "RestartIntensityExceeded",
        path: "app",
        maxRestarts: 3,
        withinMs: 1000,
        trigger: "y",
        reason: "boom"
      })
    })
  )

  it.effect("maxRestarts 0: the first restart-worthy failure already exceeds it", () =>
    Effect.gen(function* () {
      const { sup, events, waitFor } = yield* setup({ intensity: { maxRestarts: 0, within: "1 hour" } })
      const h = yield* sup.add(Task.make("y", boom(), { backoff: every(100) }))
      expect(yield* h.await).toMatchObject({ _tag: "Failed", reason: notRestarted("boom", 0, 3_600_000) })
      const error = yield* Effect.flip(sup.join)
      expect(fieldsOf(error)).toMatchObject({ path: "root", maxRestarts: 0, withinMs: 3_600_000, trigger: "y" })
      // Effect 4 resumes `await`/`join` at once, before the recorder fiber has read the bus.
      yield* waitFor("RestartIntensityExceeded")
      expect(trace(yield* events, ["AttemptStarting", "AttemptFailed", "RestartIntensityExceeded"])).toEqual([
        "0 AttemptStarting root/y",
        "0 AttemptFailed root/y",
        "0 RestartIntensityExceeded root"
      ])
    })
  )
})

describe("Intensity: restarts spread wider than the window", () => {
  const intensity = { maxRestarts: 1, within: "1 second" } as const

  it.effect("failures exactly `within` apart (backoff 1 s) never count together", () =>
    Effect.gen(function* () {
      const { sup, events } = yield* setup({ intensity })
      const h = yield* sup.add(Task.make("y", boom(), { backoff: every(1000) }))
      yield* advance(10_000)
      expect(ofTag("AttemptFailed")(yield* events).map((e) => e.at)).toEqual([
        0, 1000, 2000, 3000, 4000, 5000, 6000, 7000, 8000, 9000, 10000
      ])
      expect(ofTag("RestartIntensityExceeded")(yield* events)).toEqual([])
      expect(yield* h.poll).toEqual(Option.none())
      expect(yield* sup.isShuttingDown).toBe(false)
      expect(Option.getOrThrow(yield* sup.get("y"))).toMatchObject({ attempt: 11, restarts: 11, state: "backing-off" })
    })
  )

  it.effect("failures 999 ms apart (1 ms inside the window) count together: exceeded at 999", () =>
    Effect.gen(function* () {
      const { sup, events } = yield* setup({ intensity })
      const h = yield* sup.add(Task.make("y", boom(), { backoff: every(999) }))
      yield* advance(998)
      expect(yield* h.poll).toEqual(Option.none())
      yield* advance(1)
      expect(yield* h.await).toMatchObject({ _tag: "Failed", reason: notRestarted("boom", 1, 1000) })
      expect(trace(yield* events, ["AttemptFailed", "RestartIntensityExceeded"])).toEqual([
        "0 AttemptFailed root/y",
        "999 AttemptFailed root/y",
        "999 RestartIntensityExceeded root"
      ])
    })
  )

  it.effect("an attempt that runs exactly `within` before failing (no backoff) never trips it", () =>
    Effect.gen(function* () {
      const { sup, events } = yield* setup({ intensity })
      const h = yield* sup.add(Task.make("y", failsAfter(1000), { backoff: Backoff.none }))
      yield* advance(10_000)
      expect(ofTag("AttemptFailed")(yield* events).map((e) => e.at)).toEqual([
        1000, 2000, 3000, 4000, 5000, 6000, 7000, 8000, 9000, 10000
      ])
      expect(ofTag("RestartIntensityExceeded")(yield* events)).toEqual([])
      expect(yield* h.poll).toEqual(Option.none())
    })
  )

  it.effect("an attempt that runs 999 ms before failing (no backoff) trips it on the second failure", () =>
    Effect.gen(function* () {
      const { sup, events } = yield* setup({ intensity })
      const h = yield* sup.add(Task.make("y", failsAfter(999), { backoff: Backoff.none }))
      yield* advance(1997)
      expect(yield* h.poll).toEqual(Option.none())
      yield* advance(1)
      expect(yield* h.await).toMatchObject({ _tag: "Failed", reason: notRestarted("boom", 1, 1000) })
      expect(trace(yield* events, ["AttemptFailed", "RestartIntensityExceeded"])).toEqual([
        "999 AttemptFailed root/y",
        "1998 AttemptFailed root/y",
        "1998 RestartIntensityExceeded root"
      ])
    })
  )

  it.effect("the window slides: restarts older than `within` fall out of it", () =>
    Effect.gen(function* () {
      const { sup, events } = yield* setup({ intensity: { maxRestarts: 2, within: "1 second" } })
      // failures at 0, 100, then (after a 1 s attempt) 1200, 1300, 1400
      const h = yield* sup.add(
        Task.make("y", script(boom(), boom(), failsAfter(1000), boom()), { backoff: every(100) })
      )
      yield* advance(1399)
      expect(yield* h.poll).toEqual(Option.none())
      yield* advance(1)
      expect(yield* h.await).toMatchObject({ _tag: "Failed", reason: notRestarted("boom", 2, 1000) })
      expect(trace(yield* events, ["AttemptFailed", "RestartIntensityExceeded"])).toEqual([
        "0 AttemptFailed root/y",
        "100 AttemptFailed root/y",
        "1200 AttemptFailed root/y",
        "1300 AttemptFailed root/y",
        "1400 AttemptFailed root/y",
        "1400 RestartIntensityExceeded root"
      ])
    })
  )

  it.effect("restarts after success (RestartPolicy.always) never count, even with maxRestarts 0", () =>
    Effect.gen(function* () {
      const { sup, events } = yield* setup({ intensity: { maxRestarts: 0, within: "1 hour" } })
      yield* sup.add(Task.periodic("tick", Effect.void, "10 millis"))
      yield* advance(1000)
      expect(ofTag("AttemptSucceeded")(yield* events)).toHaveLength(101)
      expect(ofTag("RestartIntensityExceeded")(yield* events)).toEqual([])
      expect(yield* sup.isShuttingDown).toBe(false)
    })
  )
})

describe("Intensity: group restarts", () => {
  for (const strategy of ["one-for-all", "rest-for-one"] as const) {
    it.effect(`${strategy}: a group restart of three children counts as one restart`, () =>
      Effect.gen(function* () {
        const { sup, events } = yield* setup()
        const g = yield* sup.add(
          Supervisor.task(
            "g",
            [
              // fails at 50, once every child has started
              Task.make("a", script(failsAfter(50, "a broke"), forever), { backoff: every(100) }),
              // attempt 2 (started again by the group restart at 150) fails at 550
              Task.make("b", script(forever, failsAfter(400, "b broke")), { backoff: every(100) }),
              Task.make("c", forever)
            ],
            { strategy, intensity: { maxRestarts: 1, within: "10 seconds" }, restart: RestartPolicy.never }
          )
        )
        yield* advance(549)
        const nested = (yield* sup.tree).tasks[0]!.supervisor!
        expect(nested.state).toBe("running")
        expect(nested.tasks.map((t) => [t.name, t.state, t.attempt, t.restarts])).toEqual([
          ["a", "running", 2, 1],
          ["b", "running", 2, 1],
          ["c", "running", 2, 1]
        ])
        expect(ofTag("RestartIntensityExceeded")(yield* events)).toEqual([])
        yield* advance(1)
        const outcome = yield* g.await
        expect(outcome).toMatchObject({
          _tag: "Failed",
          reason: intensityMessage("root/g", 1, 10_000, "b", "b broke")
        })
        const all = yield* events
        expect(trace(all, ["GroupRestart", "RestartIntensityExceeded"])).toEqual([
          "50 GroupRestart root/g",
          "550 RestartIntensityExceeded root/g"
        ])
        expect(ofTag("GroupRestart")(all)[0]).toMatchObject({ strategy, trigger: "a", affected: ["a", "b", "c"] })
        expect(ofTag("TaskFinished")(all).map((e) => [e.at, e.path, e.outcome, e.reason])).toEqual([
          [550, "root/g/b", "Failed", notRestarted("b broke", 1, 10_000)],
          [550, "root/g/c", "Canceled", "stopped by shutdown"],
          [550, "root/g/a", "Canceled", "stopped by shutdown"],
          [550, "root/g", "Failed", intensityMessage("root/g", 1, 10_000, "b", "b broke")]
        ])
      })
    )
  }
})

describe("Intensity: group restarts during the static start-up", () => {
  // BUG (suspected): a static child that fails while its later siblings are still being started
  // hands a group restart to its supervisor at once; the GroupRestart's `affected` is computed from
  // the children spawned so far, and `startStatic` goes on spawning the rest meanwhile. So `c`
  // starts at 0 while `a` (the trigger) and `b` are down, and is not part of the group restart.
  // Under one-for-all no child should run while a sibling is down waiting for its group restart
  // (OTP handles the EXIT only once init has started every child, so all three restart together).
  it.effect("one-for-all: a child started after the trigger failed does not run while the trigger is down", () =>
    Effect.gen(function* () {
      const { sup, events } = yield* setup()
      yield* sup.add(
        Supervisor.task(
          "g",
          [
            Task.make("a", script(boom("a broke"), forever), { backoff: every(100) }),
            Task.make("b", forever),
            Task.make("c", forever)
          ],
          { strategy: "one-for-all", restart: RestartPolicy.never }
        )
      )
      yield* advance(1000)
      const all = yield* events
      const starts = (path: string) => ofTag("AttemptStarting")(all).filter((e) => e.path === path)
      const cStarts = starts("root/g/c").map((e) => e.at)
      const cCanceled = ofTag("AttemptCanceled")(all)
        .filter((e) => e.path === "root/g/c")
        .map((e) => e.at)
      // Its running attempt began with the group restart at 100 ...
      expect(cStarts[cStarts.length - 1]).toBe(100)
      // ... and any earlier attempt was stopped by the group restart at once.
      expect(cCanceled).toEqual(cStarts.slice(0, -1))
      // The three start again in start order.
      expect(
        ofTag("AttemptStarting")(all)
          .filter((e) => e.at === 100)
          .map((e) => e.path)
      ).toEqual(["root/g/a", "root/g/b", "root/g/c"])
    })
  )
})

describe("Intensity: defaults", () => {
  it.effect("a nested supervisor allows 3 restarts in 5 s by default: the 4th failure at 3000 trips it", () =>
    Effect.gen(function* () {
      const { sup, events } = yield* setup()
      const g = yield* sup.add(
        Supervisor.task("g", [Task.make("leaf", boom(), { backoff: every(1000) })], { restart: RestartPolicy.never })
      )
      yield* advance(2999)
      expect(yield* g.poll).toEqual(Option.none())
      yield* advance(1)
      expect(yield* g.await).toMatchObject({
        _tag: "Failed",
        reason: intensityMessage("root/g", 3, 5000, "leaf", "boom")
      })
      const all = yield* events
      expect(trace(all, ["AttemptFailed", "RestartIntensityExceeded"])).toEqual([
        "0 AttemptFailed root/g/leaf",
        "1000 AttemptFailed root/g/leaf",
        "2000 AttemptFailed root/g/leaf",
        "3000 AttemptFailed root/g/leaf",
        "3000 RestartIntensityExceeded root/g",
        "3000 AttemptFailed root/g"
      ])
      expect(ofTag("RestartIntensityExceeded")(all)[0]).toMatchObject({
        path: "root/g",
        maxRestarts: 3,
        withinMs: 5000,
        trigger: "leaf",
        reason: "boom"
      })
    })
  )

  it.effect("the default window is 5 s: failures 1667 ms apart never trip it, 1666 ms apart trip it at 4998", () =>
    Effect.gen(function* () {
      const { sup, events } = yield* setup()
      const wide = yield* sup.add(Supervisor.task("wide", [Task.make("leaf", boom(), { backoff: every(1667) })]))
      const narrow = yield* sup.add(Supervisor.task("narrow", [Task.make("leaf", boom(), { backoff: every(1666) })]))
      yield* advance(4997)
      expect(yield* narrow.poll).toEqual(Option.none())
      yield* advance(1)
      expect(trace(yield* events, ["RestartIntensityExceeded"])).toEqual(["4998 RestartIntensityExceeded root/narrow"])
      yield* advance(30_000)
      expect(yield* wide.poll).toEqual(Option.none())
      expect(trace(yield* events, ["RestartIntensityExceeded"]).filter((line) => line.endsWith("root/wide"))).toEqual(
        []
      )
      expect(ofTag("AttemptFailed")(yield* events).filter((e) => e.path === "root/wide/leaf")).toHaveLength(21)
    })
  )

  it.effect("`intensity: undefined` set explicitly on a nested supervisor means no limit", () =>
    Effect.gen(function* () {
      const { sup, events } = yield* setup()
      const g = yield* sup.add(
        Supervisor.task("g", [Task.make("leaf", boom(), { backoff: every(100) })], { intensity: undefined })
      )
      yield* advance(10_000)
      expect(yield* g.poll).toEqual(Option.none())
      expect(ofTag("RestartIntensityExceeded")(yield* events)).toEqual([])
      const leaf = (yield* sup.tree).tasks[0]!.supervisor!.tasks[0]!
      expect(leaf).toMatchObject({ path: "root/g/leaf", attempt: 101, restarts: 101 })
    })
  )

  it.effect("the root has no limit unless one is set", () =>
    Effect.gen(function* () {
      const { sup, events } = yield* setup()
      const h = yield* sup.add(Task.make("leaf", boom(), { backoff: every(100) }))
      yield* advance(10_000)
      expect(yield* h.poll).toEqual(Option.none())
      expect(ofTag("RestartIntensityExceeded")(yield* events)).toEqual([])
      expect(Option.getOrThrow(yield* sup.get("leaf"))).toMatchObject({ attempt: 101, restarts: 101 })
      expect(yield* sup.isShuttingDown).toBe(false)
    })
  )

  it.effect("an explicit root `intensity: undefined` is accepted and means none", () =>
    Effect.gen(function* () {
      const { sup, events } = yield* setup({ intensity: undefined })
      yield* sup.add(Task.make("leaf", boom(), { backoff: every(10) }))
      yield* advance(1000)
      expect(ofTag("AttemptFailed")(yield* events)).toHaveLength(101)
      expect(ofTag("RestartIntensityExceeded")(yield* events)).toEqual([])
    })
  )
})

describe("Intensity: a supervisor task restarted by its parent", () => {
  it.effect(
    "the parent restarts a failed nested supervisor after exactly its own backoff; the children start fresh (new ids)",
    () =>
      Effect.gen(function* () {
        const { sup, events } = yield* setup()
        const g = yield* sup.add(
          Supervisor.task("g", [Task.make("leaf", boom(), { backoff: every(100) })], {
            intensity: { maxRestarts: 1, within: "1 second" },
            backoff: Backoff.constant("5 seconds")
          })
        )
        yield* advance(100)
        const message = intensityMessage("root/g", 1, 1000, "leaf", "boom")
        const gInfo = Option.getOrThrow(yield* sup.get("g"))
        expect(gInfo).toMatchObject({ kind: "supervisor", state: "backing-off", attempt: 1, restarts: 1 })
        expect(gInfo.nextAttemptAt).toEqual(Option.some(5100))
        expect(gInfo.lastFailure).toEqual(Option.some(message))
        // Between attempts there is no nested supervisor.
        expect((yield* sup.tree).tasks[0]!.supervisor).toBeUndefined()
        yield* advance(4999)
        expect(ofTag("AttemptStarting")(yield* events).filter((e) => e.path === "root/g")).toHaveLength(1)
        yield* advance(1)
        const nested = (yield* sup.tree).tasks[0]!.supervisor!
        expect(nested.path).toBe("root/g")
        expect(nested.tasks.map((t) => [t.path, t.attempt, t.restarts, t.state, t.nextAttemptAt])).toEqual([
          ["root/g/leaf", 1, 1, "backing-off", 5200]
        ])
        yield* advance(5200)
        const all = yield* events
        const gStarts = ofTag("AttemptStarting")(all).filter((e) => e.path === "root/g")
        expect(gStarts.map((e) => [e.at, e.attempt, e.id])).toEqual([
          [0, 1, g.id],
          [5100, 2, g.id],
          [10200, 3, g.id]
        ])
        expect(
          ofTag("BackoffScheduled")(all)
            .filter((e) => e.path === "root/g")
            .map((e) => [e.at, e.delayMs, e.reason])
        ).toEqual([
          [100, 5000, message],
          [5200, 5000, message],
          [10300, 5000, message]
        ])
        expect(trace(all, ["RestartIntensityExceeded"])).toEqual([
          "100 RestartIntensityExceeded root/g",
          "5200 RestartIntensityExceeded root/g",
          "10300 RestartIntensityExceeded root/g"
        ])
        const leafStarts = ofTag("AttemptStarting")(all).filter((e) => e.path === "root/g/leaf")
        expect(leafStarts.map((e) => [e.at, e.attempt])).toEqual([
          [0, 1],
          [100, 2],
          [5100, 1],
          [5200, 2],
          [10200, 1],
          [10300, 2]
        ])
        const ids = leafStarts.map((e) => e.id)
        expect(ids[0]).toBe(ids[1])
        expect(ids[2]).toBe(ids[3])
        expect(ids[4]).toBe(ids[5])
        expect(new Set([ids[0], ids[2], ids[4]]).size).toBe(3)
        expect(ids[2]!).toBeGreaterThan(ids[0]!)
        expect(ids[4]!).toBeGreaterThan(ids[2]!)
        // Each nested supervisor's leaf was added afresh (TaskAdded with the new id).
        expect(
          ofTag("TaskAdded")(all)
            .filter((e) => e.path === "root/g/leaf")
            .map((e) => [e.at, e.id])
        ).toEqual([
          [0, ids[0]],
          [5100, ids[2]],
          [10200, ids[4]]
        ])
        expect(yield* g.poll).toEqual(Option.none())
      })
  )
})
