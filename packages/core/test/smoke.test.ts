import { describe, expect, it } from "@effect/vitest"
import { Effect, Fiber } from "effect"
import { Backoff, Supervisor, Task, TaskError } from "@fibervisor/core"
import { TestTime } from "./helpers/tasks.js"

describe("smoke", () => {
  it.effect("runs a once task", () =>
    Effect.gen(function* () {
      const sup = yield* Supervisor.make()
      const h = yield* sup.add(Task.once("a", Effect.succeed(1)))
      const o = yield* h.await
      expect(o._tag).toBe("Completed")
      let n = 0
      const h2 = yield* sup.add(
        Task.make(
          "b",
          Effect.suspend(() => (++n < 3 ? Effect.fail(TaskError.fail("x")) : Effect.void)),
          {
            backoff: Backoff.constant("100 millis")
          }
        )
      )
      const f = yield* Effect.forkChild(h2.await)
      yield* TestTime.adjust("99 millis")
      expect(n).toBe(1)
      yield* TestTime.adjust("1 millis")
      expect(n).toBe(2)
      yield* TestTime.adjust("100 millis")
      expect((yield* Fiber.join(f))._tag).toBe("Completed")
      expect(n).toBe(3)
      const h3 = yield* sup.add(Task.make("c", Effect.never))
      yield* Effect.yieldNow
      expect((yield* sup.list).map((i) => i.state)).toEqual(["running"])
      expect(yield* sup.cancel("c")).toBe(true)
      expect((yield* h3.await)._tag).toBe("Canceled")
      expect(yield* sup.list).toEqual([])
    })
  )
})
