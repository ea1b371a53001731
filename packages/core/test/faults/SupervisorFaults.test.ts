/**
 * The fault matrix, supervisor-level rows: tasks that turn on their own supervisor (add to it, shut
 * it down, cancel or remove themselves), event subscribers that never read or die, handles read
 * long after their task, a throwing `isFatal`, a backoff schedule that throws when stepped, and a
 * storm of failures with zero backoff. Each test asserts the outcomes, the events, that the
 * supervisor keeps serving other tasks, and that nothing leaks: `live.fibers` is back to its value
 * before the test once the supervisor's scope is closed, and every `fibervisor_task_running` gauge
 * is back to its value before the test (0, unless an earlier test of the file failed). Every
 * timing runs on the TestClock, which starts at 0, so `at` is exact (one test measures real time:
 * the event-loop starvation it documents cannot be seen on the TestClock).
 */
import { describe, expect, it } from "@effect/vitest"
import {
  Context,
  Data,
  Deferred,
  Duration,
  Effect,
  Exit,
  Fiber,
  Layer,
  Logger,
  Metric,
  Option,
  Schedule,
  Scheduler,
  Scope,
  Stream
} from "effect"
import {
  Backoff,
  RestartPolicy,
  Supervisor,
  SupervisorError,
  SupervisorEvent,
  Task,
  TaskError,
  TaskOutcome
} from "@fibervisor/core"
import { TestTime } from "@fibervisor/vitest"
import { live } from "../../src/internal/compat.js"
import type { SupervisorImpl } from "../../src/internal/supervisor.js"
import { captureLogs } from "../helpers/offload.js"
import { flush } from "../helpers/tasks.js"
import { line } from "../helpers/tree.js"
import type { Ev } from "../helpers/recorder.js"

/** The sum of every `fibervisor_task_running` gauge (every task label). */
const runningGauges = Effect.map(Metric.snapshot, (snapshots) =>
  snapshots
    .filter((snapshot) => snapshot.id === "fibervisor_task_running")
    .reduce((sum, snapshot) => sum + (snapshot.type === "Gauge" ? Number(snapshot.state.value) : 0), 0)
)

/** Remembers `live.fibers` and the running gauges now; the returned effect checks both are back. */
const leakCheck = Effect.gen(function* () {
  const fibers = live.fibers
  const gauges = yield* runningGauges
  return Effect.gen(function* () {
    yield* flush
    expect(live.fibers).toBe(fibers)
    expect(yield* runningGauges).toBe(gauges)
  })
})

/** Is anybody subscribed to the supervisor's bus? (A dead subscriber must not stay subscribed.) */
const listening = (sup: Supervisor.Supervisor): boolean => (sup as unknown as SupervisorImpl).listening

/**
 * A supervisor in its own scope, with a recorder of its events subscribed before any task.
 * `release` closes the scope (a graceful shutdown) and checks that nothing it started is left.
 */
const harness = (options?: Supervisor.SupervisorOptions) =>
  Effect.gen(function* () {
    const noLeaks = yield* leakCheck
    const scope = yield* Scope.make()
    const sup = yield* Scope.provide(Supervisor.make(options), scope)
    const stream = yield* Scope.provide(sup.subscribe, scope)
    const recorded: Array<Ev> = []
    yield* Scope.provide(
      Effect.forkScoped(Stream.runForEach(stream, (event) => Effect.sync(() => recorded.push(event)))),
      scope
    )
    /** Every event recorded so far (after letting the recorder catch up). */
    const events = Effect.andThen(
      flush,
      Effect.sync(() => recorded.slice())
    )
    const release = Effect.andThen(Scope.close(scope, Exit.void), noLeaks)
    return { sup, events, timeline: Effect.map(events, (all) => all.map(line)), release }
  })

let probes = 0

/** The supervisor still admits, runs and completes a fresh task. */
const servesAnother = (sup: Supervisor.Supervisor) =>
  Effect.gen(function* () {
    const handle = yield* sup.add(Task.once(`probe-${++probes}`, Effect.succeed("served")))
    expect(yield* handle.await).toEqual(TaskOutcome.completed)
  })

const canceledBy = (by: string) => new TaskOutcome.Canceled({ reason: `stopped by ${by}` })

/** Forks `effect` and lets every fiber run: `Some` exit if it finished without the clock moving. */
const settlesAtOnce = <A, E>(effect: Effect.Effect<A, E>) =>
  Effect.gen(function* () {
    const fiber = yield* Effect.forkChild(effect)
    yield* flush
    return Option.fromNullishOr(fiber.pollUnsafe())
  })

describe("SupervisorFaults: a task that adds tasks to its own supervisor", () => {
  it.effect("closing over sup: the child is a sibling, the parent can wait for it, both complete", () =>
    Effect.gen(function* () {
      const { sup, timeline, release } = yield* harness({ name: "adds" })
      const parent = yield* sup.add(
        Task.once(
          "parent",
          Effect.gen(function* () {
            const child = yield* sup.add(Task.once("child", Effect.as(Effect.sleep("1 second"), "child done")))
            return yield* child.await
          })
        )
      )
      yield* flush
      expect((yield* sup.list).map((info) => [info.name, info.state])).toEqual([
        ["parent", "running"],
        ["child", "running"]
      ])
      yield* TestTime.adjust("1 second")
      expect(yield* parent.await).toEqual(TaskOutcome.completed)
      expect(yield* timeline).toEqual([
        "0 TaskAdded adds/parent",
        "0 AttemptStarting adds/parent #1",
        "0 TaskAdded adds/child",
        "0 AttemptStarting adds/child #1",
        "1000 AttemptSucceeded adds/child",
        "1000 TaskFinished adds/child Completed",
        "1000 TaskRemoved adds/child",
        "1000 AttemptSucceeded adds/parent",
        "1000 TaskFinished adds/parent Completed",
        "1000 TaskRemoved adds/parent"
      ])
      yield* servesAnother(sup)
      yield* release
    })
  )

  it.effect(
    "a child outlives the attempt that added it; re-adding it fails with TaskAlreadyExists until it is gone",
    () =>
      Effect.gen(function* () {
        const { sup, timeline, release } = yield* harness({ name: "readd" })
        let attempt = 0
        const parent = yield* sup.add(
          Task.make(
            "parent",
            Effect.gen(function* () {
              attempt += 1
              const child = yield* sup.add(Task.once("child", Effect.sleep("1 second")))
              if (attempt === 1) return yield* Effect.fail("crashed after adding its child")
              return yield* child.await
            }),
            { restart: RestartPolicy.onFailure, backoff: Backoff.constant("400 millis") }
          )
        )
        yield* TestTime.adjust("1200 millis")
        yield* TestTime.adjust("1 second")
        expect(yield* parent.await).toEqual(TaskOutcome.completed)
        expect(attempt).toBe(4)
        expect(yield* timeline).toEqual([
          "0 TaskAdded readd/parent",
          "0 AttemptStarting readd/parent #1",
          "0 TaskAdded readd/child",
          "0 AttemptFailed readd/parent #1 crashed after adding its child",
          "0 BackoffScheduled readd/parent failure 400",
          "0 AttemptStarting readd/child #1",
          "400 AttemptStarting readd/parent #2",
          "400 TaskAddFailed readd",
          '400 AttemptFailed readd/parent #2 TaskAlreadyExists: a task named "child" already exists',
          "400 BackoffScheduled readd/parent failure 400",
          "800 AttemptStarting readd/parent #3",
          "800 TaskAddFailed readd",
          '800 AttemptFailed readd/parent #3 TaskAlreadyExists: a task named "child" already exists',
          "800 BackoffScheduled readd/parent failure 400",
          "1000 AttemptSucceeded readd/child",
          "1000 TaskFinished readd/child Completed",
          "1000 TaskRemoved readd/child",
          "1200 AttemptStarting readd/parent #4",
          "1200 TaskAdded readd/child",
          "1200 AttemptStarting readd/child #1",
          "2200 AttemptSucceeded readd/child",
          "2200 TaskFinished readd/child Completed",
          "2200 TaskRemoved readd/child",
          "2200 AttemptSucceeded readd/parent",
          "2200 TaskFinished readd/parent Completed",
          "2200 TaskRemoved readd/parent"
        ])
        yield* servesAnother(sup)
        yield* release
      })
  )

  it.effect("through the Supervisor service (Supervisor.layer): tasks add tasks with Supervisor.add", () =>
    Effect.gen(function* () {
      const noLeaks = yield* leakCheck
      const scope = yield* Scope.make()
      const context = yield* Layer.buildWithScope(Supervisor.layer({ name: "svc" }), scope)
      const sup = Context.get(context, Supervisor.Supervisor)
      const fanOut = Task.once(
        "fan-out",
        Effect.gen(function* () {
          const handles = yield* Effect.forEach(["a", "b", "c"], (name) =>
            Supervisor.add(Task.once(name, Effect.as(Effect.sleep("100 millis"), name)))
          )
          return yield* Effect.forEach(handles, (handle) => handle.await)
        })
      )
      const handle = yield* Effect.provide(Supervisor.add(fanOut), context)
      yield* flush
      expect((yield* sup.list).map((info) => info.path)).toEqual(["svc/fan-out", "svc/a", "svc/b", "svc/c"])
      yield* TestTime.adjust("100 millis")
      expect(yield* handle.await).toEqual(TaskOutcome.completed)
      expect(yield* sup.list).toEqual([])
      yield* servesAnother(sup)
      yield* Scope.close(scope, Exit.void)
      yield* noLeaks
    })
  )

  it.effect("adding from a stop finalizer while the supervisor shuts down fails with SupervisorShuttingDown", () =>
    Effect.gen(function* () {
      const { sup, timeline, release } = yield* harness({ name: "late", grace: "1 second" })
      const started = yield* Deferred.make<void>()
      const seen: Array<unknown> = []
      let lateRuns = 0
      const handle = yield* sup.add(
        Task.make(
          "adder",
          Deferred.succeed(started, undefined).pipe(
            Effect.andThen(Effect.never),
            Effect.onInterrupt(() =>
              Effect.flatMap(
                Effect.exit(
                  sup.add(
                    Task.once(
                      "late",
                      Effect.sync(() => lateRuns++)
                    )
                  )
                ),
                (exit) => Effect.sync(() => seen.push(exit))
              )
            )
          )
        )
      )
      yield* Deferred.await(started)
      expect(yield* Effect.exit(sup.shutdown)).toEqual(Exit.void)
      expect(seen).toEqual([Exit.fail(new SupervisorError.SupervisorShuttingDown())])
      expect(lateRuns).toBe(0)
      expect(yield* handle.await).toEqual(canceledBy("shutdown"))
      expect(yield* timeline).toEqual([
        "0 TaskAdded late/adder",
        "0 AttemptStarting late/adder #1",
        "0 ShutdownRequested late",
        "0 TaskRemoveRequested late/adder shutdown",
        "0 TaskAddFailed late",
        "0 AttemptCanceled late/adder #1 stopped by shutdown",
        "0 TaskFinished late/adder Canceled stopped by shutdown",
        "0 TaskRemoved late/adder",
        "0 AllStoppedWithinGrace late"
      ])
      yield* release
    })
  )
})

describe("SupervisorFaults: a task that stops itself", () => {
  it.effect("shutdown from inside a task: the caller is one of the tasks stopped; the shutdown completes", () =>
    Effect.gen(function* () {
      const { sup, timeline, release } = yield* harness({ name: "selfstop", grace: "1 second" })
      let after = 0
      const other = yield* sup.add(Task.make("other", Effect.never))
      const self = yield* sup.add(
        Task.make(
          "self",
          Effect.sleep("10 millis").pipe(Effect.andThen(sup.shutdown), Effect.andThen(Effect.sync(() => after++)))
        )
      )
      yield* TestTime.adjust("10 millis")
      // Decided without the clock moving: the shutdown did not wait for its own caller.
      expect(yield* settlesAtOnce(sup.shutdown)).toEqual(Option.some(Exit.void))
      expect(yield* sup.join.pipe(Effect.exit)).toEqual(Exit.void)
      expect(yield* self.await).toEqual(canceledBy("shutdown"))
      expect(yield* other.await).toEqual(canceledBy("shutdown"))
      // The task never resumed after its shutdown call: it was interrupted while waiting for it.
      expect(after).toBe(0)
      expect(yield* timeline).toEqual([
        "0 TaskAdded selfstop/other",
        "0 TaskAdded selfstop/self",
        "0 AttemptStarting selfstop/other #1",
        "0 AttemptStarting selfstop/self #1",
        "10 ShutdownRequested selfstop",
        "10 TaskRemoveRequested selfstop/other shutdown",
        "10 TaskRemoveRequested selfstop/self shutdown",
        "10 AttemptCanceled selfstop/self #1 stopped by shutdown",
        "10 TaskFinished selfstop/self Canceled stopped by shutdown",
        "10 TaskRemoved selfstop/self",
        "10 AttemptCanceled selfstop/other #1 stopped by shutdown",
        "10 TaskFinished selfstop/other Canceled stopped by shutdown",
        "10 TaskRemoved selfstop/other",
        "10 AllStoppedWithinGrace selfstop"
      ])
      // A stopped supervisor admits nothing.
      expect(yield* Effect.flip(sup.add(Task.once("after", Effect.void)))).toEqual(
        new SupervisorError.SupervisorShuttingDown()
      )
      yield* release
    })
  )

  it.effect("shutdown awaited uninterruptibly from inside a task: no deadlock, GraceExceeded after the grace", () => {
    const logs = captureLogs()
    return Effect.gen(function* () {
      const { sup, timeline, release } = yield* harness({ name: "selfwait", grace: "1 second" })
      const seenInside: Array<Exit.Exit<void, SupervisorError.GraceExceeded>> = []
      const self = yield* sup.add(
        Task.make(
          "self",
          Effect.andThen(
            Effect.sleep("10 millis"),
            Effect.uninterruptible(
              Effect.flatMap(Effect.exit(sup.shutdown), (exit) => Effect.sync(() => seenInside.push(exit)))
            )
          )
        )
      )
      yield* TestTime.adjust("10 millis")
      const outside = yield* Effect.forkChild(Effect.exit(sup.shutdown))
      yield* TestTime.adjust("999 millis")
      expect(outside.pollUnsafe()).toBeUndefined()
      expect(yield* self.poll).toEqual(Option.none())
      yield* TestTime.adjust("1 millis")
      const expected = new SupervisorError.GraceExceeded({
        grace: Duration.millis(1000),
        stuck: ["self"],
        paths: ["selfwait/self"]
      })
      expect(yield* Fiber.join(outside)).toEqual(Exit.fail(expected))
      // The task itself got the same result, then stopped at the end of its uninterruptible region.
      expect(seenInside).toEqual([Exit.fail(expected)])
      expect(yield* self.await).toEqual(
        new TaskOutcome.ForceAborted({ reason: "did not stop within the shutdown grace of 1000 ms" })
      )
      expect(yield* timeline).toEqual([
        "0 TaskAdded selfwait/self",
        "0 AttemptStarting selfwait/self #1",
        "10 ShutdownRequested selfwait",
        "10 TaskRemoveRequested selfwait/self shutdown",
        "1010 TaskFinished selfwait/self ForceAborted did not stop within the shutdown grace of 1000 ms",
        "1010 GraceExceeded selfwait stuck=self paths=selfwait/self",
        "1010 AttemptCanceled selfwait/self #1 stopped by shutdown",
        "1010 TaskRemoved selfwait/self"
      ])
      expect(logs.lines.map((l) => [l.level, l.message, l.annotations])).toEqual([
        [
          "Warn",
          "shutdown exceeded its grace of 1s; abandoned: selfwait/self",
          { fibervisor: "shutdown", path: "selfwait" }
        ]
      ])
      yield* release
    }).pipe(Effect.provide(logs.layer))
  })
})

describe("SupervisorFaults: a task that shuts down its supervisor through the service", () => {
  it.effect("Supervisor.layer: a task shuts the service down; releasing the layer afterwards returns at once", () =>
    Effect.gen(function* () {
      const noLeaks = yield* leakCheck
      const scope = yield* Scope.make()
      const context = yield* Layer.buildWithScope(Supervisor.layer({ name: "svcstop", grace: "1 second" }), scope)
      const sup = Context.get(context, Supervisor.Supervisor)
      const other = yield* sup.add(Task.make("other", Effect.never))
      const stopper = yield* Effect.provide(
        Supervisor.add(
          Task.once(
            "stopper",
            Effect.andThen(
              Effect.sleep("10 millis"),
              Effect.flatMap(Supervisor.Supervisor, (self) => self.shutdown)
            )
          )
        ),
        context
      )
      yield* TestTime.adjust("10 millis")
      expect(yield* stopper.await).toEqual(canceledBy("shutdown"))
      expect(yield* other.await).toEqual(canceledBy("shutdown"))
      expect(yield* sup.isShuttingDown).toBe(true)
      expect((yield* sup.tree).state).toBe("stopped")
      expect(yield* settlesAtOnce(Scope.close(scope, Exit.void))).toEqual(Option.some(Exit.void))
      yield* noLeaks
    })
  )
})

describe("SupervisorFaults: a task that cancels or removes itself", () => {
  it.effect("cancel on itself: it is interrupted while waiting for its own cleanup; Canceled, no deadlock", () =>
    Effect.gen(function* () {
      const { sup, timeline, release } = yield* harness({ name: "selfcancel", grace: "1 second" })
      let after = 0
      const other = yield* sup.add(Task.make("other", Effect.never))
      const self = yield* sup.add(
        Task.make(
          "self",
          Effect.sleep("10 millis").pipe(Effect.andThen(sup.cancel("self")), Effect.andThen(Effect.sync(() => after++)))
        )
      )
      yield* TestTime.adjust("10 millis")
      expect(yield* self.poll).toEqual(Option.some(canceledBy("cancel")))
      expect(after).toBe(0)
      expect(yield* timeline).toEqual([
        "0 TaskAdded selfcancel/other",
        "0 TaskAdded selfcancel/self",
        "0 AttemptStarting selfcancel/other #1",
        "0 AttemptStarting selfcancel/self #1",
        "10 TaskRemoveRequested selfcancel/self cancel",
        "10 AttemptCanceled selfcancel/self #1 stopped by cancel",
        "10 TaskFinished selfcancel/self Canceled stopped by cancel",
        "10 TaskRemoved selfcancel/self"
      ])
      // The others run on, the name is free again, and the grace timer of the cancel is gone.
      expect((yield* sup.list).map((info) => [info.name, info.state])).toEqual([["other", "running"]])
      const again = yield* sup.add(Task.once("self", Effect.void))
      expect(yield* again.await).toEqual(TaskOutcome.completed)
      yield* servesAnother(sup)
      yield* release
      expect(yield* other.await).toEqual(canceledBy("shutdown"))
    })
  )

  it.effect("cancel on itself inside an uninterruptible region: it waits out its own grace, then ForceAborted", () =>
    Effect.gen(function* () {
      const { sup, timeline, release } = yield* harness({ name: "selfcancelu", grace: "1 second" })
      const returned: Array<boolean> = []
      const self = yield* sup.add(
        Task.make(
          "self",
          Effect.andThen(
            Effect.sleep("10 millis"),
            Effect.uninterruptible(
              Effect.flatMap(sup.cancel("self"), (claimed) => Effect.sync(() => returned.push(claimed)))
            )
          ),
          { grace: "300 millis" }
        )
      )
      yield* TestTime.adjust("309 millis")
      expect(yield* self.poll).toEqual(Option.none())
      expect(returned).toEqual([])
      yield* TestTime.adjust("1 millis")
      // The grace timer abandoned it, which let its own cancel return; then the interrupt applied.
      expect(returned).toEqual([true])
      expect(yield* self.await).toEqual(
        new TaskOutcome.ForceAborted({ reason: "did not stop within its grace of 300 ms" })
      )
      expect(yield* timeline).toEqual([
        "0 TaskAdded selfcancelu/self",
        "0 AttemptStarting selfcancelu/self #1",
        "10 TaskRemoveRequested selfcancelu/self cancel",
        "310 TaskFinished selfcancelu/self ForceAborted did not stop within its grace of 300 ms",
        "310 AttemptCanceled selfcancelu/self #1 stopped by cancel",
        "310 TaskRemoved selfcancelu/self"
      ])
      yield* servesAnother(sup)
      yield* release
    })
  )

  it.effect(
    "remove on itself: the attempt is interrupted right after its claim (nothing after it runs); Canceled",
    () =>
      Effect.gen(function* () {
        const { sup, timeline, release } = yield* harness({ name: "selfremove", grace: "1 second" })
        const steps: Array<string> = []
        const self = yield* sup.add(
          Task.make(
            "self",
            Effect.sleep("10 millis").pipe(
              Effect.andThen(sup.remove("self")),
              Effect.andThen(Effect.sync(() => steps.push("after remove")))
            )
          )
        )
        yield* TestTime.adjust("10 millis")
        expect(yield* self.await).toEqual(canceledBy("remove"))
        expect(steps).toEqual([])
        expect(yield* timeline).toEqual([
          "0 TaskAdded selfremove/self",
          "0 AttemptStarting selfremove/self #1",
          "10 TaskRemoveRequested selfremove/self remove",
          "10 AttemptCanceled selfremove/self #1 stopped by remove",
          "10 TaskFinished selfremove/self Canceled stopped by remove",
          "10 TaskRemoved selfremove/self"
        ])
        yield* servesAnother(sup)
        yield* release
      })
  )

  it.effect("remove on itself inside an uninterruptible region: it finishes its unit of work, then Canceled", () =>
    Effect.gen(function* () {
      const { sup, timeline, release } = yield* harness({ name: "selfremoveu", grace: "1 second" })
      const steps: Array<string> = []
      const self = yield* sup.add(
        Task.make(
          "self",
          Effect.andThen(
            Effect.sleep("10 millis"),
            Effect.uninterruptible(
              sup.remove("self").pipe(
                Effect.flatMap((claimed) => Effect.sync(() => steps.push(`remove: ${claimed}`))),
                Effect.andThen(Effect.sleep("100 millis")),
                Effect.andThen(Effect.sync(() => steps.push("unit done")))
              )
            ).pipe(Effect.andThen(Effect.sync(() => steps.push("after the region"))))
          )
        )
      )
      yield* TestTime.adjust("109 millis")
      expect(yield* self.poll).toEqual(Option.none())
      expect(Option.map(yield* sup.get("self"), (info) => info.state)).toEqual(Option.some("stopping"))
      yield* TestTime.adjust("1 millis")
      expect(yield* self.await).toEqual(canceledBy("remove"))
      expect(steps).toEqual(["remove: true", "unit done"])
      const events = yield* timeline
      expect(events).toEqual([
        "0 TaskAdded selfremoveu/self",
        "0 AttemptStarting selfremoveu/self #1",
        "10 TaskRemoveRequested selfremoveu/self remove",
        "110 AttemptCanceled selfremoveu/self #1 stopped by remove",
        "110 TaskFinished selfremoveu/self Canceled stopped by remove",
        "110 TaskRemoved selfremoveu/self"
      ])
      yield* servesAnother(sup)
      yield* release
    })
  )
})

describe("SupervisorFaults: event subscribers", () => {
  it.effect(
    "a subscriber that never reads: 5,000 tasks with eventBuffer 4 all complete; it later sees only the newest events",
    () =>
      Effect.gen(function* () {
        const noLeaks = yield* leakCheck
        const scope = yield* Scope.make()
        const sup = yield* Scope.provide(Supervisor.make({ name: "flood", eventBuffer: 4 }), scope)
        const neverRead = yield* Scope.provide(sup.subscribe, scope)
        // A second one took the first event, then got stuck in its handler for good.
        let consumed = 0
        const stuck = yield* Effect.forkChild(
          Stream.runForEach(sup.events, () =>
            Effect.andThen(
              Effect.sync(() => consumed++),
              Effect.never
            )
          )
        )
        yield* flush
        const outcomes = yield* sup.run(Array.from({ length: 5_000 }, (_, i) => Task.once(`t${i}`, Effect.void)))
        expect(outcomes.length).toBe(5_000)
        expect(outcomes.every((outcome) => outcome._tag === "Completed")).toBe(true)
        expect(yield* sup.list).toEqual([])
        expect(consumed).toBe(1)
        // 5 events per task: the slow subscriber kept the newest 4 of 25,000 (sliding).
        const take = (n: number) =>
          Effect.map(Stream.runCollect(Stream.take(neverRead, n)), (events) =>
            events.map((event) => `${event.seq} ${line(event)}`)
          )
        expect(yield* take(4)).toEqual([
          "24997 0 AttemptStarting flood/t4999 #1",
          "24998 0 AttemptSucceeded flood/t4999",
          "24999 0 TaskFinished flood/t4999 Completed",
          "25000 0 TaskRemoved flood/t4999"
        ])
        // Reading again, it sees what comes next and nothing older.
        yield* servesAnother(sup)
        const next = yield* take(4)
        expect(next.map((text) => text.split(" ").slice(0, 3).join(" "))).toEqual([
          "25002 0 AttemptStarting",
          "25003 0 AttemptSucceeded",
          "25004 0 TaskFinished",
          "25005 0 TaskRemoved"
        ])
        yield* Fiber.interrupt(stuck)
        yield* Scope.close(scope, Exit.void)
        yield* noLeaks
      })
  )

  it.effect("subscribers that die or fail mid-stream: the supervisor and the other subscribers go on", () =>
    Effect.gen(function* () {
      const noLeaks = yield* leakCheck
      const scope = yield* Scope.make()
      const sup = yield* Scope.provide(Supervisor.make({ name: "subs" }), scope)
      let dyingSeen = 0
      const dying = yield* Effect.forkChild(
        Stream.runForEach(sup.events, () => (++dyingSeen === 3 ? Effect.die("subscriber boom") : Effect.void))
      )
      const failing = yield* Effect.forkChild(
        Stream.runDrain(
          Stream.mapEffect(sup.events, (event) => (event.seq === 2 ? Effect.fail("subscriber failed") : Effect.void))
        )
      )
      const recorded: Array<Ev> = []
      const healthy = yield* Effect.forkChild(
        Stream.runForEach(sup.events, (event) => Effect.sync(() => recorded.push(event)))
      )
      yield* flush
      const outcomes = yield* sup.run([Task.once("x", Effect.void), Task.once("y", Effect.void)])
      expect(outcomes).toEqual([TaskOutcome.completed, TaskOutcome.completed])
      yield* flush
      expect(yield* Fiber.await(dying)).toEqual(Exit.die("subscriber boom"))
      expect(yield* Fiber.await(failing)).toEqual(Exit.fail("subscriber failed"))
      expect(dyingSeen).toBe(3)
      expect(recorded.map(line)).toEqual([
        "0 TaskAdded subs/x",
        "0 TaskAdded subs/y",
        "0 AttemptStarting subs/x #1",
        "0 AttemptSucceeded subs/x",
        "0 TaskFinished subs/x Completed",
        "0 TaskRemoved subs/x",
        "0 AttemptStarting subs/y #1",
        "0 AttemptSucceeded subs/y",
        "0 TaskFinished subs/y Completed",
        "0 TaskRemoved subs/y"
      ])
      expect(recorded.map((event) => event.seq)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10])
      // A new subscriber joins after the deaths and sees what comes next.
      const later: Array<Ev> = []
      const late = yield* Effect.forkChild(
        Stream.runForEach(sup.events, (event) => Effect.sync(() => later.push(event)))
      )
      yield* flush
      yield* servesAnother(sup)
      yield* flush
      expect(later.map((event) => [event.seq, event._tag])).toEqual([
        [11, "TaskAdded"],
        [12, "AttemptStarting"],
        [13, "AttemptSucceeded"],
        [14, "TaskFinished"],
        [15, "TaskRemoved"]
      ])
      expect(recorded.length).toBe(15)
      // The dead subscribers' subscriptions were released with their streams: once the live ones
      // stop, nobody listens.
      yield* Fiber.interrupt(healthy)
      yield* Fiber.interrupt(late)
      expect(listening(sup)).toBe(false)
      yield* Scope.close(scope, Exit.void)
      yield* noLeaks
    })
  )

  it.effect("a dead consumer of subscribe keeps its (sliding) subscription until the subscribing scope closes", () =>
    Effect.gen(function* () {
      const noLeaks = yield* leakCheck
      const scope = yield* Scope.make()
      const sup = yield* Scope.provide(Supervisor.make({ name: "scoped", eventBuffer: 2 }), scope)
      const subscription = yield* Scope.make()
      const stream = yield* Scope.provide(sup.subscribe, subscription)
      const consumer = yield* Effect.forkChild(Stream.runForEach(stream, () => Effect.die("consumer boom")))
      yield* flush
      yield* servesAnother(sup)
      yield* flush
      expect(yield* Fiber.await(consumer)).toEqual(Exit.die("consumer boom"))
      expect(listening(sup)).toBe(true)
      // Nobody reads it any more; publishing slides and never blocks.
      const outcomes = yield* sup.run(Array.from({ length: 100 }, (_, i) => Task.once(`t${i}`, Effect.void)))
      expect(outcomes.length).toBe(100)
      yield* Scope.close(subscription, Exit.void)
      expect(listening(sup)).toBe(false)
      yield* servesAnother(sup)
      yield* Scope.close(scope, Exit.void)
      yield* noLeaks
    })
  )
})

/** `[tag, reason]` of an outcome (a `Failed` outcome also carries its cause). */
const brief = (outcome: TaskOutcome.TaskOutcome) => [outcome._tag, TaskOutcome.reason(outcome)]

describe("SupervisorFaults: TaskHandle.await long after the task is gone", () => {
  it.effect("every kind of outcome is still read at once an hour later, and after the supervisor shut down", () => {
    const logs = captureLogs()
    return Effect.gen(function* () {
      const { sup, release } = yield* harness({ name: "handles", grace: "1 second" })
      const done = yield* sup.add(Task.once("done", Effect.void))
      const failed = yield* sup.add(Task.once("failed", Effect.fail("boom")))
      const fatal = yield* sup.add(Task.restartable("fatal", Effect.fail(TaskError.fatal("config missing"))))
      const removed = yield* sup.add(Task.make("removed", Effect.never))
      const stubbornStarted = yield* Deferred.make<void>()
      const abandoned = yield* sup.add(
        Task.make(
          "abandoned",
          Effect.uninterruptible(
            Effect.andThen(Deferred.succeed(stubbornStarted, undefined), Effect.sleep("100 millis"))
          ),
          { grace: "10 millis" }
        )
      )
      const owner = yield* sup.submit(Task.make("owner", Effect.never), { slot: "s", admission: "queue" })
      const rejected = yield* sup.submit(Task.once("busy", Effect.void), { slot: "s", admission: "drop-if-running" })
      const running = yield* sup.add(Task.make("running", Effect.never))
      yield* Deferred.await(stubbornStarted)
      expect(yield* sup.remove("removed")).toBe(true)
      expect(yield* sup.remove("abandoned")).toBe(true)
      yield* TestTime.adjust("1 hour")
      const expected = {
        done: ["Completed", undefined],
        failed: ["Failed", "boom"],
        fatal: ["Fatal", "config missing"],
        removed: ["Canceled", "stopped by remove"],
        abandoned: ["ForceAborted", "did not stop within its grace of 10 ms"],
        rejected: ["Rejected", 'slot "s" is busy']
      }
      const handles = { done, failed, fatal, removed, abandoned, rejected }
      const read = Effect.forEach(Object.entries(handles), ([name, handle]) =>
        Effect.gen(function* () {
          const polled = yield* handle.poll
          const awaited = yield* settlesAtOnce(handle.await)
          return [name, Option.map(polled, brief), Option.map(awaited, Exit.map(brief))] as const
        })
      )
      const expectedReads = Object.entries(expected).map(
        ([name, outcome]) => [name, Option.some(outcome), Option.some(Exit.succeed(outcome))] as const
      )
      expect(yield* read).toEqual(expectedReads)
      expect(Option.map(yield* rejected.poll, (outcome) => (outcome._tag === "Rejected" ? outcome.kind : ""))).toEqual(
        Option.some("SlotBusy")
      )
      // The names of the tasks that are still running are the only ones left.
      expect((yield* sup.list).map((info) => info.name)).toEqual(["owner", "running"])
      yield* servesAnother(sup)
      yield* release
      // After the shutdown: the same outcomes, still at once; the running ones were stopped by it.
      expect(yield* read).toEqual(expectedReads)
      for (const handle of [owner, running]) {
        expect(Option.map(yield* settlesAtOnce(handle.await), Exit.map(brief))).toEqual(
          Option.some(Exit.succeed(["Canceled", "stopped by shutdown"]))
        )
      }
      expect(logs.lines.map((l) => l.message)).toEqual([
        'task "failed" ended Failed: boom',
        'task "fatal" ended Fatal: config missing'
      ])
    }).pipe(Effect.provide(logs.layer))
  })
})

const policies = [
  ["never", RestartPolicy.never],
  ["onFailure", RestartPolicy.onFailure],
  ["always", RestartPolicy.always()]
] as const

describe("SupervisorFaults: an isFatal predicate that throws", () => {
  for (const [label, restart] of policies) {
    it.effect(`under ${label}: the error is read as an ordinary failure, the reason names the throw`, () => {
      const logs = captureLogs()
      return Effect.gen(function* () {
        const name = `fatal-${label}`
        const { sup, events, timeline, release } = yield* harness({ name })
        const bystander = yield* sup.add(Task.once("bystander", Effect.sleep("2 seconds")))
        let calls = 0
        const handle = yield* sup.add(
          Task.make("t", Effect.fail(TaskError.fail("boom")), {
            restart,
            backoff: Backoff.constant("1 second"),
            maxRetries: 1,
            isFatal: () => {
              calls += 1
              throw new Error("predicate boom")
            }
          })
        )
        yield* TestTime.adjust("1 second")
        const reason = "boom (isFatal threw: Error: predicate boom)"
        const restarted = label !== "never"
        const final = restarted ? `retry limit reached after 1 of 1 retries: ${reason}` : reason
        expect(brief(yield* handle.await)).toEqual(["Failed", final])
        expect(calls).toBe(restarted ? 2 : 1)
        const mine = (yield* timeline).filter((text) => text.includes(`${name}/t`))
        expect(mine).toEqual(
          restarted
            ? [
                `0 TaskAdded ${name}/t`,
                `0 AttemptStarting ${name}/t #1`,
                `0 AttemptFailed ${name}/t #1 ${reason}`,
                `0 BackoffScheduled ${name}/t failure 1000`,
                `1000 AttemptStarting ${name}/t #2`,
                `1000 AttemptFailed ${name}/t #2 ${reason}`,
                `1000 TaskFinished ${name}/t Failed ${final}`,
                `1000 TaskRemoved ${name}/t`
              ]
            : [
                `0 TaskAdded ${name}/t`,
                `0 AttemptStarting ${name}/t #1`,
                `0 AttemptFailed ${name}/t #1 ${reason}`,
                `0 TaskFinished ${name}/t Failed ${final}`,
                `0 TaskRemoved ${name}/t`
              ]
        )
        expect((yield* events).filter(SupervisorEvent.is("AttemptFailed")).map((e) => e.fatal)).toEqual(
          restarted ? [false, false] : [false]
        )
        expect(logs.lines.map((l) => [l.level, l.message])).toEqual([
          ...(restarted ? [["Warn", `task "${name}/t" attempt 1 failed: ${reason}; next attempt in 1000 ms`]] : []),
          ["Warn", `task "t" ended Failed: ${final}`]
        ])
        yield* TestTime.adjust("1 second")
        expect(yield* bystander.await).toEqual(TaskOutcome.completed)
        yield* servesAnother(sup)
        yield* release
      }).pipe(Effect.provide(logs.layer))
    })
  }
})

/** A schedule whose every step is `step` (which may throw). */
const brokenSchedule = (step: () => Effect.Effect<never, unknown>) =>
  Schedule.fromStep(Effect.succeed(step)) as unknown as Schedule.Schedule<unknown, Backoff.TaskFailure>

/** A backoff whose step throws, dies or fails (the `never` error channel is bypassed with a cast). */
const brokenSchedules = [
  [
    "throws synchronously",
    brokenSchedule(() => {
      throw new Error("step threw")
    }),
    "defect: Error: step threw"
  ],
  ["returns Effect.die", brokenSchedule(() => Effect.die("step died")), "defect: step died"],
  ["returns a failure in its never channel", brokenSchedule(() => Effect.fail("step failed")), "step failed"]
] as const

describe("SupervisorFaults: a backoff schedule that breaks when stepped", () => {
  for (const [label, schedule, what] of brokenSchedules) {
    it.effect(`a step that ${label}: the task ends Failed, the supervisor and its other tasks go on`, () => {
      const logs = captureLogs()
      return Effect.gen(function* () {
        const { sup, events, timeline, release } = yield* harness({ name: "broken" })
        const bystander = yield* sup.add(
          Task.make("bystander", Effect.sleep("1 second"), { restart: RestartPolicy.always({ interval: "1 second" }) })
        )
        const handle = yield* sup.add(
          Task.make("t", Effect.fail("boom"), {
            restart: RestartPolicy.onFailure,
            backoff: schedule
          })
        )
        const outcome = yield* handle.await
        const reason = `the backoff schedule failed: ${what} (after: boom)`
        expect(brief(outcome)).toEqual(["Failed", reason])
        expect((yield* timeline).filter((text) => text.includes("broken/t"))).toEqual([
          "0 TaskAdded broken/t",
          "0 AttemptStarting broken/t #1",
          "0 AttemptFailed broken/t #1 boom",
          `0 TaskFinished broken/t Failed ${reason}`,
          "0 TaskRemoved broken/t"
        ])
        // The bystander keeps its rhythm: a success every 2 seconds (1 s of work + 1 s interval).
        yield* TestTime.adjust("4 seconds")
        expect((yield* events).filter(SupervisorEvent.is("AttemptSucceeded")).map((e) => [e.task, e.at])).toEqual([
          ["bystander", 1000],
          ["bystander", 3000]
        ])
        expect(yield* bystander.poll).toEqual(Option.none())
        yield* servesAnother(sup)
        yield* release
      }).pipe(Effect.provide(logs.layer))
    })
  }

  it.effect(
    "a task that ends Failed because its backoff broke is logged like every other Failed outcome (was a bug)",
    () => {
      const logs = captureLogs()
      return Effect.gen(function* () {
        const { sup, release } = yield* harness({ name: "unlogged" })
        const handle = yield* sup.add(
          Task.make("t", Effect.fail("boom"), {
            backoff: brokenSchedule(() => Effect.die("step died"))
          })
        )
        yield* handle.await
        yield* release
        expect(logs.lines.map((l) => [l.level, l.message])).toEqual([
          ["Warn", `task "t" ended Failed: the backoff schedule failed: defect: step died (after: boom)`]
        ])
      }).pipe(Effect.provide(logs.layer))
    }
  )
})

class Boom extends Data.TaggedError("Boom")<{ readonly n: number }> {}

describe("SupervisorFaults: 1,000 tasks failing at once with zero backoff", () => {
  it.effect("every task gives up after its retries; events stay consistent; the supervisor keeps serving", () => {
    const logs = captureLogs()
    return Effect.gen(function* () {
      const { sup, events, release } = yield* harness({ name: "storm", eventBuffer: 32_768 })
      const bystander = yield* sup.add(Task.once("bystander", Effect.sleep("1 second")))
      const count = 1_000
      const handles = yield* sup.addAll(
        Array.from({ length: count }, (_, i) =>
          Task.make(`t${i}`, Effect.fail(new Boom({ n: i })), {
            restart: RestartPolicy.onFailure,
            backoff: Backoff.none,
            maxRetries: 3
          })
        )
      )
      const outcomes = yield* Effect.forEach(handles, (handle) => handle.await)
      expect(new Set(outcomes.map((outcome) => JSON.stringify(brief(outcome))))).toEqual(
        new Set([JSON.stringify(["Failed", "retry limit reached after 3 of 3 retries: Boom"])])
      )
      expect((yield* sup.list).map((info) => info.name)).toEqual(["bystander"])
      const all = yield* events
      // 14 events per failing task, all at instant 0, numbered without a gap.
      expect(all.map((event) => event.seq)).toEqual(Array.from({ length: all.length }, (_, i) => i + 1))
      const perTask = new Map<string, Array<string>>()
      for (const event of all) {
        if (!("task" in event) || event.task === "bystander") continue
        const list = perTask.get(event.task) ?? []
        list.push(event._tag === "BackoffScheduled" ? `BackoffScheduled ${event.delayMs}` : event._tag)
        perTask.set(event.task, list)
      }
      expect(perTask.size).toBe(count)
      const lifecycle = [
        "TaskAdded",
        ...["AttemptStarting", "AttemptFailed", "BackoffScheduled 0"],
        ...["AttemptStarting", "AttemptFailed", "BackoffScheduled 0"],
        ...["AttemptStarting", "AttemptFailed", "BackoffScheduled 0"],
        "AttemptStarting",
        "AttemptFailed",
        "TaskFinished",
        "TaskRemoved"
      ]
      for (const [task, tags] of perTask) expect([task, tags]).toEqual([task, lifecycle])
      expect(all.filter((event) => event.at !== 0)).toEqual([])
      // Per task: 3 failed attempts that were retried, then the one that ended it.
      expect(logs.lines.length).toBe(count * 4)
      // It keeps serving: the bystander finishes on time, a new task runs.
      yield* TestTime.adjust("1 second")
      expect(yield* bystander.await).toEqual(TaskOutcome.completed)
      yield* servesAnother(sup)
      yield* release
    }).pipe(Effect.provide(logs.layer))
  })

  /**
   * How long a 10 ms sleep takes while a task fails at once with zero backoff in a supervisor named
   * `name`. Each failed attempt is logged: a logger that drops the lines keeps the console's own cost
   * (about 1 ms a line under vitest) out of what this measures, the loop's own yielding.
   */
  const sleepWhileSpinning = (
    name: string,
    options: Task.TaskOptions<string>,
    provide: <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R> = (effect) => effect
  ) =>
    Effect.gen(function* () {
      const sup = yield* Supervisor.make({ name, grace: "1 second" })
      yield* sup
        .add(Task.make("spin", Effect.fail("boom"), { backoff: Backoff.none, ...options }))
        .pipe(Effect.provide(Logger.layer([])), provide)
      const start = Date.now()
      yield* Effect.sleep("10 millis")
      return { elapsedMs: Date.now() - start, sup }
    })

  it.live(
    "a task failing forever with zero backoff and no retry limit does not starve the event loop (was a bug)",
    () =>
      Effect.gen(function* () {
        const { elapsedMs } = yield* sleepWhileSpinning("spin", {})
        // Before the fix: about 3 seconds with one such task (35 s with ten); timers and I/O waited that long.
        expect(elapsedMs).toBeLessThan(500)
      }),
    30_000
  )

  it.live(
    "…nor when the caller turns Effect's own yielding off: every 1024th immediate restart gives the event loop a turn",
    () =>
      Effect.gen(function* () {
        // With PreventSchedulerYield the task's fiber never yields by itself: only the supervisor's
        // own turn lets the timer fire before the million attempts are over (seconds).
        const { elapsedMs, sup } = yield* sleepWhileSpinning(
          "spin-unyielding",
          { maxRetries: 1_000_000 },
          Effect.provideService(Scheduler.PreventSchedulerYield, true)
        )
        expect(elapsedMs).toBeLessThan(500)
        const [info] = yield* sup.list
        expect(info?.restarts ?? 0).toBeLessThan(1_000_000)
      }),
    60_000
  )
})
