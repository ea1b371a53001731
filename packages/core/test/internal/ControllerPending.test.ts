/**
 * Queued controller submissions count as tasks without an outcome (`submissionQueued` /
 * `submissionDequeued` in src/internal/controller.ts), so `awaitEmpty` waits for them; a `replace`
 * that displaces the queued head swaps one queued submission for another and leaves the count as
 * it is (the former hold/release bracket around it was redundant). If the count were one too high
 * `awaitEmpty` would never resume; one too low, it would resume while a submission still runs.
 * Every timing runs on the TestClock.
 */
import { describe, expect, it } from "@effect/vitest"
import { Deferred, Effect, Fiber, Option } from "effect"
import { Supervisor, Task, TaskOutcome } from "@fibervisor/core"
import { TestTime } from "@fibervisor/vitest"

const gatedTask = (name: string, gate: Deferred.Deferred<void>) => Task.once(name, Deferred.await(gate))

describe("queued submissions and awaitEmpty", () => {
  it.effect("a replace of the queued head keeps awaitEmpty waiting until the replacement has ended", () =>
    Effect.gen(function* () {
      const sup = yield* Supervisor.make()
      const gateA = yield* Deferred.make<void>()
      const gateC = yield* Deferred.make<void>()
      const gateD = yield* Deferred.make<void>()
      const a = yield* sup.submit(gatedTask("a", gateA), { slot: "s", admission: "queue" })
      const b = yield* sup.submit(Task.once("b", Effect.void), { slot: "s", admission: "queue" })
      const d = yield* sup.submit(gatedTask("d", gateD), { slot: "s", admission: "queue" })
      const empty = yield* Effect.forkChild(sup.awaitEmpty)
      // c takes b's place at the head of the queue and stops a.
      const c = yield* sup.submit(gatedTask("c", gateC), { slot: "s", admission: "replace" })
      yield* TestTime.adjust(0)
      expect(Option.map(yield* b.poll, (outcome) => outcome._tag)).toEqual(Option.some("Rejected"))
      expect((yield* a.await)._tag).toBe("Canceled")
      expect(empty.pollUnsafe()).toBeUndefined()
      // c runs; d still waits in the queue: neither may let awaitEmpty resume.
      yield* Deferred.succeed(gateC, undefined)
      expect(yield* c.await).toBeInstanceOf(TaskOutcome.Completed)
      yield* TestTime.adjust(0)
      expect(empty.pollUnsafe()).toBeUndefined()
      yield* Deferred.succeed(gateD, undefined)
      expect(yield* d.await).toBeInstanceOf(TaskOutcome.Completed)
      yield* Fiber.join(empty)
      expect(yield* sup.slots).toEqual([])
      yield* Deferred.succeed(gateA, undefined)
    })
  )

  it.effect("queued submissions taken out (removed, or rejected by the shutdown) leave the count", () =>
    Effect.gen(function* () {
      const sup = yield* Supervisor.make()
      const gate = yield* Deferred.make<void>()
      yield* sup.submit(gatedTask("owner", gate), { slot: "s", admission: "queue" })
      const queued = yield* sup.submit(Task.once("queued", Effect.void), { slot: "s", admission: "queue" })
      yield* sup.submit(Task.once("last", Effect.void), { slot: "s", admission: "queue" })
      const empty = yield* Effect.forkChild(sup.awaitEmpty)
      expect(yield* sup.remove("queued")).toBe(true)
      expect(Option.map(yield* queued.poll, (outcome) => outcome._tag)).toEqual(Option.some("Rejected"))
      yield* TestTime.adjust(0)
      expect(empty.pollUnsafe()).toBeUndefined()
      // The shutdown rejects "last" and stops the owner: nothing is left, awaitEmpty resumes.
      yield* sup.shutdown
      yield* Fiber.join(empty)
    })
  )
})
