import { describe, expect, it } from "@effect/vitest"
import { Context, Deferred, Effect, Exit, Fiber, Option, Result } from "effect"
import {
  Backoff,
  RestartPolicy,
  Supervisor,
  SupervisorError,
  Task,
  TaskContext,
  TaskError,
  TaskOutcome
} from "@fibervisor/core"
import { TestTime } from "@fibervisor/vitest"
import { script, setup } from "../helpers/recorder.js"
import { flush } from "../helpers/tasks.js"
import { gated, logged, logStart, slotInfo, slotTrace, slowToStop, unseq } from "../helpers/controller.js"

const rejected = (kind: TaskOutcome.RejectionKind, reason: string) => new TaskOutcome.Rejected({ kind, reason })
const busy = (slot: string) => rejected("SlotBusy", `slot "${slot}" is busy`)
const superseded = (slot: string) => rejected("SupersededByReplace", `replaced by a newer submission to slot "${slot}"`)
const removedFromQueue = rejected("RemovedFromQueue", "removed before it started")
const shuttingDown = rejected("ShuttingDown", "the supervisor is shutting down")
const queueFull = (slot: string, n: number) =>
  rejected("QueueFull", `slot "${slot}" already has ${n} queued (maxSlotQueue)`)
const stoppedBy = (who: string) => new TaskOutcome.Canceled({ reason: `stopped by ${who}` })
const completed = new TaskOutcome.Completed()

const admissions = ["queue", "replace", "drop-if-running"] as const

/**
 * The error `effect` failed with, or "succeeded" (`Effect.flip` would hand a handle or a supervisor
 * to the assertion, whose diff walks the whole runtime when a test fails).
 */
const failure = <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<E | "succeeded", never, R> =>
  Effect.map(Effect.result(effect), (result) => (Result.isFailure(result) ? result.failure : "succeeded"))

describe("Controller: an idle slot", () => {
  for (const admission of admissions) {
    it.effect(`a ${admission} submission to an idle slot starts at once; the slot defaults to the task name`, () =>
      Effect.gen(function* () {
        const { sup, waitFor, events } = yield* setup()
        const log: Array<string> = []
        const h = yield* sup.submit(logged(log, "job"), { admission })
        expect(h.name).toBe("job")
        // Admitted in the submit itself: registered and owning its slot before its fiber has run.
        expect(yield* sup.slots).toEqual([slotInfo("job", "running", h, 0)])
        expect((yield* sup.list).map((i) => [i.id, i.name, i.path, i.state])).toEqual([
          [h.id, "job", "root/job", "waiting"]
        ])
        yield* waitFor("AttemptStarting")
        expect(log).toEqual(["job@0"])
        expect((yield* events).map(unseq)).toEqual([
          { _tag: "SlotSubmitted", at: 0, id: h.id, task: "job", path: "root/job", slot: "job", admission },
          { _tag: "TaskAdded", at: 0, id: h.id, task: "job", path: "root/job" },
          {
            _tag: "SlotTransition",
            at: 0,
            path: "root",
            slot: "job",
            from: "idle",
            to: "running",
            owner: "job",
            queued: 0,
            reason: "admitted"
          },
          { _tag: "AttemptStarting", at: 0, id: h.id, task: "job", path: "root/job", attempt: 1 }
        ])
        expect(yield* h.poll).toEqual(Option.none())
        expect((yield* sup.list).map((i) => i.state)).toEqual(["running"])
      })
    )
  }

  it.effect("different task names get different slots; an explicit slot groups different names", () =>
    Effect.gen(function* () {
      const { sup, waitFor, events } = yield* setup()
      const log: Array<string> = []
      const gate = yield* Deferred.make<void>()
      const a = yield* sup.submit(logged(log, "a"), { admission: "queue" })
      const b = yield* sup.submit(logged(log, "b"), { admission: "drop-if-running" })
      const x = yield* sup.submit(gated(log, "x", gate), { slot: "shared", admission: "queue" })
      const y = yield* sup.submit(logged(log, "y"), { slot: "shared", admission: "queue" })
      // "a" and "b" were admitted (their own idle slots), "y" waits behind "x" in "shared".
      expect(yield* sup.slots).toEqual([
        slotInfo("a", "running", a, 0),
        slotInfo("b", "running", b, 0),
        slotInfo("shared", "running", x, 1)
      ])
      yield* flush
      expect(log).toEqual(["a@0", "b@0", "x@0"])
      expect(yield* y.poll).toEqual(Option.none())
      expect((yield* sup.list).map((i) => i.name)).toEqual(["a", "b", "x"])

      yield* Deferred.succeed(gate, undefined)
      expect(yield* x.await).toEqual(completed)
      yield* waitFor("AttemptStarting", (e) => e.task === "y")
      expect(log).toEqual(["a@0", "b@0", "x@0", "y@0"])
      expect(yield* sup.slots).toEqual([
        slotInfo("a", "running", a, 0),
        slotInfo("b", "running", b, 0),
        slotInfo("shared", "running", y, 0)
      ])
      const all = yield* events
      const submittedY = all.find((e) => e._tag === "SlotSubmitted" && e.task === "y")
      expect(submittedY && unseq(submittedY)).toEqual({
        _tag: "SlotSubmitted",
        at: 0,
        id: y.id,
        task: "y",
        path: "root/y",
        slot: "shared",
        admission: "queue"
      })
      expect(slotTrace(all)).toEqual([
        "0 submitted a a queue",
        "0 a idle->running owner=a queued=0 (admitted)",
        "0 submitted b b drop-if-running",
        "0 b idle->running owner=b queued=0 (admitted)",
        "0 submitted x shared queue",
        "0 shared idle->running owner=x queued=0 (admitted)",
        "0 submitted y shared queue",
        // The handover from one owner to the next is reported as running -> running.
        "0 shared running->running owner=y queued=0 (admitted)"
      ])
    })
  )

  it.effect("a task submitted to another task's default slot shares that slot; other names keep their own", () =>
    Effect.gen(function* () {
      const { sup } = yield* setup()
      const log: Array<string> = []
      const a = yield* sup.submit(logged(log, "a"), { admission: "queue" })
      // Slot "a" is busy with task "a": task "b" submitted to slot "a" waits behind it.
      const b = yield* sup.submit(logged(log, "b"), { slot: "a", admission: "drop-if-running" })
      expect(yield* b.poll).toEqual(Option.some(busy("a")))
      // Task "a2" in its default slot "a2" is unaffected.
      const a2 = yield* sup.submit(logged(log, "a2"), { admission: "drop-if-running" })
      yield* flush
      expect(log).toEqual(["a@0", "a2@0"])
      expect(yield* sup.slots).toEqual([slotInfo("a", "running", a, 0), slotInfo("a2", "running", a2, 0)])
    })
  )
})

describe("Controller: queue", () => {
  it.effect("three submissions run one after another in FIFO order, each once the previous fiber exited", () =>
    Effect.gen(function* () {
      const { sup, waitFor, events } = yield* setup()
      const log: Array<string> = []
      // Each works 1 s, then its scope finalizer takes 250 ms more: its fiber exits 1250 ms after it started.
      const work = (name: string) =>
        Task.once(
          name,
          logStart(
            log,
            name,
            Effect.andThen(
              Effect.addFinalizer(() => Effect.sleep("250 millis")),
              Effect.sleep("1 second")
            )
          )
        )
      const a = yield* sup.submit(work("a"), { slot: "s", admission: "queue" })
      const b = yield* sup.submit(work("b"), { slot: "s", admission: "queue" })
      const c = yield* sup.submit(work("c"), { slot: "s", admission: "queue" })
      expect(yield* sup.slots).toEqual([slotInfo("s", "running", a, 2)])
      expect((yield* sup.list).map((i) => i.id)).toEqual([a.id])
      yield* flush
      expect(log).toEqual(["a@0"])

      // "a" finished its work at 1000 but is still in its finalizer: "b" waits.
      yield* TestTime.adjust("1249 millis")
      expect(log).toEqual(["a@0"])
      expect(yield* a.poll).toEqual(Option.none())
      expect(yield* sup.slots).toEqual([slotInfo("s", "running", a, 2)])
      yield* TestTime.adjust("1 millis")
      expect(yield* a.poll).toEqual(Option.some(completed))
      expect(log).toEqual(["a@0", "b@1250"])
      expect(yield* sup.slots).toEqual([slotInfo("s", "running", b, 1)])
      expect((yield* sup.list).map((i) => i.id)).toEqual([b.id])

      yield* TestTime.adjust("1249 millis")
      expect(log).toEqual(["a@0", "b@1250"])
      expect(yield* c.poll).toEqual(Option.none())
      yield* TestTime.adjust("1 millis")
      expect(log).toEqual(["a@0", "b@1250", "c@2500"])
      expect(yield* sup.slots).toEqual([slotInfo("s", "running", c, 0)])

      yield* TestTime.adjust("1250 millis")
      expect(yield* b.poll).toEqual(Option.some(completed))
      expect(yield* c.poll).toEqual(Option.some(completed))
      expect(yield* sup.slots).toEqual([])
      expect(yield* sup.list).toEqual([])
      yield* waitFor("SlotTransition", (e) => e.to === "idle")
      const all = yield* events
      expect(slotTrace(all)).toEqual([
        "0 submitted a s queue",
        "0 s idle->running owner=a queued=0 (admitted)",
        "0 submitted b s queue",
        "0 submitted c s queue",
        "1250 s running->running owner=b queued=1 (admitted)",
        "2500 s running->running owner=c queued=0 (admitted)",
        "3750 s running->idle owner=- queued=0 (owner exited)"
      ])
      // The next owner is admitted right after the previous one's TaskRemoved (its fiber's exit).
      const handover = all.filter((e) => e.at === 1250).map((e) => `${e._tag}${"task" in e ? ` ${e.task}` : ""}`)
      expect(handover).toEqual([
        "AttemptSucceeded a",
        "TaskFinished a",
        "TaskRemoved a",
        "TaskAdded b",
        "SlotTransition",
        "AttemptStarting b"
      ])
      const idle = all.find((e) => e._tag === "SlotTransition" && e.to === "idle")
      // No owner field at all once the slot is idle.
      expect(idle && unseq(idle)).toEqual({
        _tag: "SlotTransition",
        at: 3750,
        path: "root",
        slot: "s",
        from: "running",
        to: "idle",
        queued: 0,
        reason: "owner exited"
      })
    })
  )

  it.effect("maxSlotQueue 2: the third queued submission is rejected QueueFull and never runs", () =>
    Effect.gen(function* () {
      const { sup, waitFor, events } = yield* setup({ maxSlotQueue: 2 })
      const log: Array<string> = []
      const gate = yield* Deferred.make<void>()
      const a = yield* sup.submit(gated(log, "a", gate), { slot: "s", admission: "queue" })
      const b = yield* sup.submit(logged(log, "b", Effect.void), { slot: "s", admission: "queue" })
      const c = yield* sup.submit(logged(log, "c", Effect.void), { slot: "s", admission: "queue" })
      const d = yield* sup.submit(logged(log, "d", Effect.void), { slot: "s", admission: "queue" })
      expect(yield* d.poll).toEqual(Option.some(queueFull("s", 2)))
      expect(yield* sup.slots).toEqual([slotInfo("s", "running", a, 2)])
      const rejection = yield* waitFor("SlotRejected")
      expect(unseq(rejection)).toEqual({
        _tag: "SlotRejected",
        at: 0,
        id: d.id,
        task: "d",
        path: "root/d",
        slot: "s",
        kind: "QueueFull",
        reason: `slot "s" already has 2 queued (maxSlotQueue)`
      })
      // A free place opens once "b" has been admitted: queueing works again.
      yield* Deferred.succeed(gate, undefined)
      expect(yield* a.await).toEqual(completed)
      expect(yield* b.await).toEqual(completed)
      expect(yield* c.await).toEqual(completed)
      expect(log).toEqual(["a@0", "b@0", "c@0"])
      expect(yield* sup.slots).toEqual([])
      expect(slotTrace(yield* events).filter((line) => line.includes("rejected"))).toEqual(["0 rejected d QueueFull"])
    })
  )

  it.effect("default maxSlotQueue 100: the 101st queued submission is rejected QueueFull", () =>
    Effect.gen(function* () {
      const { sup } = yield* setup()
      const owner = yield* sup.submit(Task.once("owner", Effect.never), { slot: "s", admission: "queue" })
      const queued = yield* Effect.forEach(
        Array.from({ length: 100 }, (_, i) => i),
        (i) => sup.submit(Task.once(`q${i}`, Effect.void), { slot: "s", admission: "queue" })
      )
      const extra = yield* sup.submit(Task.once("q100", Effect.void), { slot: "s", admission: "queue" })
      expect(yield* extra.poll).toEqual(Option.some(queueFull("s", 100)))
      for (const h of queued) expect(yield* h.poll).toEqual(Option.none())
      expect(yield* sup.slots).toEqual([slotInfo("s", "running", owner, 100)])
    })
  )

  it.effect("maxSlotQueue 0: queue is refused whenever the slot is busy, admitted when it is idle", () =>
    Effect.gen(function* () {
      const { sup } = yield* setup({ maxSlotQueue: 0 })
      const log: Array<string> = []
      const gate = yield* Deferred.make<void>()
      const a = yield* sup.submit(gated(log, "a", gate), { slot: "s", admission: "queue" })
      const b = yield* sup.submit(logged(log, "b"), { slot: "s", admission: "queue" })
      expect(yield* b.poll).toEqual(Option.some(queueFull("s", 0)))
      expect(yield* sup.slots).toEqual([slotInfo("s", "running", a, 0)])
      yield* Deferred.succeed(gate, undefined)
      expect(yield* a.await).toEqual(completed)
      const c = yield* sup.submit(logged(log, "c"), { slot: "s", admission: "queue" })
      expect(yield* sup.slots).toEqual([slotInfo("s", "running", c, 0)])
      yield* flush
      expect(log).toEqual(["a@0", "c@0"])
    })
  )
})

describe("Controller: replace", () => {
  it.effect("replace stops the owner within its grace, then runs the newest", () =>
    Effect.gen(function* () {
      const { sup, waitFor, events } = yield* setup({ grace: "5 seconds" })
      const log: Array<string> = []
      // The owner's finalizer takes 300 ms: it stops well within its grace.
      const a = yield* sup.submit(
        logged(
          log,
          "a",
          Effect.andThen(
            Effect.addFinalizer(() => Effect.sleep("300 millis")),
            Effect.never
          )
        ),
        { slot: "s", admission: "queue" }
      )
      yield* TestTime.adjust("100 millis")
      const b = yield* sup.submit(logged(log, "b"), { slot: "s", admission: "replace" })
      expect(yield* sup.slots).toEqual([slotInfo("s", "terminating", a, 1)])
      expect((yield* sup.list).map((i) => [i.name, i.state])).toEqual([["a", "stopping"]])
      const stop = yield* waitFor("TaskRemoveRequested")
      expect(unseq(stop)).toEqual({
        _tag: "TaskRemoveRequested",
        at: 100,
        id: a.id,
        task: "a",
        path: "root/a",
        reason: "replace"
      })
      const terminating = yield* waitFor("SlotTransition", (e) => e.to === "terminating")
      expect(unseq(terminating)).toEqual({
        _tag: "SlotTransition",
        at: 100,
        path: "root",
        slot: "s",
        from: "running",
        to: "terminating",
        owner: "a",
        queued: 1,
        reason: "replace"
      })
      yield* TestTime.adjust("299 millis")
      expect(yield* a.poll).toEqual(Option.none())
      expect(log).toEqual(["a@0"])
      yield* TestTime.adjust("1 millis")
      expect(yield* a.poll).toEqual(Option.some(stoppedBy("replace")))
      expect(log).toEqual(["a@0", "b@400"])
      expect(yield* sup.slots).toEqual([slotInfo("s", "running", b, 0)])
      expect((yield* sup.list).map((i) => [i.id, i.name, i.state])).toEqual([[b.id, "b", "running"]])
      yield* waitFor("AttemptStarting", (e) => e.task === "b")
      const all = yield* events
      expect(slotTrace(all)).toEqual([
        "0 submitted a s queue",
        "0 s idle->running owner=a queued=0 (admitted)",
        "100 submitted b s replace",
        "100 stop a (replace)",
        "100 s running->terminating owner=a queued=1 (replace)",
        "400 s terminating->running owner=b queued=0 (admitted)"
      ])
      const canceled = all.find((e) => e._tag === "AttemptCanceled")
      expect(canceled).toMatchObject({ task: "a", at: 400, durationMs: 400, reason: "stopped by replace" })
      const finished = all.find((e) => e._tag === "TaskFinished")
      expect(finished).toMatchObject({ task: "a", at: 400, outcome: "Canceled", reason: "stopped by replace" })
    })
  )

  it.effect("replace displaces the queued head (SupersededByReplace); the submissions behind it stay", () =>
    Effect.gen(function* () {
      const { sup, waitFor, events } = yield* setup()
      const log: Array<string> = []
      const gate = yield* Deferred.make<void>()
      const a = yield* sup.submit(logged(log, "a"), { slot: "s", admission: "queue" })
      const b = yield* sup.submit(logged(log, "b"), { slot: "s", admission: "queue" })
      const c = yield* sup.submit(gated(log, "c", gate), { slot: "s", admission: "queue" })
      const d = yield* sup.submit(logged(log, "d", Effect.void), { slot: "s", admission: "replace" })
      expect(yield* b.poll).toEqual(Option.some(superseded("s")))
      expect(yield* sup.slots).toEqual([slotInfo("s", "terminating", a, 2)])
      const rejection = yield* waitFor("SlotRejected")
      expect(unseq(rejection)).toEqual({
        _tag: "SlotRejected",
        at: 0,
        id: b.id,
        task: "b",
        path: "root/b",
        slot: "s",
        kind: "SupersededByReplace",
        reason: `replaced by a newer submission to slot "s"`
      })
      expect(yield* a.await).toEqual(stoppedBy("replace"))
      // The replacement took the head's place: it runs before "c", which kept its place.
      expect(yield* d.await).toEqual(completed)
      yield* waitFor("AttemptStarting", (e) => e.task === "c")
      expect(yield* sup.slots).toEqual([slotInfo("s", "running", c, 0)])
      yield* Deferred.succeed(gate, undefined)
      expect(yield* c.await).toEqual(completed)
      expect(log).toEqual(["d@0", "c@0"])
      // Effect 4 resumes `await` at once: the slot frees when c's fiber exits, a step later.
      yield* waitFor("SlotTransition", (e) => e.to === "idle")
      expect(slotTrace(yield* events)).toEqual([
        "0 submitted a s queue",
        "0 s idle->running owner=a queued=0 (admitted)",
        "0 submitted b s queue",
        "0 submitted c s queue",
        "0 submitted d s replace",
        "0 rejected b SupersededByReplace",
        "0 stop a (replace)",
        "0 s running->terminating owner=a queued=2 (replace)",
        "0 s terminating->running owner=d queued=1 (admitted)",
        "0 s running->running owner=c queued=0 (admitted)",
        "0 s running->idle owner=- queued=0 (owner exited)"
      ])
      // The owner never ran: it was stopped before its fiber took its first step.
      expect(log.includes("a@0")).toBe(false)
    })
  )

  it.effect("a replace while the slot is already terminating displaces the pending replacement only", () =>
    Effect.gen(function* () {
      const { sup, waitFor, events } = yield* setup()
      const log: Array<string> = []
      const started = yield* Deferred.make<void>()
      // The owner's finalizer takes 1 s.
      const a = yield* sup.submit(Task.once("a", slowToStop(started)), { slot: "s", admission: "queue" })
      yield* Deferred.await(started)
      const b = yield* sup.submit(logged(log, "b"), { slot: "s", admission: "replace" })
      yield* TestTime.adjust("400 millis")
      expect(yield* sup.slots).toEqual([slotInfo("s", "terminating", a, 1)])
      const c = yield* sup.submit(logged(log, "c"), { slot: "s", admission: "replace" })
      expect(yield* b.poll).toEqual(Option.some(superseded("s")))
      // Still terminating, one queued (the newest); the owner is not asked again.
      expect(yield* sup.slots).toEqual([slotInfo("s", "terminating", a, 1)])
      yield* TestTime.adjust("599 millis")
      expect(yield* a.poll).toEqual(Option.none())
      expect(log).toEqual([])
      yield* TestTime.adjust("1 millis")
      expect(yield* a.poll).toEqual(Option.some(stoppedBy("replace")))
      expect(log).toEqual(["c@1000"])
      expect(yield* sup.slots).toEqual([slotInfo("s", "running", c, 0)])
      yield* waitFor("AttemptStarting", (e) => e.task === "c")
      expect(slotTrace(yield* events)).toEqual([
        "0 submitted a s queue",
        "0 s idle->running owner=a queued=0 (admitted)",
        "0 submitted b s replace",
        "0 stop a (replace)",
        "0 s running->terminating owner=a queued=1 (replace)",
        "400 submitted c s replace",
        "400 rejected b SupersededByReplace",
        "1000 s terminating->running owner=c queued=0 (admitted)"
      ])
    })
  )

  // Only a replace that claims the owner's stop marks the slot "terminating": an owner already
  // stopping for a remove keeps the slot "running" (and keeps its stop reason) until its fiber exits.
  it.effect("a replace of an owner already stopping for a remove: queued behind it, the slot stays running", () =>
    Effect.gen(function* () {
      const { sup, waitFor, events } = yield* setup()
      const log: Array<string> = []
      const started = yield* Deferred.make<void>()
      const a = yield* sup.submit(Task.once("a", slowToStop(started)), { slot: "s", admission: "queue" })
      yield* Deferred.await(started)
      expect(yield* sup.remove("a")).toBe(true)
      yield* TestTime.adjust("200 millis")
      const r = yield* sup.submit(logged(log, "r"), { slot: "s", admission: "replace" })
      expect(yield* sup.slots).toEqual([slotInfo("s", "running", a, 1)])
      yield* TestTime.adjust("799 millis")
      expect(log).toEqual([])
      yield* TestTime.adjust("1 millis")
      expect(yield* a.poll).toEqual(Option.some(stoppedBy("remove")))
      expect(log).toEqual(["r@1000"])
      expect(yield* sup.slots).toEqual([slotInfo("s", "running", r, 0)])
      yield* waitFor("AttemptStarting", (e) => e.task === "r")
      expect(slotTrace(yield* events)).toEqual([
        "0 submitted a s queue",
        "0 s idle->running owner=a queued=0 (admitted)",
        "0 stop a (remove)",
        "200 submitted r s replace",
        "1000 s running->running owner=r queued=0 (admitted)"
      ])
    })
  )

  it.effect("a replacement never gets QueueFull: with a full queue it displaces the head", () =>
    Effect.gen(function* () {
      const { sup } = yield* setup({ maxSlotQueue: 1 })
      const log: Array<string> = []
      const a = yield* sup.submit(logged(log, "a"), { slot: "s", admission: "queue" })
      const b = yield* sup.submit(logged(log, "b"), { slot: "s", admission: "queue" })
      const c = yield* sup.submit(logged(log, "c"), { slot: "s", admission: "queue" })
      expect(yield* c.poll).toEqual(Option.some(queueFull("s", 1)))
      const d = yield* sup.submit(logged(log, "d"), { slot: "s", admission: "replace" })
      expect(yield* b.poll).toEqual(Option.some(superseded("s")))
      expect(yield* d.poll).toEqual(Option.none())
      expect(yield* sup.slots).toEqual([slotInfo("s", "terminating", a, 1)])
      expect(yield* a.await).toEqual(stoppedBy("replace"))
      yield* flush
      expect(log).toEqual(["d@0"])
      expect(yield* sup.slots).toEqual([slotInfo("s", "running", d, 0)])
    })
  )

  it.effect("maxSlotQueue 0: a replace is still taken (it waits as the head of an otherwise refused queue)", () =>
    Effect.gen(function* () {
      const { sup } = yield* setup({ maxSlotQueue: 0 })
      const log: Array<string> = []
      const a = yield* sup.submit(logged(log, "a"), { slot: "s", admission: "queue" })
      const b = yield* sup.submit(logged(log, "b"), { slot: "s", admission: "replace" })
      expect(yield* sup.slots).toEqual([slotInfo("s", "terminating", a, 1)])
      expect(yield* a.await).toEqual(stoppedBy("replace"))
      yield* flush
      expect(log).toEqual(["b@0"])
      expect(yield* sup.slots).toEqual([slotInfo("s", "running", b, 0)])
    })
  )
})

describe("Controller: drop-if-running", () => {
  it.effect("refused with SlotBusy while the slot is running and while it is terminating; admitted once idle", () =>
    Effect.gen(function* () {
      const { sup, waitFor, events } = yield* setup()
      const log: Array<string> = []
      const started = yield* Deferred.make<void>()
      const a = yield* sup.submit(Task.once("a", slowToStop(started)), { slot: "s", admission: "queue" })
      yield* Deferred.await(started)
      const b = yield* sup.submit(logged(log, "b"), { slot: "s", admission: "drop-if-running" })
      expect(yield* b.poll).toEqual(Option.some(busy("s")))
      const rejection = yield* waitFor("SlotRejected")
      expect(unseq(rejection)).toEqual({
        _tag: "SlotRejected",
        at: 0,
        id: b.id,
        task: "b",
        path: "root/b",
        slot: "s",
        kind: "SlotBusy",
        reason: `slot "s" is busy`
      })
      // A replace puts the slot in "terminating" with its replacement queued.
      const r = yield* sup.submit(logged(log, "r", Effect.void), { slot: "s", admission: "replace" })
      yield* TestTime.adjust("500 millis")
      const c = yield* sup.submit(logged(log, "c"), { slot: "s", admission: "drop-if-running" })
      expect(yield* c.poll).toEqual(Option.some(busy("s")))
      expect(yield* sup.slots).toEqual([slotInfo("s", "terminating", a, 1)])
      yield* TestTime.adjust("500 millis")
      expect(yield* a.poll).toEqual(Option.some(stoppedBy("replace")))
      // "r" runs and completes at 1000: the slot is idle again.
      expect(yield* r.await).toEqual(completed)
      expect(yield* sup.slots).toEqual([])
      const d = yield* sup.submit(logged(log, "d"), { slot: "s", admission: "drop-if-running" })
      expect(yield* d.poll).toEqual(Option.none())
      expect(yield* sup.slots).toEqual([slotInfo("s", "running", d, 0)])
      yield* waitFor("AttemptStarting", (e) => e.task === "d")
      expect(log).toEqual(["r@1000", "d@1000"])
      expect(slotTrace(yield* events)).toEqual([
        "0 submitted a s queue",
        "0 s idle->running owner=a queued=0 (admitted)",
        "0 submitted b s drop-if-running",
        "0 rejected b SlotBusy",
        "0 submitted r s replace",
        "0 stop a (replace)",
        "0 s running->terminating owner=a queued=1 (replace)",
        "500 submitted c s drop-if-running",
        "500 rejected c SlotBusy",
        "1000 s terminating->running owner=r queued=0 (admitted)",
        "1000 s running->idle owner=- queued=0 (owner exited)",
        "1000 submitted d s drop-if-running",
        "1000 s idle->running owner=d queued=0 (admitted)"
      ])
    })
  )
})

describe("Controller: a slot frees only when its owner's fiber has exited", () => {
  it.effect(
    "an owner stuck past its grace is ForceAborted at exactly its grace; the successor starts when its fiber exits",
    () =>
      Effect.gen(function* () {
        const { sup, waitFor, events } = yield* setup({ grace: "10 seconds" })
        const log: Array<string> = []
        const started = yield* Deferred.make<void>()
        const release = yield* Deferred.make<void>()
        const a = yield* sup.submit(
          Task.once(
            "a",
            Effect.uninterruptible(Effect.andThen(Deferred.succeed(started, undefined), Deferred.await(release)))
          ).pipe(Task.withGrace("2 seconds")),
          { slot: "s", admission: "queue" }
        )
        yield* Deferred.await(started)
        const b = yield* sup.submit(logged(log, "b"), { slot: "s", admission: "replace" })
        yield* TestTime.adjust("1999 millis")
        expect(yield* a.poll).toEqual(Option.none())
        yield* TestTime.adjust("1 millis")
        expect(yield* a.poll).toEqual(
          Option.some(new TaskOutcome.ForceAborted({ reason: "did not stop within its grace of 2000 ms" }))
        )
        // Abandoned, but its fiber still runs: it keeps the slot (and its name).
        expect(yield* sup.slots).toEqual([slotInfo("s", "terminating", a, 1)])
        expect((yield* sup.list).map((i) => [i.id, i.name, i.state])).toEqual([[a.id, "a", "stopping"]])
        expect(yield* b.poll).toEqual(Option.none())
        const c = yield* sup.submit(logged(log, "c"), { slot: "s", admission: "drop-if-running" })
        expect(yield* c.poll).toEqual(Option.some(busy("s")))

        yield* TestTime.adjust("3 seconds")
        expect(log).toEqual([])
        expect(yield* sup.slots).toEqual([slotInfo("s", "terminating", a, 1)])
        yield* Deferred.succeed(release, undefined)
        yield* waitFor("AttemptStarting", (e) => e.task === "b")
        expect(log).toEqual(["b@5000"])
        expect(yield* sup.slots).toEqual([slotInfo("s", "running", b, 0)])
        expect((yield* sup.list).map((i) => [i.id, i.name])).toEqual([[b.id, "b"]])
        // The outcome stays ForceAborted (decided at 2000).
        expect(yield* a.await).toEqual(
          new TaskOutcome.ForceAborted({ reason: "did not stop within its grace of 2000 ms" })
        )
        const all = yield* events
        expect(slotTrace(all)).toEqual([
          "0 submitted a s queue",
          "0 s idle->running owner=a queued=0 (admitted)",
          "0 submitted b s replace",
          "0 stop a (replace)",
          "0 s running->terminating owner=a queued=1 (replace)",
          "2000 submitted c s drop-if-running",
          "2000 rejected c SlotBusy",
          "5000 s terminating->running owner=b queued=0 (admitted)"
        ])
        expect(all.filter((e) => "task" in e && e.task === "a").map((e) => `${e.at} ${e._tag}`)).toEqual([
          "0 SlotSubmitted",
          "0 TaskAdded",
          "0 AttemptStarting",
          "0 TaskRemoveRequested",
          "2000 TaskFinished",
          "5000 AttemptCanceled",
          "5000 TaskRemoved"
        ])
      })
  )

  it.effect("grace 0: a replace abandons the owner at once, but its successor still waits for its fiber", () =>
    Effect.gen(function* () {
      const { sup } = yield* setup({ grace: 0 })
      const log: Array<string> = []
      const started = yield* Deferred.make<void>()
      const a = yield* sup.submit(Task.once("a", slowToStop(started)), { slot: "s", admission: "queue" })
      yield* Deferred.await(started)
      const b = yield* sup.submit(logged(log, "b"), { slot: "s", admission: "replace" })
      expect(yield* a.poll).toEqual(
        Option.some(new TaskOutcome.ForceAborted({ reason: "did not stop within its grace of 0 ms" }))
      )
      expect(yield* sup.slots).toEqual([slotInfo("s", "terminating", a, 1)])
      yield* TestTime.adjust("999 millis")
      expect(log).toEqual([])
      yield* TestTime.adjust("1 millis")
      expect(log).toEqual(["b@1000"])
      expect(yield* sup.slots).toEqual([slotInfo("s", "running", b, 0)])
    })
  )
})

describe("Controller: the taskvisor race (drop-if-running right after the owner's outcome)", () => {
  // taskvisor 0.9 documents that a DropIfRunning submitted right after the owner's watched
  // `Completed` may still get SlotBusy (its slot frees just after the outcome is delivered). Here the
  // outcome is decided and the slot released in one synchronous step (the fiber's exit observer
  // settles the outcome, removes the entry, then hands the slot on), and the fiber awaiting the
  // handle resumes only on a later scheduler turn: the drop-if-running is always admitted.
  it.effect("after the owner's Completed is observed, an immediate drop-if-running is admitted", () =>
    Effect.gen(function* () {
      const { sup } = yield* setup()
      const log: Array<string> = []
      const gate = yield* Deferred.make<void>()
      const a = yield* sup.submit(gated(log, "job", gate), { admission: "queue" })
      yield* flush
      yield* Deferred.succeed(gate, undefined)
      expect(yield* a.await).toEqual(completed)
      const b = yield* sup.submit(logged(log, "job"), { admission: "drop-if-running" })
      expect(yield* b.poll).toEqual(Option.none())
      expect(yield* sup.slots).toEqual([slotInfo("job", "running", b, 0)])
      yield* flush
      expect(log).toEqual(["job@0", "job@0"])
    })
  )

  // The other side: an abandoned owner's outcome (ForceAborted) is observed while its fiber still
  // runs, so a drop-if-running right after it is refused: the slot frees only on physical exit.
  it.effect("after an abandoned owner's ForceAborted is observed, drop-if-running is still refused", () =>
    Effect.gen(function* () {
      const { sup } = yield* setup({ grace: "1 second" })
      const started = yield* Deferred.make<void>()
      const release = yield* Deferred.make<void>()
      const a = yield* sup.submit(
        Task.once(
          "job",
          Effect.uninterruptible(Effect.andThen(Deferred.succeed(started, undefined), Deferred.await(release)))
        ),
        { admission: "queue" }
      )
      yield* Deferred.await(started)
      const canceling = yield* Effect.forkChild(sup.cancel("job"))
      yield* TestTime.adjust("1 second")
      expect(yield* Fiber.join(canceling)).toBe(true)
      expect((yield* a.await)._tag).toBe("ForceAborted")
      const b = yield* sup.submit(Task.once("other", Effect.never), { slot: "job", admission: "drop-if-running" })
      expect(yield* b.poll).toEqual(Option.some(busy("job")))
      // Removing via cancel does not mark the slot terminating (only replace does).
      expect(yield* sup.slots).toEqual([slotInfo("job", "running", a, 0)])
      yield* Deferred.succeed(release, undefined)
      yield* flush
      expect(yield* sup.slots).toEqual([])
      const c = yield* sup.submit(Task.once("other", Effect.never), { slot: "job", admission: "drop-if-running" })
      expect(yield* c.poll).toEqual(Option.none())
    })
  )
})

describe("Controller: remove and cancel", () => {
  it.effect("remove / cancel of queued submissions by id and by name: RemovedFromQueue, never started", () =>
    Effect.gen(function* () {
      const { sup, waitFor, events } = yield* setup()
      const log: Array<string> = []
      const gate = yield* Deferred.make<void>()
      const owner = yield* sup.submit(gated(log, "owner", gate), { slot: "s", admission: "queue" })
      const q = yield* Effect.forEach(["q1", "q2", "q3", "q4", "q5"], (name) =>
        sup.submit(logged(log, name, Effect.void), { slot: "s", admission: "queue" })
      )
      expect(yield* sup.slots).toEqual([slotInfo("s", "running", owner, 5)])
      expect(yield* sup.remove(q[0].id)).toBe(true)
      expect(yield* sup.remove("q2")).toBe(true)
      expect(yield* sup.cancel(q[2].id)).toBe(true)
      expect(yield* sup.cancel("q4")).toBe(true)
      for (const h of q.slice(0, 4)) expect(yield* h.poll).toEqual(Option.some(removedFromQueue))
      expect(yield* sup.slots).toEqual([slotInfo("s", "running", owner, 1)])
      // Gone from the queue: a second removal finds nothing.
      expect(yield* sup.remove(q[0].id)).toBe(false)
      expect(yield* sup.remove("q2")).toBe(false)
      expect(yield* sup.cancel(q[2].id)).toBe(false)
      const rejection = yield* waitFor("SlotRejected")
      expect(unseq(rejection)).toEqual({
        _tag: "SlotRejected",
        at: 0,
        id: q[0].id,
        task: "q1",
        path: "root/q1",
        slot: "s",
        kind: "RemovedFromQueue",
        reason: "removed before it started"
      })
      yield* Deferred.succeed(gate, undefined)
      expect(yield* q[4].await).toEqual(completed)
      expect(log).toEqual(["owner@0", "q5@0"])
      expect(slotTrace(yield* events).filter((line) => line.includes("rejected"))).toEqual([
        "0 rejected q1 RemovedFromQueue",
        "0 rejected q2 RemovedFromQueue",
        "0 rejected q3 RemovedFromQueue",
        "0 rejected q4 RemovedFromQueue"
      ])
    })
  )

  it.effect("remove / cancel find a queued submission in any slot", () =>
    Effect.gen(function* () {
      const { sup } = yield* setup()
      const log: Array<string> = []
      const s1 = yield* sup.submit(logged(log, "s1"), { slot: "s", admission: "queue" })
      const s2 = yield* sup.submit(logged(log, "s2"), { slot: "s", admission: "queue" })
      const t1 = yield* sup.submit(logged(log, "t1"), { slot: "t", admission: "queue" })
      const t2 = yield* sup.submit(logged(log, "t2"), { slot: "t", admission: "queue" })
      const t3 = yield* sup.submit(logged(log, "t3"), { slot: "t", admission: "queue" })
      expect(yield* sup.remove(t2.id)).toBe(true)
      expect(yield* sup.cancel("t3")).toBe(true)
      expect(yield* t2.poll).toEqual(Option.some(removedFromQueue))
      expect(yield* t3.poll).toEqual(Option.some(removedFromQueue))
      expect(yield* s2.poll).toEqual(Option.none())
      expect(yield* sup.slots).toEqual([slotInfo("s", "running", s1, 1), slotInfo("t", "running", t1, 0)])
      // Unknown ids and names: false, nothing changes.
      expect(yield* sup.remove("nobody")).toBe(false)
      expect(yield* sup.cancel("nobody")).toBe(false)
      expect(yield* sup.slots).toEqual([slotInfo("s", "running", s1, 1), slotInfo("t", "running", t1, 0)])
    })
  )

  it.effect("remove by a name a registered task has stops that task, not the queued submission", () =>
    Effect.gen(function* () {
      const { sup, waitFor, events } = yield* setup()
      const log: Array<string> = []
      // Same task name, default slot: the owner "job" and a queued "job".
      const owner = yield* sup.submit(logged(log, "job"), { admission: "queue" })
      const next = yield* sup.submit(logged(log, "job"), { admission: "queue" })
      yield* flush
      expect(yield* sup.remove("job")).toBe(true)
      // A remove does not mark the slot terminating (only replace does).
      expect(yield* sup.slots).toEqual([slotInfo("job", "running", owner, 1)])
      expect(yield* owner.await).toEqual(stoppedBy("remove"))
      yield* waitFor("AttemptStarting", (e) => e.id === next.id)
      expect(yield* next.poll).toEqual(Option.none())
      expect(log).toEqual(["job@0", "job@0"])
      expect(yield* sup.slots).toEqual([slotInfo("job", "running", next, 0)])
      expect((yield* sup.list).map((i) => i.id)).toEqual([next.id])
      expect(slotTrace(yield* events)).toEqual([
        "0 submitted job job queue",
        "0 job idle->running owner=job queued=0 (admitted)",
        "0 submitted job job queue",
        "0 stop job (remove)",
        "0 job running->running owner=job queued=0 (admitted)"
      ])
    })
  )

  it.effect("cancel of the running owner waits for it; the next queued one then starts", () =>
    Effect.gen(function* () {
      const { sup } = yield* setup()
      const log: Array<string> = []
      const a = yield* sup.submit(
        logged(
          log,
          "a",
          Effect.andThen(
            Effect.addFinalizer(() => Effect.sleep("700 millis")),
            Effect.never
          )
        ),
        { slot: "s", admission: "queue" }
      )
      const b = yield* sup.submit(logged(log, "b"), { slot: "s", admission: "queue" })
      yield* flush
      const canceling = yield* Effect.forkChild(sup.cancel(a.id))
      yield* TestTime.adjust("699 millis")
      expect(canceling.pollUnsafe()).toBeUndefined()
      expect(log).toEqual(["a@0"])
      yield* TestTime.adjust("1 millis")
      expect(yield* Fiber.join(canceling)).toBe(true)
      expect(yield* a.poll).toEqual(Option.some(stoppedBy("cancel")))
      expect(log).toEqual(["a@0", "b@700"])
      expect(yield* sup.slots).toEqual([slotInfo("s", "running", b, 0)])
    })
  )
})

describe("Controller: shutdown", () => {
  it.effect("shutdown rejects queued work with ShuttingDown and stops the owner; a later submit fails", () =>
    Effect.gen(function* () {
      const { sup, waitFor, events } = yield* setup({ grace: "5 seconds" })
      const log: Array<string> = []
      const started = yield* Deferred.make<void>()
      const a = yield* sup.submit(logged(log, "a", slowToStop(started)), { slot: "s", admission: "queue" })
      yield* Deferred.await(started)
      const b = yield* sup.submit(logged(log, "b"), { slot: "s", admission: "queue" })
      const c = yield* sup.submit(logged(log, "c"), { slot: "s", admission: "replace" })
      const other = yield* sup.submit(logged(log, "other"), { admission: "queue" })
      yield* flush
      expect(yield* sup.slots).toEqual([slotInfo("s", "terminating", a, 1), slotInfo("other", "running", other, 0)])
      expect(yield* b.poll).toEqual(Option.some(superseded("s")))
      yield* TestTime.adjust("200 millis")
      const shutdown = yield* Effect.forkChild(sup.shutdown)
      yield* flush
      expect(yield* c.poll).toEqual(Option.some(shuttingDown))
      expect(yield* a.poll).toEqual(Option.none())
      expect(yield* sup.slots).toEqual([slotInfo("s", "terminating", a, 0)])
      const error = yield* failure(sup.submit(logged(log, "late"), { slot: "s", admission: "queue" }))
      expect(error).toEqual(new SupervisorError.SupervisorShuttingDown())
      const error2 = yield* failure(sup.submit(logged(log, "late"), { admission: "drop-if-running" }))
      expect(error2).toEqual(new SupervisorError.SupervisorShuttingDown())
      yield* TestTime.adjust("800 millis")
      expect(yield* Fiber.await(shutdown)).toEqual(Exit.void)
      // "a" was already stopping for the replace: it keeps that reason.
      expect(yield* a.poll).toEqual(Option.some(stoppedBy("replace")))
      expect(yield* other.poll).toEqual(Option.some(stoppedBy("shutdown")))
      expect(log).toEqual(["a@0", "other@0"])
      expect(yield* sup.slots).toEqual([])
      expect(yield* sup.list).toEqual([])
      yield* waitFor("AllStoppedWithinGrace")
      const all = yield* events
      expect(slotTrace(all)).toEqual([
        "0 submitted a s queue",
        "0 s idle->running owner=a queued=0 (admitted)",
        "0 submitted b s queue",
        "0 submitted c s replace",
        "0 rejected b SupersededByReplace",
        "0 stop a (replace)",
        "0 s running->terminating owner=a queued=1 (replace)",
        "0 submitted other other queue",
        "0 other idle->running owner=other queued=0 (admitted)",
        "200 rejected c ShuttingDown",
        "200 stop other (shutdown)",
        "200 other running->idle owner=- queued=0 (owner exited)",
        "1000 s terminating->idle owner=- queued=0 (owner exited)"
      ])
      const rejection = all.find((e) => e._tag === "SlotRejected" && e.kind === "ShuttingDown")
      expect(rejection && unseq(rejection)).toEqual({
        _tag: "SlotRejected",
        at: 200,
        id: c.id,
        task: "c",
        path: "root/c",
        slot: "s",
        kind: "ShuttingDown",
        reason: "the supervisor is shutting down"
      })
      // No SlotSubmitted for the refused late submissions.
      expect(all.filter((e) => e._tag === "SlotSubmitted").map((e) => e.task)).toEqual(["a", "b", "c", "other"])
    })
  )

  it.effect("shutdown with a plain queue: every queued handle resolves ShuttingDown, the owner Canceled", () =>
    Effect.gen(function* () {
      const { sup } = yield* setup()
      const log: Array<string> = []
      const a = yield* sup.submit(logged(log, "a"), { slot: "s", admission: "queue" })
      const queued = yield* Effect.forEach(["b", "c", "d"], (name) =>
        sup.submit(logged(log, name), { slot: "s", admission: "queue" })
      )
      yield* flush
      yield* sup.shutdown
      expect(yield* a.await).toEqual(stoppedBy("shutdown"))
      for (const h of queued) expect(yield* h.await).toEqual(shuttingDown)
      expect(log).toEqual(["a@0"])
      expect(yield* sup.slots).toEqual([])
    })
  )
})

describe("Controller: name collisions", () => {
  it.effect("a queued submission whose name was taken meanwhile is rejected AlreadyExists; the next one starts", () =>
    Effect.gen(function* () {
      const { sup, waitFor, events } = yield* setup()
      const log: Array<string> = []
      const gate = yield* Deferred.make<void>()
      const a = yield* sup.submit(gated(log, "a", gate), { slot: "s", admission: "queue" })
      const x = yield* sup.submit(logged(log, "x"), { slot: "s", admission: "queue" })
      const c = yield* sup.submit(logged(log, "c"), { slot: "s", admission: "queue" })
      // Queued submissions do not hold their name: `add` takes it.
      const added = yield* sup.add(Task.make("x", Effect.never))
      yield* flush
      yield* Deferred.succeed(gate, undefined)
      expect(yield* a.await).toEqual(completed)
      expect(yield* x.poll).toEqual(Option.some(rejected("AlreadyExists", `a task named "x" already exists`)))
      yield* waitFor("AttemptStarting", (e) => e.task === "c")
      expect(log).toEqual(["a@0", "c@0"])
      expect(yield* sup.slots).toEqual([slotInfo("s", "running", c, 0)])
      // `list` is in id order: c's id was reserved when it was submitted, before x was added.
      expect((yield* sup.list).map((i) => i.id)).toEqual([c.id, added.id])
      const all = yield* events
      expect(slotTrace(all)).toEqual([
        "0 submitted a s queue",
        "0 s idle->running owner=a queued=0 (admitted)",
        "0 submitted x s queue",
        "0 submitted c s queue",
        "0 rejected x AlreadyExists",
        "0 s running->running owner=c queued=0 (admitted)"
      ])
      const rejection = all.find((e) => e._tag === "SlotRejected")
      expect(rejection && unseq(rejection)).toEqual({
        _tag: "SlotRejected",
        at: 0,
        id: x.id,
        task: "x",
        path: "root/x",
        slot: "s",
        kind: "AlreadyExists",
        reason: `a task named "x" already exists`
      })
    })
  )

  it.effect("a submission to an idle slot whose name is taken is rejected AlreadyExists at once", () =>
    Effect.gen(function* () {
      const { sup } = yield* setup()
      const log: Array<string> = []
      const added = yield* sup.add(Task.make("x", Effect.never))
      const x = yield* sup.submit(logged(log, "x"), { slot: "t", admission: "queue" })
      expect(yield* x.poll).toEqual(Option.some(rejected("AlreadyExists", `a task named "x" already exists`)))
      expect(yield* sup.slots).toEqual([])
      expect((yield* sup.list).map((i) => i.id)).toEqual([added.id])
      // The rejected submission left nothing behind: the slot takes the next one.
      const y = yield* sup.submit(logged(log, "y"), { slot: "t", admission: "drop-if-running" })
      expect(yield* sup.slots).toEqual([slotInfo("t", "running", y, 0)])
      yield* flush
      expect(log).toEqual(["y@0"])
    })
  )
})

describe("Controller: an owner keeps its slot across its restarts", () => {
  it.effect("a failing owner keeps the slot through its backoff; a replace during the backoff stops it", () =>
    Effect.gen(function* () {
      const { sup, waitFor, events } = yield* setup()
      const log: Array<string> = []
      const a = yield* sup.submit(
        Task.make(
          "a",
          script(
            logStart(log, "a", Effect.fail(TaskError.fail("boom"))),
            logStart(log, "a", Effect.fail(TaskError.fail("boom")))
          ),
          { restart: RestartPolicy.onFailure, backoff: Backoff.constant("1 second") }
        ),
        { slot: "s", admission: "queue" }
      )
      const b = yield* sup.submit(logged(log, "b"), { slot: "s", admission: "queue" })
      yield* TestTime.adjust("1 second")
      // Attempt 2 started at 1000 and failed again; the owner backs off until 2000, still owning the slot.
      expect(log).toEqual(["a@0", "a@1000"])
      expect(yield* sup.slots).toEqual([slotInfo("s", "running", a, 1)])
      expect((yield* sup.list).map((i) => [i.id, i.state, i.attempt])).toEqual([[a.id, "backing-off", 2]])
      yield* TestTime.adjust("500 millis")
      const c = yield* sup.submit(logged(log, "c"), { slot: "s", admission: "replace" })
      expect(yield* b.poll).toEqual(Option.some(superseded("s")))
      expect(yield* a.await).toEqual(stoppedBy("replace"))
      yield* waitFor("AttemptStarting", (e) => e.task === "c")
      expect(log).toEqual(["a@0", "a@1000", "c@1500"])
      expect(yield* sup.slots).toEqual([slotInfo("s", "running", c, 0)])
      expect(slotTrace(yield* events)).toEqual([
        "0 submitted a s queue",
        "0 s idle->running owner=a queued=0 (admitted)",
        "0 submitted b s queue",
        "1500 submitted c s replace",
        "1500 rejected b SupersededByReplace",
        "1500 stop a (replace)",
        "1500 s running->terminating owner=a queued=1 (replace)",
        "1500 s terminating->running owner=c queued=0 (admitted)"
      ])
    })
  )

  // Under one-for-all / rest-for-one a failed owner waits for its group restart with its fiber
  // already exited: a replace ends it at once (`requestStop` -> `finalizeParked` -> `release`), which
  // hands the slot to the replacement inside `submit`. The slot must then be "running" with the
  // replacement (not "terminating"), or a later replace would never stop the replacement.
  it.effect("a replace of an owner waiting for its group restart: the replacement runs, the slot is running", () =>
    Effect.gen(function* () {
      const { sup } = yield* setup({ strategy: "one-for-all" })
      const log: Array<string> = []
      const a = yield* sup.submit(
        Task.make("a", logStart(log, "a", Effect.fail(TaskError.fail("boom"))), {
          restart: RestartPolicy.onFailure,
          backoff: Backoff.constant("1 second")
        }),
        { slot: "s", admission: "queue" }
      )
      yield* TestTime.adjust("500 millis")
      // Its first attempt failed at 0; its group restart waits for its 1 s backoff.
      expect(log).toEqual(["a@0"])
      expect(yield* sup.slots).toEqual([slotInfo("s", "running", a, 0)])
      const r1 = yield* sup.submit(logged(log, "r1"), { slot: "s", admission: "replace" })
      expect(yield* a.poll).toEqual(Option.some(stoppedBy("replace")))
      yield* flush
      expect(log).toEqual(["a@0", "r1@500"])
      const afterFirst = yield* sup.slots
      // A second replace must stop r1 and run r2.
      const r2 = yield* sup.submit(logged(log, "r2"), { slot: "s", admission: "replace" })
      yield* flush
      expect({ afterFirst, r1: yield* r1.poll, log, slots: yield* sup.slots }).toEqual({
        afterFirst: [slotInfo("s", "running", r1, 0)],
        r1: Option.some(stoppedBy("replace")),
        log: ["a@0", "r1@500", "r2@500"],
        slots: [slotInfo("s", "running", r2, 0)]
      })
    })
  )
})

describe("Controller: awaitEmpty", () => {
  // `awaitEmpty` resumes when no task is left without an outcome: queued submissions count, and the
  // count must not touch zero while the slot passes from one owner to the next.
  it.effect("awaitEmpty waits for queued submissions too", () =>
    Effect.gen(function* () {
      const { sup } = yield* setup()
      const log: Array<string> = []
      const gate = yield* Deferred.make<void>()
      const a = yield* sup.submit(gated(log, "a", gate), { slot: "s", admission: "queue" })
      const b = yield* sup.submit(logged(log, "b", Effect.sleep("1 second")), { slot: "s", admission: "queue" })
      const empty = yield* Effect.forkChild(sup.awaitEmpty)
      yield* flush
      yield* Deferred.succeed(gate, undefined)
      expect(yield* a.await).toEqual(completed)
      yield* flush
      expect(log).toEqual(["a@0", "b@0"])
      expect({ b: yield* b.poll, awaitEmpty: empty.pollUnsafe() }).toEqual({
        b: Option.none(),
        awaitEmpty: undefined
      })
      yield* TestTime.adjust("1 second")
      expect(yield* b.poll).toEqual(Option.some(completed))
      expect(yield* Fiber.await(empty)).toEqual(Exit.void)
    })
  )

  it.effect("awaitEmpty resumes once every queued submission is decided, whichever way", () =>
    Effect.gen(function* () {
      const { sup } = yield* setup({ maxSlotQueue: 3 })
      const log: Array<string> = []
      const gate = yield* Deferred.make<void>()
      const a = yield* sup.submit(gated(log, "a", gate), { slot: "s", admission: "queue" })
      const removed = yield* sup.submit(logged(log, "removed"), { slot: "s", admission: "queue" })
      const taken = yield* sup.submit(logged(log, "taken"), { slot: "s", admission: "queue" })
      const canceled = yield* sup.submit(logged(log, "canceled"), { slot: "s", admission: "queue" })
      const full = yield* sup.submit(logged(log, "full"), { slot: "s", admission: "queue" })
      const busy2 = yield* sup.submit(logged(log, "busy"), { slot: "s", admission: "drop-if-running" })
      expect(yield* sup.remove(removed.id)).toBe(true)
      expect(yield* sup.cancel("canceled")).toBe(true)
      const holder = yield* Deferred.make<void>()
      yield* sup.add(Task.once("taken", Deferred.await(holder)))
      const last = yield* sup.submit(logged(log, "last", Effect.sleep("1 second")), { slot: "s", admission: "queue" })
      const empty = yield* Effect.forkChild(sup.awaitEmpty)
      yield* flush
      yield* Deferred.succeed(gate, undefined)
      yield* flush
      expect(empty.pollUnsafe()).toBeUndefined()
      yield* TestTime.adjust("1 second")
      // "last" is done; the task holding the name "taken" still runs.
      expect(yield* last.poll).toEqual(Option.some(completed))
      expect(empty.pollUnsafe()).toBeUndefined()
      yield* Deferred.succeed(holder, undefined)
      expect(yield* Fiber.await(empty)).toEqual(Exit.void)
      expect(yield* a.poll).toEqual(Option.some(completed))
      expect(yield* canceled.poll).toEqual(Option.some(removedFromQueue))
      expect(yield* taken.poll).toEqual(Option.some(rejected("AlreadyExists", `a task named "taken" already exists`)))
      expect(yield* full.poll).toEqual(Option.some(queueFull("s", 3)))
      expect(yield* busy2.poll).toEqual(Option.some(busy("s")))
      expect(yield* last.poll).toEqual(Option.some(completed))
      expect(log).toEqual(["a@0", "last@0"])
    })
  )

  it.effect("awaitEmpty resumes after a shutdown rejected the queue", () =>
    Effect.gen(function* () {
      const { sup } = yield* setup()
      const a = yield* sup.submit(Task.once("a", Effect.never), { slot: "s", admission: "queue" })
      const b = yield* sup.submit(Task.once("b", Effect.never), { slot: "s", admission: "queue" })
      const c = yield* sup.submit(Task.once("c", Effect.never), { slot: "s", admission: "queue" })
      const empty = yield* Effect.forkChild(sup.awaitEmpty)
      yield* flush
      expect(empty.pollUnsafe()).toBeUndefined()
      yield* sup.shutdown
      expect(yield* Fiber.await(empty)).toEqual(Exit.void)
      expect(yield* a.poll).toEqual(Option.some(stoppedBy("shutdown")))
      expect(yield* b.poll).toEqual(Option.some(shuttingDown))
      expect(yield* c.poll).toEqual(Option.some(shuttingDown))
    })
  )
})

class Greeting extends Context.Service<Greeting, string>()("ControllerTest/Greeting") {}

describe("Controller: bad input", () => {
  const badOptions: ReadonlyArray<readonly [string, unknown, string, string]> = [
    ["missing options", undefined, "options", "must be an object { slot?, admission }, got undefined"],
    ["null options", null, "options", "must be an object { slot?, admission }, got null"],
    ["a string as options", "queue", "options", `must be an object { slot?, admission }, got "queue"`],
    ["admission missing", {}, "admission", `must be one of "queue", "replace", "drop-if-running", got undefined`],
    [
      "admission later",
      { admission: "later" },
      "admission",
      `must be one of "queue", "replace", "drop-if-running", got "later"`
    ],
    ["slot empty", { admission: "queue", slot: "" }, "slot", `must be a non-empty string, got ""`],
    ["slot blank", { admission: "replace", slot: "  " }, "slot", `must be a non-empty string, got "  "`],
    ["slot 3", { admission: "queue", slot: 3 }, "slot", "must be a non-empty string, got 3"]
  ]

  for (const [label, options, field, reason] of badOptions) {
    it.effect(`${label} → InvalidArgument (submit, ${field}); nothing is started or queued`, () =>
      Effect.gen(function* () {
        const { sup, events } = yield* setup()
        const log: Array<string> = []
        const owner = yield* sup.submit(logged(log, "owner"), { slot: "busy", admission: "queue" })
        for (const slotName of ["busy", "idle"]) {
          const opts =
            typeof options === "object" && options !== null && !("slot" in options)
              ? { ...options, slot: slotName }
              : options
          const error = yield* failure(sup.submit(logged(log, "bad"), opts as Supervisor.SubmitOptions))
          expect(error).toEqual(new SupervisorError.InvalidArgument({ operation: "submit", field, reason }))
        }
        yield* flush
        expect(log).toEqual(["owner@0"])
        expect(yield* sup.slots).toEqual([slotInfo("busy", "running", owner, 0)])
        expect((yield* sup.list).map((i) => i.id)).toEqual([owner.id])
        expect((yield* events).filter((e) => e._tag.startsWith("Slot")).map((e) => e._tag)).toEqual([
          "SlotSubmitted",
          "SlotTransition"
        ])
      })
    )
  }

  it.effect("a bad task spec → InvalidTaskSpec; nothing is started or queued", () =>
    Effect.gen(function* () {
      const { sup, events } = yield* setup()
      const log: Array<string> = []
      const owner = yield* sup.submit(logged(log, "owner"), { slot: "busy", admission: "queue" })
      for (const admission of admissions) {
        for (const slot of ["busy", "idle", undefined]) {
          expect(
            yield* failure(
              sup.submit(Task.make("job", logStart(log, "job", Effect.void), { maxRetries: -1 }), { slot, admission })
            )
          ).toEqual(
            new SupervisorError.InvalidTaskSpec({
              task: "job",
              field: "maxRetries",
              reason: "must be a non-negative integer (or undefined for unlimited), got -1"
            })
          )
          expect(
            yield* failure(sup.submit(Task.make(" ", logStart(log, "blank", Effect.void)), { slot, admission }))
          ).toEqual(
            new SupervisorError.InvalidTaskSpec({
              task: " ",
              field: "name",
              reason: `must be a non-empty string without "/", got " "`
            })
          )
        }
      }
      yield* flush
      expect(log).toEqual(["owner@0"])
      expect(yield* sup.slots).toEqual([slotInfo("busy", "running", owner, 0)])
      expect((yield* sup.list).map((i) => i.id)).toEqual([owner.id])
      expect((yield* events).filter((e) => e._tag.startsWith("Slot")).map((e) => e._tag)).toEqual([
        "SlotSubmitted",
        "SlotTransition"
      ])
    })
  )

  it.effect("bad options are reported before a bad task spec", () =>
    Effect.gen(function* () {
      const { sup } = yield* setup()
      const error = yield* failure(
        sup.submit(Task.make("", Effect.void), { admission: "later" } as unknown as Supervisor.SubmitOptions)
      )
      expect(error).toEqual(
        new SupervisorError.InvalidArgument({
          operation: "submit",
          field: "admission",
          reason: `must be one of "queue", "replace", "drop-if-running", got "later"`
        })
      )
    })
  )

  // The brief: `significant` under autoShutdown "never" is rejected with InvalidTaskSpec, by submit
  // as by add (submit does not emit TaskAddFailed: its refusals are errors of the submit itself).
  it.effect("a significant task under autoShutdown never is refused by submit as by add", () =>
    Effect.gen(function* () {
      const { sup } = yield* setup()
      const log: Array<string> = []
      const task = Task.make("sig", logStart(log, "sig", Effect.never), { significant: true })
      const expected = new SupervisorError.InvalidTaskSpec({
        task: "sig",
        field: "significant",
        reason: `cannot be set under a supervisor whose autoShutdown is "never"`
      })
      expect(yield* failure(sup.add(task))).toEqual(expected)
      expect(yield* failure(sup.submit(task, { admission: "queue" }))).toEqual(expected)
      // Also while the slot is busy (the spec is checked before the slot is looked at).
      const owner = yield* sup.submit(Task.once("sig", Effect.never), { admission: "queue" })
      expect(yield* failure(sup.submit(task, { admission: "replace" }))).toEqual(expected)
      expect(yield* sup.slots).toEqual([slotInfo("sig", "running", owner, 0)])
      yield* flush
      expect(log).toEqual([])
    })
  )

  it.effect(
    "a significant task is accepted under autoShutdown any-significant; ending by itself it stops the rest",
    () =>
      Effect.gen(function* () {
        const { sup } = yield* setup({ autoShutdown: "any-significant" })
        const log: Array<string> = []
        const gate = yield* Deferred.make<void>()
        const a = yield* sup.submit(
          Task.make("a", logStart(log, "a", Deferred.await(gate)), { restart: RestartPolicy.never, significant: true }),
          { slot: "s", admission: "queue" }
        )
        const b = yield* sup.submit(logged(log, "b"), { slot: "s", admission: "queue" })
        const other = yield* sup.submit(logged(log, "other"), { admission: "queue" })
        yield* flush
        yield* Deferred.succeed(gate, undefined)
        expect(yield* a.await).toEqual(completed)
        // The auto-shutdown rejects the queue before the slot could pass to "b".
        expect(yield* b.await).toEqual(shuttingDown)
        expect(yield* other.await).toEqual(stoppedBy("shutdown"))
        yield* sup.join
        expect(log).toEqual(["a@0", "other@0"])
        expect(yield* sup.slots).toEqual([])
      })
  )
})

describe("Controller: services and handles", () => {
  it.effect("submitted tasks run with the submitter's services, also when they start later from the queue", () =>
    Effect.gen(function* () {
      const { sup } = yield* setup()
      const seen: Array<string> = []
      const gate = yield* Deferred.make<void>()
      const greet = (name: string, then: Effect.Effect<void>) =>
        Task.once(
          name,
          Effect.flatMap(Greeting, (greeting) =>
            Effect.andThen(
              Effect.sync(() => seen.push(`${name}: ${greeting}`)),
              then
            )
          )
        )
      const a = yield* sup
        .submit(greet("a", Deferred.await(gate)), { slot: "s", admission: "queue" })
        .pipe(Effect.provideService(Greeting, "hello"))
      const b = yield* sup
        .submit(greet("b", Effect.void), { slot: "s", admission: "queue" })
        .pipe(Effect.provideService(Greeting, "bonjour"))
      yield* flush
      expect(seen).toEqual(["a: hello"])
      // A queued submission's handle: id and name reserved, no outcome yet, await waits.
      expect(b.name).toBe("b")
      expect(yield* b.poll).toEqual(Option.none())
      const waiting = yield* Effect.forkChild(b.await)
      yield* flush
      expect(waiting.pollUnsafe()).toBeUndefined()
      yield* Deferred.succeed(gate, undefined)
      expect(yield* Fiber.join(waiting)).toEqual(completed)
      expect(yield* a.poll).toEqual(Option.some(completed))
      expect(yield* b.poll).toEqual(Option.some(completed))
      expect(seen).toEqual(["a: hello", "b: bonjour"])
    })
  )

  it.effect("the id reserved at submission is the task's id once it runs (TaskContext, list)", () =>
    Effect.gen(function* () {
      const { sup } = yield* setup()
      const ids: Array<number> = []
      const gate = yield* Deferred.make<void>()
      const task = (name: string, then: Effect.Effect<void>) =>
        Task.once(
          name,
          Effect.flatMap(TaskContext.TaskContext, (ctx) =>
            Effect.andThen(
              Effect.sync(() => ids.push(ctx.id)),
              then
            )
          )
        )
      const a = yield* sup.submit(task("a", Deferred.await(gate)), { slot: "s", admission: "queue" })
      const b = yield* sup.submit(task("b", Effect.never), { slot: "s", admission: "queue" })
      expect(b.id).toBeGreaterThan(a.id)
      expect(yield* sup.get(b.id)).toEqual(Option.none())
      yield* Deferred.succeed(gate, undefined)
      yield* a.await
      yield* flush
      expect(ids).toEqual([a.id, b.id])
      expect(Option.map(yield* sup.get(b.id), (i) => i.name)).toEqual(Option.some("b"))
    })
  )

  it.effect("a rejected submission still has its own id and name", () =>
    Effect.gen(function* () {
      const { sup } = yield* setup()
      const a = yield* sup.submit(Task.once("a", Effect.never), { slot: "s", admission: "queue" })
      const b = yield* sup.submit(Task.once("b", Effect.never), { slot: "s", admission: "drop-if-running" })
      expect(b.name).toBe("b")
      expect(b.id).toBeGreaterThan(a.id)
      expect(yield* b.await).toEqual(busy("s"))
    })
  )
})

describe("Controller: the Supervisor.submit accessor", () => {
  it.effect("Supervisor.submit with Supervisor.layer", () =>
    Effect.gen(function* () {
      const log: Array<string> = []
      const gate = yield* Deferred.make<void>()
      const a = yield* Supervisor.submit(gated(log, "a", gate), { slot: "s", admission: "queue" })
      const b = yield* Supervisor.submit(logged(log, "b", Effect.void), { slot: "s", admission: "queue" })
      const c = yield* Supervisor.submit(logged(log, "c"), { slot: "s", admission: "queue" })
      const d = yield* Supervisor.submit(logged(log, "d"), { slot: "s", admission: "drop-if-running" })
      expect(yield* c.poll).toEqual(Option.some(queueFull("s", 1)))
      expect(yield* d.poll).toEqual(Option.some(busy("s")))
      const sup = yield* Supervisor.Supervisor
      expect(yield* sup.slots).toEqual([slotInfo("s", "running", a, 1)])
      const error = yield* failure(
        Supervisor.submit(logged(log, "e"), { admission: "soon" } as unknown as Supervisor.SubmitOptions)
      )
      expect(error).toEqual(
        new SupervisorError.InvalidArgument({
          operation: "submit",
          field: "admission",
          reason: `must be one of "queue", "replace", "drop-if-running", got "soon"`
        })
      )
      yield* Deferred.succeed(gate, undefined)
      expect(yield* b.await).toEqual(completed)
      expect(log).toEqual(["a@0", "b@0"])
      expect(yield* sup.slots).toEqual([])
    }).pipe(Effect.provide(Supervisor.layer({ maxSlotQueue: 1 })))
  )

  it.effect("Supervisor.layer refuses a bad maxSlotQueue", () =>
    Effect.gen(function* () {
      for (const maxSlotQueue of [-1, 1.5]) {
        const error = yield* failure(Effect.provide(Supervisor.Supervisor, Supervisor.layer({ maxSlotQueue })))
        expect(error).toEqual(
          new SupervisorError.InvalidSupervisorOptions({
            field: "maxSlotQueue",
            reason: `must be a non-negative integer, got ${maxSlotQueue}`
          })
        )
      }
    })
  )
})
