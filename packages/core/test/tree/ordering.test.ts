/**
 * Order in a supervision tree: static children start in list order and stop in reverse order
 * (nested supervisors included), each within its own grace and all within the supervisor's;
 * dynamic tasks stop together before the static ones; what snapshots, `list` and shutdown errors
 * report about a tree; and that shutting a large tree down leaves no fiber behind. Every timing
 * runs on the TestClock, which starts at 0, so instants are exact.
 */
import { describe, expect, it } from "@effect/vitest"
import { Duration, Effect, Exit, Fiber, Option, Schema } from "effect"
import {
  Backoff,
  Supervisor,
  SupervisorError,
  SupervisorTree,
  Task,
  TaskContext,
  TaskError,
  TaskOutcome
} from "@fibervisor/core"
// The public API has no way to add a task to a nested supervisor (only its static children run
// there); the test of "dynamic before static" reaches it through the entry behind a TaskContext.
import { entryOf } from "../../src/internal/entry.js"
import type { SupervisorImpl } from "../../src/internal/supervisor.js"
import {
  type Ev,
  flush,
  type Log,
  makeLog,
  makeTracker,
  recorded,
  setupTree,
  TestTime,
  timeline
} from "../helpers/tree.js"

/** A worker that runs forever; its scope finalizer takes `stopTakes` (logged as stop … stopped). */
const worker = (log: Log, name: string, stopTakes: Duration.Input = "10 millis") =>
  Task.make(name, recorded(log, undefined, { stopTakes }))

/** A worker stuck in an uninterruptible region for 60 s, with its own grace of 1 s. */
const hung = (log: Log, name: string) =>
  Task.make(
    name,
    recorded(log, () => Effect.uninterruptible(Effect.sleep("60 seconds")))
  ).pipe(Task.withGrace("1 second"))

/** The events about the direct children of the supervisor at `path`. */
const childrenOf = (events: ReadonlyArray<Ev>, path: string) =>
  events.filter((event) => "task" in event && event.path === `${path}/${event.task}`)

const strip = (tree: SupervisorTree.SupervisorTree): unknown => ({
  ...tree,
  tasks: tree.tasks.map(({ id: _id, supervisor, ...node }) =>
    supervisor === undefined ? node : { ...node, supervisor: strip(supervisor) }
  )
})

describe("Ordering: start", () => {
  it.effect("static children start in list order, each once the previous one's first attempt began", () =>
    Effect.gen(function* () {
      const { events, sup } = yield* setupTree()
      const log = makeLog()
      // One permit: b's first attempt can only begin when a's ended (at 100), c's when b's ended.
      const brief = (name: string) =>
        Task.once(
          name,
          recorded(log, () => Effect.sleep("100 millis"))
        )
      yield* sup.add(Supervisor.task("g", [brief("a"), brief("b"), brief("c")], { maxConcurrent: 1 }))
      yield* TestTime.adjust("99 millis")
      // c is not even added while b waits for the permit.
      expect((yield* sup.tree).tasks[0]!.supervisor!.tasks.map(({ name, state }) => [name, state])).toEqual([
        ["a", "running"],
        ["b", "waiting"]
      ])
      yield* TestTime.adjust("1 second")
      expect(timeline(childrenOf(yield* events, "root/g"), ["TaskAdded", "AttemptStarting", "TaskRemoved"])).toEqual([
        "0 TaskAdded root/g/a",
        "0 AttemptStarting root/g/a #1",
        "0 TaskAdded root/g/b",
        "100 TaskRemoved root/g/a",
        "100 AttemptStarting root/g/b #1",
        "100 TaskAdded root/g/c",
        "200 TaskRemoved root/g/b",
        "200 AttemptStarting root/g/c #1",
        "300 TaskRemoved root/g/c"
      ])
      expect(log.lines("start")).toEqual(["0 start root/g/a#1", "100 start root/g/b#1", "200 start root/g/c#1"])
    })
  )
})

describe("Ordering: shutdown", () => {
  it.effect("stops static children one at a time in reverse start order, nested supervisors included (3 levels)", () =>
    Effect.gen(function* () {
      const { events, sup } = yield* setupTree()
      const log = makeLog()
      const top = yield* sup.add(
        Supervisor.task("top", [
          Supervisor.task("l1", [worker(log, "w1"), worker(log, "w2")]),
          worker(log, "w3"),
          Supervisor.task("l2", [worker(log, "w4"), worker(log, "w5")])
        ])
      )
      yield* TestTime.adjust("1 second")
      // Every supervisor started its children in list order, each after the previous one began.
      const started = yield* events
      for (const [path, names] of [
        ["root/top", ["l1", "w3", "l2"]],
        ["root/top/l1", ["w1", "w2"]],
        ["root/top/l2", ["w4", "w5"]]
      ] as const) {
        expect(timeline(childrenOf(started, path), ["TaskAdded", "AttemptStarting"])).toEqual(
          names.flatMap((name) => [`0 TaskAdded ${path}/${name}`, `0 AttemptStarting ${path}/${name} #1`])
        )
      }
      expect(log.lines("start")).toEqual([
        "0 start root/top/l1/w1#1",
        "0 start root/top/w3#1",
        "0 start root/top/l1/w2#1",
        "0 start root/top/l2/w4#1",
        "0 start root/top/l2/w5#1"
      ])
      const shutdown = yield* Effect.forkChild(sup.shutdown)
      yield* TestTime.adjust("49 millis")
      expect(shutdown.pollUnsafe()).toBeUndefined()
      yield* TestTime.adjust("1 millis")
      expect(yield* Fiber.await(shutdown)).toEqual(Exit.void)
      // Each finalizer (10 ms) begins when the previous one is done.
      expect(log.lines().slice(5)).toEqual([
        "1000 stop root/top/l2/w5#1",
        "1010 stopped root/top/l2/w5#1",
        "1010 stop root/top/l2/w4#1",
        "1020 stopped root/top/l2/w4#1",
        "1020 stop root/top/w3#1",
        "1030 stopped root/top/w3#1",
        "1030 stop root/top/l1/w2#1",
        "1040 stopped root/top/l1/w2#1",
        "1040 stop root/top/l1/w1#1",
        "1050 stopped root/top/l1/w1#1"
      ])
      expect(
        timeline(
          (yield* events).filter((event) => event.at >= 1000),
          ["ShutdownRequested", "TaskRemoveRequested", "TaskFinished", "AllStoppedWithinGrace"]
        )
      ).toEqual([
        "1000 ShutdownRequested root",
        "1000 TaskRemoveRequested root/top shutdown",
        "1000 ShutdownRequested root/top",
        "1000 TaskRemoveRequested root/top/l2 shutdown",
        "1000 ShutdownRequested root/top/l2",
        "1000 TaskRemoveRequested root/top/l2/w5 shutdown",
        "1010 TaskFinished root/top/l2/w5 Canceled stopped by shutdown",
        "1010 TaskRemoveRequested root/top/l2/w4 shutdown",
        "1020 TaskFinished root/top/l2/w4 Canceled stopped by shutdown",
        "1020 AllStoppedWithinGrace root/top/l2",
        "1020 TaskFinished root/top/l2 Canceled stopped by shutdown",
        "1020 TaskRemoveRequested root/top/w3 shutdown",
        "1030 TaskFinished root/top/w3 Canceled stopped by shutdown",
        "1030 TaskRemoveRequested root/top/l1 shutdown",
        "1030 ShutdownRequested root/top/l1",
        "1030 TaskRemoveRequested root/top/l1/w2 shutdown",
        "1040 TaskFinished root/top/l1/w2 Canceled stopped by shutdown",
        "1040 TaskRemoveRequested root/top/l1/w1 shutdown",
        "1050 TaskFinished root/top/l1/w1 Canceled stopped by shutdown",
        "1050 AllStoppedWithinGrace root/top/l1",
        "1050 TaskFinished root/top/l1 Canceled stopped by shutdown",
        "1050 AllStoppedWithinGrace root/top",
        "1050 TaskFinished root/top Canceled stopped by shutdown",
        "1050 AllStoppedWithinGrace root"
      ])
      expect(yield* top.poll).toEqual(Option.some(new TaskOutcome.Canceled({ reason: "stopped by shutdown" })))
    })
  )

  it.effect("a static child past its own grace is abandoned at exactly that grace, then the next one is stopped", () =>
    Effect.gen(function* () {
      const { events, sup } = yield* setupTree()
      const log = makeLog()
      yield* sup.add(
        Supervisor.task("g", [worker(log, "a", 0), hung(log, "h1"), worker(log, "b", 0), hung(log, "h2")], {
          grace: "3 seconds"
        })
      )
      yield* TestTime.adjust("1 second")
      const shutdown = yield* Effect.forkChild(sup.shutdown)
      // h2 (own grace 1 s) is abandoned at 2000; b stops at 2000; h1 is abandoned at 3000; a stops at 3000.
      yield* TestTime.adjust("999 millis")
      expect(log.lines("stop ")).toEqual([])
      yield* TestTime.adjust("1 millis")
      expect(log.lines("stop ")).toEqual(["2000 stop root/g/b#1"])
      yield* TestTime.adjust("999 millis")
      expect(log.lines("stop ")).toEqual(["2000 stop root/g/b#1"])
      expect(shutdown.pollUnsafe()).toBeUndefined()
      yield* TestTime.adjust("1 millis")
      expect(log.lines("stop ")).toEqual(["2000 stop root/g/b#1", "3000 stop root/g/a#1"])
      // Every task under g has stopped or been abandoned at 3000: the root does not wait for its own
      // deadline (g's attempt still ends only when h1's and h2's fibers have exited).
      expect(yield* Fiber.await(shutdown)).toEqual(
        Exit.fail(
          new SupervisorError.GraceExceeded({
            grace: Duration.seconds(10),
            stuck: ["g"],
            paths: ["root/g/h1", "root/g/h2"],
            elapsed: Duration.seconds(2)
          })
        )
      )
      yield* TestTime.adjust("1 minute")
      // h1's and h2's regions both end at 60000: the TestClock wakes equal instants in registration
      // order (Effect 4; Effect 3's woke the last registered first), so h1 (started first) goes first.
      expect(log.lines("stop ")).toEqual([
        "2000 stop root/g/b#1",
        "3000 stop root/g/a#1",
        "60000 stop root/g/h1#1",
        "60000 stop root/g/h2#1"
      ])
      expect(
        timeline(
          (yield* events).filter((event) => event.at >= 1000),
          ["TaskRemoveRequested", "TaskFinished", "GraceExceeded", "AllStoppedWithinGrace", "TaskRemoved"]
        )
      ).toEqual([
        "1000 TaskRemoveRequested root/g shutdown",
        "1000 TaskRemoveRequested root/g/h2 shutdown",
        "2000 TaskFinished root/g/h2 ForceAborted did not stop within its grace of 1000 ms",
        "2000 TaskRemoveRequested root/g/b shutdown",
        "2000 TaskFinished root/g/b Canceled stopped by shutdown",
        "2000 TaskRemoved root/g/b",
        "2000 TaskRemoveRequested root/g/h1 shutdown",
        "3000 TaskFinished root/g/h1 ForceAborted did not stop within its grace of 1000 ms",
        "3000 TaskRemoveRequested root/g/a shutdown",
        "3000 TaskFinished root/g/a Canceled stopped by shutdown",
        "3000 TaskRemoved root/g/a",
        "3000 TaskFinished root/g ForceAborted did not stop: tasks under it were abandoned (root/g/h1, root/g/h2)",
        "3000 GraceExceeded root stuck=g paths=root/g/h1,root/g/h2",
        // g's own report comes at its deadline (1000 + 3000), never before.
        "4000 GraceExceeded root/g stuck=h1,h2 paths=root/g/h1,root/g/h2",
        "60000 TaskRemoved root/g/h1",
        "60000 TaskRemoved root/g/h2",
        "60000 TaskRemoved root/g"
      ])
    })
  )

  it.effect("the supervisor's grace bounds the whole: the child stopped when it runs out gets no time", () =>
    Effect.gen(function* () {
      const { events, sup } = yield* setupTree()
      const log = makeLog()
      yield* sup.add(
        Supervisor.task("g", [worker(log, "a", 0), hung(log, "h1"), hung(log, "h2")], { grace: "1500 millis" })
      )
      yield* TestTime.adjust("1 second")
      const shutdown = yield* Effect.forkChild(sup.shutdown)
      // h2: its own grace, 1000 ms (abandoned at 2000); h1: min(1000, 500 left) (until 2500); a: nothing left.
      yield* TestTime.adjust("1499 millis")
      expect(log.lines("stop ")).toEqual([])
      yield* TestTime.adjust("1 millis")
      expect(log.lines("stop ")).toEqual(["2500 stop root/g/a#1"])
      // At its deadline g has stopped or abandoned every child: the root is decided at once, though
      // g's attempt ends only when h1 and h2 have exited (at 60000).
      expect(yield* Fiber.await(shutdown)).toEqual(
        Exit.fail(
          new SupervisorError.GraceExceeded({
            grace: Duration.seconds(10),
            stuck: ["g"],
            paths: ["root/g/h1", "root/g/h2"],
            elapsed: Duration.millis(1500)
          })
        )
      )
      expect(
        timeline(
          (yield* events).filter((event) => event.at >= 1000),
          ["TaskRemoveRequested", "TaskFinished", "GraceExceeded", "AllStoppedWithinGrace"]
        )
      ).toEqual([
        "1000 TaskRemoveRequested root/g shutdown",
        "1000 TaskRemoveRequested root/g/h2 shutdown",
        "2000 TaskFinished root/g/h2 ForceAborted did not stop within its grace of 1000 ms",
        "2000 TaskRemoveRequested root/g/h1 shutdown",
        "2500 TaskRemoveRequested root/g/a shutdown",
        "2500 TaskFinished root/g/a ForceAborted did not stop within the shutdown grace of 1500 ms",
        "2500 TaskFinished root/g/h1 ForceAborted did not stop within the shutdown grace of 1500 ms",
        "2500 GraceExceeded root/g stuck=a,h1,h2 paths=root/g/a,root/g/h1,root/g/h2",
        "2500 TaskFinished root/g ForceAborted did not stop: tasks under it were abandoned (root/g/a, root/g/h1, root/g/h2)",
        "2500 GraceExceeded root stuck=g paths=root/g/h1,root/g/h2"
      ])
      yield* TestTime.adjust("1 minute")
    })
  )

  it.effect("a hung grandchild is reported with its path, at the root and by its own supervisor", () =>
    Effect.gen(function* () {
      const { events, sup } = yield* setupTree({ grace: "2 seconds" })
      const log = makeLog()
      yield* sup.add(
        Supervisor.task(
          "db",
          [
            Task.make(
              "pool",
              recorded(log, () => Effect.uninterruptible(Effect.sleep("60 seconds")))
            )
          ],
          { grace: "5 seconds" }
        )
      )
      yield* TestTime.adjust("1 second")
      const shutdown = yield* Effect.forkChild(sup.shutdown)
      yield* TestTime.adjust("1 second")
      const during = yield* sup.tree
      expect([during.state, during.tasks[0]!.state]).toEqual(["shutting-down", "stopping"])
      expect([during.tasks[0]!.supervisor!.state, during.tasks[0]!.supervisor!.tasks[0]!.state]).toEqual([
        "shutting-down",
        "stopping"
      ])
      yield* TestTime.adjust("999 millis")
      expect(shutdown.pollUnsafe()).toBeUndefined()
      yield* TestTime.adjust("1 millis")
      const error = new SupervisorError.GraceExceeded({
        grace: Duration.millis(2000),
        stuck: ["db"],
        paths: ["root/db/pool"]
      })
      expect(yield* Fiber.await(shutdown)).toEqual(Exit.fail(error))
      expect(error.message).toBe("shutdown exceeded its grace of 2s; abandoned: root/db/pool")
      // db gives up on pool when its own grace (5 s) has run out.
      yield* TestTime.adjust("1 minute")
      expect(
        timeline(
          (yield* events).filter((event) => event.at >= 1000),
          ["ShutdownRequested", "TaskRemoveRequested", "TaskFinished", "GraceExceeded", "TaskRemoved"]
        )
      ).toEqual([
        "1000 ShutdownRequested root",
        "1000 TaskRemoveRequested root/db shutdown",
        "1000 ShutdownRequested root/db",
        "1000 TaskRemoveRequested root/db/pool shutdown",
        "3000 TaskFinished root/db ForceAborted did not stop within the shutdown grace of 2000 ms",
        "3000 GraceExceeded root stuck=db paths=root/db/pool",
        "6000 TaskFinished root/db/pool ForceAborted did not stop within the shutdown grace of 5000 ms",
        "6000 GraceExceeded root/db stuck=pool paths=root/db/pool",
        // db keeps its name until its hung child has really exited.
        "60000 TaskRemoved root/db/pool",
        "60000 TaskRemoved root/db"
      ])
      expect(log.lines("stop")).toEqual(["60000 stop root/db/pool#1"])
    })
  )

  it.effect("dynamic tasks of a nested supervisor are stopped together, before its static children", () =>
    Effect.gen(function* () {
      const { events, sup } = yield* setupTree()
      const log = makeLog()
      // s1 adds d1 (100 ms to stop) and d2 (300 ms) to its own supervisor, at runtime.
      const s1 = Task.make(
        "s1",
        Effect.gen(function* () {
          const ctx = yield* TaskContext.TaskContext
          const owner = entryOf(ctx)!.owner as SupervisorImpl
          yield* owner.add(worker(log, "d1", "100 millis"))
          yield* owner.add(worker(log, "d2", "300 millis"))
          return yield* recorded(log, undefined, { stopTakes: "100 millis" })
        })
      )
      yield* sup.add(Supervisor.task("g", [s1, worker(log, "s2", "100 millis")]))
      yield* TestTime.adjust("1 second")
      expect((yield* sup.tree).tasks[0]!.supervisor!.tasks.map(({ name, path, state }) => [name, path, state])).toEqual(
        [
          ["s1", "root/g/s1", "running"],
          ["d1", "root/g/d1", "running"],
          ["d2", "root/g/d2", "running"],
          ["s2", "root/g/s2", "running"]
        ]
      )
      const shutdown = yield* Effect.forkChild(sup.shutdown)
      yield* TestTime.adjust("499 millis")
      expect(shutdown.pollUnsafe()).toBeUndefined()
      yield* TestTime.adjust("1 millis")
      expect(yield* Fiber.await(shutdown)).toEqual(Exit.void)
      expect(log.lines().filter((line) => !line.includes(" start "))).toEqual([
        "1000 stop root/g/d1#1",
        "1000 stop root/g/d2#1",
        "1100 stopped root/g/d1#1",
        "1300 stopped root/g/d2#1",
        "1300 stop root/g/s2#1",
        "1400 stopped root/g/s2#1",
        "1400 stop root/g/s1#1",
        "1500 stopped root/g/s1#1"
      ])
      expect(
        timeline(
          (yield* events).filter((event) => event.at >= 1000 && event.path.startsWith("root/g/")),
          ["TaskRemoveRequested"]
        )
      ).toEqual([
        "1000 TaskRemoveRequested root/g/d1 shutdown",
        "1000 TaskRemoveRequested root/g/d2 shutdown",
        "1300 TaskRemoveRequested root/g/s2 shutdown",
        "1400 TaskRemoveRequested root/g/s1 shutdown"
      ])
    })
  )

  it.effect("the root's tasks (all dynamic) are stopped together", () =>
    Effect.gen(function* () {
      const { events, sup } = yield* setupTree()
      const log = makeLog()
      yield* sup.add(worker(log, "d1", "100 millis"))
      yield* sup.add(Supervisor.task("g", [worker(log, "w", "200 millis")]))
      yield* sup.add(worker(log, "d2", "300 millis"))
      yield* TestTime.adjust("1 second")
      const shutdown = yield* Effect.forkChild(sup.shutdown)
      yield* TestTime.adjust("300 millis")
      expect(yield* Fiber.await(shutdown)).toEqual(Exit.void)
      // All three stop at once (sorted: the order within one instant is not the point).
      expect(
        log
          .lines()
          .filter((line) => !line.includes(" start "))
          .sort()
      ).toEqual([
        "1000 stop root/d1#1",
        "1000 stop root/d2#1",
        "1000 stop root/g/w#1",
        "1100 stopped root/d1#1",
        "1200 stopped root/g/w#1",
        "1300 stopped root/d2#1"
      ])
      expect(
        timeline(
          (yield* events).filter((event) => event.at >= 1000),
          ["TaskRemoveRequested", "AllStoppedWithinGrace"]
        )
      ).toEqual([
        "1000 TaskRemoveRequested root/d1 shutdown",
        "1000 TaskRemoveRequested root/g shutdown",
        "1000 TaskRemoveRequested root/d2 shutdown",
        "1000 TaskRemoveRequested root/g/w shutdown",
        "1200 AllStoppedWithinGrace root/g",
        "1300 AllStoppedWithinGrace root"
      ])
    })
  )
})

describe("Ordering: snapshots", () => {
  it.effect("tree shows a 3-level tree (Schema-encodable); list on the root shows only its direct children", () =>
    Effect.gen(function* () {
      const { sup } = yield* setupTree()
      const log = makeLog()
      const app = yield* sup.add(
        Supervisor.task(
          "app",
          [
            Supervisor.task("db", [worker(log, "pool"), worker(log, "replica")], { strategy: "rest-for-one" }),
            worker(log, "api")
          ],
          { strategy: "one-for-all" }
        )
      )
      const metrics = yield* sup.add(
        Task.make(
          "metrics",
          recorded(log, (attempt) =>
            attempt === 1
              ? Effect.andThen(Effect.sleep("500 millis"), Effect.fail(TaskError.fail("boom")))
              : Effect.never
          ),
          { backoff: Backoff.constant("1 second") }
        )
      )
      yield* TestTime.adjust("1 second")
      const tree = yield* sup.tree
      const running = { kind: "worker", state: "running", attempt: 1, restarts: 0, ready: false } as const
      expect(strip(tree)).toEqual({
        path: "root",
        strategy: "one-for-one",
        state: "running",
        tasks: [
          {
            name: "app",
            path: "root/app",
            kind: "supervisor",
            state: "running",
            attempt: 1,
            restarts: 0,
            ready: false,
            supervisor: {
              path: "root/app",
              strategy: "one-for-all",
              state: "running",
              tasks: [
                {
                  name: "db",
                  path: "root/app/db",
                  kind: "supervisor",
                  state: "running",
                  attempt: 1,
                  restarts: 0,
                  ready: false,
                  supervisor: {
                    path: "root/app/db",
                    strategy: "rest-for-one",
                    state: "running",
                    tasks: [
                      { name: "pool", path: "root/app/db/pool", ...running },
                      { name: "replica", path: "root/app/db/replica", ...running }
                    ]
                  }
                },
                { name: "api", path: "root/app/api", ...running }
              ]
            }
          },
          {
            name: "metrics",
            path: "root/metrics",
            kind: "worker",
            state: "backing-off",
            attempt: 1,
            restarts: 1,
            ready: false,
            lastFailure: "boom",
            nextAttemptAt: 1500
          }
        ]
      })
      const flat = SupervisorTree.flatten(tree)
      expect(flat.map((node) => node.path)).toEqual([
        "root/app",
        "root/app/db",
        "root/app/db/pool",
        "root/app/db/replica",
        "root/app/api",
        "root/metrics"
      ])
      expect(new Set(flat.map((node) => node.id)).size).toBe(6)
      expect([tree.tasks[0]!.id, tree.tasks[1]!.id]).toEqual([app.id, metrics.id])

      const encoded = SupervisorTree.encode(tree)
      const json: unknown = JSON.parse(JSON.stringify(encoded))
      expect(json).toEqual(encoded)
      expect(Schema.decodeUnknownSync(SupervisorTree.SupervisorTree)(json)).toEqual(tree)

      expect(yield* sup.list).toEqual([
        {
          id: app.id,
          name: "app",
          path: "root/app",
          kind: "supervisor",
          state: "running",
          attempt: 1,
          restarts: 0,
          lastFailure: Option.none(),
          nextAttemptAt: Option.none()
        },
        {
          id: metrics.id,
          name: "metrics",
          path: "root/metrics",
          kind: "worker",
          state: "backing-off",
          attempt: 1,
          restarts: 1,
          lastFailure: Option.some("boom"),
          nextAttemptAt: Option.some(1500)
        }
      ])
      const shutdown = yield* Effect.forkChild(sup.shutdown)
      yield* TestTime.adjust("30 millis")
      expect(yield* Fiber.await(shutdown)).toEqual(Exit.void)
      expect(yield* sup.tree).toEqual({ path: "root", strategy: "one-for-one", state: "stopped", tasks: [] })
    })
  )
})

describe("Ordering: no fiber left behind", () => {
  it.effect("shutdown of a 3-level tree of 1,000 workers (10 × 10 × 10) leaves no fiber running", () =>
    Effect.gen(function* () {
      const tracker = makeTracker()
      const { add, sup } = yield* setupTree(undefined, tracker)
      const range = (n: number) => Array.from({ length: n }, (_, i) => i)
      const handles = yield* Effect.forEach(range(10), (i) =>
        add(
          Supervisor.task(
            `s${i}`,
            range(10).map((j) =>
              Supervisor.task(
                `m${j}`,
                range(10).map((k) => Task.make(`w${k}`, Effect.never))
              )
            )
          )
        )
      )
      // Let the whole tree start (each static child waits for the previous one's first attempt).
      let nodes: ReadonlyArray<SupervisorTree.TaskNode> = []
      for (let turn = 0; turn < 100; turn++) {
        yield* flush
        nodes = SupervisorTree.flatten(yield* sup.tree)
        if (nodes.length === 1110 && nodes.every((node) => node.attempt === 1)) break
      }
      expect(nodes.length).toBe(1110)
      expect(nodes.filter((node) => node.kind === "worker" && node.state === "running")).toHaveLength(1000)
      expect(nodes.filter((node) => node.path === "root/s9/m9/w9")).toHaveLength(1)
      // One fiber per task.
      expect(tracker.live()).toBe(1110)
      expect(yield* sup.shutdown).toBeUndefined()
      for (const handle of handles) {
        expect(yield* handle.poll).toEqual(Option.some(new TaskOutcome.Canceled({ reason: "stopped by shutdown" })))
      }
      expect(yield* sup.list).toEqual([])
      yield* flush
      expect(tracker.live()).toBe(0)
    })
  )
})
