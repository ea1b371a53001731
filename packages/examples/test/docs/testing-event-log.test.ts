import { describe, expect, it } from "@effect/vitest"
import { Effect, Fiber } from "effect"
import { Backoff, Supervisor, SupervisorEvent, Task, TaskError, TaskOutcome } from "@fibervisor/core"
import { EventLog, TestTime } from "@fibervisor/vitest"

// The code under test: a sync job that fails three times, then succeeds.
let calls = 0
const sync = Effect.suspend(() => (++calls <= 3 ? TaskError.fail(`upstream 503 (call ${calls})`) : Effect.void))
const syncTask = Task.restartable("sync", sync).pipe(
  Task.withBackoff(Backoff.exponential({ first: "100 millis", max: "1 second" })) // no jitter: exact delays
)

describe("the sync task", () => {
  // it.effect runs on the TestClock (and gives the test a Scope): time stands still until the test moves it.
  // TestTime.adjust lets every ready fiber reach its sleep, moves the clock, then lets the woken fibers run.
  it.effect("backs off 100, 200, 400 ms, then completes", () =>
    Effect.gen(function* () {
      calls = 0
      const sup = yield* Supervisor.make()
      const log = yield* EventLog.collect(sup) // subscribe before adding: no event is missed
      const handle = yield* sup.add(syncTask)

      // The first attempt fails at once; the task waits 100 ms for its second.
      const first = yield* log.waitFor(SupervisorEvent.is("BackoffScheduled"))
      expect(first.delayMs).toBe(100)
      yield* TestTime.adjust("99 millis")
      expect((yield* log.forTask("sync")).filter(SupervisorEvent.is("AttemptStarting"))).toHaveLength(1)
      yield* TestTime.adjust("1 millis")
      expect((yield* log.forTask("sync")).filter(SupervisorEvent.is("AttemptStarting"))).toHaveLength(2)

      // Let the rest run: fork the wait, move the clock, join.
      const outcome = yield* Effect.forkChild(handle.await)
      yield* TestTime.adjust("1 second")
      expect(TaskOutcome.isSuccess(yield* Fiber.join(outcome))).toBe(true)

      const delays = (yield* log.all).filter(SupervisorEvent.is("BackoffScheduled")).map((e) => e.delayMs)
      expect(delays).toEqual([100, 200, 400])
      expect(yield* log.tags).toEqual([
        "TaskAdded",
        ...Array(3).fill(["AttemptStarting", "AttemptFailed", "BackoffScheduled"]).flat(),
        "AttemptStarting",
        "AttemptSucceeded",
        "TaskFinished",
        "TaskRemoved"
      ])
    })
  )
})
