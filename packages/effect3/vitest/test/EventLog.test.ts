import { describe, expect, it } from "@effect/vitest"
import { Effect, Fiber, TestClock } from "effect"
import { Supervisor, Task, TaskError } from "@fibervisor/core"
import { EventLog } from "@fibervisor/vitest"

describe("EventLog", () => {
  it.scoped("records every event in order and filters by task", () =>
    Effect.gen(function* () {
      const sup = yield* Supervisor.make()
      const log = yield* EventLog.collect(sup)
      yield* sup.add(Task.once("a", Effect.void))
      yield* sup.add(Task.once("b", Effect.fail(TaskError.fail("boom"))))
      yield* sup.awaitEmpty
      yield* log.waitFor((e) => e._tag === "TaskRemoved" && e.task === "b")
      const a = yield* log.forTask("a")
      expect(a.map((e) => e._tag)).toEqual([
        "TaskAdded",
        "AttemptStarting",
        "AttemptSucceeded",
        "TaskFinished",
        "TaskRemoved"
      ])
      const b = yield* log.forTask("b")
      expect(b.map((e) => e._tag)).toEqual([
        "TaskAdded",
        "AttemptStarting",
        "AttemptFailed",
        "TaskFinished",
        "TaskRemoved"
      ])
      const all = yield* log.all
      expect(all.map((e) => e.seq)).toEqual(all.map((_, i) => i + 1))
    })
  )

  it.scoped("waitFor resumes on a future event", () =>
    Effect.gen(function* () {
      const sup = yield* Supervisor.make()
      const log = yield* EventLog.collect(sup)
      const waiting = yield* Effect.fork(log.waitFor((e) => e._tag === "AttemptSucceeded"))
      yield* sup.add(Task.once("later", Effect.sleep("1 second")))
      yield* TestClock.adjust("999 millis")
      expect(yield* Fiber.poll(waiting)).toSatisfy((o: { _tag: string }) => o._tag === "None")
      yield* TestClock.adjust("1 millis")
      const event = yield* Fiber.join(waiting)
      expect(event).toMatchObject({ _tag: "AttemptSucceeded", task: "later", durationMs: 1000 })
    })
  )
})
