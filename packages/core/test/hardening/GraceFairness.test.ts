/**
 * Grace in an ordered stop: a static child without a grace of its own gets an equal share of what
 * is left, so a wedged child cannot eat its siblings' clean stop; once every task of a subtree has
 * stopped or been abandoned its ancestors stop waiting for it; a nested supervisor reports
 * `GraceExceeded` only at its own deadline; a `grace: 0` child is abandoned at once with its own
 * grace. Every timing runs on the TestClock (which starts at 0), so instants are exact.
 */
import { describe, expect, it } from "@effect/vitest"
import { Duration, Effect, Exit, Fiber, Option } from "effect"
import { Supervisor, SupervisorError, SupervisorEvent, Task } from "@fibervisor/core"
import { TestTime } from "@fibervisor/vitest"
import { type Log, makeLog, recorded, setupTree, timeline } from "../helpers/tree.js"

/** A service whose attempt's scope finalizer (its flush) takes `stopTakes`. */
const service = (log: Log, name: string, stopTakes: Duration.Input) =>
  Task.make(name, recorded(log, undefined, { stopTakes }))

/** A task stuck in an uninterruptible region for an hour, with no grace of its own. */
const wedged = (log: Log, name = "wedged") =>
  Task.make(
    name,
    recorded(log, () => Effect.uninterruptible(Effect.sleep("1 hour")))
  )

const shutdownTags = [
  "TaskRemoveRequested",
  "TaskFinished",
  "GraceExceeded",
  "AllStoppedWithinGrace",
  "TaskRemoved"
] as const

/** The service of the new-user report: a root (6 s) over `app` (5 s) with three cooperative children. */
const app = (log: Log, stuck: Task.Task<never, never>) =>
  Supervisor.task(
    "app",
    [
      service(log, "connector", "10 millis"),
      service(log, "heartbeat", "10 millis"),
      service(log, "importer", "1 second").pipe(Task.withGrace("3 seconds")),
      stuck
    ],
    { grace: "5 seconds" }
  )

describe("Grace fairness: a wedged static child next to flushing siblings", () => {
  it.effect("a child without its own grace gets an equal share of what is left; its siblings stop cleanly", () =>
    Effect.gen(function* () {
      const { events, sup } = yield* setupTree({ grace: "6 seconds" })
      const log = makeLog()
      yield* sup.add(app(log, wedged(log)))
      yield* TestTime.adjust("1 second")
      const shutdown = yield* Effect.forkChild(sup.shutdown)
      // wedged (no grace of its own) gets 5000 ms / 4 children = 1250 ms; then importer flushes for 1 s.
      yield* TestTime.adjust("1249 millis")
      expect(log.lines("stop")).toEqual([])
      yield* TestTime.adjust("1 millis")
      expect(log.lines("stop")).toEqual(["2250 stop root/app/importer#1"])
      yield* TestTime.adjust("1019 millis")
      expect(shutdown.pollUnsafe()).toBeUndefined()
      yield* TestTime.adjust("1 millis")
      // Every sibling's finalizer completed; the subtree is decided at 3270: the root does not wait for its deadline.
      expect(log.lines("stop")).toEqual([
        "2250 stop root/app/importer#1",
        "3250 stopped root/app/importer#1",
        "3250 stop root/app/heartbeat#1",
        "3260 stopped root/app/heartbeat#1",
        "3260 stop root/app/connector#1",
        "3270 stopped root/app/connector#1"
      ])
      const error = new SupervisorError.GraceExceeded({
        grace: Duration.seconds(6),
        stuck: ["app"],
        paths: ["root/app/wedged"],
        elapsed: Duration.millis(2270)
      })
      expect(yield* Fiber.await(shutdown)).toEqual(Exit.fail(error))
      expect(error.message).toBe(
        "shutdown abandoned tasks that outlasted their own grace, after 2s 270ms of its grace of 6s: root/app/wedged"
      )
      // The abandoned fiber keeps its name (and its parent's) until it really exits.
      expect(Option.map(yield* sup.get("app"), (info) => info.state)).toEqual(Option.some("stopping"))
      yield* TestTime.adjust("1 hour")
      expect(yield* sup.size).toBe(0)
      expect(
        timeline(
          (yield* events).filter((event) => event.at >= 1000),
          shutdownTags
        )
      ).toEqual([
        "1000 TaskRemoveRequested root/app shutdown",
        "1000 TaskRemoveRequested root/app/wedged shutdown",
        "2250 TaskFinished root/app/wedged ForceAborted did not stop within its share (1250 ms) of the shutdown grace",
        "2250 TaskRemoveRequested root/app/importer shutdown",
        "3250 TaskFinished root/app/importer Canceled stopped by shutdown",
        "3250 TaskRemoved root/app/importer",
        "3250 TaskRemoveRequested root/app/heartbeat shutdown",
        "3260 TaskFinished root/app/heartbeat Canceled stopped by shutdown",
        "3260 TaskRemoved root/app/heartbeat",
        "3260 TaskRemoveRequested root/app/connector shutdown",
        "3270 TaskFinished root/app/connector Canceled stopped by shutdown",
        "3270 TaskRemoved root/app/connector",
        "3270 TaskFinished root/app ForceAborted did not stop: tasks under it were abandoned (root/app/wedged)",
        "3270 GraceExceeded root stuck=app paths=root/app/wedged",
        // app's own report comes at its own deadline, never before.
        "6000 GraceExceeded root/app stuck=wedged paths=root/app/wedged",
        // wedged's region began at 0 and ends after an hour.
        "3600000 TaskRemoved root/app/wedged",
        "3600000 TaskRemoved root/app"
      ])
    })
  )

  it.effect("a child whose restartNow is under way still gets only its share when the shutdown comes", () =>
    Effect.gen(function* () {
      const { events, sup } = yield* setupTree({ grace: "6 seconds" })
      const log = makeLog()
      yield* sup.add(app(log, wedged(log)))
      yield* TestTime.adjust("1 second")
      // The restart waits up to wedged's grace (app's 5 s) for the attempt to stop; the shutdown
      // must not inherit that clock, or wedged would eat the importer's flush.
      expect(yield* sup.restartNow("app/wedged")).toBe(true)
      const shutdown = yield* Effect.forkChild(sup.shutdown)
      yield* TestTime.adjust("1250 millis")
      expect(log.lines("stop")).toEqual(["2250 stop root/app/importer#1"])
      yield* TestTime.adjust("1020 millis")
      expect(log.lines("stop")).toContain("3250 stopped root/app/importer#1")
      expect((yield* Fiber.await(shutdown))._tag).toBe("Failure")
      expect(timeline(yield* events, ["TaskFinished"]).filter((line) => line.includes("root/app/wedged "))).toEqual([
        "2250 TaskFinished root/app/wedged ForceAborted did not stop within its share (1250 ms) of the shutdown grace"
      ])
      yield* TestTime.adjust("1 hour")
      expect(yield* sup.size).toBe(0)
    })
  )

  it.effect("a child with its own 500 ms grace costs 500 ms, not the root's 6 s; the report tells the truth", () =>
    Effect.gen(function* () {
      const { events, sup } = yield* setupTree({ grace: "6 seconds" })
      const log = makeLog()
      yield* sup.add(app(log, wedged(log).pipe(Task.withGrace("500 millis"))))
      yield* TestTime.adjust("1 second")
      const shutdown = yield* Effect.forkChild(sup.shutdown)
      yield* TestTime.adjust("1519 millis")
      expect(shutdown.pollUnsafe()).toBeUndefined()
      yield* TestTime.adjust("1 millis")
      const error = new SupervisorError.GraceExceeded({
        grace: Duration.seconds(6),
        stuck: ["app"],
        paths: ["root/app/wedged"],
        elapsed: Duration.millis(1520)
      })
      expect(yield* Fiber.await(shutdown)).toEqual(Exit.fail(error))
      expect(error.message).toBe(
        "shutdown abandoned tasks that outlasted their own grace, after 1s 520ms of its grace of 6s: root/app/wedged"
      )
      // The event says so too, and survives a JSON round trip.
      const reported = (yield* events).filter(SupervisorEvent.is("GraceExceeded"))
      expect(reported.map((event) => [event.path, event.graceMs, event.elapsedMs])).toEqual([["root", 6000, 1520]])
      const json: unknown = JSON.parse(JSON.stringify(SupervisorEvent.encode(reported[0]!)))
      expect(yield* SupervisorEvent.decode(json)).toEqual(reported[0])
      expect(log.lines("stopped")).toEqual([
        "2500 stopped root/app/importer#1",
        "2510 stopped root/app/heartbeat#1",
        "2520 stopped root/app/connector#1"
      ])
      yield* TestTime.adjust("1 hour")
      expect(
        timeline(
          (yield* events).filter((event) => event.at >= 1000),
          ["TaskFinished", "GraceExceeded", "AllStoppedWithinGrace"]
        )
      ).toEqual([
        "1500 TaskFinished root/app/wedged ForceAborted did not stop within its grace of 500 ms",
        "2500 TaskFinished root/app/importer Canceled stopped by shutdown",
        "2510 TaskFinished root/app/heartbeat Canceled stopped by shutdown",
        "2520 TaskFinished root/app/connector Canceled stopped by shutdown",
        "2520 TaskFinished root/app ForceAborted did not stop: tasks under it were abandoned (root/app/wedged)",
        "2520 GraceExceeded root stuck=app paths=root/app/wedged",
        "6000 GraceExceeded root/app stuck=wedged paths=root/app/wedged"
      ])
    })
  )

  it.effect("an abandoned grandchild does not hold two levels of ancestors until their deadlines", () =>
    Effect.gen(function* () {
      const { events, sup } = yield* setupTree({ grace: "20 seconds" })
      const log = makeLog()
      yield* sup.add(
        Supervisor.task(
          "top",
          [
            service(log, "a", "100 millis"),
            Supervisor.task("mid", [wedged(log, "h").pipe(Task.withGrace("300 millis"))], { grace: "8 seconds" })
          ],
          { grace: "10 seconds" }
        )
      )
      yield* TestTime.adjust("1 second")
      const shutdown = yield* Effect.forkChild(sup.shutdown)
      // mid is decided at 1300 (h abandoned), top once a has stopped (1400), the root with it.
      yield* TestTime.adjust("399 millis")
      expect(shutdown.pollUnsafe()).toBeUndefined()
      yield* TestTime.adjust("1 millis")
      expect(yield* Fiber.await(shutdown)).toEqual(
        Exit.fail(
          new SupervisorError.GraceExceeded({
            grace: Duration.seconds(20),
            stuck: ["top"],
            paths: ["root/top/mid/h"],
            elapsed: Duration.millis(400)
          })
        )
      )
      yield* TestTime.adjust("1 hour")
      expect(
        timeline(
          (yield* events).filter((event) => event.at >= 1000),
          ["TaskFinished", "GraceExceeded", "AllStoppedWithinGrace"]
        )
      ).toEqual([
        "1300 TaskFinished root/top/mid/h ForceAborted did not stop within its grace of 300 ms",
        "1300 TaskFinished root/top/mid ForceAborted did not stop: tasks under it were abandoned (root/top/mid/h)",
        "1400 TaskFinished root/top/a Canceled stopped by shutdown",
        "1400 TaskFinished root/top ForceAborted did not stop: tasks under it were abandoned (root/top/mid/h)",
        "1400 GraceExceeded root stuck=top paths=root/top/mid/h",
        "9000 GraceExceeded root/top/mid stuck=h paths=root/top/mid/h",
        "11000 GraceExceeded root/top stuck=mid paths=root/top/mid/h"
      ])
    })
  )
})

describe("Grace: a nested ordered stop never reports GraceExceeded before its deadline", () => {
  it.effect("a child abandoned after its own 50 ms grace: the nested supervisor reports at its 1 s deadline", () =>
    Effect.gen(function* () {
      const { events, sup } = yield* setupTree()
      const log = makeLog()
      yield* sup.add(
        Supervisor.task("g", [service(log, "a", "10 millis"), wedged(log, "h").pipe(Task.withGrace("50 millis"))], {
          grace: "1 second"
        })
      )
      yield* TestTime.adjust("1 second")
      const shutdown = yield* Effect.forkChild(sup.shutdown)
      yield* TestTime.adjust("1 hour")
      expect(Exit.isFailure(yield* Fiber.await(shutdown))).toBe(true)
      const nested = (yield* events).filter((event) => event.path === "root/g")
      expect(timeline(nested, ["GraceExceeded", "AllStoppedWithinGrace"])).toEqual([
        "2000 GraceExceeded root/g stuck=h paths=root/g/h"
      ])
      expect(
        timeline(
          (yield* events).filter((event) => event.at >= 1000),
          ["TaskFinished", "GraceExceeded"]
        )
      ).toEqual([
        "1050 TaskFinished root/g/h ForceAborted did not stop within its grace of 50 ms",
        "1060 TaskFinished root/g/a Canceled stopped by shutdown",
        "1060 TaskFinished root/g ForceAborted did not stop: tasks under it were abandoned (root/g/h)",
        "1060 GraceExceeded root stuck=g paths=root/g/h",
        "2000 GraceExceeded root/g stuck=h paths=root/g/h"
      ])
    })
  )

  it.effect("an abandoned child that exits before the deadline: the nested supervisor reports all stopped", () =>
    Effect.gen(function* () {
      const { events, sup } = yield* setupTree()
      const log = makeLog()
      // h's uninterruptible region ends at 1300, after its own grace (1050), before g's deadline (2000).
      const h = Task.make(
        "h",
        recorded(log, () => Effect.uninterruptible(Effect.sleep("1300 millis")))
      ).pipe(Task.withGrace("50 millis"))
      yield* sup.add(Supervisor.task("g", [service(log, "a", "10 millis"), h], { grace: "1 second" }))
      yield* TestTime.adjust("1 second")
      const shutdown = yield* Effect.forkChild(sup.shutdown)
      yield* TestTime.adjust("1 hour")
      expect(Exit.isFailure(yield* Fiber.await(shutdown))).toBe(true)
      expect(
        timeline(
          (yield* events).filter((event) => event.path === "root/g"),
          ["GraceExceeded", "AllStoppedWithinGrace", "TaskRemoved"]
        )
      ).toEqual(["1300 AllStoppedWithinGrace root/g", "1300 TaskRemoved root/g"])
    })
  )
})

describe("Grace: a static child with grace 0 (brutal kill)", () => {
  it.effect("is abandoned at once with its own grace; a cooperative one still stops: no GraceExceeded", () =>
    Effect.gen(function* () {
      const { events, sup } = yield* setupTree()
      const log = makeLog()
      yield* sup.add(
        Supervisor.task("g", [service(log, "a", "10 millis"), Task.make("z", recorded(log)).pipe(Task.withGrace(0))])
      )
      yield* TestTime.adjust("1 second")
      const shutdown = yield* Effect.forkChild(sup.shutdown)
      yield* TestTime.adjust("10 millis")
      expect(yield* Fiber.await(shutdown)).toEqual(Exit.void)
      expect(
        timeline(
          (yield* events).filter((event) => event.at >= 1000),
          ["TaskRemoveRequested", "TaskFinished", "GraceExceeded", "AllStoppedWithinGrace"]
        )
      ).toEqual([
        "1000 TaskRemoveRequested root/g shutdown",
        "1000 TaskRemoveRequested root/g/z shutdown",
        "1000 TaskFinished root/g/z ForceAborted did not stop within its grace of 0 ms",
        "1000 TaskRemoveRequested root/g/a shutdown",
        "1010 TaskFinished root/g/a Canceled stopped by shutdown",
        "1010 AllStoppedWithinGrace root/g",
        "1010 TaskFinished root/g Canceled stopped by shutdown",
        "1010 AllStoppedWithinGrace root"
      ])
    })
  )

  it.effect("stopped last, a cooperative one that exits at once does not fail its ancestors' shutdown", () =>
    Effect.gen(function* () {
      const { events, sup } = yield* setupTree()
      const log = makeLog()
      yield* sup.add(
        Supervisor.task("g", [Task.make("z", recorded(log)).pipe(Task.withGrace(0)), service(log, "a", "10 millis")])
      )
      yield* TestTime.adjust("1 second")
      const shutdown = yield* Effect.forkChild(sup.shutdown)
      yield* TestTime.adjust("10 millis")
      expect(yield* Fiber.await(shutdown)).toEqual(Exit.void)
      expect(
        timeline(
          (yield* events).filter((event) => event.at >= 1000),
          ["TaskFinished", "GraceExceeded", "AllStoppedWithinGrace"]
        )
      ).toEqual([
        "1010 TaskFinished root/g/a Canceled stopped by shutdown",
        "1010 TaskFinished root/g/z ForceAborted did not stop within its grace of 0 ms",
        "1010 AllStoppedWithinGrace root/g",
        "1010 TaskFinished root/g Canceled stopped by shutdown",
        "1010 AllStoppedWithinGrace root"
      ])
    })
  )

  it.effect("a wedged one is abandoned at once; its supervisor reports GraceExceeded only at its deadline", () =>
    Effect.gen(function* () {
      const { events, sup } = yield* setupTree({ grace: "30 seconds" })
      const log = makeLog()
      yield* sup.add(Supervisor.task("g", [service(log, "a", "10 millis"), wedged(log, "z").pipe(Task.withGrace(0))]))
      yield* TestTime.adjust("1 second")
      const shutdown = yield* Effect.forkChild(sup.shutdown)
      yield* TestTime.adjust("10 millis")
      expect(yield* Fiber.await(shutdown)).toEqual(
        Exit.fail(
          new SupervisorError.GraceExceeded({
            grace: Duration.seconds(30),
            stuck: ["g"],
            paths: ["root/g/z"],
            elapsed: Duration.millis(10)
          })
        )
      )
      yield* TestTime.adjust("1 hour")
      expect(
        timeline(
          (yield* events).filter((event) => event.at >= 1000),
          ["TaskFinished", "GraceExceeded", "AllStoppedWithinGrace"]
        )
      ).toEqual([
        "1000 TaskFinished root/g/z ForceAborted did not stop within its grace of 0 ms",
        "1010 TaskFinished root/g/a Canceled stopped by shutdown",
        "1010 TaskFinished root/g ForceAborted did not stop: tasks under it were abandoned (root/g/z)",
        "1010 GraceExceeded root stuck=g paths=root/g/z",
        // g's grace is the default 10 s.
        "11000 GraceExceeded root/g stuck=z paths=root/g/z"
      ])
    })
  )
})
