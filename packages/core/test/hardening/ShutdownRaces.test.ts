/**
 * Races between a nested supervisor's shutdown and what its children do meanwhile: a sibling that
 * a group restart is stopping keeps its deadline, and nothing starts again once the supervisor is
 * shutting down (OTP's `sup_stop_race`). Every timing runs on the TestClock (which starts at 0).
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Exit, Fiber } from "effect"
import { Backoff, RestartPolicy, Supervisor, Task, TaskError } from "@fibervisor/core"
import { TestTime } from "@fibervisor/vitest"
import { makeLog, recorded, setupTree, timeline } from "../helpers/tree.js"

describe("Shutdown during a group restart", () => {
  it.effect("a sibling the group restart is stopping keeps its own deadline", () =>
    Effect.gen(function* () {
      const { events, sup } = yield* setupTree()
      const log = makeLog()
      // a never stops (grace 200 ms); b fails at 1000, so the group restart stops a until 1200.
      const a = Task.make(
        "a",
        recorded(log, () => Effect.uninterruptible(Effect.sleep("1 hour")))
      ).pipe(Task.withGrace("200 millis"))
      const b = Task.make(
        "b",
        recorded(log, (attempt) =>
          attempt === 1 ? Effect.andThen(Effect.sleep("1 second"), Effect.fail(TaskError.fail("boom"))) : Effect.never
        ),
        { backoff: Backoff.constant("10 millis") }
      )
      yield* sup.add(Supervisor.task("g", [a, b], { strategy: "one-for-all", grace: "1 second" }))
      yield* TestTime.adjust("1110 millis")
      const shutdown = yield* Effect.forkChild(sup.shutdown)
      yield* TestTime.adjust("1 hour")
      expect(Exit.isFailure(yield* Fiber.await(shutdown))).toBe(true)
      expect(
        timeline(
          (yield* events).filter((event) => event.path.startsWith("root/g/")),
          ["GroupRestart", "TaskRemoveRequested", "TaskFinished"]
        )
      ).toEqual([
        "1110 TaskRemoveRequested root/g/b shutdown",
        "1110 TaskFinished root/g/b Canceled stopped by shutdown",
        "1110 TaskRemoveRequested root/g/a shutdown",
        // The group restart's deadline (1000 + 200), not the shutdown's (1110 + 200).
        "1200 TaskFinished root/g/a ForceAborted did not stop within its grace of 200 ms"
      ])
      expect(timeline(yield* events, ["GroupRestart"])).toEqual([
        "1000 GroupRestart root/g one-for-all trigger=b affected=a,b"
      ])
    })
  )
})

describe("Nothing starts again once its supervisor is shutting down (sup_stop_race)", () => {
  it.effect("a failing one-for-one child and periodic children wait for their stop instead of a new attempt", () =>
    Effect.gen(function* () {
      const { events, sup } = yield* setupTree()
      const log = makeLog()
      // f fails every 300 ms and restarts at once; p runs every 400 ms; q completes and always restarts.
      const f = Task.make("f", Effect.andThen(Effect.sleep("300 millis"), Effect.fail(TaskError.fail("boom"))), {
        backoff: Backoff.constant("0 millis")
      })
      const p = Task.periodic("p", Effect.void, "400 millis")
      const q = Task.make("q", Effect.sleep("250 millis"), { restart: RestartPolicy.always() })
      // s is stopped first and takes 1 s: meanwhile f fails (1200), p's next run is due (1200) and q completes (1250).
      const s = Task.make("s", recorded(log, undefined, { stopTakes: "1 second" }))
      yield* sup.add(
        Supervisor.task("g", [f, p, q, s], {
          intensity: { maxRestarts: 100, within: "5 seconds" }
        })
      )
      yield* TestTime.adjust("1050 millis")
      const shutdown = yield* Effect.forkChild(sup.shutdown)
      yield* TestTime.adjust("2 seconds")
      expect(yield* Fiber.await(shutdown)).toEqual(Exit.void)
      const after = (yield* events).filter((event) => event.at >= 1050 && event.path.startsWith("root/g/"))
      expect(timeline(after, ["AttemptStarting", "BackoffScheduled"])).toEqual([])
      expect(timeline(after, ["AttemptFailed", "AttemptSucceeded"]).sort()).toEqual([
        "1200 AttemptFailed root/g/f #4 boom",
        "1250 AttemptSucceeded root/g/q"
      ])
      expect(timeline(after, ["TaskFinished"])).toEqual([
        "2050 TaskFinished root/g/s Canceled stopped by shutdown",
        "2050 TaskFinished root/g/q Canceled stopped by shutdown",
        "2050 TaskFinished root/g/p Canceled stopped by shutdown",
        "2050 TaskFinished root/g/f Canceled stopped by shutdown"
      ])
    })
  )
})
