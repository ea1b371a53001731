/**
 * Steering a tree by path, as an operator (the dashboard) does: `remove`, `cancel` and `get` take
 * paths relative to the supervisor (as `restartNow` does), `snapshot` reads the tree with the
 * `seq` of the last event it reflects, and `operatorAction` runs an action by full path and audits
 * every request on the bus (`OperatorActionRequested`). Every timing runs on the TestClock.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Fiber, Option } from "effect"
import { Supervisor, type SupervisorEvent, Task } from "@fibervisor/core"
import { TestTime } from "@fibervisor/vitest"
import { ofTag, setup } from "../helpers/recorder.js"

/** A tree `root/app/{connector,importer}` next to `root/solo`, every task running. */
const tree = Effect.gen(function* () {
  const recorder = yield* setup()
  yield* recorder.sup.add(
    Supervisor.task("app", [Task.make("connector", Effect.never), Task.make("importer", Effect.never)])
  )
  yield* recorder.sup.add(Task.make("solo", Effect.never))
  yield* recorder.waitFor("AttemptStarting", (event) => event.path === "root/solo")
  yield* recorder.waitFor("AttemptStarting", (event) => event.path === "root/app/importer")
  return recorder
})

const dashboard = { remote: "127.0.0.1:5555", source: "dashboard" }

const audits = (events: ReadonlyArray<SupervisorEvent.SupervisorEvent>) =>
  ofTag("OperatorActionRequested")(events).map(({ at: _at, seq: _seq, _tag, ...rest }) => rest)

describe("steering by path", () => {
  it.effect("remove, cancel and get accept a path relative to the supervisor", () =>
    Effect.gen(function* () {
      const { sup, waitFor, events } = yield* tree
      expect(Option.getOrThrow(yield* sup.get("app/connector"))).toMatchObject({
        name: "connector",
        path: "root/app/connector",
        state: "running"
      })
      for (const missing of ["app/nope", "nope/connector", "app/connector/deeper", "root/app/connector", "solo/x"]) {
        expect(yield* sup.get(missing)).toEqual(Option.none())
        expect(yield* sup.remove(missing)).toBe(false)
        expect(yield* sup.cancel(missing)).toBe(false)
      }
      expect(yield* sup.remove("app/connector")).toBe(true)
      // Claimed once.
      expect(yield* sup.remove("app/connector")).toBe(false)
      yield* waitFor("TaskRemoved", (event) => event.path === "root/app/connector")
      expect(yield* sup.get("app/connector")).toEqual(Option.none())
      expect(yield* sup.cancel("app/importer")).toBe(true)
      // `cancel` resumed after the cleanup: the task's outcome is decided.
      const recorded = yield* events
      expect(
        ofTag("TaskFinished")(recorded)
          .filter((event) => event.path.startsWith("root/app/"))
          .map((event) => [event.path, event.outcome])
      ).toEqual([
        ["root/app/connector", "Canceled"],
        ["root/app/importer", "Canceled"]
      ])
      expect(
        ofTag("TaskRemoveRequested")(recorded)
          .filter((event) => event.path.startsWith("root/app/"))
          .map((event) => [event.path, event.reason])
      ).toEqual([
        ["root/app/connector", "remove"],
        ["root/app/importer", "cancel"]
      ])
      // Their parent and sibling were not touched.
      expect(Option.getOrThrow(yield* sup.get("app"))).toMatchObject({ state: "running", attempt: 1 })
      expect(Option.getOrThrow(yield* sup.get("solo"))).toMatchObject({ state: "running", attempt: 1 })
    })
  )

  it.effect("cancel by path with a timeout fails with TaskTerminationTimeout naming the nested task", () =>
    Effect.gen(function* () {
      const { sup, waitFor } = yield* setup()
      yield* sup.add(
        Supervisor.task("app", [
          Task.make(
            "slow",
            Effect.andThen(
              Effect.addFinalizer(() => Effect.sleep("3 seconds")),
              Effect.never
            ),
            { grace: "10 seconds" }
          )
        ])
      )
      yield* waitFor("AttemptStarting", (event) => event.path === "root/app/slow")
      const fiber = yield* Effect.forkChild(Effect.flip(sup.cancel("app/slow", { timeout: "1 second" })))
      yield* TestTime.adjust("1 second")
      expect(yield* Fiber.join(fiber)).toMatchObject({ _tag: "TaskTerminationTimeout", task: "slow", timeoutMs: 1000 })
      yield* TestTime.adjust("2 seconds")
      yield* waitFor("TaskRemoved", (event) => event.path === "root/app/slow")
    })
  )

  it.effect("snapshot reads the tree with the seq of the last event it reflects", () =>
    Effect.gen(function* () {
      const { sup, events } = yield* tree
      const before = yield* sup.snapshot
      const recorded = yield* events
      expect(before.seq).toBe(recorded.at(-1)!.seq)
      expect(before.tree).toEqual(yield* sup.tree)
      yield* sup.remove("solo")
      const after = yield* sup.snapshot
      // The stop was claimed: its event is counted, and the tree shows the task stopping.
      expect(after.seq).toBeGreaterThan(before.seq)
      expect(after.tree.tasks.find((node) => node.name === "solo")?.state).toBe("stopping")
    })
  )

  it.effect("snapshot's seq counts events nobody listened to", () =>
    Effect.gen(function* () {
      const sup = yield* Supervisor.make()
      yield* sup.add(Task.make("w", Effect.never))
      yield* TestTime.settle()
      // TaskAdded and AttemptStarting were numbered though no subscriber built them.
      expect((yield* sup.snapshot).seq).toBe(2)
    })
  )
})

describe("operatorAction", () => {
  it.effect("restart, remove and cancel by full path; each is audited with its outcome", () =>
    Effect.gen(function* () {
      const { sup, waitFor, events } = yield* tree
      expect(yield* sup.operatorAction({ action: "restart", path: "root/app/connector", ...dashboard })).toEqual({
        outcome: "done"
      })
      yield* waitFor("AttemptStarting", (event) => event.path === "root/app/connector" && event.attempt === 2)
      expect(yield* sup.operatorAction({ action: "remove", path: "root/solo", ...dashboard })).toEqual({
        outcome: "done"
      })
      expect(yield* sup.operatorAction({ action: "cancel", path: "root/app/importer", ...dashboard })).toEqual({
        outcome: "done"
      })
      yield* TestTime.settle()
      const recorded = yield* events
      expect(audits(recorded)).toEqual([
        { path: "root/app/connector", action: "restart", outcome: "done", ...dashboard },
        { path: "root/solo", action: "remove", outcome: "done", ...dashboard },
        { path: "root/app/importer", action: "cancel", outcome: "done", ...dashboard }
      ])
      // The audit follows the supervisor's own event for the action it reports.
      const order = recorded
        .filter((event) => event._tag === "OperatorActionRequested" || event._tag === "TaskRestartRequested")
        .map((event) => event._tag)
      expect(order.slice(0, 2)).toEqual(["TaskRestartRequested", "OperatorActionRequested"])
      // `cancel` resumed once the cleanup was done.
      expect(ofTag("TaskFinished")(recorded).map((event) => event.path)).toContain("root/app/importer")
    })
  )

  it.effect("not-found, declined and refused requests are audited too, and nothing runs", () =>
    Effect.gen(function* () {
      const { sup, events } = yield* tree
      const ask = (action: string, path: string, refused?: string) =>
        sup.operatorAction({ action, path, ...dashboard, ...(refused === undefined ? {} : { refused }) })
      expect(yield* ask("restart", "root/app/nope")).toEqual({ outcome: "not-found", reason: "no task at this path" })
      expect(yield* ask("remove", "root")).toMatchObject({ outcome: "not-found" })
      expect(yield* ask("remove", "root/")).toMatchObject({ outcome: "not-found" })
      expect(yield* ask("remove", "other/solo")).toMatchObject({ outcome: "not-found" })
      expect(yield* ask("remove", "solo")).toMatchObject({ outcome: "not-found" })
      expect(yield* ask("explode", "root/solo")).toEqual({
        outcome: "refused",
        reason: "unknown action (cancel, remove or restart)"
      })
      expect(yield* ask("remove", "root/solo", "wrong token")).toEqual({ outcome: "refused", reason: "wrong token" })
      expect(yield* sup.get("solo")).toMatchObject(Option.some({ state: "running" }))
      // A stop under way: a second remove, cancel or restart is declined.
      expect(yield* ask("remove", "root/solo")).toEqual({ outcome: "done" })
      expect(yield* ask("remove", "root/solo")).toEqual({
        outcome: "declined",
        reason: "a stop of the task is already under way"
      })
      expect(yield* ask("cancel", "root/solo")).toMatchObject({ outcome: "declined" })
      expect(yield* ask("restart", "root/solo")).toEqual({
        outcome: "declined",
        reason: "the task cannot be restarted now"
      })
      yield* TestTime.settle()
      expect(audits(yield* events).map((audit) => [audit.action, audit.path, audit.outcome])).toEqual([
        ["restart", "root/app/nope", "not-found"],
        ["remove", "root", "not-found"],
        ["remove", "root/", "not-found"],
        ["remove", "other/solo", "not-found"],
        ["remove", "solo", "not-found"],
        ["explode", "root/solo", "refused"],
        ["remove", "root/solo", "refused"],
        ["remove", "root/solo", "done"],
        ["remove", "root/solo", "declined"],
        ["cancel", "root/solo", "declined"],
        ["restart", "root/solo", "declined"]
      ])
    })
  )

  it.effect("audited texts are cut to a bounded length", () =>
    Effect.gen(function* () {
      const { sup, events } = yield* setup()
      yield* sup.operatorAction({
        action: "x".repeat(10_000),
        path: "p".repeat(10_000),
        remote: "r".repeat(10_000),
        source: "s".repeat(10_000),
        refused: "why".repeat(10_000)
      })
      yield* TestTime.settle()
      const [audit] = audits(yield* events)
      expect(audit!.action.length).toBe(32)
      expect(audit!.path.length).toBe(512)
      expect(audit!.remote.length).toBe(128)
      expect(audit!.source.length).toBe(64)
      expect(audit!.reason!.length).toBe(300)
      expect(audit!.path.endsWith("…")).toBe(true)
    })
  )

  it.effect("a supervisor task by path: its subtree goes with it, and its children are not found afterwards", () =>
    Effect.gen(function* () {
      const { sup, waitFor } = yield* tree
      // Full paths start with the supervisor's own path: `root/app/…` from the root.
      expect(yield* sup.operatorAction({ action: "remove", path: "root/app", ...dashboard })).toEqual({
        outcome: "done"
      })
      yield* waitFor("TaskRemoved", (event) => event.path === "root/app")
      expect(yield* sup.operatorAction({ action: "remove", path: "root/app/connector", ...dashboard })).toMatchObject({
        outcome: "not-found"
      })
    })
  )

  it.effect("acted: an action the caller ran itself (the dashboard's retry) is audited with its outcome", () =>
    Effect.gen(function* () {
      const { sup, events } = yield* tree
      const path = "offload:mail#f1"
      expect(yield* sup.operatorAction({ action: "retry", path, ...dashboard, acted: { outcome: "done" } })).toEqual({
        outcome: "done"
      })
      expect(
        yield* sup.operatorAction({
          action: "retry",
          path,
          ...dashboard,
          acted: { outcome: "declined", reason: "in flight" }
        })
      ).toEqual({ outcome: "declined", reason: "in flight" })
      // `refused` takes precedence; an outcome that is not one is refused.
      expect(
        yield* sup.operatorAction({ action: "retry", path, ...dashboard, refused: "no", acted: { outcome: "done" } })
      ).toEqual({ outcome: "refused", reason: "no" })
      expect(
        yield* sup.operatorAction({ action: "retry", path, ...dashboard, acted: { outcome: "bogus" as "done" } })
      ).toEqual({ outcome: "refused", reason: "unknown outcome" })
      yield* TestTime.settle()
      expect(audits(yield* events).filter((event) => event.action === "retry")).toEqual([
        { path, action: "retry", outcome: "done", ...dashboard },
        { path, action: "retry", outcome: "declined", reason: "in flight", ...dashboard },
        { path, action: "retry", outcome: "refused", reason: "no", ...dashboard },
        { path, action: "retry", outcome: "refused", reason: "unknown outcome", ...dashboard }
      ])
      // Nothing in the tree was touched.
      expect(Option.getOrThrow(yield* sup.get("solo")).state).toBe("running")
    })
  )
})
