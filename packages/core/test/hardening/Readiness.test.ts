/**
 * Readiness that tells the truth (issue 12, items 1 and 2): a readiness task that ended for good
 * makes the tree not ready (at any depth) until a task takes its place; a `ready: "reported"` task
 * is ready only once its running attempt called `TaskContext.markReady`.
 */
import { describe, expect, it } from "@effect/vitest"
import { Deferred, Effect, Option } from "effect"
import {
  Backoff,
  RestartPolicy,
  Supervisor,
  SupervisorError,
  SupervisorTree,
  Task,
  TaskContext,
  TaskError
} from "@fibervisor/core"
import { flush, parked, TestTime } from "../helpers/tasks.js"

const constant = Backoff.constant("1 second")

/** Path, state and `reportedReady` of the live tasks the probe waits for. */
const waitingFor = (tree: SupervisorTree.SupervisorTree) =>
  SupervisorTree.notReady(tree).map((node) =>
    node.reportedReady === undefined
      ? `${node.path} ${node.state}`
      : `${node.path} ${node.state} reported=${node.reportedReady}`
  )

const lostOf = (tree: SupervisorTree.SupervisorTree) =>
  (tree.lost ?? []).map((lost) => `${lost.at} ${lost.path} ${lost.outcome}: ${lost.reason}`)

describe("a readiness task that ended for good makes the tree not ready", () => {
  it.effect("Failed (retry limit): listed in `lost` with its reason, not ready until a task is added at its path", () =>
    Effect.gen(function* () {
      const sup = yield* Supervisor.make()
      yield* TestTime.adjust(500)
      yield* sup.add(Task.make("db", Effect.fail("refused"), { ready: true, maxRetries: 1, backoff: constant }))
      yield* flush
      expect(SupervisorTree.isReady(yield* sup.tree)).toBe(false)
      yield* TestTime.adjust("1 second")
      const tree = yield* sup.tree
      // Before the fix the dead task left the registry and nothing else was recorded: ready.
      expect(tree.tasks).toEqual([])
      expect(lostOf(tree)).toEqual(["1500 root/db Failed: retry limit reached after 1 of 1 retries: refused"])
      expect(SupervisorTree.notReady(tree)).toEqual([])
      expect(SupervisorTree.isReady(tree)).toBe(false)
      // The record is part of the snapshot's JSON form.
      expect(SupervisorTree.encode(tree).lost).toEqual([
        { path: "root/db", outcome: "Failed", reason: "retry limit reached after 1 of 1 retries: refused", at: 1500 }
      ])

      // A task added at its path takes its place: the record is cleared, the new task is ready once it runs.
      const started = yield* Deferred.make<void>()
      yield* sup.add(Task.make("db", parked(started), { ready: true }))
      expect((yield* sup.tree).lost).toBeUndefined()
      yield* flush
      expect(SupervisorTree.isReady(yield* sup.tree)).toBe(true)
    })
  )

  it.effect("Completed, Fatal and Canceled by TaskError.canceled count too; a non-readiness task does not", () =>
    Effect.gen(function* () {
      const sup = yield* Supervisor.make()
      yield* sup.add(Task.make("once", Effect.void, { ready: true }))
      yield* sup.add(Task.make("fatal", TaskError.fatal("bad credentials"), { ready: true }))
      yield* sup.add(Task.make("drained", TaskError.canceled("queue drained"), { ready: true }))
      yield* sup.add(Task.make("plain", Effect.fail("boom"), { restart: RestartPolicy.never }))
      yield* flush
      const tree = yield* sup.tree
      expect(lostOf(tree)).toEqual([
        "0 root/once Completed: it completed",
        "0 root/fatal Fatal: bad credentials",
        "0 root/drained Canceled: queue drained"
      ])
      expect(SupervisorTree.isReady(tree)).toBe(false)
    })
  )

  it.effect("remove and cancel are deliberate: no record, and they clear a lost task's subtree", () =>
    Effect.gen(function* () {
      const sup = yield* Supervisor.make()
      const a = yield* Deferred.make<void>()
      const b = yield* Deferred.make<void>()
      yield* sup.add(Task.make("a", parked(a), { ready: true }))
      yield* sup.add(Task.make("b", parked(b), { ready: true }))
      yield* flush
      expect(SupervisorTree.isReady(yield* sup.tree)).toBe(true)
      expect(yield* sup.remove("a")).toBe(true)
      expect(yield* sup.cancel("b")).toBe(true)
      yield* flush
      const tree = yield* sup.tree
      expect(tree.tasks).toEqual([])
      expect(tree.lost).toBeUndefined()
      expect(SupervisorTree.isReady(tree)).toBe(true)
    })
  )

  it.effect("a shutdown is not a loss: the tree is not ready while it stops, and nothing is recorded", () =>
    Effect.gen(function* () {
      const sup = yield* Supervisor.make()
      const a = yield* Deferred.make<void>()
      yield* sup.add(Task.make("a", parked(a), { ready: true }))
      yield* flush
      yield* sup.shutdown
      const tree = yield* sup.tree
      expect(tree.state).toBe("stopped")
      expect(tree.lost).toBeUndefined()
      expect(SupervisorTree.isReady(tree)).toBe(false)
    })
  )

  it.effect("a nested readiness task that gave up is recorded on the root, by its full path", () =>
    Effect.gen(function* () {
      const sup = yield* Supervisor.make()
      const other = yield* Deferred.make<void>()
      yield* sup.add(
        Supervisor.task("app", [
          Supervisor.task("db", [
            Task.make("pool", Effect.fail("no route"), { ready: true, maxRetries: 0 }),
            Task.make("other", parked(other))
          ])
        ])
      )
      yield* flush
      const tree = yield* sup.tree
      expect(lostOf(tree)).toEqual(["0 root/app/db/pool Failed: retry limit reached after 0 of 0 retries: no route"])
      // A supervisor task with a readiness task below it is a readiness task itself.
      const flat = SupervisorTree.flatten(tree)
      expect(flat.map((node) => `${node.path} ready=${node.ready}`)).toEqual([
        "root/app ready=true",
        "root/app/db ready=true",
        "root/app/db/other ready=false"
      ])
      expect(tree.tasks[0]!.supervisor!.lost).toBeUndefined()
      expect(SupervisorTree.isReady(tree)).toBe(false)
      // Removing the subtree withdraws it.
      yield* sup.cancel("app")
      expect((yield* sup.tree).lost).toBeUndefined()
    })
  )

  it.effect(
    "a nested supervisor that exceeds its intensity: its task backs off (not ready), then a new attempt clears the record",
    () =>
      Effect.gen(function* () {
        const sup = yield* Supervisor.make()
        // `pool` fails at once under `db`'s first attempt (its restart is refused); it runs from then on.
        let runs = 0
        const pool = Effect.suspend(() => {
          runs += 1
          return runs === 1 ? Effect.fail("crash") : Effect.never
        })
        yield* sup.add(
          Supervisor.task("db", [Task.make("pool", pool, { ready: true, backoff: Backoff.constant(0) })], {
            intensity: { maxRestarts: 0, within: "5 seconds" },
            backoff: constant
          })
        )
        yield* flush
        let tree = yield* sup.tree
        // The refused restart ended `pool` for good in that nested supervisor; `db` itself backs off.
        expect(lostOf(tree)).toEqual([
          "0 root/db/pool Failed: crash (not restarted: the restart intensity of its supervisor (0 in 5000 ms) was exceeded)"
        ])
        expect(waitingFor(tree)).toEqual(["root/db backing-off"])
        yield* TestTime.adjust("1 second")
        tree = yield* sup.tree
        // `db`'s new attempt added `pool` again at its path: the record is cleared.
        expect(tree.lost).toBeUndefined()
        expect(SupervisorTree.isReady(tree)).toBe(true)
      })
  )

  it.effect("a nested supervisor that fails for good: its task is recorded (the trigger too)", () =>
    Effect.gen(function* () {
      const sup = yield* Supervisor.make()
      const other = yield* Deferred.make<void>()
      yield* sup.add(
        Supervisor.task(
          "db",
          [Task.make("other", parked(other), { ready: true }), Task.make("pool", Effect.fail("crash"))],
          { intensity: { maxRestarts: 0, within: "5 seconds" }, restart: RestartPolicy.never }
        )
      )
      yield* flush
      const tree = yield* sup.tree
      // `other` was stopped by its supervisor's shutdown: its supervisor task answers for it.
      expect(tree.lost!.map((lost) => `${lost.path} ${lost.outcome}`)).toEqual(["root/db Failed"])
      expect(tree.lost![0]!.reason).toBe(
        'supervisor "root/db" exceeded its restart intensity of 0 in 5000 ms (last: "pool": crash)'
      )
    })
  )

  it.effect("a RestartPolicy.never readiness sibling stopped for good by a one-for-all restart is recorded", () =>
    Effect.gen(function* () {
      const sup = yield* Supervisor.make()
      const web = yield* Deferred.make<void>()
      let runs = 0
      const flaky = Effect.suspend(() => {
        runs += 1
        return runs === 1 ? Effect.fail("crash") : Effect.never
      })
      yield* sup.add(
        Supervisor.task(
          "group",
          [
            Task.make("web", parked(web), { ready: true, restart: RestartPolicy.never }),
            Task.make("flaky", flaky, { backoff: Backoff.constant(0) })
          ],
          { strategy: "one-for-all" }
        )
      )
      yield* flush
      const tree = yield* sup.tree
      expect(lostOf(tree)).toEqual(["0 root/group/web Canceled: stopped by group-restart"])
      expect(SupervisorTree.isReady(tree)).toBe(false)
    })
  )

  it.effect("the record is bounded: 100 paths listed, the rest counted", () =>
    Effect.gen(function* () {
      const sup = yield* Supervisor.make()
      yield* sup.addAll(Array.from({ length: 102 }, (_, i) => Task.make(`t${i}`, Effect.void, { ready: true })))
      yield* flush
      const tree = yield* sup.tree
      expect(tree.lost!.length).toBe(100)
      expect(tree.lost![99]!.path).toBe("root/t99")
      expect(tree.lostUnlisted).toBe(2)
      expect(SupervisorTree.isReady(tree)).toBe(false)
      expect(SupervisorTree.encode(tree).lostUnlisted).toBe(2)
    })
  )
})

describe('ready: "reported": the task says when it is ready', () => {
  it.effect("not ready until markReady; markNotReady withdraws it; a new attempt starts not ready", () =>
    Effect.gen(function* () {
      const sup = yield* Supervisor.make()
      const connect = yield* Deferred.make<void>()
      const drop = yield* Deferred.make<void>()
      const crash = yield* Deferred.make<void>()
      const attempt = Effect.gen(function* () {
        const ctx = yield* TaskContext.TaskContext
        if (ctx.attempt > 1) return yield* Effect.andThen(ctx.markReady, Effect.never)
        yield* Deferred.await(connect)
        yield* ctx.markReady
        yield* Deferred.await(drop)
        yield* ctx.markNotReady
        yield* Deferred.await(crash)
        return yield* Effect.fail("lost connection")
      })
      const handle = yield* sup.add(Task.make("conn", attempt, { ready: "reported", backoff: constant }))
      yield* flush
      expect(waitingFor(yield* sup.tree)).toEqual(["root/conn running reported=false"])
      expect(yield* sup.get("conn")).toEqual(
        Option.some(expect.objectContaining({ ready: "reported", reportedReady: false }))
      )
      yield* Deferred.succeed(connect, undefined)
      yield* flush
      expect(SupervisorTree.isReady(yield* sup.tree)).toBe(true)
      expect(Option.getOrThrow(yield* sup.get(handle.id)).reportedReady).toBe(true)
      yield* Deferred.succeed(drop, undefined)
      yield* flush
      expect(waitingFor(yield* sup.tree)).toEqual(["root/conn running reported=false"])
      yield* Deferred.succeed(crash, undefined)
      yield* flush
      expect(waitingFor(yield* sup.tree)).toEqual(["root/conn backing-off reported=false"])
      // Attempt 2 marks itself ready at once.
      yield* TestTime.adjust("1 second")
      expect(SupervisorTree.isReady(yield* sup.tree)).toBe(true)
    })
  )

  it.effect("a connector that never connects is never ready: no flapping between attempts", () =>
    Effect.gen(function* () {
      const sup = yield* Supervisor.make()
      // Each attempt spends 1.5 s "connecting", then fails; the backoff is 1 s.
      yield* sup.add(
        Task.make("conn", Effect.andThen(Effect.sleep("1500 millis"), Effect.fail("timeout")), {
          ready: "reported",
          backoff: constant
        })
      )
      const seen: Array<boolean> = []
      for (let i = 0; i < 20; i++) {
        yield* TestTime.adjust("250 millis")
        seen.push(SupervisorTree.isReady(yield* sup.tree))
      }
      expect(seen).toEqual(Array.from({ length: 20 }, () => false))
    })
  )

  it.effect("a fiber left over from an earlier attempt cannot mark a later one ready", () =>
    Effect.gen(function* () {
      const sup = yield* Supervisor.make()
      const late = yield* Deferred.make<void>()
      let stale: Effect.Effect<void> | undefined
      const attempt = Effect.gen(function* () {
        const ctx = yield* TaskContext.TaskContext
        if (ctx.attempt === 1) {
          stale = ctx.markReady
          return yield* Effect.fail("crash")
        }
        return yield* Deferred.await(late)
      })
      yield* sup.add(Task.make("conn", attempt, { ready: "reported", backoff: Backoff.constant(0) }))
      yield* flush
      expect(waitingFor(yield* sup.tree)).toEqual(["root/conn running reported=false"])
      yield* stale!
      expect(waitingFor(yield* sup.tree)).toEqual(["root/conn running reported=false"])
    })
  )

  it.effect("markReady has no effect on other tasks; ready: true is ready while running", () =>
    Effect.gen(function* () {
      const sup = yield* Supervisor.make()
      const started = yield* Deferred.make<void>()
      const attempt = Effect.flatMap(TaskContext.TaskContext, (ctx) => Effect.andThen(ctx.markReady, parked(started)))
      yield* sup.add(Task.make("plain", attempt))
      yield* sup.add(Task.make("running", attempt, { ready: true }))
      yield* flush
      const tree = yield* sup.tree
      expect(tree.tasks.map((node) => [node.name, node.ready, node.reportedReady])).toEqual([
        ["plain", false, undefined],
        ["running", true, undefined]
      ])
      expect(SupervisorTree.isReady(tree)).toBe(true)
      const info = Option.getOrThrow(yield* sup.get("plain"))
      expect("ready" in info).toBe(false)
      expect(Option.getOrThrow(yield* sup.get("running")).ready).toBe(true)
    })
  )

  it.effect("a reported task that ended for good is recorded like any readiness task", () =>
    Effect.gen(function* () {
      const sup = yield* Supervisor.make()
      const attempt = Effect.flatMap(TaskContext.TaskContext, (ctx) =>
        Effect.andThen(ctx.markReady, Effect.fail("gone"))
      )
      yield* sup.add(Task.make("conn", attempt, { ready: "reported", restart: RestartPolicy.never }))
      yield* flush
      expect(lostOf(yield* sup.tree)).toEqual(["0 root/conn Failed: gone"])
    })
  )
})

describe("the ready option", () => {
  it.effect('Task.withReady sets it (dual); Task.validate accepts true, false, "reported"', () =>
    Effect.gen(function* () {
      const base = Task.make("t", Effect.void)
      expect(Task.withReady(base, "reported").options.ready).toBe("reported")
      expect(base.pipe(Task.withReady(true)).options.ready).toBe(true)
      for (const ready of [true, false, "reported", undefined] as const) {
        yield* Task.validate(Task.withReady(base, ready))
      }
    })
  )

  it.effect("anything else is refused with InvalidTaskSpec naming `ready`", () =>
    Effect.gen(function* () {
      const bad: ReadonlyArray<readonly [unknown, string]> = [
        ["yes", '"yes"'],
        ["Reported", '"Reported"'],
        [1, "1"],
        [null, "null"]
      ]
      for (const [value, described] of bad) {
        const error = yield* Effect.flip(Task.validate(Task.make("t", Effect.void, { ready: value as never })))
        expect(error).toEqual(
          new SupervisorError.InvalidTaskSpec({
            task: "t",
            field: "ready",
            reason: `must be a boolean or "reported", got ${described}`
          })
        )
      }
    })
  )

  it.effect('"reported" on a Supervisor.task is refused at add; false opts a supervisor task out', () =>
    Effect.gen(function* () {
      const sup = yield* Supervisor.make()
      const child = Task.make("c", Effect.never, { ready: true })
      const error = yield* Effect.flip(sup.add(Supervisor.task("s", [child], { ready: "reported" })))
      expect(error).toMatchObject({ _tag: "InvalidTaskSpec", task: "s", field: "ready" })
      yield* sup.add(Supervisor.task("s", [child], { ready: false }))
      yield* flush
      expect((yield* sup.tree).tasks[0]!.ready).toBe(false)
    })
  )
})
