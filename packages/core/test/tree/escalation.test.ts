/**
 * Failures that leave a supervisor: restart intensity exceeded level by level up to the root,
 * `TaskError.escalate` and the `escalate: true` option (one level: the parent sees a failure of the
 * supervisor task), `TaskError.fatal` (stops only the child), and significant children with
 * `autoShutdown`. Every timing runs on the TestClock (it starts at 0: `at` is exact epoch ms).
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Exit, Fiber, Option } from "effect"
import { RestartPolicy, Supervisor, SupervisorError, Task, TaskError, TaskOutcome } from "@fibervisor/core"
import { ofTag, setup } from "../helpers/recorder.js"
import {
  boom,
  escalatedMessage,
  failureOf,
  fieldsOf,
  forever,
  intensityMessage,
  notRestarted,
  recordsStop,
  trace,
  under,
  advance,
  every
} from "../helpers/intensity.js"

/** An attempt that sleeps `ms`, then fails with `error`. */
const after = <E>(ms: number, error: E) => Effect.andThen(Effect.sleep(`${ms} millis`), Effect.fail(error))

const byShutdown = new TaskOutcome.Canceled({ reason: "stopped by shutdown" })

const minute = 60_000

describe("Escalation: restart intensity exceeded level by level", () => {
  // root (1 in 1 min) ⊃ l1 (1 in 1 min, backoff 1 s) ⊃ l2 (1 in 1 min, backoff 100 ms) ⊃ leaf (fails, backoff 10 ms)
  //   leaf fails at 0, 10 → l2 exceeded at 10 → l1 restarts l2 at 110 → leaf fails 110, 120 → l2 exceeded at 120
  //   → l1 exceeded at 120 → root restarts l1 at 1120 → (the same again) l2 exceeded at 1130 and 1240,
  //   l1 exceeded at 1240 → root exceeded at 1240.
  const intensity = { maxRestarts: 1, within: "1 minute" } as const
  const tree = () =>
    Supervisor.task(
      "l1",
      [
        Supervisor.task("l2", [Task.make("leaf", boom(), { backoff: every(10) })], {
          intensity,
          backoff: every(100)
        })
      ],
      { intensity, backoff: every(1000) }
    )
  const l2Message = intensityMessage("root/l1/l2", 1, minute, "leaf", "boom")
  const l1Message = intensityMessage("root/l1", 1, minute, "l2", l2Message)
  const rootError = {
    _tag: "RestartIntensityExceeded",
    path: "root",
    maxRestarts: 1,
    withinMs: minute,
    trigger: "l1",
    reason: l1Message
  }

  it.effect("three levels: each level's intensity trips in turn, the root's join fails at 1240", () =>
    Effect.gen(function* () {
      const { sup, events } = yield* setup({ intensity })
      yield* sup.add(tree())
      const joined = yield* Effect.forkChild(sup.join)
      yield* advance(1239)
      expect(joined.pollUnsafe()).toBeUndefined()
      yield* advance(1)
      const error = yield* Effect.flip(Fiber.join(joined))
      expect(error).toBeInstanceOf(SupervisorError.RestartIntensityExceeded)
      expect(fieldsOf(error)).toEqual(rootError)
      const all = yield* events
      expect(trace(all, ["RestartIntensityExceeded"])).toEqual([
        "10 RestartIntensityExceeded root/l1/l2",
        "120 RestartIntensityExceeded root/l1/l2",
        "120 RestartIntensityExceeded root/l1",
        "1130 RestartIntensityExceeded root/l1/l2",
        "1240 RestartIntensityExceeded root/l1/l2",
        "1240 RestartIntensityExceeded root/l1",
        "1240 RestartIntensityExceeded root"
      ])
      expect(
        ofTag("RestartIntensityExceeded")(all).map(({ at, path, trigger, reason }) => [at, path, trigger, reason])
      ).toEqual([
        [10, "root/l1/l2", "leaf", "boom"],
        [120, "root/l1/l2", "leaf", "boom"],
        [120, "root/l1", "l2", l2Message],
        [1130, "root/l1/l2", "leaf", "boom"],
        [1240, "root/l1/l2", "leaf", "boom"],
        [1240, "root/l1", "l2", l2Message],
        [1240, "root", "l1", l1Message]
      ])
      expect(trace(all, ["AttemptStarting"]).filter((line) => !line.endsWith("leaf"))).toEqual([
        "0 AttemptStarting root/l1",
        "0 AttemptStarting root/l1/l2",
        "110 AttemptStarting root/l1/l2",
        "1120 AttemptStarting root/l1",
        "1120 AttemptStarting root/l1/l2",
        "1230 AttemptStarting root/l1/l2"
      ])
      expect(
        ofTag("AttemptStarting")(all)
          .filter((e) => e.path === "root/l1/l2/leaf")
          .map((e) => e.at)
      ).toEqual([0, 10, 110, 120, 1120, 1130, 1230, 1240])
      expect(
        ofTag("TaskFinished")(all)
          .filter((e) => e.path === "root/l1")
          .map((e) => [e.at, e.outcome, e.reason])
      ).toEqual([[1240, "Failed", notRestarted(l1Message, 1, minute)]])
      expect(yield* sup.list).toEqual([])
    })
  )

  it.effect("three levels: Supervisor.run fails with the root's RestartIntensityExceeded at 1240", () =>
    Effect.gen(function* () {
      const run = yield* Effect.forkChild(Supervisor.run([tree()], { intensity }))
      yield* advance(1239)
      expect(run.pollUnsafe()).toBeUndefined()
      yield* advance(1)
      const error = yield* Effect.flip(Fiber.join(run))
      expect(error).toBeInstanceOf(SupervisorError.RestartIntensityExceeded)
      expect(fieldsOf(error)).toEqual(rootError)
    })
  )
})

describe("Escalation: TaskError.escalate", () => {
  it.effect(
    "the child ends Fatal, its supervisor emits Escalated and fails, siblings stop in reverse order, the parent restarts it",
    () =>
      Effect.gen(function* () {
        const { sup, events } = yield* setup()
        const stops: Array<string> = []
        const g = yield* sup.add(
          Supervisor.task(
            "g",
            [
              Task.make("a", recordsStop(stops, "a")),
              Task.make("b", after(50, TaskError.escalate("schema too new", { exitCode: 9 }))),
              Task.make("c", recordsStop(stops, "c")),
              Task.make("d", recordsStop(stops, "d"))
            ],
            { backoff: every(1000) }
          )
        )
        yield* advance(49)
        expect(ofTag("Escalated")(yield* events)).toEqual([])
        yield* advance(1)
        expect(stops).toEqual(["d", "c", "a"])
        const message = escalatedMessage("root/g", "b", "schema too new")
        const atFifty = (yield* events).filter((e) => e.at === 50)
        expect(trace(atFifty)).toEqual([
          "50 AttemptFailed root/g/b",
          "50 TaskFinished root/g/b",
          "50 Escalated root/g",
          "50 TaskRemoved root/g/b",
          "50 TaskRemoveRequested root/g/d",
          "50 AttemptCanceled root/g/d",
          "50 TaskFinished root/g/d",
          "50 TaskRemoved root/g/d",
          "50 TaskRemoveRequested root/g/c",
          "50 AttemptCanceled root/g/c",
          "50 TaskFinished root/g/c",
          "50 TaskRemoved root/g/c",
          "50 TaskRemoveRequested root/g/a",
          "50 AttemptCanceled root/g/a",
          "50 TaskFinished root/g/a",
          "50 TaskRemoved root/g/a",
          "50 AllStoppedWithinGrace root/g",
          "50 AttemptFailed root/g",
          "50 BackoffScheduled root/g"
        ])
        expect(ofTag("AttemptFailed")(atFifty)[0]).toMatchObject({
          path: "root/g/b",
          reason: "schema too new",
          exitCode: 9,
          fatal: true
        })
        expect(ofTag("TaskFinished")(atFifty)[0]).toMatchObject({
          path: "root/g/b",
          outcome: "Fatal",
          reason: "schema too new",
          exitCode: 9
        })
        expect(ofTag("Escalated")(atFifty).map(({ seq: _seq, ...rest }) => rest)).toEqual([
          { _tag: "Escalated", at: 50, path: "root/g", task: "b", reason: "schema too new" }
        ])
        expect(ofTag("AttemptFailed")(atFifty)[1]).toMatchObject({ path: "root/g", reason: message, fatal: false })
        expect(ofTag("BackoffScheduled")(atFifty)[0]).toMatchObject({ path: "root/g", delayMs: 1000, reason: message })
        // The parent applies g's own policy: onFailure, after its 1 s backoff; the root is unaffected.
        expect(Option.getOrThrow(yield* sup.get("g"))).toMatchObject({
          state: "backing-off",
          attempt: 1,
          restarts: 1,
          nextAttemptAt: Option.some(1050),
          lastFailure: Option.some(message)
        })
        expect(yield* sup.isShuttingDown).toBe(false)
        yield* advance(999)
        expect(trace(yield* events, ["AttemptStarting"]).filter((l) => l.endsWith("root/g"))).toEqual([
          "0 AttemptStarting root/g"
        ])
        yield* advance(1)
        const again = (yield* sup.tree).tasks[0]!.supervisor!
        expect(again.tasks.map((t) => [t.path, t.state, t.attempt])).toEqual([
          ["root/g/a", "running", 1],
          ["root/g/b", "running", 1],
          ["root/g/c", "running", 1],
          ["root/g/d", "running", 1]
        ])
        yield* advance(50)
        expect(trace(yield* events, ["Escalated"])).toEqual(["50 Escalated root/g", "1100 Escalated root/g"])
        expect(yield* g.poll).toEqual(Option.none())
      })
  )

  it.effect("at the root: Supervisor.run fails with Escalated", () =>
    Effect.gen(function* () {
      const run = yield* Effect.forkChild(
        Supervisor.run([Task.make("x", forever), Task.make("y", after(100, TaskError.escalate("unrecoverable")))])
      )
      yield* advance(99)
      expect(run.pollUnsafe()).toBeUndefined()
      yield* advance(1)
      const error = yield* Effect.flip(Fiber.join(run))
      expect(error).toBeInstanceOf(SupervisorError.Escalated)
      expect(fieldsOf(error)).toEqual({ _tag: "Escalated", path: "root", task: "y", reason: "unrecoverable" })
      expect(error.message).toBe(escalatedMessage("root", "y", "unrecoverable"))
    })
  )

  it.effect("at the root: join fails with Escalated, the other tasks are stopped, add is refused after", () =>
    Effect.gen(function* () {
      const { sup, events } = yield* setup({ name: "app" })
      const stops: Array<string> = []
      const x = yield* sup.add(Task.make("x", recordsStop(stops, "x")))
      const y = yield* sup.add(Task.make("y", after(100, TaskError.escalate("unrecoverable"))))
      const joined = yield* Effect.forkChild(sup.join)
      yield* advance(100)
      const error = yield* Effect.flip(Fiber.join(joined))
      expect(fieldsOf(error)).toEqual({ _tag: "Escalated", path: "app", task: "y", reason: "unrecoverable" })
      expect(yield* y.await).toMatchObject({ _tag: "Fatal", reason: "unrecoverable" })
      expect(yield* x.await).toEqual(byShutdown)
      expect(stops).toEqual(["x"])
      expect(yield* Effect.flip(sup.add(Task.make("late", forever)))).toBeInstanceOf(
        SupervisorError.SupervisorShuttingDown
      )
      expect(trace(yield* events, ["Escalated", "ShutdownRequested", "AllStoppedWithinGrace"])).toEqual([
        "100 Escalated app",
        "100 AllStoppedWithinGrace app"
      ])
    })
  )
})

describe("Escalation: the escalate option", () => {
  const cases = [
    {
      label: "its retries are exhausted (maxRetries 1)",
      task: () => Task.make("w", boom(), { escalate: true, maxRetries: 1, backoff: every(100) }),
      at: 100,
      outcome: "Failed",
      reason: "retry limit reached after 1 of 1 retries: boom"
    },
    {
      label: "it fails under RestartPolicy.never",
      task: () => Task.make("w", after(100, TaskError.fail("boom")), { escalate: true, restart: RestartPolicy.never }),
      at: 100,
      outcome: "Failed",
      reason: "boom"
    },
    {
      label: "it ends Fatal",
      task: () => Task.make("w", after(100, TaskError.fatal("disk gone")), { escalate: true }),
      at: 100,
      outcome: "Fatal",
      reason: "disk gone"
    }
  ] as const

  for (const { at, label, outcome, reason, task } of cases) {
    it.effect(`a child with escalate: true escalates when ${label}`, () =>
      Effect.gen(function* () {
        const { sup, events } = yield* setup()
        const stops: Array<string> = []
        const g = yield* sup.add(
          Supervisor.task(
            "g",
            [Task.make("a", recordsStop(stops, "a")), task(), Task.make("c", recordsStop(stops, "c"))],
            {
              restart: RestartPolicy.never
            }
          )
        )
        yield* advance(at - 1)
        expect(yield* g.poll).toEqual(Option.none())
        yield* advance(1)
        const gOutcome = yield* g.await
        expect(gOutcome).toMatchObject({ _tag: "Failed", reason: escalatedMessage("root/g", "w", reason) })
        const error = failureOf(gOutcome)
        expect(error).toBeInstanceOf(SupervisorError.Escalated)
        expect(fieldsOf(error)).toEqual({ _tag: "Escalated", path: "root/g", task: "w", reason })
        expect(stops).toEqual(["c", "a"])
        const all = yield* events
        expect(ofTag("TaskFinished")(all).map((e) => [e.at, e.path, e.outcome, e.reason])).toEqual([
          [at, "root/g/w", outcome, reason],
          [at, "root/g/c", "Canceled", "stopped by shutdown"],
          [at, "root/g/a", "Canceled", "stopped by shutdown"],
          [at, "root/g", "Failed", escalatedMessage("root/g", "w", reason)]
        ])
        expect(trace(all, ["Escalated"])).toEqual([`${at} Escalated root/g`])
      })
    )
  }

  it.effect("a child with escalate: true that completes (or returns TaskError.canceled) does not escalate", () =>
    Effect.gen(function* () {
      const { sup, events } = yield* setup()
      const g = yield* sup.add(
        Supervisor.task("g", [
          Task.make("done", Effect.sleep("100 millis"), { escalate: true }),
          Task.make("quit", after(200, TaskError.canceled("nothing to do")), { escalate: true }),
          Task.make("a", forever)
        ])
      )
      yield* advance(1000)
      expect(yield* g.poll).toEqual(Option.none())
      const all = yield* events
      expect(ofTag("Escalated")(all)).toEqual([])
      expect(ofTag("TaskFinished")(all).map((e) => [e.at, e.path, e.outcome, e.reason])).toEqual([
        [100, "root/g/done", "Completed", undefined],
        [200, "root/g/quit", "Canceled", "nothing to do"]
      ])
      const nested = (yield* sup.tree).tasks[0]!.supervisor!
      expect(nested.state).toBe("running")
      expect(nested.tasks.map((t) => [t.path, t.state])).toEqual([["root/g/a", "running"]])
    })
  )

  it.effect("a task with escalate: true that is removed or cancelled does not escalate", () =>
    Effect.gen(function* () {
      const { sup, events } = yield* setup()
      const removed = yield* sup.add(Task.make("removed", forever, { escalate: true }))
      const cancelled = yield* sup.add(Task.make("cancelled", forever, { escalate: true }))
      const other = yield* sup.add(Task.make("other", forever))
      yield* advance(10)
      expect(yield* sup.remove("removed")).toBe(true)
      expect(yield* sup.cancel("cancelled")).toBe(true)
      expect(yield* removed.await).toEqual(new TaskOutcome.Canceled({ reason: "stopped by remove" }))
      expect(yield* cancelled.await).toEqual(new TaskOutcome.Canceled({ reason: "stopped by cancel" }))
      yield* advance(1000)
      expect(ofTag("Escalated")(yield* events)).toEqual([])
      expect(yield* sup.isShuttingDown).toBe(false)
      expect(yield* other.poll).toEqual(Option.none())
      expect((yield* sup.list).map((t) => t.name)).toEqual(["other"])
    })
  )
})

describe("Escalation: TaskError.fatal", () => {
  it.effect("a Fatal child stops only itself: no escalation, its siblings and its supervisor keep running", () =>
    Effect.gen(function* () {
      const { sup, events } = yield* setup()
      const stops: Array<string> = []
      const g = yield* sup.add(
        Supervisor.task("g", [
          Task.make("a", recordsStop(stops, "a")),
          Task.make("f", after(50, TaskError.fatal("disk gone", { exitCode: 70 }))),
          Task.make("c", recordsStop(stops, "c"))
        ])
      )
      yield* advance(1000)
      expect(yield* g.poll).toEqual(Option.none())
      expect(stops).toEqual([])
      const all = yield* events
      expect(ofTag("Escalated")(all)).toEqual([])
      expect(ofTag("RestartIntensityExceeded")(all)).toEqual([])
      expect(ofTag("TaskFinished")(all).map((e) => [e.at, e.path, e.outcome, e.reason, e.exitCode])).toEqual([
        [50, "root/g/f", "Fatal", "disk gone", 70]
      ])
      const nested = (yield* sup.tree).tasks[0]!.supervisor!
      expect(nested.state).toBe("running")
      expect(nested.tasks.map((t) => [t.path, t.state, t.attempt])).toEqual([
        ["root/g/a", "running", 1],
        ["root/g/c", "running", 1]
      ])
    })
  )
})

describe("Escalation: significant children", () => {
  it.effect(
    "any-significant: a significant child completing → AutoShutdown, siblings stopped in reverse order, the supervisor task Completed",
    () =>
      Effect.gen(function* () {
        const { sup, events } = yield* setup()
        const stops: Array<string> = []
        const g = yield* sup.add(
          Supervisor.task(
            "g",
            [
              Task.make("a", recordsStop(stops, "a")),
              Task.make("s", Effect.sleep("100 millis"), { significant: true }),
              Task.make("c", recordsStop(stops, "c")),
              Task.make("d", recordsStop(stops, "d"))
            ],
            { autoShutdown: "any-significant" }
          )
        )
        yield* advance(99)
        expect(yield* g.poll).toEqual(Option.none())
        yield* advance(1)
        expect(yield* g.await).toEqual(TaskOutcome.completed)
        expect(stops).toEqual(["d", "c", "a"])
        const all = yield* events
        expect(trace(all.filter((e) => e.at === 100))).toEqual([
          "100 AttemptSucceeded root/g/s",
          "100 TaskFinished root/g/s",
          "100 AutoShutdown root/g",
          "100 TaskRemoved root/g/s",
          "100 TaskRemoveRequested root/g/d",
          "100 AttemptCanceled root/g/d",
          "100 TaskFinished root/g/d",
          "100 TaskRemoved root/g/d",
          "100 TaskRemoveRequested root/g/c",
          "100 AttemptCanceled root/g/c",
          "100 TaskFinished root/g/c",
          "100 TaskRemoved root/g/c",
          "100 TaskRemoveRequested root/g/a",
          "100 AttemptCanceled root/g/a",
          "100 TaskFinished root/g/a",
          "100 TaskRemoved root/g/a",
          "100 AllStoppedWithinGrace root/g",
          "100 AttemptSucceeded root/g",
          "100 TaskFinished root/g",
          "100 TaskRemoved root/g"
        ])
        expect(ofTag("AutoShutdown")(all).map(({ seq: _seq, ...rest }) => rest)).toEqual([
          { _tag: "AutoShutdown", at: 100, path: "root/g", mode: "any-significant", trigger: "s" }
        ])
        expect(yield* sup.isShuttingDown).toBe(false)
      })
  )

  it.effect("any-significant at the root: join succeeds once the significant task ended, the rest stopped", () =>
    Effect.gen(function* () {
      const { sup, events } = yield* setup({ autoShutdown: "any-significant" })
      const x = yield* sup.add(Task.make("x", forever))
      yield* sup.add(Task.make("s", Effect.sleep("100 millis"), { significant: true }))
      const joined = yield* Effect.forkChild(sup.join)
      yield* advance(99)
      expect(joined.pollUnsafe()).toBeUndefined()
      yield* advance(1)
      expect(yield* Fiber.await(joined)).toEqual(Exit.void)
      expect(yield* x.await).toEqual(byShutdown)
      expect(yield* sup.isShuttingDown).toBe(true)
      expect(yield* Effect.flip(sup.add(Task.make("late", forever)))).toBeInstanceOf(
        SupervisorError.SupervisorShuttingDown
      )
      expect(trace(yield* events, ["AutoShutdown", "ShutdownRequested", "AllStoppedWithinGrace"])).toEqual([
        "100 AutoShutdown root",
        "100 AllStoppedWithinGrace root"
      ])
    })
  )

  it.effect("a significant child that ends Failed (retries exhausted) also triggers it; join still succeeds", () =>
    Effect.gen(function* () {
      const { sup, events } = yield* setup({ autoShutdown: "any-significant" })
      const x = yield* sup.add(Task.make("x", forever))
      const s = yield* sup.add(Task.make("s", boom(), { significant: true, maxRetries: 1, backoff: every(100) }))
      const joined = yield* Effect.forkChild(sup.join)
      yield* advance(100)
      expect(yield* s.await).toMatchObject({ _tag: "Failed", reason: "retry limit reached after 1 of 1 retries: boom" })
      expect(yield* Fiber.await(joined)).toEqual(Exit.void)
      expect(yield* x.await).toEqual(byShutdown)
      expect(ofTag("AutoShutdown")(yield* events).map((e) => [e.at, e.path, e.mode, e.trigger])).toEqual([
        [100, "root", "any-significant", "s"]
      ])
    })
  )

  const endings: ReadonlyArray<readonly [string, Effect.Effect<never, TaskError.TaskError>, string]> = [
    ["Fatal", after(100, TaskError.fatal("gone")), "Fatal"],
    ["Canceled by itself", after(100, TaskError.canceled("done")), "Canceled"]
  ]
  for (const [label, attempt, outcome] of endings) {
    it.effect(`a significant child that ends ${label} triggers it too`, () =>
      Effect.gen(function* () {
        const { sup, events } = yield* setup({ autoShutdown: "any-significant" })
        yield* sup.add(Task.make("x", forever))
        const s = yield* sup.add(Task.make("s", attempt, { significant: true }))
        yield* advance(100)
        expect((yield* s.await)._tag).toBe(outcome)
        expect(yield* Effect.exit(sup.join)).toEqual(Exit.void)
        expect(trace(yield* events, ["AutoShutdown"])).toEqual(["100 AutoShutdown root"])
      })
    )
  }

  it.effect("all-significant: completes only after the last significant child ended by itself", () =>
    Effect.gen(function* () {
      const { sup, events } = yield* setup()
      const stops: Array<string> = []
      const g = yield* sup.add(
        Supervisor.task(
          "g",
          [
            Task.make("s1", Effect.sleep("100 millis"), { significant: true }),
            Task.make("a", recordsStop(stops, "a")),
            Task.make("s2", Effect.sleep("300 millis"), { significant: true }),
            Task.make("b", recordsStop(stops, "b"))
          ],
          { autoShutdown: "all-significant" }
        )
      )
      yield* advance(299)
      expect(yield* g.poll).toEqual(Option.none())
      expect(ofTag("AutoShutdown")(yield* events)).toEqual([])
      expect((yield* sup.tree).tasks[0]!.supervisor!.tasks.map((t) => t.name)).toEqual(["a", "s2", "b"])
      yield* advance(1)
      expect(yield* g.await).toEqual(TaskOutcome.completed)
      expect(stops).toEqual(["b", "a"])
      expect(ofTag("AutoShutdown")(yield* events).map((e) => [e.at, e.path, e.mode, e.trigger])).toEqual([
        [300, "root/g", "all-significant", "s2"]
      ])
    })
  )

  it.effect("all-significant: a significant child removed with remove does not trigger it", () =>
    Effect.gen(function* () {
      const { sup, events } = yield* setup({ autoShutdown: "all-significant" })
      yield* sup.add(Task.make("s1", forever, { significant: true }))
      yield* sup.add(Task.make("s2", Effect.sleep("300 millis"), { significant: true }))
      const x = yield* sup.add(Task.make("x", forever))
      yield* advance(50)
      expect(yield* sup.remove("s1")).toBe(true)
      yield* advance(249)
      expect(ofTag("AutoShutdown")(yield* events)).toEqual([])
      expect(yield* sup.isShuttingDown).toBe(false)
      yield* advance(1)
      expect(yield* Effect.exit(sup.join)).toEqual(Exit.void)
      expect(yield* x.await).toEqual(byShutdown)
      expect(ofTag("AutoShutdown")(yield* events).map((e) => [e.at, e.trigger])).toEqual([[300, "s2"]])
    })
  )

  it.effect("all-significant: when the last undecided significant child is removed, nothing triggers", () =>
    Effect.gen(function* () {
      const { sup, events } = yield* setup({ autoShutdown: "all-significant" })
      yield* sup.add(Task.make("s1", Effect.sleep("100 millis"), { significant: true }))
      yield* sup.add(Task.make("s2", forever, { significant: true }))
      const x = yield* sup.add(Task.make("x", forever))
      yield* advance(200)
      expect(yield* sup.remove("s2")).toBe(true)
      yield* advance(1000)
      expect(ofTag("AutoShutdown")(yield* events)).toEqual([])
      expect(yield* sup.isShuttingDown).toBe(false)
      expect(yield* x.poll).toEqual(Option.none())
    })
  )

  it.effect("any-significant: removing the significant child does not trigger it", () =>
    Effect.gen(function* () {
      const { sup, events } = yield* setup({ autoShutdown: "any-significant" })
      const s = yield* sup.add(Task.make("s", forever, { significant: true }))
      const x = yield* sup.add(Task.make("x", forever))
      yield* advance(10)
      expect(yield* sup.remove("s")).toBe(true)
      expect(yield* s.await).toEqual(new TaskOutcome.Canceled({ reason: "stopped by remove" }))
      yield* advance(1000)
      expect(ofTag("AutoShutdown")(yield* events)).toEqual([])
      expect(yield* sup.isShuttingDown).toBe(false)
      expect(yield* x.poll).toEqual(Option.none())
    })
  )

  it.effect("a significant supervisor task that completes auto-shuts down its parent: both AutoShutdowns", () =>
    Effect.gen(function* () {
      const { sup, events } = yield* setup({ autoShutdown: "any-significant" })
      const x = yield* sup.add(Task.make("x", forever))
      const g = yield* sup.add(
        Supervisor.task(
          "g",
          [Task.make("a", forever), Task.make("s", Effect.sleep("100 millis"), { significant: true })],
          { autoShutdown: "any-significant", significant: true }
        )
      )
      yield* advance(100)
      expect(yield* g.await).toEqual(TaskOutcome.completed)
      expect(yield* x.await).toEqual(byShutdown)
      expect(yield* Effect.exit(sup.join)).toEqual(Exit.void)
      const all = yield* events
      expect(ofTag("AutoShutdown")(all).map((e) => [e.at, e.path, e.trigger])).toEqual([
        [100, "root/g", "s"],
        [100, "root", "g"]
      ])
      expect(under(all, "root/g").filter((e) => e._tag === "TaskFinished").length).toBe(3)
    })
  )
})
