/**
 * `TaskContext.setStandby` and `TaskContext.emit`: an attempt that waits for a role shows as
 * `standby` in `list` and the tree snapshot (and is not ready when it is a readiness task), and
 * the role events it emits are stamped with its id, name and path on the tree's bus.
 */
import { describe, expect, it } from "@effect/vitest"
import { Deferred, Effect, Option } from "effect"
import { Backoff, RestartPolicy, Supervisor, SupervisorTree, Task, TaskContext } from "@fibervisor/core"
import { EventLog } from "@fibervisor/vitest"
import { TestTime } from "./helpers/tasks.js"

const settle = TestTime.settle()

describe("TaskContext.setStandby", () => {
  it.effect("shows the running attempt as standby, then running again", () =>
    Effect.gen(function* () {
      const sup = yield* Supervisor.make()
      const toStandby = yield* Deferred.make<void>()
      const toRunning = yield* Deferred.make<void>()
      yield* sup.add(
        Task.make(
          "role",
          Effect.gen(function* () {
            yield* Deferred.await(toStandby)
            yield* TaskContext.setStandby(true)
            yield* Deferred.await(toRunning)
            yield* TaskContext.setStandby(false)
            return yield* Effect.never
          }),
          { ready: true }
        )
      )
      const state = Effect.map(
        sup.get("role"),
        Option.map((info) => info.state)
      )
      yield* settle
      expect(yield* state).toEqual(Option.some("running"))
      expect(SupervisorTree.isReady(yield* sup.tree)).toBe(true)

      yield* Deferred.succeed(toStandby, undefined)
      yield* settle
      expect(yield* state).toEqual(Option.some("standby"))
      const tree = yield* sup.tree
      expect(tree.tasks[0]!.state).toBe("standby")
      // A readiness task in standby is not ready.
      expect(SupervisorTree.isReady(tree)).toBe(false)
      expect(SupervisorTree.notReady(tree).map((node) => node.name)).toEqual(["role"])

      yield* Deferred.succeed(toRunning, undefined)
      yield* settle
      expect(yield* state).toEqual(Option.some("running"))
      expect(SupervisorTree.isReady(yield* sup.tree)).toBe(true)
    }).pipe(Effect.scoped)
  )

  it.effect(
    "a failed attempt leaves standby (backing-off), the next starts running; `stopping` is never overwritten",
    () =>
      Effect.gen(function* () {
        const sup = yield* Supervisor.make({ grace: "1 second" })
        const flipped = yield* Deferred.make<void>()
        const second = yield* Deferred.make<void>()
        let attempts = 0
        yield* sup.add(
          Task.make(
            "role",
            Effect.gen(function* () {
              attempts++
              if (attempts === 1) {
                yield* TaskContext.setStandby(true)
                return yield* Effect.fail("the first attempt fails while standing by")
              }
              yield* Deferred.succeed(second, undefined)
              yield* TaskContext.setStandby(true)
              const context = yield* TaskContext.TaskContext
              // Once a stop is requested, try to flip the state back: it must stay `stopping`.
              yield* Effect.forkChild(
                context.cancelled.pipe(
                  Effect.andThen(TaskContext.setStandby(false)),
                  Effect.andThen(Deferred.succeed(flipped, undefined))
                )
              )
              return yield* Effect.never.pipe(Effect.onInterrupt(() => Deferred.await(flipped)))
            }),
            { backoff: Backoff.constant("100 millis") }
          )
        )
        const state = Effect.map(
          sup.get("role"),
          Option.map((info) => info.state)
        )
        yield* settle
        expect(attempts).toBe(1)
        expect(yield* state).toEqual(Option.some("backing-off"))
        yield* TestTime.adjust("100 millis")
        yield* Deferred.await(second)
        yield* settle
        expect(yield* state).toEqual(Option.some("standby"))
        expect(yield* sup.remove("role")).toBe(true)
        expect(yield* state).toEqual(Option.some("stopping"))
        yield* Deferred.await(flipped)
        const after = yield* state
        expect(Option.isNone(after) || Option.getOrThrow(after) === "stopping").toBe(true)
      }).pipe(Effect.scoped)
  )

  it.effect("outside a supervisor (a hand-made TaskContext) it does nothing", () =>
    TaskContext.setStandby(true).pipe(
      Effect.andThen(TaskContext.emit({ _tag: "SingletonStandby", name: "n", runner: "r" })),
      Effect.provideService(TaskContext.TaskContext, {
        name: "hand",
        id: 1 as never,
        path: "x/hand",
        attempt: 1,
        cancelled: Effect.never,
        isCancelled: Effect.succeed(false),
        markReady: Effect.void,
        markNotReady: Effect.void
      })
    )
  )
})

describe("TaskContext.emit", () => {
  it.effect("publishes role events stamped with the task's id, name and path", () =>
    Effect.gen(function* () {
      const sup = yield* Supervisor.make()
      const log = yield* EventLog.collect(sup)
      const inner = Supervisor.task("group", [
        Task.once(
          "role",
          Effect.gen(function* () {
            yield* TaskContext.emit({ _tag: "SingletonStandby", name: "billing", runner: "r2", owner: "r1", epoch: 3 })
            yield* TaskContext.emit({ _tag: "SingletonAcquired", name: "billing", runner: "r2", epoch: 4 })
            yield* TaskContext.emit({
              _tag: "SingletonReleased",
              name: "billing",
              runner: "r2",
              epoch: 4,
              reason: "completed"
            })
          })
        )
      ])
      const handle = yield* sup.add(inner)
      yield* settle
      const events = (yield* log.all).filter((event) => event._tag.startsWith("Singleton"))
      // The child's own id (not its group's): the same on all three.
      const id = (events[0] as { readonly id: number }).id
      expect(id).not.toBe(handle.id)
      expect(events.map(({ at: _at, seq: _seq, ...rest }) => rest)).toEqual([
        {
          _tag: "SingletonStandby",
          id,
          task: "role",
          path: "root/group/role",
          name: "billing",
          runner: "r2",
          owner: "r1",
          epoch: 3
        },
        {
          _tag: "SingletonAcquired",
          id,
          task: "role",
          path: "root/group/role",
          name: "billing",
          runner: "r2",
          epoch: 4
        },
        {
          _tag: "SingletonReleased",
          id,
          task: "role",
          path: "root/group/role",
          name: "billing",
          runner: "r2",
          epoch: 4,
          reason: "completed"
        }
      ])
    }).pipe(Effect.scoped)
  )
})

describe("the snapshot's singleton field", () => {
  it.effect("follows the role events while the attempt runs, and encodes to JSON", () =>
    Effect.gen(function* () {
      const sup = yield* Supervisor.make()
      const next = yield* Deferred.make<void>()
      const release = yield* Deferred.make<void>()
      yield* sup.add(
        Task.make(
          "role",
          Effect.gen(function* () {
            yield* TaskContext.emit({ _tag: "SingletonStandby", name: "billing", runner: "r2", owner: "r1", epoch: 3 })
            yield* Deferred.await(next)
            yield* TaskContext.emit({ _tag: "SingletonAcquired", name: "billing", runner: "r2", epoch: 4 })
            yield* Deferred.await(release)
            yield* TaskContext.emit({
              _tag: "SingletonReleased",
              name: "billing",
              runner: "r2",
              epoch: 4,
              reason: "handoff"
            })
            return yield* Effect.never
          })
        )
      )
      const role = Effect.map(sup.tree, (tree) => tree.tasks[0]!.singleton)
      yield* settle
      expect(yield* role).toEqual({ name: "billing", role: "standby", runner: "r2", owner: "r1", epoch: 3, since: 0 })
      yield* TestTime.adjust("250 millis")
      yield* Deferred.succeed(next, undefined)
      yield* settle
      expect(yield* role).toEqual({ name: "billing", role: "owner", runner: "r2", owner: "r2", epoch: 4, since: 250 })
      const encoded = SupervisorTree.encode(yield* sup.tree)
      expect(JSON.parse(JSON.stringify(encoded)).tasks[0].singleton).toEqual({
        name: "billing",
        role: "owner",
        runner: "r2",
        owner: "r2",
        epoch: 4,
        since: 250
      })
      yield* Deferred.succeed(release, undefined)
      yield* settle
      expect(yield* role).toBeUndefined()
      expect(Object.keys((yield* sup.tree).tasks[0]!)).not.toContain("singleton")
    }).pipe(Effect.scoped)
  )
})

describe("Task.mapAttempt", () => {
  it.effect("wraps every attempt, keeps the options, and a Supervisor.task stays a tree", () =>
    Effect.gen(function* () {
      const sup = yield* Supervisor.make()
      const seen: Array<string> = []
      let runs = 0
      const worker = Task.make(
        "worker",
        Effect.suspend(() => (++runs === 1 ? Effect.fail("first") : Effect.never)),
        { backoff: Backoff.constant("100 millis") }
      )
      const tree = Supervisor.task("tree", [worker], { strategy: "one-for-all" }).pipe(
        Task.mapAttempt((attempt) =>
          Effect.andThen(
            Effect.flatMap(TaskContext.TaskContext, (context) =>
              Effect.sync(() => seen.push(`${context.name}#${context.attempt}`))
            ),
            attempt
          )
        )
      )
      yield* sup.add(tree)
      yield* settle
      yield* TestTime.adjust("100 millis")
      yield* settle
      expect(seen).toEqual(["tree#1"])
      const node = (yield* sup.tree).tasks[0]!
      expect(node.kind).toBe("supervisor")
      expect(node.supervisor?.strategy).toBe("one-for-all")
      expect(node.supervisor?.tasks.map((child) => [child.name, child.restarts])).toEqual([["worker", 1]])
    }).pipe(Effect.scoped)
  )

  it.effect("replaces the options it is given, and the error type of the attempt", () =>
    Effect.gen(function* () {
      const sup = yield* Supervisor.make()
      const task = Task.make("t", Effect.void).pipe(
        Task.mapAttempt(() => Effect.fail("wrapped" as const), { restart: RestartPolicy.never })
      )
      expect(task.options.restart).toBe(RestartPolicy.never)
      const handle = yield* sup.add(task)
      const outcome = yield* handle.await
      expect(outcome._tag === "Failed" ? outcome.reason : outcome._tag).toBe("wrapped")
    }).pipe(Effect.scoped)
  )
})
