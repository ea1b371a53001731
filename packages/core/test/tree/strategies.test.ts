/**
 * Restart strategies of a `Supervisor.task` (one-for-one, one-for-all, rest-for-one): who is
 * stopped (and in which order), who is started again (and when), what the events and snapshots
 * say. Every timing runs on the TestClock, which starts at 0, so instants are exact.
 */
import { describe, expect, it } from "@effect/vitest"
import { Duration, Effect, Exit, Fiber, Option } from "effect"
import { Backoff, RestartPolicy, Supervisor, SupervisorTree, Task, TaskError, TaskOutcome } from "@fibervisor/core"
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

type Strategy = "one-for-one" | "one-for-all" | "rest-for-one"

/** Attempt 1 fails with "boom" after `after`; later attempts run forever. */
const failsFirst =
  (after: Duration.Input) =>
  (attempt: number): Effect.Effect<never, TaskError.Fail> =>
    attempt === 1 ? Effect.andThen(Effect.sleep(after), Effect.fail(TaskError.fail("boom"))) : Effect.never

/** A child that runs forever (or fails its first attempt after 1 s when it is the trigger), backoff 500 ms. */
const child = (log: Log, name: string, trigger: string) =>
  Task.make(name, recorded(log, name === trigger ? failsFirst("1 second") : () => Effect.never), {
    backoff: Backoff.constant("500 millis")
  })

/** The nested supervisor's snapshot under the root's only task. */
const nestedOf = (tree: SupervisorTree.SupervisorTree): SupervisorTree.SupervisorTree => tree.tasks[0]!.supervisor!

const from = (at: number, events: ReadonlyArray<Ev>) => events.filter((event) => event.at >= at)

interface Case {
  readonly strategy: Strategy
  readonly trigger: "a" | "b" | "c"
  /** `GroupRestart.affected`; undefined: no group restart (one-for-one). */
  readonly affected: ReadonlyArray<string> | undefined
  /** Finalizers at the failure, in order: the trigger's own, then the others in reverse start order. */
  readonly stopped: ReadonlyArray<string>
  /** Started again at failure + 500 ms, in this order. */
  readonly restarted: ReadonlyArray<string>
}

const cases: ReadonlyArray<Case> = [
  { strategy: "one-for-one", trigger: "a", affected: undefined, stopped: ["a"], restarted: ["a"] },
  { strategy: "one-for-one", trigger: "b", affected: undefined, stopped: ["b"], restarted: ["b"] },
  { strategy: "one-for-one", trigger: "c", affected: undefined, stopped: ["c"], restarted: ["c"] },
  {
    strategy: "one-for-all",
    trigger: "a",
    affected: ["a", "b", "c"],
    stopped: ["a", "c", "b"],
    restarted: ["a", "b", "c"]
  },
  {
    strategy: "one-for-all",
    trigger: "b",
    affected: ["a", "b", "c"],
    stopped: ["b", "c", "a"],
    restarted: ["a", "b", "c"]
  },
  {
    strategy: "one-for-all",
    trigger: "c",
    affected: ["a", "b", "c"],
    stopped: ["c", "b", "a"],
    restarted: ["a", "b", "c"]
  },
  {
    strategy: "rest-for-one",
    trigger: "a",
    affected: ["a", "b", "c"],
    stopped: ["a", "c", "b"],
    restarted: ["a", "b", "c"]
  },
  { strategy: "rest-for-one", trigger: "b", affected: ["b", "c"], stopped: ["b", "c"], restarted: ["b", "c"] },
  { strategy: "rest-for-one", trigger: "c", affected: ["c"], stopped: ["c"], restarted: ["c"] }
]

const names = ["a", "b", "c"] as const

describe("Strategies: a failure of the first, the middle and the last of three children", () => {
  for (const { affected, restarted, stopped, strategy, trigger } of cases) {
    it.effect(`${strategy}, ${trigger} fails: stops ${stopped.join(",")}, restarts ${restarted.join(",")}`, () =>
      Effect.gen(function* () {
        const { events, sup } = yield* setupTree()
        const log = makeLog()
        yield* sup.add(
          Supervisor.task(
            "g",
            names.map((name) => child(log, name, trigger)),
            { strategy }
          )
        )
        yield* TestTime.adjust("1 second")
        // At the failure: the trigger's finalizer, then the others' in reverse start order.
        expect(log.lines()).toEqual([
          "0 start root/g/a#1",
          "0 start root/g/b#1",
          "0 start root/g/c#1",
          ...stopped.map((name) => `1000 stop root/g/${name}#1`)
        ])
        const during = nestedOf(yield* sup.tree)
        expect(during.strategy).toBe(strategy)
        expect(during.state).toBe("running")
        expect(
          during.tasks.map(({ attempt, name, nextAttemptAt, state }) => [name, state, attempt, nextAttemptAt])
        ).toEqual(
          names.map((name) =>
            name === trigger
              ? [name, "backing-off", 1, 1500]
              : restarted.includes(name)
                ? [name, "waiting", 1, undefined]
                : [name, "running", 1, undefined]
          )
        )
        expect(during.tasks.find((node) => node.name === trigger)?.lastFailure).toBe("boom")

        // The trigger's backoff (500 ms) is respected exactly: nothing starts before 1500.
        yield* TestTime.adjust("499 millis")
        expect(log.lines("start")).toHaveLength(3)
        yield* TestTime.adjust("1 millis")
        expect(log.lines("start").slice(3)).toEqual(restarted.map((name) => `1500 start root/g/${name}#2`))

        const after = nestedOf(yield* sup.tree)
        expect(after.tasks.map(({ attempt, name, restarts, state }) => [name, state, attempt, restarts])).toEqual(
          names.map((name) => (restarted.includes(name) ? [name, "running", 2, 1] : [name, "running", 1, 0]))
        )
        // Restarted children keep their ids; the supervisor task itself was not restarted.
        expect(after.tasks.map((node) => node.id)).toEqual(during.tasks.map((node) => node.id))
        const [g] = yield* sup.list
        expect(g).toMatchObject({ name: "g", path: "root/g", kind: "supervisor", state: "running" })
        expect([g!.attempt, g!.restarts]).toEqual([1, 0])

        const others = stopped.filter((name) => name !== trigger)
        expect(timeline(from(1000, yield* events))).toEqual([
          `1000 AttemptFailed root/g/${trigger} #1 boom`,
          `1000 BackoffScheduled root/g/${trigger} failure 500`,
          ...(affected === undefined
            ? []
            : [`1000 GroupRestart root/g ${strategy} trigger=${trigger} affected=${affected.join(",")}`]),
          ...others.map((name) => `1000 AttemptCanceled root/g/${name} #1 stopped by group-restart`),
          ...restarted.map((name) => `1500 AttemptStarting root/g/${name} #2`)
        ])

        // A later shutdown stops the three in reverse start order.
        yield* sup.shutdown
        expect(log.lines("stop").slice(stopped.length)).toEqual(
          ["c", "b", "a"].map((name) => `1500 stop root/g/${name}#${restarted.includes(name) ? 2 : 1}`)
        )
      })
    )
  }

  it.effect("the restart waits for the stops, then the trigger's whole backoff (slow finalizers)", () =>
    Effect.gen(function* () {
      const { events, sup } = yield* setupTree()
      const log = makeLog()
      const slow = (name: string) =>
        Task.make(
          name,
          recorded(log, name === "c" ? failsFirst("1 second") : () => Effect.never, { stopTakes: "100 millis" }),
          { backoff: Backoff.constant("500 millis") }
        )
      yield* sup.add(Supervisor.task("g", [slow("a"), slow("b"), slow("c")], { strategy: "one-for-all" }))
      // c's attempt fails at 1000 but its own finalizer takes 100 ms: its failure is seen at 1100.
      // b then a are stopped one at a time (100 ms each): done at 1300; then 500 ms of backoff.
      yield* TestTime.adjust("1799 millis")
      expect(log.lines("start").slice(3)).toEqual([])
      yield* TestTime.adjust("1 millis")
      expect(log.lines()).toEqual([
        "0 start root/g/a#1",
        "0 start root/g/b#1",
        "0 start root/g/c#1",
        "1000 stop root/g/c#1",
        "1100 stopped root/g/c#1",
        "1100 stop root/g/b#1",
        "1200 stopped root/g/b#1",
        "1200 stop root/g/a#1",
        "1300 stopped root/g/a#1",
        "1800 start root/g/a#2",
        "1800 start root/g/b#2",
        "1800 start root/g/c#2"
      ])
      expect(timeline(from(1000, yield* events))).toEqual([
        "1100 AttemptFailed root/g/c #1 boom",
        "1100 BackoffScheduled root/g/c failure 500",
        "1100 GroupRestart root/g one-for-all trigger=c affected=a,b,c",
        "1200 AttemptCanceled root/g/b #1 stopped by group-restart",
        "1300 AttemptCanceled root/g/a #1 stopped by group-restart",
        "1800 AttemptStarting root/g/a #2",
        "1800 AttemptStarting root/g/b #2",
        "1800 AttemptStarting root/g/c #2"
      ])
      const shutdown = yield* Effect.forkChild(sup.shutdown)
      yield* TestTime.adjust("300 millis")
      expect(yield* Fiber.await(shutdown)).toEqual(Exit.void)
    })
  )
})

describe("Strategies: siblings that are not restarted", () => {
  it.effect(
    "one-for-all: a RestartPolicy.never sibling is stopped for good; a completed onFailure sibling stays completed",
    () =>
      Effect.gen(function* () {
        const { events, sup } = yield* setupTree()
        const log = makeLog()
        yield* sup.add(
          Supervisor.task(
            "g",
            [
              Task.make(
                "done",
                recorded(log, () => Effect.sleep("10 millis")),
                { restart: RestartPolicy.onFailure }
              ),
              Task.make("a", recorded(log)),
              Task.make("n", recorded(log), { restart: RestartPolicy.never }),
              Task.make("b", recorded(log, failsFirst("1 second")), { backoff: Backoff.constant("500 millis") })
            ],
            { strategy: "one-for-all" }
          )
        )
        yield* TestTime.adjust("1500 millis")
        expect(timeline(from(10, yield* events))).toEqual([
          "10 AttemptSucceeded root/g/done",
          "10 TaskFinished root/g/done Completed",
          "10 TaskRemoved root/g/done",
          "1000 AttemptFailed root/g/b #1 boom",
          "1000 BackoffScheduled root/g/b failure 500",
          "1000 GroupRestart root/g one-for-all trigger=b affected=a,n,b",
          "1000 TaskRemoveRequested root/g/n group-restart",
          "1000 AttemptCanceled root/g/n #1 stopped by group-restart",
          "1000 TaskFinished root/g/n Canceled stopped by group-restart",
          "1000 TaskRemoved root/g/n",
          "1000 AttemptCanceled root/g/a #1 stopped by group-restart",
          "1500 AttemptStarting root/g/a #2",
          "1500 AttemptStarting root/g/b #2"
        ])
        expect(log.lines("stop")).toEqual([
          "10 stop root/g/done#1",
          "1000 stop root/g/b#1",
          "1000 stop root/g/n#1",
          "1000 stop root/g/a#1"
        ])
        const nested = nestedOf(yield* sup.tree)
        expect(nested.tasks.map(({ attempt, name, restarts, state }) => [name, state, attempt, restarts])).toEqual([
          ["a", "running", 2, 1],
          ["b", "running", 2, 1]
        ])
        // Neither comes back later.
        yield* TestTime.adjust("1 hour")
        expect(log.lines("start")).toEqual([
          "0 start root/g/done#1",
          "0 start root/g/a#1",
          "0 start root/g/n#1",
          "0 start root/g/b#1",
          "1500 start root/g/a#2",
          "1500 start root/g/b#2"
        ])
      })
  )

  it.effect("rest-for-one: a RestartPolicy.never sibling started before the trigger is not touched", () =>
    Effect.gen(function* () {
      const { events, sup } = yield* setupTree()
      const log = makeLog()
      yield* sup.add(
        Supervisor.task(
          "g",
          [
            Task.make("n", recorded(log), { restart: RestartPolicy.never }),
            Task.make("b", recorded(log, failsFirst("1 second")), { backoff: Backoff.constant("500 millis") }),
            Task.make("m", recorded(log), { restart: RestartPolicy.never })
          ],
          { strategy: "rest-for-one" }
        )
      )
      yield* TestTime.adjust("1500 millis")
      expect(timeline(from(1000, yield* events))).toEqual([
        "1000 AttemptFailed root/g/b #1 boom",
        "1000 BackoffScheduled root/g/b failure 500",
        "1000 GroupRestart root/g rest-for-one trigger=b affected=b,m",
        "1000 TaskRemoveRequested root/g/m group-restart",
        "1000 AttemptCanceled root/g/m #1 stopped by group-restart",
        "1000 TaskFinished root/g/m Canceled stopped by group-restart",
        "1000 TaskRemoved root/g/m",
        "1500 AttemptStarting root/g/b #2"
      ])
      const nested = nestedOf(yield* sup.tree)
      expect(nested.tasks.map(({ attempt, name, restarts, state }) => [name, state, attempt, restarts])).toEqual([
        ["n", "running", 1, 0],
        ["b", "running", 2, 1]
      ])
    })
  )
})

describe("Strategies: periodic children", () => {
  it.effect("re-runs of RestartPolicy.always after success trigger no group restart and count for no intensity", () =>
    Effect.gen(function* () {
      const { events, sup } = yield* setupTree()
      const log = makeLog()
      yield* sup.add(
        Supervisor.task(
          "g",
          [
            Task.make("a", recorded(log)),
            Task.make(
              "p",
              // 10 ms per run; run 11 fails.
              recorded(log, (attempt) =>
                attempt === 11
                  ? Effect.andThen(Effect.sleep("10 millis"), Effect.fail(TaskError.fail("boom")))
                  : Effect.sleep("10 millis")
              ),
              { restart: RestartPolicy.always({ interval: "1 second" }), backoff: Backoff.constant("500 millis") }
            ),
            Task.make("b", recorded(log))
          ],
          // The nested default intensity (3 in 5 s) would be exceeded if successes counted.
          { strategy: "one-for-all" }
        )
      )
      yield* TestTime.adjust("10 seconds")
      const seen = yield* events
      const starts = seen.filter((event) => event._tag === "AttemptStarting" && event.path === "root/g/p")
      expect(starts.map((event) => event.at)).toEqual([0, 1010, 2020, 3030, 4040, 5050, 6060, 7070, 8080, 9090])
      expect(
        seen.filter((event) =>
          ["GroupRestart", "RestartIntensityExceeded", "AttemptCanceled", "TaskFinished"].includes(event._tag)
        )
      ).toEqual([])
      const nested = nestedOf(yield* sup.tree)
      expect(nested.tasks.map(({ attempt, name, restarts, state }) => [name, state, attempt, restarts])).toEqual([
        ["a", "running", 1, 0],
        ["p", "scheduled", 10, 0],
        ["b", "running", 1, 0]
      ])
      // Only p's own scope closed, after each run; a and b were never stopped.
      expect(log.lines("stop")).toEqual(
        [10, 1020, 2030, 3040, 4050, 5060, 6070, 7080, 8090, 9100].map((at, i) => `${at} stop root/g/p#${i + 1}`)
      )
      // Its 11th run fails: that one does restart the group.
      yield* TestTime.adjust("610 millis")
      expect(timeline(from(10100, yield* events))).toEqual([
        "10100 AttemptStarting root/g/p #11",
        "10110 AttemptFailed root/g/p #11 boom",
        "10110 BackoffScheduled root/g/p failure 500",
        "10110 GroupRestart root/g one-for-all trigger=p affected=a,p,b",
        "10110 AttemptCanceled root/g/b #1 stopped by group-restart",
        "10110 AttemptCanceled root/g/a #1 stopped by group-restart",
        "10610 AttemptStarting root/g/a #2",
        "10610 AttemptStarting root/g/p #12",
        "10610 AttemptStarting root/g/b #2"
      ])
    })
  )
})

describe("Strategies: a sibling that ignores interruption", () => {
  it.effect("is abandoned (ForceAborted) after exactly its grace and not restarted; the others restart", () =>
    Effect.gen(function* () {
      const { events, sup } = yield* setupTree()
      const log = makeLog()
      yield* sup.add(
        Supervisor.task(
          "g",
          [
            Task.make(
              "a",
              recorded(log, () => Effect.uninterruptible(Effect.sleep("5 seconds")))
            ).pipe(Task.withGrace("1 second")),
            Task.make("b", recorded(log)),
            Task.make("c", recorded(log, failsFirst("1 second")), { backoff: Backoff.constant("500 millis") })
          ],
          { strategy: "one-for-all" }
        )
      )
      yield* TestTime.adjust("1999 millis")
      expect((yield* events).filter((event) => event._tag === "TaskFinished")).toEqual([])
      yield* TestTime.adjust("1 millis")
      expect(timeline((yield* events).filter((event) => event._tag === "TaskFinished"))).toEqual([
        "2000 TaskFinished root/g/a ForceAborted did not stop within its grace of 1000 ms"
      ])
      // The backoff runs once the stops are over (at 2000): the others start again at 2500.
      yield* TestTime.adjust("499 millis")
      expect(log.lines("start").slice(3)).toEqual([])
      yield* TestTime.adjust("1 millis")
      expect(log.lines("start").slice(3)).toEqual(["2500 start root/g/b#2", "2500 start root/g/c#2"])
      yield* TestTime.adjust("1 minute")
      expect(timeline(from(1000, yield* events))).toEqual([
        "1000 AttemptFailed root/g/c #1 boom",
        "1000 BackoffScheduled root/g/c failure 500",
        "1000 GroupRestart root/g one-for-all trigger=c affected=a,b,c",
        "1000 AttemptCanceled root/g/b #1 stopped by group-restart",
        "2000 TaskFinished root/g/a ForceAborted did not stop within its grace of 1000 ms",
        "2500 AttemptStarting root/g/b #2",
        "2500 AttemptStarting root/g/c #2",
        // Its fiber leaves the uninterruptible region at 5000; it is never started again.
        "5000 AttemptCanceled root/g/a #1 stopped by group-restart",
        "5000 TaskRemoved root/g/a"
      ])
      expect(log.lines("stop")).toEqual(["1000 stop root/g/c#1", "1000 stop root/g/b#1", "5000 stop root/g/a#1"])
      const nested = nestedOf(yield* sup.tree)
      expect(nested.tasks.map(({ attempt, name, restarts, state }) => [name, state, attempt, restarts])).toEqual([
        ["b", "running", 2, 1],
        ["c", "running", 2, 1]
      ])
    })
  )
})

describe("Strategies: a group restart meets a shutdown", () => {
  const timings = [
    // c's attempt fails at 900, its finalizer takes 100 ms: the group restart begins at 1000; b then a
    // are stopped (100 ms each, until 1200); the backoff would end at 1700.
    { label: "while a sibling is being stopped", at: 1150 },
    { label: "during the trigger's backoff", at: 1500 }
  ] as const
  for (const { at, label } of timings) {
    it.effect(`${label}: nothing is restarted, every task ends, no fiber is left`, () =>
      Effect.gen(function* () {
        const tracker = makeTracker()
        const { add, events, sup } = yield* setupTree(undefined, tracker)
        const log = makeLog()
        const slow = (name: string) =>
          Task.make(
            name,
            recorded(log, name === "c" ? failsFirst("900 millis") : () => Effect.never, {
              stopTakes: "100 millis"
            }),
            { backoff: Backoff.constant("500 millis") }
          )
        const g = yield* add(Supervisor.task("g", [slow("a"), slow("b"), slow("c")], { strategy: "one-for-all" }))
        yield* TestTime.adjust(`${at} millis`)
        expect(timeline((yield* events).filter((event) => event._tag === "GroupRestart"))).toEqual([
          "1000 GroupRestart root/g one-for-all trigger=c affected=a,b,c"
        ])
        const shutdown = yield* Effect.forkChild(sup.shutdown)
        yield* TestTime.adjust("10 seconds")
        expect(yield* Fiber.await(shutdown)).toEqual(Exit.void)
        expect(yield* g.await).toEqual(new TaskOutcome.Canceled({ reason: "stopped by shutdown" }))
        const seen = yield* events
        expect(from(at, seen).filter((event) => event._tag === "AttemptStarting")).toEqual([])
        expect(log.lines("start").length).toBe(3)
        const finished = seen.filter((event) => event._tag === "TaskFinished")
        expect(finished.map((event) => [event.path, event.outcome, event.reason])).toEqual(
          expect.arrayContaining([
            ["root/g/a", "Canceled", "stopped by shutdown"],
            ["root/g/b", "Canceled", "stopped by shutdown"],
            ["root/g/c", "Canceled", "stopped by shutdown"],
            ["root/g", "Canceled", "stopped by shutdown"]
          ])
        )
        expect(finished).toHaveLength(4)
        expect(seen.filter((event) => event._tag === "TaskRemoved")).toHaveLength(4)
        expect(timeline(seen.filter((event) => event._tag === "AllStoppedWithinGrace"))).toEqual(
          at === 1150
            ? ["1200 AllStoppedWithinGrace root/g", "1200 AllStoppedWithinGrace root"]
            : ["1500 AllStoppedWithinGrace root/g", "1500 AllStoppedWithinGrace root"]
        )
        expect(yield* sup.list).toEqual([])
        yield* flush
        expect(tracker.live()).toBe(0)
      })
    )
  }
})

describe("Strategies: reported state during a group restart (bugs)", () => {
  it.effect("the trigger's restarts counts up when its backoff starts, as under one-for-one", () =>
    Effect.gen(function* () {
      const { sup } = yield* setupTree()
      const log = makeLog()
      yield* sup.add(Supervisor.task("g1", [child(log, "a", "a")], { strategy: "one-for-one" }))
      yield* sup.add(Supervisor.task("g2", [child(log, "a", "a")], { strategy: "one-for-all" }))
      yield* TestTime.adjust("1 second")
      const byStrategy = (yield* sup.tree).tasks.map((node) => {
        const a = node.supervisor!.tasks[0]!
        return [node.supervisor!.strategy, a.state, a.attempt, a.restarts, a.nextAttemptAt]
      })
      // TaskInfo.restarts: "how many restarts have been scheduled (it counts up when the backoff starts)".
      expect(byStrategy).toEqual([
        ["one-for-one", "backing-off", 1, 1, 1500],
        ["one-for-all", "backing-off", 1, 1, 1500]
      ])
      yield* TestTime.adjust("500 millis")
      const after = (yield* sup.tree).tasks.map((node) => node.supervisor!.tasks[0]!.restarts)
      expect(after).toEqual([1, 1])
    })
  )

  it.effect("the trigger's nextAttemptAt is the instant its restart really begins", () =>
    Effect.gen(function* () {
      const { events, sup } = yield* setupTree()
      const log = makeLog()
      const slow = (name: string) =>
        Task.make(
          name,
          recorded(log, name === "c" ? failsFirst("1 second") : () => Effect.never, { stopTakes: "100 millis" }),
          { backoff: Backoff.constant("500 millis") }
        )
      yield* sup.add(Supervisor.task("g", [slow("a"), slow("b"), slow("c")], { strategy: "one-for-all" }))
      // The stops of b and a end at 1300; the trigger is backing off.
      yield* TestTime.adjust("1301 millis")
      const c = nestedOf(yield* sup.tree).tasks[2]!
      yield* TestTime.adjust("1 second")
      const restart = (yield* events).find(
        (event) => event._tag === "AttemptStarting" && event.path === "root/g/c" && event.attempt === 2
      )
      const shutdown = yield* Effect.forkChild(sup.shutdown)
      yield* TestTime.adjust("300 millis")
      expect(yield* Fiber.await(shutdown)).toEqual(Exit.void)
      expect(c.state).toBe("backing-off")
      expect(restart?.at).toBe(1800)
      expect(c.nextAttemptAt).toBe(restart?.at)
    })
  )

  it.effect("a sibling abandoned by a group restart is reported as stopping until its fiber exits", () =>
    Effect.gen(function* () {
      const { sup } = yield* setupTree()
      const log = makeLog()
      yield* sup.add(
        Supervisor.task(
          "g",
          [
            Task.make(
              "a",
              recorded(log, () => Effect.uninterruptible(Effect.sleep("5 seconds")))
            ).pipe(Task.withGrace("1 second")),
            Task.make("c", recorded(log, failsFirst("1 second")), { backoff: Backoff.constant("500 millis") })
          ],
          { strategy: "one-for-all" }
        )
      )
      yield* TestTime.adjust("3 seconds")
      const a = Option.fromNullishOr(nestedOf(yield* sup.tree).tasks.find((node) => node.name === "a"))
      yield* TestTime.adjust("2 seconds")
      expect(yield* sup.shutdown).toBeUndefined()
      // TaskInfo.state: "stopping (also: abandoned after its grace, until its fiber exits)".
      expect(Option.map(a, (node) => node.state)).toEqual(Option.some("stopping"))
    })
  )
})
