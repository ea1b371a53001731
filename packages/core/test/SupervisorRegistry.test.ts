import { describe, expect, it } from "@effect/vitest"
import { Deferred, Duration, Effect, Exit, Fiber, Option, Ref, Result, Schema, Stream } from "effect"
import {
  Backoff,
  Supervisor,
  SupervisorError,
  SupervisorEvent,
  Task,
  TaskContext,
  TaskError,
  TaskId,
  TaskOutcome
} from "@fibervisor/core"
import { flush, parked, TestTime } from "./helpers/tasks.js"

const unknownId = Schema.decodeSync(TaskId.TaskId)(999_999_999)

/** A finalizer that signals `entered`, then takes `d` of (test) time. */
const slowCleanup = (entered: Deferred.Deferred<void>, d: Duration.Input) =>
  Deferred.succeed(entered, undefined).pipe(Effect.andThen(Effect.sleep(d)))

const canceledBy = (who: "remove" | "cancel" | "shutdown") => new TaskOutcome.Canceled({ reason: `stopped by ${who}` })

/**
 * Runs `effect` in a new fiber that starts at once, inside the caller's turn, until it first suspends
 * (`Effect.forkChild` would start it on the scheduler's next turn, after the task fibers added before it).
 */
const startNow = <A, E>(effect: Effect.Effect<A, E>) =>
  Effect.map(Effect.context<never>(), (context) => Effect.runForkWith(context)(effect))

describe("Supervisor registry: names and ids", () => {
  it.effect("a duplicate add fails with TaskAlreadyExists and its body never runs", () =>
    Effect.gen(function* () {
      const sup = yield* Supervisor.make()
      const events = yield* sup.subscribe
      let firstRuns = 0
      let secondRuns = 0
      const first = yield* sup.add(Task.make("dup", Effect.sync(() => firstRuns++).pipe(Effect.andThen(Effect.never))))
      const error = yield* Effect.flip(
        sup.add(
          Task.make(
            "dup",
            Effect.sync(() => secondRuns++)
          )
        )
      )
      expect(error).toEqual(new SupervisorError.TaskAlreadyExists({ name: "dup" }))
      yield* flush
      expect(firstRuns).toBe(1)
      expect(secondRuns).toBe(0)
      expect((yield* sup.list).map((i) => [i.id, i.name])).toEqual([[first.id, "dup"]])
      const seen = yield* Stream.runCollect(Stream.take(events, 3))
      // `add` returns before the task's fiber starts (on the scheduler's next turn), so the duplicate is
      // refused before the first attempt starts.
      expect(seen.map((e) => e._tag)).toEqual(["TaskAdded", "TaskAddFailed", "AttemptStarting"])
      const failed = seen[1]
      expect(failed).toMatchObject({
        _tag: "TaskAddFailed",
        task: "dup",
        rejection: "AlreadyExists",
        reason: "the name is taken"
      })
    })
  )

  it.effect("64 concurrent adds of one name: exactly one wins", () =>
    Effect.gen(function* () {
      const sup = yield* Supervisor.make()
      let runs = 0
      const task = Task.make("same", Effect.sync(() => runs++).pipe(Effect.andThen(Effect.never)))
      const results = yield* Effect.all(
        Array.from({ length: 64 }, () => Effect.result(sup.add(task))),
        { concurrency: "unbounded" }
      )
      const wins = results.filter(Result.isSuccess)
      const losses = results.filter(Result.isFailure).map((r) => r.failure)
      expect(wins.length).toBe(1)
      expect(losses.length).toBe(63)
      for (const loss of losses) expect(loss).toEqual(new SupervisorError.TaskAlreadyExists({ name: "same" }))
      yield* flush
      expect(runs).toBe(1)
      expect(yield* sup.size).toBe(1)
      expect((yield* sup.list).map((i) => i.id)).toEqual([wins[0].success.id])
    })
  )

  it.effect("ids increase and are never reused, also across supervisors", () =>
    Effect.gen(function* () {
      const s1 = yield* Supervisor.make()
      const s2 = yield* Supervisor.make()
      const ids: Array<number> = []
      const a1 = yield* s1.add(Task.make("a", Effect.never))
      ids.push(a1.id)
      ids.push((yield* s2.add(Task.make("a", Effect.never))).id)
      ids.push((yield* s1.add(Task.make("b", Effect.never))).id)
      ids.push((yield* s2.add(Task.make("b", Effect.never))).id)
      // A finished task's id is not handed out again, and its name gets a fresh id.
      expect(yield* s1.cancel("a")).toBe(true)
      expect(yield* a1.await).toEqual(canceledBy("cancel"))
      const again = yield* s1.add(Task.make("a", Effect.never))
      ids.push(again.id)
      ids.push((yield* s2.add(Task.once("c", Effect.void))).id)
      for (let i = 1; i < ids.length; i++) expect(ids[i]).toBeGreaterThan(ids[i - 1])
      expect(new Set(ids).size).toBe(ids.length)
      expect(again.id).not.toBe(a1.id)
      expect(yield* s1.get(a1.id)).toEqual(Option.none())
    })
  )

  it.effect("a name is reusable only after the previous holder's fiber has exited", () =>
    Effect.gen(function* () {
      const sup = yield* Supervisor.make()
      const started = yield* Deferred.make<void>()
      const entered = yield* Deferred.make<void>()
      const release = yield* Deferred.make<void>()
      const old = yield* sup.add(
        Task.make(
          "svc",
          parked(started, Deferred.succeed(entered, undefined).pipe(Effect.andThen(Deferred.await(release))))
        )
      )
      yield* Deferred.await(started)
      expect(yield* sup.remove("svc")).toBe(true)
      yield* Deferred.await(entered)
      // The old fiber is still in its finalizer: the name stays taken.
      const error = yield* Effect.flip(sup.add(Task.make("svc", Effect.never)))
      expect(error).toEqual(new SupervisorError.TaskAlreadyExists({ name: "svc" }))
      yield* flush
      expect(Option.map(yield* sup.get("svc"), (i) => [i.id, i.state])).toEqual(Option.some([old.id, "stopping"]))
      expect(yield* old.poll).toEqual(Option.none())
      const again = yield* Effect.flip(sup.add(Task.make("svc", Effect.never)))
      expect(again._tag).toBe("TaskAlreadyExists")

      yield* Deferred.succeed(release, undefined)
      expect(yield* old.await).toEqual(canceledBy("remove"))
      const fresh = yield* sup.add(Task.make("svc", Effect.never))
      expect(fresh.id).toBeGreaterThan(old.id)
      expect((yield* sup.list).map((i) => [i.id, i.name])).toEqual([[fresh.id, "svc"]])
    })
  )
})

describe("Supervisor registry: list and get", () => {
  it.effect("list is sorted by id and reports waiting, running, backing-off, stopping from the registry", () =>
    Effect.gen(function* () {
      const sup = yield* Supervisor.make({ maxConcurrent: 1 })
      const blockerStarted = yield* Deferred.make<void>()
      const unblock = yield* Deferred.make<void>()
      const firstRunning = yield* Deferred.make<void>()
      const failNow = yield* Deferred.make<void>()
      const secondRunning = yield* Deferred.make<void>()
      const hang = yield* Deferred.make<void>()
      let n = 0
      const body = Effect.suspend(() => {
        n += 1
        return n === 1
          ? Deferred.succeed(firstRunning, undefined).pipe(
              Effect.andThen(Deferred.await(failNow)),
              Effect.andThen(Effect.fail(TaskError.fail("boom")))
            )
          : parked(secondRunning, Deferred.await(hang))
      })
      const blocker = yield* sup.add(
        Task.once("blocker", Deferred.succeed(blockerStarted, undefined).pipe(Effect.andThen(Deferred.await(unblock))))
      )
      yield* Deferred.await(blockerStarted)
      const t = yield* sup.add(Task.make("t", body, { backoff: Backoff.constant("5 seconds") }))
      const idle = yield* sup.add(Task.make("idle", Effect.never))
      yield* flush
      const snapshot = yield* sup.list
      expect(snapshot.map((i) => [i.id, i.name, i.state, i.attempt])).toEqual([
        [blocker.id, "blocker", "running", 1],
        [t.id, "t", "waiting", 0],
        [idle.id, "idle", "waiting", 0]
      ])
      expect(blocker.id).toBeLessThan(t.id)
      expect(t.id).toBeLessThan(idle.id)

      // The blocker ends; `idle` is not ready yet for the permit race, so stop it first.
      expect(yield* sup.cancel("idle")).toBe(true)
      yield* Deferred.succeed(unblock, undefined)
      expect(yield* blocker.await).toEqual(TaskOutcome.completed)
      yield* Deferred.await(firstRunning)
      expect(yield* sup.get("t")).toEqual(
        Option.some({
          id: t.id,
          name: "t",
          path: "root/t",
          kind: "worker",
          state: "running",
          attempt: 1,
          restarts: 0,
          lastFailure: Option.none(),
          nextAttemptAt: Option.none()
        })
      )

      yield* Deferred.succeed(failNow, undefined)
      yield* flush
      expect(yield* sup.get(t.id)).toEqual(
        Option.some({
          id: t.id,
          name: "t",
          path: "root/t",
          kind: "worker",
          state: "backing-off",
          attempt: 1,
          restarts: 1,
          lastFailure: Option.some("boom"),
          nextAttemptAt: Option.some(5000)
        })
      )

      yield* TestTime.adjust("4999 millis")
      expect(Option.map(yield* sup.get("t"), (i) => i.state)).toEqual(Option.some("backing-off"))
      yield* TestTime.adjust("1 millis")
      yield* Deferred.await(secondRunning)
      expect(Option.map(yield* sup.get("t"), (i) => [i.state, i.attempt, i.nextAttemptAt])).toEqual(
        Option.some(["running", 2, Option.none()])
      )

      expect(yield* sup.remove("t")).toBe(true)
      expect(Option.map(yield* sup.get("t"), (i) => i.state)).toEqual(Option.some("stopping"))
      yield* flush
      expect((yield* sup.list).map((i) => [i.name, i.state])).toEqual([["t", "stopping"]])
      yield* Deferred.succeed(hang, undefined)
      expect(yield* t.await).toEqual(canceledBy("remove"))
      expect(yield* sup.list).toEqual([])
    })
  )

  it.effect("get finds a task by name and by id; unknown is none", () =>
    Effect.gen(function* () {
      const sup = yield* Supervisor.make()
      const a = yield* sup.add(Task.make("a", Effect.never))
      const b = yield* sup.add(Task.make("b", Effect.never))
      const byName = yield* sup.get("b")
      const byId = yield* sup.get(b.id)
      expect(Option.map(byName, (i) => [i.id, i.name])).toEqual(Option.some([b.id, "b"]))
      expect(byId).toEqual(byName)
      expect(Option.map(yield* sup.get(a.id), (i) => i.name)).toEqual(Option.some("a"))
      expect(yield* sup.get("nope")).toEqual(Option.none())
      expect(yield* sup.get(unknownId)).toEqual(Option.none())
    })
  )
})

describe("Supervisor registry: remove and cancel", () => {
  it.effect("remove claims the stop and returns at once; the task ends Canceled after its cleanup", () =>
    Effect.gen(function* () {
      const sup = yield* Supervisor.make()
      const started = yield* Deferred.make<void>()
      const entered = yield* Deferred.make<void>()
      const h = yield* sup.add(Task.make("w", parked(started, slowCleanup(entered, "3 seconds"))))
      yield* Deferred.await(started)
      expect(yield* sup.remove("w")).toBe(true)
      expect(yield* h.poll).toEqual(Option.none())
      yield* Deferred.await(entered)
      yield* TestTime.adjust("2999 millis")
      expect(yield* h.poll).toEqual(Option.none())
      yield* TestTime.adjust("1 millis")
      expect(yield* h.await).toEqual(canceledBy("remove"))
      expect(yield* sup.list).toEqual([])
    })
  )

  it.effect("cancel waits for the cleanup: still waiting at 2.999 s, resumes at 3 s", () =>
    Effect.gen(function* () {
      const sup = yield* Supervisor.make()
      const started = yield* Deferred.make<void>()
      const entered = yield* Deferred.make<void>()
      const h = yield* sup.add(Task.make("w", parked(started, slowCleanup(entered, "3 seconds"))))
      yield* Deferred.await(started)
      const canceling = yield* Effect.forkChild(sup.cancel(h.id))
      yield* Deferred.await(entered)
      yield* TestTime.adjust("2999 millis")
      expect(canceling.pollUnsafe()).toBeUndefined()
      yield* TestTime.adjust("1 millis")
      expect(yield* Fiber.join(canceling)).toBe(true)
      expect(yield* h.poll).toEqual(Option.some(canceledBy("cancel")))
      expect(yield* sup.get("w")).toEqual(Option.none())
    })
  )

  it.effect("cancel with a timeout fails with TaskTerminationTimeout at exactly the timeout; the stop continues", () =>
    Effect.gen(function* () {
      const sup = yield* Supervisor.make()
      const started = yield* Deferred.make<void>()
      const entered = yield* Deferred.make<void>()
      const h = yield* sup.add(Task.make("w", parked(started, slowCleanup(entered, "3 seconds"))))
      yield* Deferred.await(started)
      const canceling = yield* Effect.forkChild(sup.cancel("w", { timeout: "1 second" }))
      yield* Deferred.await(entered)
      yield* TestTime.adjust("999 millis")
      expect(canceling.pollUnsafe()).toBeUndefined()
      yield* TestTime.adjust("1 millis")
      const exit = yield* Fiber.await(canceling)
      expect(exit).toEqual(
        Exit.fail(new SupervisorError.TaskTerminationTimeout({ task: "w", id: h.id, timeoutMs: 1000 }))
      )
      expect(yield* h.poll).toEqual(Option.none())
      expect(Option.map(yield* sup.get("w"), (i) => i.state)).toEqual(Option.some("stopping"))
      yield* TestTime.adjust("1999 millis")
      expect(yield* h.poll).toEqual(Option.none())
      yield* TestTime.adjust("1 millis")
      expect(yield* h.await).toEqual(canceledBy("cancel"))
      expect(yield* sup.list).toEqual([])
    })
  )

  it.effect("32 concurrent removes: exactly one true", () =>
    Effect.gen(function* () {
      const sup = yield* Supervisor.make()
      const started = yield* Deferred.make<void>()
      const h = yield* sup.add(Task.make("w", parked(started)))
      yield* Deferred.await(started)
      const results = yield* Effect.all(
        Array.from({ length: 32 }, (_, i) => sup.remove(i % 2 === 0 ? "w" : h.id)),
        { concurrency: "unbounded" }
      )
      expect(results.filter((r) => r).length).toBe(1)
      expect(results.filter((r) => !r).length).toBe(31)
      expect(yield* h.await).toEqual(canceledBy("remove"))
    })
  )

  it.effect("concurrent cancels: exactly one true, the others false, all after the same cleanup", () =>
    Effect.gen(function* () {
      const sup = yield* Supervisor.make()
      const started = yield* Deferred.make<void>()
      const entered = yield* Deferred.make<void>()
      const h = yield* sup.add(Task.make("w", parked(started, slowCleanup(entered, "3 seconds"))))
      yield* Deferred.await(started)
      const fibers = yield* Effect.forEach(
        Array.from({ length: 8 }, (_, i) => i),
        (i) => Effect.forkChild(sup.cancel(i % 2 === 0 ? "w" : h.id))
      )
      yield* Deferred.await(entered)
      yield* TestTime.adjust("2999 millis")
      for (const f of fibers) expect(f.pollUnsafe()).toBeUndefined()
      yield* TestTime.adjust("1 millis")
      const results = yield* Effect.forEach(fibers, Fiber.join)
      expect(results.filter((r) => r).length).toBe(1)
      expect(results.filter((r) => !r).length).toBe(7)
      expect(yield* h.poll).toEqual(Option.some(canceledBy("cancel")))
    })
  )

  it.effect("remove and cancel of an unknown name or id return false", () =>
    Effect.gen(function* () {
      const sup = yield* Supervisor.make()
      const events = yield* sup.subscribe
      expect(yield* sup.remove("ghost")).toBe(false)
      expect(yield* sup.remove(unknownId)).toBe(false)
      expect(yield* sup.cancel("ghost")).toBe(false)
      expect(yield* sup.cancel(unknownId, { timeout: "1 second" })).toBe(false)
      // A finished task is unknown too.
      const h = yield* sup.add(Task.once("done", Effect.void))
      expect(yield* h.await).toEqual(TaskOutcome.completed)
      expect(yield* sup.remove("done")).toBe(false)
      expect(yield* sup.cancel(h.id)).toBe(false)
      const seen = yield* Stream.runCollect(Stream.take(events, 5))
      // No TaskRemoveRequested for any of the refused calls.
      expect(seen.map((e) => e._tag)).toEqual([
        "TaskAdded",
        "AttemptStarting",
        "AttemptSucceeded",
        "TaskFinished",
        "TaskRemoved"
      ])
    })
  )

  it.effect(
    "remove of a task that ignores interruption: ForceAborted at exactly the supervisor grace; the name stays taken",
    () =>
      Effect.gen(function* () {
        const sup = yield* Supervisor.make({ grace: "3 seconds" })
        const started = yield* Deferred.make<void>()
        // Stuck until the end of the test, which lets it exit so that no fiber outlives the file.
        const endOfTest = yield* Deferred.make<void>()
        const h = yield* sup.add(
          Task.make(
            "stubborn",
            Effect.uninterruptible(Deferred.succeed(started, undefined).pipe(Effect.andThen(Deferred.await(endOfTest))))
          )
        )
        yield* Deferred.await(started)
        expect(yield* sup.remove("stubborn")).toBe(true)
        yield* TestTime.adjust("2999 millis")
        expect(yield* h.poll).toEqual(Option.none())
        yield* TestTime.adjust("1 millis")
        expect(yield* h.poll).toEqual(
          Option.some(new TaskOutcome.ForceAborted({ reason: "did not stop within its grace of 3000 ms" }))
        )
        // Abandoned, but its fiber never exited: the name stays taken.
        expect((yield* sup.list).map((i) => [i.id, i.name, i.state])).toEqual([[h.id, "stubborn", "stopping"]])
        expect(yield* Effect.flip(sup.add(Task.make("stubborn", Effect.never)))).toEqual(
          new SupervisorError.TaskAlreadyExists({ name: "stubborn" })
        )
        expect(yield* sup.remove("stubborn")).toBe(false)
        expect(yield* sup.cancel("stubborn")).toBe(false)
        // The fiber can never exit, so shut down explicitly (the scope's shutdown would wait on the TestClock).
        const shutdown = yield* Effect.forkChild(sup.shutdown)
        yield* TestTime.adjust("3 seconds")
        expect(yield* Fiber.await(shutdown)).toEqual(
          Exit.fail(
            new SupervisorError.GraceExceeded({
              grace: Duration.millis(3000),
              stuck: ["stubborn"],
              paths: ["root/stubborn"]
            })
          )
        )
        // Cleanup (for the leak check): the abandoned fiber may exit now.
        yield* Deferred.succeed(endOfTest, undefined)
        yield* flush
      })
  )

  it.effect("cancel of a task whose finalizer hangs: ForceAborted at exactly the task's grace (Task.withGrace)", () =>
    Effect.gen(function* () {
      const sup = yield* Supervisor.make({ grace: "10 seconds" })
      const events = yield* sup.subscribe
      const started = yield* Deferred.make<void>()
      const release = yield* Deferred.make<void>()
      const h = yield* sup.add(
        Task.make("hang", parked(started, Deferred.await(release))).pipe(Task.withGrace("2 seconds"))
      )
      yield* Deferred.await(started)
      const canceling = yield* Effect.forkChild(sup.cancel("hang"))
      yield* TestTime.adjust("1999 millis")
      expect(canceling.pollUnsafe()).toBeUndefined()
      expect(yield* h.poll).toEqual(Option.none())
      yield* TestTime.adjust("1 millis")
      expect(yield* Fiber.join(canceling)).toBe(true)
      expect(yield* h.poll).toEqual(
        Option.some(new TaskOutcome.ForceAborted({ reason: "did not stop within its grace of 2000 ms" }))
      )
      expect((yield* sup.list).map((i) => [i.id, i.state])).toEqual([[h.id, "stopping"]])
      expect((yield* Effect.flip(sup.add(Task.make("hang", Effect.never))))._tag).toBe("TaskAlreadyExists")

      // Once the finalizer really ends, the name is free and TaskRemoved follows TaskFinished.
      yield* Deferred.succeed(release, undefined)
      const seen = yield* Stream.runCollect(Stream.takeUntil(events, SupervisorEvent.is("TaskRemoved")))
      expect(seen.map((e) => e._tag)).toEqual([
        "TaskAdded",
        "AttemptStarting",
        "TaskRemoveRequested",
        "TaskFinished",
        "TaskAddFailed",
        "AttemptCanceled",
        "TaskRemoved"
      ])
      expect(seen[3]).toMatchObject({ outcome: "ForceAborted", at: 2000 })
      expect(yield* sup.list).toEqual([])
      const fresh = yield* sup.add(Task.make("hang", Effect.never))
      expect(fresh.id).toBeGreaterThan(h.id)
    })
  )
})

describe("Supervisor registry: a stop before the task's fiber has run", () => {
  // `add` returns before the task's fiber takes its first step (it starts on the scheduler's next
  // turn), so a stop in the same turn reaches a fiber that has never run.
  for (const how of ["remove", "cancel"] as const) {
    it.effect(`${how} in the same turn as add: Canceled, the body never runs, the name is free again`, () =>
      Effect.gen(function* () {
        const sup = yield* Supervisor.make()
        const events = yield* sup.subscribe
        let runs = 0
        const body = Effect.sync(() => runs++).pipe(Effect.andThen(Effect.never))
        const h = yield* sup.add(Task.make("early", body))
        const empty = yield* startNow(sup.awaitEmpty)
        expect(empty.pollUnsafe()).toBeUndefined()
        if (how === "remove") {
          expect(yield* sup.remove("early")).toBe(true)
          expect(runs).toBe(0)
          expect(yield* h.await).toEqual(canceledBy("remove"))
        } else {
          expect(yield* sup.cancel("early")).toBe(true)
          expect(yield* h.poll).toEqual(Option.some(canceledBy("cancel")))
        }
        yield* flush
        expect(runs).toBe(0)
        expect(empty.pollUnsafe()).toEqual(Exit.void)
        expect(yield* sup.list).toEqual([])
        expect(yield* sup.get("early")).toEqual(Option.none())

        // The name is free again: a new task under it is admitted and runs.
        const again = yield* sup.add(Task.make("early", body))
        expect(again.id).toBeGreaterThan(h.id)
        yield* flush
        expect(runs).toBe(1)
        const seen = yield* Stream.runCollect(Stream.take(events, 6))
        // No attempt of the first task ever started, so there is no AttemptStarting or AttemptCanceled for it.
        expect(seen.map((e) => [e._tag, "id" in e ? e.id : undefined])).toEqual([
          ["TaskAdded", h.id],
          ["TaskRemoveRequested", h.id],
          ["TaskFinished", h.id],
          ["TaskRemoved", h.id],
          ["TaskAdded", again.id],
          ["AttemptStarting", again.id]
        ])
        expect(seen[1]).toMatchObject({ reason: how })
        expect(seen[2]).toMatchObject({ task: "early", outcome: "Canceled", reason: `stopped by ${how}` })
      })
    )
  }

  it.effect("shutdown in the same turn as add: Canceled, the body never runs, the registry is empty", () =>
    Effect.gen(function* () {
      const sup = yield* Supervisor.make()
      const events = yield* sup.subscribe
      let runs = 0
      const h = yield* sup.add(Task.make("early", Effect.sync(() => runs++).pipe(Effect.andThen(Effect.never))))
      const empty = yield* startNow(sup.awaitEmpty)
      expect(empty.pollUnsafe()).toBeUndefined()
      expect(yield* Effect.exit(sup.shutdown)).toEqual(Exit.void)
      expect(runs).toBe(0)
      expect(yield* h.poll).toEqual(Option.some(canceledBy("shutdown")))
      yield* flush
      expect(runs).toBe(0)
      expect(empty.pollUnsafe()).toEqual(Exit.void)
      expect(yield* sup.list).toEqual([])
      expect(yield* sup.size).toBe(0)
      expect(yield* sup.get("early")).toEqual(Option.none())
      const seen = yield* Stream.runCollect(Stream.takeUntil(events, SupervisorEvent.is("AllStoppedWithinGrace")))
      expect(seen.map((e) => e._tag)).toEqual([
        "TaskAdded",
        "ShutdownRequested",
        "TaskRemoveRequested",
        "TaskFinished",
        "TaskRemoved",
        "AllStoppedWithinGrace"
      ])
      expect(seen[2]).toMatchObject({ id: h.id, reason: "shutdown" })
      expect(seen[3]).toMatchObject({ id: h.id, outcome: "Canceled", reason: "stopped by shutdown" })
    })
  )
})

describe("Supervisor registry: batches", () => {
  it.effect("addAll with a duplicate inside the batch starts nothing and fails; the supervisor stays usable", () =>
    Effect.gen(function* () {
      const sup = yield* Supervisor.make()
      let runs = 0
      const body = Effect.sync(() => runs++).pipe(Effect.andThen(Effect.never))
      const error = yield* Effect.flip(sup.addAll([Task.make("a", body), Task.make("b", body), Task.make("a", body)]))
      expect(error).toEqual(new SupervisorError.TaskAlreadyExists({ name: "a" }))
      const runError = yield* Effect.flip(sup.run([Task.make("c", body), Task.make("c", body)]))
      expect(runError).toEqual(new SupervisorError.TaskAlreadyExists({ name: "c" }))
      yield* flush
      expect(runs).toBe(0)
      expect(yield* sup.list).toEqual([])
      const handles = yield* sup.addAll([Task.make("a", body), Task.make("b", body)])
      yield* flush
      expect(runs).toBe(2)
      expect((yield* sup.list).map((i) => [i.id, i.name])).toEqual(handles.map((h) => [h.id, h.name]))
    })
  )

  it.effect("addAll and run with a name taken by an existing task start nothing", () =>
    Effect.gen(function* () {
      const sup = yield* Supervisor.make()
      let runs = 0
      const body = Effect.sync(() => runs++).pipe(Effect.andThen(Effect.never))
      const x = yield* sup.add(Task.make("x", body))
      yield* flush
      expect(runs).toBe(1)
      expect(yield* Effect.flip(sup.addAll([Task.make("y", body), Task.make("x", body)]))).toEqual(
        new SupervisorError.TaskAlreadyExists({ name: "x" })
      )
      expect(yield* Effect.flip(sup.run([Task.make("y", body), Task.make("x", body)]))).toEqual(
        new SupervisorError.TaskAlreadyExists({ name: "x" })
      )
      yield* flush
      expect(runs).toBe(1)
      expect((yield* sup.list).map((i) => i.id)).toEqual([x.id])
      const [y] = yield* sup.addAll([Task.make("y", body)])
      yield* flush
      expect(runs).toBe(2)
      expect((yield* sup.list).map((i) => i.id)).toEqual([x.id, y.id])
    })
  )

  it.effect("Supervisor.run with a duplicate fails with TaskAlreadyExists and starts nothing", () =>
    Effect.gen(function* () {
      let runs = 0
      const body = Effect.sync(() => runs++)
      const error = yield* Effect.flip(Supervisor.run([Task.once("a", body), Task.once("a", body)]))
      expect(error).toEqual(new SupervisorError.TaskAlreadyExists({ name: "a" }))
      expect(runs).toBe(0)
    })
  )

  it.effect("run returns when the registry is empty, with the outcomes in order", () =>
    Effect.gen(function* () {
      const sup = yield* Supervisor.make()
      const running = yield* Effect.forkChild(
        sup.run([
          Task.once("slow", Effect.sleep("3 seconds")),
          Task.once("fast", Effect.sleep("1 second")),
          Task.once("bad", Effect.fail(TaskError.fail("nope")))
        ])
      )
      yield* TestTime.adjust("2999 millis")
      expect(running.pollUnsafe()).toBeUndefined()
      expect((yield* sup.list).map((i) => i.name)).toEqual(["slow"])
      yield* TestTime.adjust("1 millis")
      const outcomes = yield* Fiber.join(running)
      expect(outcomes.map((o) => [o._tag, TaskOutcome.reason(o)])).toEqual([
        ["Completed", undefined],
        ["Completed", undefined],
        ["Failed", "nope"]
      ])
      expect(yield* sup.list).toEqual([])
    })
  )

  it.effect("Supervisor.run runs a batch to completion and returns the outcomes in order", () =>
    Effect.gen(function* () {
      const running = yield* Effect.forkChild(
        Supervisor.run([
          Task.once("two", Effect.sleep("2 seconds")),
          Task.make("canceled", Effect.fail(TaskError.canceled("no longer needed"))),
          Task.once("one", Effect.sleep("1 second"))
        ])
      )
      yield* TestTime.adjust("1999 millis")
      expect(running.pollUnsafe()).toBeUndefined()
      yield* TestTime.adjust("1 millis")
      expect((yield* Fiber.join(running)).map((o) => o._tag)).toEqual(["Completed", "Canceled", "Completed"])
    })
  )

  it.effect("Supervisor.run([]) returns at once", () =>
    Effect.gen(function* () {
      expect(yield* Supervisor.run([])).toEqual([])
    })
  )

  it.effect("interrupting Supervisor.run runs a graceful shutdown (task finalizers run)", () =>
    Effect.gen(function* () {
      const started = yield* Deferred.make<void>()
      const entered = yield* Deferred.make<void>()
      const finalized = yield* Ref.make(false)
      const running = yield* Effect.forkChild(
        Supervisor.run([
          Task.make(
            "w",
            parked(started, slowCleanup(entered, "1 second").pipe(Effect.andThen(Ref.set(finalized, true))))
          )
        ])
      )
      yield* Deferred.await(started)
      const interrupting = yield* Effect.forkChild(Fiber.interrupt(running))
      yield* Deferred.await(entered)
      yield* TestTime.adjust("999 millis")
      expect(interrupting.pollUnsafe()).toBeUndefined()
      expect(yield* Ref.get(finalized)).toBe(false)
      yield* TestTime.adjust("1 millis")
      // Effect 4's `Fiber.interrupt` returns void: the interrupted fiber's exit is read with `await`.
      yield* Fiber.join(interrupting)
      const exit = yield* Fiber.await(running)
      expect(Exit.hasInterrupts(exit)).toBe(true)
      expect(yield* Ref.get(finalized)).toBe(true)
    })
  )
})

describe("Supervisor registry: maxConcurrent", () => {
  it.effect("100 one-second tasks under maxConcurrent 4: never more than 4 at once, all done after exactly 25 s", () =>
    Effect.gen(function* () {
      const sup = yield* Supervisor.make({ maxConcurrent: 4 })
      const running = yield* Ref.make(0)
      const peak = yield* Ref.make(0)
      const body = Effect.acquireUseRelease(
        Ref.updateAndGet(running, (n) => n + 1).pipe(Effect.tap((n) => Ref.update(peak, (p) => Math.max(p, n)))),
        () => Effect.sleep("1 second"),
        () => Ref.update(running, (n) => n - 1)
      )
      const handles = yield* sup.addAll(Array.from({ length: 100 }, (_, i) => Task.once(`t${i}`, body)))
      const done = Effect.map(
        Effect.forEach(handles, (h) => h.poll),
        (polls) => polls.filter(Option.isSome).length
      )
      yield* flush
      expect(yield* Ref.get(running)).toBe(4)
      const states = (yield* sup.list).map((i) => i.state)
      expect(states.filter((s) => s === "running").length).toBe(4)
      expect(states.filter((s) => s === "waiting").length).toBe(96)
      expect((yield* sup.list).filter((i) => i.state === "waiting").every((i) => i.attempt === 0)).toBe(true)

      yield* TestTime.adjust("1 second")
      expect(yield* done).toBe(4)
      expect(yield* Ref.get(running)).toBe(4)
      yield* TestTime.adjust("23999 millis")
      expect(yield* done).toBe(96)
      yield* TestTime.adjust("1 millis")
      expect(yield* done).toBe(100)
      for (const h of handles) expect(yield* h.await).toEqual(TaskOutcome.completed)
      expect(yield* Ref.get(peak)).toBe(4)
      expect(yield* Ref.get(running)).toBe(0)
      expect(yield* sup.list).toEqual([])
    })
  )

  it.effect("a permit is not held during backoff", () =>
    Effect.gen(function* () {
      const sup = yield* Supervisor.make({ maxConcurrent: 1 })
      let n = 0
      const flaky = yield* sup.add(
        Task.make(
          "flaky",
          Effect.suspend(() => (++n === 1 ? Effect.fail(TaskError.fail("first")) : Effect.void)),
          { backoff: Backoff.constant("10 seconds") }
        )
      )
      yield* flush
      expect(Option.map(yield* sup.get("flaky"), (i) => i.state)).toEqual(Option.some("backing-off"))
      const other = yield* sup.add(Task.once("other", Effect.sleep("1 second")))
      yield* flush
      expect(Option.map(yield* sup.get("other"), (i) => i.state)).toEqual(Option.some("running"))
      yield* TestTime.adjust("1 second")
      expect(yield* other.poll).toEqual(Option.some(TaskOutcome.completed))
      expect(Option.map(yield* sup.get("flaky"), (i) => [i.state, i.attempt])).toEqual(Option.some(["backing-off", 1]))
      yield* TestTime.adjust("9 seconds")
      expect(yield* flaky.await).toEqual(TaskOutcome.completed)
      expect(n).toBe(2)
    })
  )
})

describe("Supervisor registry: events", () => {
  it.effect("TaskFinished precedes TaskRemoved for each task", () =>
    Effect.gen(function* () {
      const sup = yield* Supervisor.make()
      const events = yield* sup.subscribe
      const started = yield* Deferred.make<void>()
      const stubStarted = yield* Deferred.make<void>()
      const release = yield* Deferred.make<void>()
      yield* sup.add(Task.once("ok", Effect.void))
      yield* sup.add(Task.once("bad", Effect.fail(TaskError.fail("x"))))
      yield* sup.add(Task.make("fatal", Effect.fail(TaskError.fatal("y"))))
      yield* sup.add(Task.make("stopped", parked(started)))
      const stub = yield* sup.add(
        Task.make("stub", parked(stubStarted, Deferred.await(release))).pipe(Task.withGrace("1 second"))
      )
      yield* Deferred.await(started)
      yield* Deferred.await(stubStarted)
      expect(yield* sup.cancel("stopped")).toBe(true)
      expect(yield* sup.remove("stub")).toBe(true)
      yield* TestTime.adjust("1 second")
      expect((yield* stub.await)._tag).toBe("ForceAborted")
      yield* Deferred.succeed(release, undefined)
      yield* sup.shutdown
      const seen = yield* Stream.runCollect(Stream.takeUntil(events, SupervisorEvent.is("AllStoppedWithinGrace")))
      const finished = seen.filter(SupervisorEvent.is("TaskFinished"))
      expect(finished.map((e) => [e.task, e.outcome]).sort()).toEqual([
        ["bad", "Failed"],
        ["fatal", "Fatal"],
        ["ok", "Completed"],
        ["stopped", "Canceled"],
        ["stub", "ForceAborted"]
      ])
      for (const name of ["ok", "bad", "fatal", "stopped", "stub"]) {
        const f = seen.findIndex((e) => e._tag === "TaskFinished" && e.task === name)
        const r = seen.findIndex((e) => e._tag === "TaskRemoved" && e.task === name)
        expect(f).toBeGreaterThanOrEqual(0)
        expect(r).toBeGreaterThan(f)
        expect(seen.filter((e) => e._tag === "TaskFinished" && e.task === name).length).toBe(1)
        expect(seen.filter((e) => e._tag === "TaskRemoved" && e.task === name).length).toBe(1)
      }
      const seqs = seen.map((e) => e.seq)
      expect(seqs).toEqual(Array.from({ length: seqs.length }, (_, i) => i + 1))
    })
  )

  it.effect("outcomes arrive through TaskHandle.await when the bus drops events", () =>
    Effect.gen(function* () {
      const sup = yield* Supervisor.make({ eventBuffer: 2 })
      const neverRead = yield* sup.subscribe
      const handles = yield* sup.addAll(Array.from({ length: 10 }, (_, i) => Task.once(`t${i}`, Effect.void)))
      for (const h of handles) expect(yield* h.await).toEqual(TaskOutcome.completed)
      const cancelMe = yield* sup.add(Task.make("c", Effect.never))
      expect(yield* sup.cancel("c")).toBe(true)
      expect(yield* cancelMe.await).toEqual(canceledBy("cancel"))
      expect(
        yield* Stream.runCollect(Stream.take(neverRead, 1)).pipe(Effect.map((collected) => collected.length))
      ).toBe(1)
    })
  )

  it.effect("the bus is sliding: a subscriber that never reads keeps the newest eventBuffer events", () =>
    Effect.gen(function* () {
      const sup = yield* Supervisor.make({ eventBuffer: 2 })
      const neverRead = yield* sup.subscribe
      const handles = yield* sup.addAll(Array.from({ length: 10 }, (_, i) => Task.once(`t${i}`, Effect.void)))
      for (const h of handles) expect(yield* h.await).toEqual(TaskOutcome.completed)
      // 5 events per task (added, starting, succeeded, finished, removed) = 50; the slow subscriber lost the old ones.
      const kept = yield* Stream.runCollect(Stream.take(neverRead, 2))
      expect(kept.map((e) => e.seq)).toEqual([49, 50])
    })
  )

  it.effect("a slow subscriber never blocks the supervisor", () =>
    Effect.gen(function* () {
      const sup = yield* Supervisor.make({ eventBuffer: 2 })
      const stream = yield* sup.subscribe
      const consumed = yield* Ref.make(0)
      yield* Effect.forkChild(
        Stream.runForEach(stream, () => Ref.update(consumed, (n) => n + 1).pipe(Effect.andThen(Effect.never)))
      )
      // Park the subscriber on its empty queue first.
      yield* flush
      const tasks = Array.from({ length: 50 }, (_, i) =>
        Task.once(
          `t${i}`,
          Effect.gen(function* () {
            const ctx = yield* TaskContext.TaskContext
            yield* Effect.sleep(`${ctx.attempt} second`)
          })
        )
      )
      const running = yield* Effect.forkChild(sup.run(tasks))
      yield* TestTime.adjust("1 second")
      const outcomes = yield* Fiber.join(running)
      expect(outcomes).toEqual(Array.from({ length: 50 }, () => TaskOutcome.completed))
      yield* flush
      // It took the first event and then stopped reading for good.
      expect(yield* Ref.get(consumed)).toBe(1)
      expect(yield* sup.list).toEqual([])
    })
  )
})
