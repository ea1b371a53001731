import { describe, expect, it } from "@effect/vitest"
import { Clock, Deferred, Effect, Option } from "effect"
import { Task, TaskContext, TaskOutcome } from "@fibervisor/core"
import { TestTime } from "@fibervisor/vitest"
import { setup } from "../helpers/recorder.js"
import { flush } from "../helpers/tasks.js"
import { slotInfo } from "../helpers/controller.js"

const range = (n: number) => Array.from({ length: n }, (_, i) => i)

/** A task (never restarted) that records its id in `ran` when its attempt starts, then runs `body`. */
const recordsId = <R = never>(
  ran: Array<number>,
  name: string,
  body: Effect.Effect<void, never, R> = Effect.never as Effect.Effect<void, never, R>
) =>
  Task.once(
    name,
    Effect.flatMap(TaskContext.TaskContext, (ctx) =>
      Effect.andThen(
        Effect.sync(() => ran.push(ctx.id)),
        body
      )
    )
  )

describe("Controller storms", () => {
  it.effect("50 concurrent replaces on one slot: the first owner is Canceled, 48 superseded, the last one runs", () =>
    Effect.gen(function* () {
      const { sup, waitFor, events } = yield* setup()
      const ran: Array<number> = []
      const handles = yield* Effect.forEach(
        range(50),
        () => sup.submit(recordsId(ran, "job"), { admission: "replace" }),
        { concurrency: "unbounded" }
      )
      // Ids are reserved in the order the submissions reached the controller.
      const byId = [...handles].sort((x, y) => x.id - y.id)
      const [first, ...rest] = byId
      const survivor = rest[rest.length - 1]
      const displaced = rest.slice(0, -1)
      expect(new Set(handles.map((h) => h.id)).size).toBe(50)
      expect(displaced.length).toBe(48)
      // Every displaced head is decided at once; the first owner once its fiber has exited.
      for (const h of displaced) {
        expect(yield* h.poll).toEqual(
          Option.some(
            new TaskOutcome.Rejected({
              kind: "SupersededByReplace",
              reason: `replaced by a newer submission to slot "job"`
            })
          )
        )
      }
      expect(yield* first.await).toEqual(new TaskOutcome.Canceled({ reason: "stopped by replace" }))
      yield* waitFor("AttemptStarting")
      yield* flush
      expect(yield* survivor.poll).toEqual(Option.none())
      // Exactly one attempt ran in all: the survivor's (the first owner was stopped before its fiber's first step).
      expect(ran).toEqual([survivor.id])
      expect(yield* sup.slots).toEqual([slotInfo("job", "running", survivor, 0)])
      expect((yield* sup.list).map((i) => i.id)).toEqual([survivor.id])

      const all = yield* events
      expect(all.filter((e) => e._tag === "SlotSubmitted").length).toBe(50)
      const rejections = all.filter((e) => e._tag === "SlotRejected")
      expect(rejections.map((e) => e.id)).toEqual(displaced.map((h) => h.id))
      expect(new Set(rejections.map((e) => e.kind))).toEqual(new Set(["SupersededByReplace"]))
      // One stop request, one running -> terminating, one handover.
      expect(all.filter((e) => e._tag === "TaskRemoveRequested").map((e) => [e.id, e.reason])).toEqual([
        [first.id, "replace"]
      ])
      expect(
        all.filter((e) => e._tag === "SlotTransition").map((e) => `${e.from}->${e.to} ${e.queued} ${e.reason}`)
      ).toEqual(["idle->running 0 admitted", "running->terminating 1 replace", "terminating->running 0 admitted"])
    })
  )

  it.effect(
    "50 concurrent replaces while an owner already runs: the owner is Canceled, 49 superseded, the last runs",
    () =>
      Effect.gen(function* () {
        const { sup } = yield* setup({ grace: "1 second" })
        const ran: Array<number> = []
        const started = yield* Deferred.make<void>()
        const owner = yield* sup.submit(
          recordsId(
            ran,
            "job",
            Effect.andThen(
              Effect.addFinalizer(() => Effect.sleep("100 millis")),
              Effect.andThen(Deferred.succeed(started, undefined), Effect.never)
            )
          ),
          { admission: "queue" }
        )
        yield* Deferred.await(started)
        const handles = yield* Effect.forEach(
          range(50),
          () => sup.submit(recordsId(ran, "job"), { admission: "replace" }),
          { concurrency: "unbounded" }
        )
        const byId = [...handles].sort((x, y) => x.id - y.id)
        const survivor = byId[49]
        expect(yield* sup.slots).toEqual([slotInfo("job", "terminating", owner, 1)])
        for (const h of byId.slice(0, 49))
          expect((yield* h.poll).pipe(Option.map((o) => o._tag))).toEqual(Option.some("Rejected"))
        for (const h of byId.slice(0, 49)) {
          expect(yield* h.await).toEqual(
            new TaskOutcome.Rejected({
              kind: "SupersededByReplace",
              reason: `replaced by a newer submission to slot "job"`
            })
          )
        }
        yield* TestTime.adjust("99 millis")
        expect(yield* owner.poll).toEqual(Option.none())
        expect(ran).toEqual([owner.id])
        yield* TestTime.adjust("1 millis")
        expect(yield* owner.poll).toEqual(Option.some(new TaskOutcome.Canceled({ reason: "stopped by replace" })))
        yield* flush
        expect(ran).toEqual([owner.id, survivor.id])
        expect(yield* sup.slots).toEqual([slotInfo("job", "running", survivor, 0)])
      })
  )

  it.effect("40 concurrent drop-if-running on one slot: exactly one runs, 39 SlotBusy", () =>
    Effect.gen(function* () {
      const { sup, waitFor, events } = yield* setup()
      const ran: Array<number> = []
      const handles = yield* Effect.forEach(
        range(40),
        () => sup.submit(recordsId(ran, "job"), { admission: "drop-if-running" }),
        { concurrency: "unbounded" }
      )
      const byId = [...handles].sort((x, y) => x.id - y.id)
      const [winner, ...losers] = byId
      for (const h of losers) {
        expect(yield* h.poll).toEqual(
          Option.some(new TaskOutcome.Rejected({ kind: "SlotBusy", reason: `slot "job" is busy` }))
        )
      }
      yield* waitFor("AttemptStarting")
      yield* flush
      expect(yield* winner.poll).toEqual(Option.none())
      expect(ran).toEqual([winner.id])
      expect(yield* sup.slots).toEqual([slotInfo("job", "running", winner, 0)])
      expect((yield* sup.list).map((i) => i.id)).toEqual([winner.id])
      const all = yield* events
      expect(all.filter((e) => e._tag === "SlotRejected").map((e) => [e.id, e.kind])).toEqual(
        losers.map((h) => [h.id, "SlotBusy"])
      )
      expect(all.filter((e) => e._tag === "SlotTransition").length).toBe(1)
    })
  )

  it.effect(
    "30 concurrent queue submissions with maxSlotQueue 10: 1 owner + 10 queued run in id order, 19 QueueFull",
    () =>
      Effect.gen(function* () {
        const { sup } = yield* setup({ maxSlotQueue: 10 })
        const ran: Array<number> = []
        const handles = yield* Effect.forEach(
          range(30),
          (i) => sup.submit(recordsId(ran, `job${i}`, Effect.sleep("1 second")), { slot: "s", admission: "queue" }),
          { concurrency: "unbounded" }
        )
        const byId = [...handles].sort((x, y) => x.id - y.id)
        const admitted = byId.slice(0, 11)
        const refused = byId.slice(11)
        for (const h of refused) {
          expect(yield* h.poll).toEqual(
            Option.some(
              new TaskOutcome.Rejected({ kind: "QueueFull", reason: `slot "s" already has 10 queued (maxSlotQueue)` })
            )
          )
        }
        expect(yield* sup.slots).toEqual([slotInfo("s", "running", admitted[0], 10)])
        for (let i = 0; i < 11; i++) {
          yield* flush
          expect(ran).toEqual(admitted.slice(0, i + 1).map((h) => h.id))
          yield* TestTime.adjust("1 second")
          expect(yield* admitted[i].poll).toEqual(Option.some(new TaskOutcome.Completed()))
        }
        expect(yield* sup.slots).toEqual([])
      })
  )

  it.effect("mixed storm on one slot: each replace displaces the previous one, queued ones keep their places", () =>
    Effect.gen(function* () {
      const { sup } = yield* setup()
      const ran: Array<string> = []
      const kinds = ["queue", "replace", "drop-if-running"] as const
      const work = (i: number) =>
        Task.once(
          `job${i}`,
          Effect.andThen(
            Effect.flatMap(Clock.currentTimeMillis, (now) => Effect.sync(() => ran.push(`job${i}@${now}`))),
            Effect.sleep("1 second")
          )
        )
      const handles = yield* Effect.forEach(
        range(30),
        (i) => sup.submit(work(i), { slot: "s", admission: kinds[i % 3] }),
        { concurrency: "unbounded" }
      )
      // The submissions reach the controller in index order (ids are reserved in that order).
      expect(handles.map((h) => h.id - handles[0].id)).toEqual(range(30))
      // job0 owned the slot; job1 (replace) stopped it; each later replace displaced the head (the
      // previous replace) while the queued job3, job6, ... kept their places behind it. Once the
      // fibers have run (no time passes), job0's fiber (stopped before its first step) has exited and
      // job28 owns the slot. (Effect 4 resumes the storm's caller as soon as its last submission
      // returns, in the same scheduler turn: the stop of job0 is delivered after that turn.)
      yield* flush
      expect(yield* sup.slots).toEqual([slotInfo("s", "running", handles[28], 9)])
      yield* TestTime.adjust("10 seconds")
      const outcomes = yield* Effect.forEach(handles, (h) =>
        Effect.map(h.await, (o) => (o._tag === "Rejected" ? o.kind : o._tag))
      )
      expect(outcomes).toEqual(
        range(30).map((i) =>
          i === 0
            ? "Canceled"
            : i % 3 === 2
              ? "SlotBusy"
              : i % 3 === 1
                ? i === 28
                  ? "Completed"
                  : "SupersededByReplace"
                : "Completed"
        )
      )
      // The last replacement runs first, then the queued ones in FIFO order, one per second; job0
      // was stopped before its fiber's first step.
      expect(ran).toEqual([
        "job28@0",
        "job3@1000",
        "job6@2000",
        "job9@3000",
        "job12@4000",
        "job15@5000",
        "job18@6000",
        "job21@7000",
        "job24@8000",
        "job27@9000"
      ])
      expect(yield* sup.slots).toEqual([])
      expect(yield* sup.list).toEqual([])
    })
  )
})
