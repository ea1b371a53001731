import { describe, expect, it } from "@effect/vitest"
import { Clock, Deferred, Effect, Fiber, Ref, Result, Schema, Stream } from "effect"
import { Backoff, Supervisor, SupervisorEvent, Task, TaskError, type TaskId } from "@fibervisor/core"
import { TestTime } from "./helpers/tasks.js"

const id = 3 as TaskId.TaskId

/** One sample of every kind; the mapped type makes TypeScript reject a missing kind. */
const samples: { readonly [T in SupervisorEvent.Tag]: SupervisorEvent.Of<T> } = {
  TaskAdded: { _tag: "TaskAdded", seq: 1, at: 1_700_000_000_000, id, task: "worker", path: "root/worker" },
  TaskAddFailed: {
    _tag: "TaskAddFailed",
    seq: 2,
    at: 5,
    task: "worker",
    path: "root/worker",
    rejection: "AlreadyExists",
    reason: "taken"
  },
  AttemptStarting: { _tag: "AttemptStarting", seq: 3, at: 5, id, task: "worker", path: "root/worker", attempt: 1 },
  AttemptSucceeded: {
    _tag: "AttemptSucceeded",
    seq: 4,
    at: 6,
    id,
    task: "worker",
    path: "root/worker",
    attempt: 1,
    durationMs: 1
  },
  AttemptFailed: {
    _tag: "AttemptFailed",
    seq: 5,
    at: 7,
    id,
    task: "worker",
    path: "root/worker",
    attempt: 2,
    durationMs: 0,
    reason: "boom",
    exitCode: 3,
    fatal: false
  },
  AttemptTimedOut: {
    _tag: "AttemptTimedOut",
    seq: 6,
    at: 8,
    id,
    task: "worker",
    path: "root/worker",
    attempt: 3,
    durationMs: 1000,
    timeoutMs: 1000
  },
  AttemptCanceled: {
    _tag: "AttemptCanceled",
    seq: 7,
    at: 9,
    id,
    task: "worker",
    path: "root/worker",
    attempt: 4,
    durationMs: 12.5,
    reason: "stopped by remove"
  },
  BackoffScheduled: {
    _tag: "BackoffScheduled",
    seq: 8,
    at: 10,
    id,
    task: "worker",
    path: "root/worker",
    attempt: 2,
    delayMs: 200,
    source: "failure",
    reason: "boom"
  },
  TaskRemoveRequested: {
    _tag: "TaskRemoveRequested",
    seq: 9,
    at: 11,
    id,
    task: "worker",
    path: "root/worker",
    reason: "cancel"
  },
  TaskRestartRequested: {
    _tag: "TaskRestartRequested",
    seq: 9,
    at: 11,
    id,
    task: "worker",
    path: "root/worker",
    state: "scheduled"
  },
  TaskFinished: {
    _tag: "TaskFinished",
    seq: 10,
    at: 12,
    id,
    task: "worker",
    path: "root/worker",
    outcome: "Failed",
    reason: "retry limit",
    exitCode: 1
  },
  TaskRemoved: { _tag: "TaskRemoved", seq: 11, at: 13, id, task: "worker", path: "root/worker" },
  ShutdownRequested: { _tag: "ShutdownRequested", seq: 12, at: 14, path: "root" },
  AllStoppedWithinGrace: { _tag: "AllStoppedWithinGrace", seq: 13, at: 15, path: "root" },
  GraceExceeded: {
    _tag: "GraceExceeded",
    seq: 14,
    at: 16,
    path: "root",
    graceMs: 10_000,
    stuck: ["a", 'b "quoted" ü'],
    paths: ["root/a/pool", 'root/b "quoted" ü']
  },
  GroupRestart: {
    _tag: "GroupRestart",
    seq: 15,
    at: 17,
    path: "root/db",
    strategy: "one-for-all",
    trigger: "pool",
    affected: ["pool", "cache"]
  },
  RestartIntensityExceeded: {
    _tag: "RestartIntensityExceeded",
    seq: 16,
    at: 18,
    path: "root/db",
    maxRestarts: 3,
    withinMs: 5000,
    trigger: "pool",
    reason: "boom"
  },
  Escalated: { _tag: "Escalated", seq: 17, at: 19, path: "root/db", task: "pool", reason: "corrupt" },
  AutoShutdown: { _tag: "AutoShutdown", seq: 18, at: 20, path: "root/job", mode: "any-significant", trigger: "step" },
  SlotSubmitted: {
    _tag: "SlotSubmitted",
    seq: 19,
    at: 21,
    id,
    task: "sync",
    path: "root/sync",
    slot: "tenant-1",
    admission: "replace"
  },
  SlotRejected: {
    _tag: "SlotRejected",
    seq: 20,
    at: 22,
    id,
    task: "sync",
    path: "root/sync",
    slot: "tenant-1",
    kind: "SupersededByReplace",
    reason: "replaced"
  },
  SlotTransition: {
    _tag: "SlotTransition",
    seq: 21,
    at: 23,
    path: "root",
    slot: "tenant-1",
    from: "running",
    to: "terminating",
    owner: "sync",
    queued: 1,
    reason: "replace"
  },
  OperatorActionRequested: {
    _tag: "OperatorActionRequested",
    seq: 23,
    at: 30,
    path: "root/app/worker",
    action: "restart",
    outcome: "done",
    remote: "127.0.0.1:50000",
    source: "dashboard"
  },
  SingletonAcquired: {
    _tag: "SingletonAcquired",
    seq: 24,
    at: 31,
    id,
    task: "billing",
    path: "root/billing",
    name: "billing",
    epoch: 7,
    runner: "host-a-1234"
  },
  SingletonReleased: {
    _tag: "SingletonReleased",
    seq: 25,
    at: 32,
    id,
    task: "billing",
    path: "root/billing",
    name: "billing",
    epoch: 7,
    runner: "host-a-1234",
    reason: "handoff"
  },
  SingletonStandby: {
    _tag: "SingletonStandby",
    seq: 26,
    at: 33,
    id,
    task: "billing",
    path: "root/billing",
    name: "billing",
    runner: "host-b-99",
    owner: "host-a-1234",
    epoch: 7
  }
}

/** Variants: optional fields absent, other literals. */
const variants: ReadonlyArray<SupervisorEvent.SupervisorEvent> = [
  {
    _tag: "TaskAddFailed",
    seq: 1,
    at: 0,
    task: "",
    path: "root",
    rejection: "InvalidSpec",
    reason: "name must be non-empty"
  },
  { _tag: "TaskAddFailed", seq: 1, at: 0, task: "x", path: "root", rejection: "ShuttingDown", reason: "shutting down" },
  {
    _tag: "AttemptFailed",
    seq: 1,
    at: 0,
    id,
    task: "w",
    path: "root/w",
    attempt: 1,
    durationMs: 0,
    reason: "defect: x",
    fatal: true
  },
  { _tag: "BackoffScheduled", seq: 1, at: 0, id, task: "w", path: "root/w", attempt: 1, delayMs: 0, source: "success" },
  { _tag: "TaskRemoveRequested", seq: 1, at: 0, id, task: "w", path: "root/w", reason: "remove" },
  { _tag: "TaskRemoveRequested", seq: 1, at: 0, id, task: "w", path: "root/w", reason: "shutdown" },
  { _tag: "TaskFinished", seq: 1, at: 0, id, task: "w", path: "root/w", outcome: "Completed" },
  { _tag: "TaskFinished", seq: 1, at: 0, id, task: "w", path: "root/w", outcome: "Fatal", reason: "r", exitCode: 0 },
  { _tag: "TaskFinished", seq: 1, at: 0, id, task: "w", path: "root/w", outcome: "Canceled", reason: "stopped" },
  { _tag: "TaskFinished", seq: 1, at: 0, id, task: "w", path: "root/w", outcome: "ForceAborted", reason: "hung" },
  { _tag: "TaskFinished", seq: 1, at: 0, id, task: "w", path: "root/w", outcome: "Rejected", reason: "queue full" },
  { _tag: "GraceExceeded", seq: 1, at: 0, path: "root", graceMs: 0, stuck: [], paths: [] },
  { _tag: "TaskRemoveRequested", seq: 1, at: 0, id, task: "w", path: "root/w", reason: "group-restart" },
  { _tag: "TaskRemoveRequested", seq: 1, at: 0, id, task: "w", path: "root/w", reason: "replace" },
  {
    _tag: "SlotTransition",
    seq: 1,
    at: 0,
    path: "root",
    slot: "s",
    from: "running",
    to: "idle",
    queued: 0,
    reason: "owner exited"
  },
  {
    _tag: "OperatorActionRequested",
    seq: 1,
    at: 0,
    path: "",
    action: "explode",
    outcome: "refused",
    reason: "no token",
    remote: "[::1]:4000",
    source: "dashboard"
  },
  {
    _tag: "OperatorActionRequested",
    seq: 1,
    at: 0,
    path: "root/w",
    action: "cancel",
    outcome: "declined",
    reason: "a stop of the task is already under way",
    remote: "",
    source: "cli"
  },
  {
    _tag: "OperatorActionRequested",
    seq: 1,
    at: 0,
    path: "root/x",
    action: "remove",
    outcome: "not-found",
    remote: "r",
    source: "s"
  },
  // A standby replica that sees no live owner: owner and epoch absent.
  { _tag: "SingletonStandby", seq: 1, at: 0, id, task: "b", path: "root/b", name: "b", runner: "r1" },
  ...(["lock-lost", "failed", "completed"] as const).map((reason): SupervisorEvent.SupervisorEvent => ({
    _tag: "SingletonReleased",
    seq: 1,
    at: 0,
    id,
    task: "b",
    path: "root/b",
    name: "b",
    epoch: 1,
    runner: "r1",
    reason
  }))
]

const roundTrip = (event: SupervisorEvent.SupervisorEvent) =>
  SupervisorEvent.decode(JSON.parse(JSON.stringify(SupervisorEvent.encode(event))))

describe("SupervisorEvent codec", () => {
  it("the samples cover every member of the union", () => {
    expect(Object.keys(samples)).toHaveLength(SupervisorEvent.SupervisorEvent.members.length)
    expect(Object.keys(samples).sort()).toEqual(
      [
        "TaskAdded",
        "TaskAddFailed",
        "AttemptStarting",
        "AttemptSucceeded",
        "AttemptFailed",
        "AttemptTimedOut",
        "AttemptCanceled",
        "BackoffScheduled",
        "TaskRemoveRequested",
        "TaskRestartRequested",
        "TaskFinished",
        "TaskRemoved",
        "ShutdownRequested",
        "AllStoppedWithinGrace",
        "GraceExceeded",
        "GroupRestart",
        "RestartIntensityExceeded",
        "Escalated",
        "AutoShutdown",
        "SlotSubmitted",
        "SlotRejected",
        "SlotTransition",
        "OperatorActionRequested",
        "SingletonAcquired",
        "SingletonReleased",
        "SingletonStandby"
      ].sort()
    )
  })

  for (const event of Object.values(samples) as ReadonlyArray<SupervisorEvent.SupervisorEvent>) {
    it.effect(`${event._tag} round-trips through encode, JSON and decode`, () =>
      Effect.gen(function* () {
        const encoded = SupervisorEvent.encode(event)
        // the JSON form is plain data with the same fields
        expect(JSON.parse(JSON.stringify(encoded))).toEqual(event)
        expect(yield* roundTrip(event)).toEqual(event)
      })
    )
  }

  it.effect("variants (optional fields absent, other literals) round-trip", () =>
    Effect.gen(function* () {
      for (const event of variants) {
        const decoded = yield* roundTrip(event)
        expect(decoded).toEqual(event)
        // absent optional fields stay absent (exact optionals)
        expect(Object.keys(decoded).sort()).toEqual(Object.keys(event).sort())
      }
    })
  )

  it("is(tag) narrows by kind", () => {
    const all = Object.values(samples) as ReadonlyArray<SupervisorEvent.SupervisorEvent>
    const failed = all.filter(SupervisorEvent.is("AttemptFailed"))
    expect(failed).toHaveLength(1)
    expect(failed[0]!.reason).toBe("boom")
    expect(all.filter(SupervisorEvent.is("GraceExceeded"))[0]!.stuck).toEqual(["a", 'b "quoted" ü'])
  })

  const malformed: ReadonlyArray<{ readonly title: string; readonly input: unknown }> = [
    { title: "null", input: null },
    { title: "a string", input: "TaskAdded" },
    { title: "an array", input: [samples.TaskAdded] },
    { title: "no _tag", input: { seq: 1, at: 0, id: 1, task: "w" } },
    { title: "an unknown _tag", input: { _tag: "TaskExploded", seq: 1, at: 0, id: 1, task: "w" } },
    { title: "missing seq", input: { _tag: "TaskAdded", at: 0, id: 1, task: "w" } },
    { title: "seq as a string", input: { _tag: "TaskAdded", seq: "1", at: 0, id: 1, task: "w" } },
    { title: "missing at", input: { _tag: "ShutdownRequested", seq: 1 } },
    { title: "a negative id", input: { _tag: "TaskAdded", seq: 1, at: 0, id: -1, task: "w" } },
    { title: "a fractional id", input: { _tag: "TaskAdded", seq: 1, at: 0, id: 1.5, task: "w" } },
    { title: "task not a string", input: { _tag: "TaskRemoved", seq: 1, at: 0, id: 1, task: 7 } },
    {
      title: "an unknown rejection",
      input: { _tag: "TaskAddFailed", seq: 1, at: 0, task: "w", rejection: "Nope", reason: "r" }
    },
    {
      title: "an unknown outcome",
      input: { _tag: "TaskFinished", seq: 1, at: 0, id: 1, task: "w", outcome: "Exploded" }
    },
    {
      title: "an unknown backoff source",
      input: { _tag: "BackoffScheduled", seq: 1, at: 0, id: 1, task: "w", attempt: 1, delayMs: 1, source: "whim" }
    },
    {
      title: "an unknown singleton release reason",
      input: {
        _tag: "SingletonReleased",
        seq: 1,
        at: 0,
        id: 1,
        task: "b",
        path: "root/b",
        name: "b",
        epoch: 1,
        runner: "r",
        reason: "whim"
      }
    },
    {
      title: "a singleton epoch as a string",
      input: {
        _tag: "SingletonAcquired",
        seq: 1,
        at: 0,
        id: 1,
        task: "b",
        path: "root/b",
        name: "b",
        epoch: "1",
        runner: "r"
      }
    },
    {
      title: "a standby without runner",
      input: { _tag: "SingletonStandby", seq: 1, at: 0, id: 1, task: "b", path: "root/b", name: "b" }
    },
    {
      title: "an unknown remove reason",
      input: { _tag: "TaskRemoveRequested", seq: 1, at: 0, id: 1, task: "w", reason: "because" }
    },
    {
      title: "exitCode null",
      input: {
        _tag: "AttemptFailed",
        seq: 1,
        at: 0,
        id: 1,
        task: "w",
        attempt: 1,
        durationMs: 0,
        reason: "r",
        exitCode: null,
        fatal: false
      }
    },
    {
      title: "fatal missing",
      input: { _tag: "AttemptFailed", seq: 1, at: 0, id: 1, task: "w", attempt: 1, durationMs: 0, reason: "r" }
    },
    {
      title: "an unknown operator outcome",
      input: {
        _tag: "OperatorActionRequested",
        seq: 1,
        at: 0,
        path: "root/w",
        action: "cancel",
        outcome: "maybe",
        remote: "r",
        source: "s"
      }
    },
    {
      title: "an operator action without its remote",
      input: {
        _tag: "OperatorActionRequested",
        seq: 1,
        at: 0,
        path: "root/w",
        action: "cancel",
        outcome: "done",
        source: "s"
      }
    },
    { title: "stuck not an array", input: { _tag: "GraceExceeded", seq: 1, at: 0, graceMs: 1, stuck: "a" } },
    { title: "stuck with a number", input: { _tag: "GraceExceeded", seq: 1, at: 0, graceMs: 1, stuck: ["a", 1] } }
  ]

  for (const m of malformed) {
    it.effect(`decode rejects ${m.title} with a SchemaError`, () =>
      Effect.gen(function* () {
        const result = yield* Effect.result(SupervisorEvent.decode(m.input))
        expect(Result.isFailure(result)).toBe(true)
        if (Result.isFailure(result)) {
          expect(Schema.isSchemaError(result.failure)).toBe(true)
          expect(result.failure._tag).toBe("SchemaError")
          expect(result.failure.message.length).toBeGreaterThan(0)
        }
      })
    )
  }
})

// ---------------------------------------------------------------------------------------------
// events from a real supervisor
// ---------------------------------------------------------------------------------------------

/** Collects every event into a Ref while the test drives the clock. */
const record = (sup: Supervisor.Supervisor) =>
  Effect.gen(function* () {
    const seen = yield* Ref.make<ReadonlyArray<SupervisorEvent.SupervisorEvent>>([])
    const stream = yield* sup.subscribe
    yield* stream.pipe(
      Stream.runForEach((event) => Ref.update(seen, (all) => [...all, event])),
      Effect.forkScoped
    )
    return seen
  })

/** Lets forked fibers (the recorder, the tasks) catch up without moving the clock. */
const settle = TestTime.settle()

describe("SupervisorEvent from a real supervisor", () => {
  it.effect("events round-trip, have strictly increasing seq, and `at` equals the TestClock time", () =>
    Effect.gen(function* () {
      const sup = yield* Supervisor.make({ grace: "1 second" })
      const seen = yield* record(sup)
      /** The clock time at which each event was observed (checked against its `at`). */
      const observedAt = new Map<number, number>()
      const observe = Effect.gen(function* () {
        yield* settle
        const now = yield* Clock.currentTimeMillis
        for (const event of yield* Ref.get(seen)) if (!observedAt.has(event.seq)) observedAt.set(event.seq, now)
      })
      const step = (ms: number) => Effect.andThen(TestTime.adjust(`${ms} millis`), observe)

      let flakyRuns = 0
      yield* sup.add(Task.once("ok", Effect.sleep("100 millis")))
      yield* sup.add(
        Task.make(
          "flaky",
          Effect.suspend(() =>
            ++flakyRuns === 1 ? Effect.fail(TaskError.fail("first try", { exitCode: 3 })) : Effect.void
          ),
          { backoff: Backoff.constant("200 millis") }
        )
      )
      yield* sup.add(Task.once("slow", Effect.never).pipe(Task.withTimeout("300 millis")))
      yield* sup.add(Task.periodic("tick", Effect.void, "250 millis"))
      yield* sup.add(Task.once("victim", Effect.never))
      yield* sup.add(Task.once("fatal", Effect.fail(TaskError.fatal("bad", { exitCode: 78 }))))
      yield* sup.add(Task.once("defect", Effect.die("kaboom")))
      yield* Effect.flip(sup.add(Task.once("tick", Effect.void)))
      yield* Effect.flip(sup.add(Task.make("invalid", Effect.void, { timeout: -1 })))
      yield* observe // t = 0

      // Every event of this run happens at a multiple of 50 ms, so stepping 50 ms at a time observes
      // each one at the very time it was published.
      for (let t = 50; t <= 300; t += 50) yield* step(50)
      expect(yield* sup.remove("victim")).toBe(true) // t = 300
      yield* observe
      yield* step(50)
      yield* step(50) // t = 400

      const shutdown = yield* Effect.forkChild(sup.shutdown)
      yield* observe
      yield* Effect.flip(sup.add(Task.once("late", Effect.void)))
      yield* observe
      yield* step(50)
      yield* Fiber.join(shutdown)
      yield* observe

      const events = yield* Ref.get(seen)
      const tags = new Set(events.map((e) => e._tag))
      for (const tag of [
        "TaskAdded",
        "TaskAddFailed",
        "AttemptStarting",
        "AttemptSucceeded",
        "AttemptFailed",
        "AttemptTimedOut",
        "AttemptCanceled",
        "BackoffScheduled",
        "TaskRemoveRequested",
        "TaskFinished",
        "TaskRemoved",
        "ShutdownRequested",
        "AllStoppedWithinGrace"
      ] as const) {
        expect(tags.has(tag), tag).toBe(true)
      }

      // seq: strictly increasing, starting at 1, no gaps (the buffer never overflowed)
      expect(events.map((e) => e.seq)).toEqual(events.map((_, i) => i + 1))

      // at: the TestClock time when the event was published
      for (const event of events) expect(event.at, `${event._tag} #${event.seq}`).toBe(observedAt.get(event.seq))

      // some exact times
      const find = (tag: SupervisorEvent.Tag, task?: string) =>
        events.filter((e) => e._tag === tag && (task === undefined || ("task" in e && e.task === task)))
      expect(find("AttemptSucceeded", "ok").map((e) => e.at)).toEqual([100])
      expect(find("AttemptStarting", "flaky").map((e) => e.at)).toEqual([0, 200])
      expect(find("AttemptTimedOut", "slow").map((e) => e.at)).toEqual([300])
      expect(find("AttemptStarting", "tick").map((e) => e.at)).toEqual([0, 250])
      expect(find("TaskRemoveRequested", "victim").map((e) => e.at)).toEqual([300])
      expect(find("ShutdownRequested").map((e) => e.at)).toEqual([400])

      // some payloads
      const flakyFailed = find("AttemptFailed", "flaky")[0] as SupervisorEvent.Of<"AttemptFailed">
      expect(flakyFailed).toMatchObject({ reason: "first try", exitCode: 3, fatal: false, attempt: 1 })
      const fatalFailed = find("AttemptFailed", "fatal")[0] as SupervisorEvent.Of<"AttemptFailed">
      expect(fatalFailed).toMatchObject({ reason: "bad", exitCode: 78, fatal: true })
      expect((find("AttemptFailed", "defect")[0] as SupervisorEvent.Of<"AttemptFailed">).reason).toContain("kaboom")
      expect(find("BackoffScheduled", "flaky")[0]).toMatchObject({ delayMs: 200, source: "failure" })
      expect(find("BackoffScheduled", "tick")[0]).toMatchObject({ delayMs: 250, source: "success" })
      expect(find("TaskAddFailed").map((e) => (e as SupervisorEvent.Of<"TaskAddFailed">).rejection)).toEqual([
        "AlreadyExists",
        "InvalidSpec",
        "ShuttingDown"
      ])
      expect(find("TaskFinished", "victim")[0]).toMatchObject({ outcome: "Canceled" })
      expect(find("TaskFinished", "fatal")[0]).toMatchObject({ outcome: "Fatal", exitCode: 78 })

      // TaskFinished precedes TaskRemoved for every task
      for (const name of ["ok", "flaky", "slow", "tick", "victim", "fatal", "defect"]) {
        const finished = find("TaskFinished", name)
        const removed = find("TaskRemoved", name)
        expect(finished, name).toHaveLength(1)
        expect(removed, name).toHaveLength(1)
        expect(finished[0]!.seq).toBeLessThan(removed[0]!.seq)
      }

      // every event round-trips
      for (const event of events) expect(yield* roundTrip(event)).toEqual(event)
    })
  )

  it.effect("subscribe + Stream.take(n) collects the first n events of a run", () =>
    Effect.gen(function* () {
      yield* TestTime.adjust("5 seconds") // a non-zero epoch
      const sup = yield* Supervisor.make()
      const stream = yield* sup.subscribe
      const collected = yield* stream.pipe(Stream.take(5), Stream.runCollect, Effect.forkChild)
      yield* sup.add(Task.once("sleeper", Effect.sleep("1 second")))
      yield* TestTime.adjust("1 second")
      const events = yield* Fiber.join(collected)
      expect(events.map((e) => e._tag)).toEqual([
        "TaskAdded",
        "AttemptStarting",
        "AttemptSucceeded",
        "TaskFinished",
        "TaskRemoved"
      ])
      expect(events.map((e) => e.at)).toEqual([5000, 5000, 6000, 6000, 6000])
      expect(events.map((e) => e.seq)).toEqual([1, 2, 3, 4, 5])
      for (const event of events) expect(yield* roundTrip(event)).toEqual(event)
    })
  )

  it.effect("a shutdown that exceeds its grace emits GraceExceeded with the stuck names", () =>
    Effect.gen(function* () {
      const sup = yield* Supervisor.make({ grace: "1 second" })
      const stream = yield* sup.subscribe
      const release = yield* Deferred.make<void>()
      const collected = yield* stream.pipe(
        Stream.takeUntil((e) => e._tag === "TaskRemoved" && e.task === "stuck"),
        Stream.runCollect,
        Effect.forkChild
      )
      const handle = yield* sup.add(Task.once("stuck", Effect.uninterruptible(Deferred.await(release))))
      yield* sup.add(Task.once("polite", Effect.never))
      yield* settle
      const shutdown = yield* Effect.forkChild(Effect.flip(sup.shutdown))
      yield* TestTime.adjust("1 second")
      const error = yield* Fiber.join(shutdown)
      expect(error._tag).toBe("GraceExceeded")
      expect(error.stuck).toEqual(["stuck"])
      expect((yield* handle.await)._tag).toBe("ForceAborted")
      yield* Deferred.succeed(release, undefined)
      const events = yield* Fiber.join(collected)
      const exceeded = events.filter(SupervisorEvent.is("GraceExceeded"))
      expect(exceeded).toHaveLength(1)
      expect(exceeded[0]).toMatchObject({ graceMs: 1000, stuck: ["stuck"], at: 1000 })
      expect(events.filter(SupervisorEvent.is("AllStoppedWithinGrace"))).toHaveLength(0)
      const finished = events.filter(SupervisorEvent.is("TaskFinished"))
      expect(finished.find((e) => e.task === "stuck")).toMatchObject({ outcome: "ForceAborted", at: 1000 })
      expect(finished.find((e) => e.task === "polite")).toMatchObject({ outcome: "Canceled", at: 0 })
      expect(events.map((e) => e.seq)).toEqual(events.map((_, i) => i + 1))
      for (const event of events) expect(yield* roundTrip(event)).toEqual(event)
    })
  )
})
