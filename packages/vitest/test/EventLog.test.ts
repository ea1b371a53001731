import { describe, expect, it } from "@effect/vitest"
import { Effect, Fiber } from "effect"
import { Supervisor, Task, TaskError } from "@fibervisor/core"
import { EventLog, TestTime } from "@fibervisor/vitest"

describe("EventLog", () => {
  it.effect("records every event in order and filters by task", () =>
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

  it.effect("waitFor resumes on a future event", () =>
    Effect.gen(function* () {
      const sup = yield* Supervisor.make()
      const log = yield* EventLog.collect(sup)
      const waiting = yield* Effect.forkChild(log.waitFor((e) => e._tag === "AttemptSucceeded"))
      yield* sup.add(Task.once("later", Effect.sleep("1 second")))
      yield* TestTime.adjust("999 millis")
      expect(waiting.pollUnsafe()).toBeUndefined()
      yield* TestTime.adjust("1 millis")
      const event = yield* Fiber.join(waiting)
      expect(event).toMatchObject({ _tag: "AttemptSucceeded", task: "later", durationMs: 1000 })
    })
  )
})
