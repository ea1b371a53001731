import { describe, expect, it } from "@effect/vitest"
import { Deferred, Effect, Ref } from "effect"
import { Backoff, Supervisor, Task, TaskError } from "@fibervisor/core"
import { TestTime } from "../helpers/tasks.js"

describe("Supervisor: every attempt has its own Scope", () => {
  it.effect("resources acquired by an attempt are released when that attempt ends", () =>
    Effect.gen(function* () {
      const log = yield* Ref.make<ReadonlyArray<string>>([])
      const note = (line: string) => Ref.update(log, (lines) => [...lines, line])
      let attempt = 0
      // No Effect.scoped here: the task's R does not include Scope, the supervisor provides one.
      const body = Effect.gen(function* () {
        const n = ++attempt
        yield* Effect.acquireRelease(note(`acquire ${n}`), () => note(`release ${n}`))
        yield* note(`use ${n}`)
        if (n < 3) return yield* TaskError.fail(`attempt ${n} failed`)
      })
      const task: Task.Task<TaskError.Fail> = Task.make("scoped", body, { backoff: Backoff.constant("10 millis") })
      const sup = yield* Supervisor.make()
      const handle = yield* sup.add(task)
      yield* TestTime.adjust("20 millis")
      expect((yield* handle.await)._tag).toBe("Completed")
      expect(yield* Ref.get(log)).toEqual([
        "acquire 1",
        "use 1",
        "release 1",
        "acquire 2",
        "use 2",
        "release 2",
        "acquire 3",
        "use 3",
        "release 3"
      ])
    })
  )

  it.effect("a stop releases the attempt's resources before the outcome is delivered", () =>
    Effect.gen(function* () {
      const released = yield* Ref.make(false)
      const acquired = yield* Deferred.make<void>()
      const sup = yield* Supervisor.make()
      const handle = yield* sup.add(
        Task.make(
          "holder",
          Effect.acquireRelease(Deferred.succeed(acquired, undefined), () => Ref.set(released, true)).pipe(
            Effect.andThen(Effect.never)
          )
        )
      )
      yield* Deferred.await(acquired)
      expect(yield* Ref.get(released)).toBe(false)
      expect(yield* sup.cancel("holder")).toBe(true)
      expect(yield* Ref.get(released)).toBe(true)
      expect((yield* handle.await)._tag).toBe("Canceled")
    })
  )
})
