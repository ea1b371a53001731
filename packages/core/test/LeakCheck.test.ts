/**
 * The leak check of `leakCheck.ts` (the suite's setup file) can fail: it sees a fibervisor fiber, a
 * gauge, a timer and a listener left behind, and it reads the counter the library moves.
 */
import { describe, expect, it } from "@effect/vitest"
import { Deferred, Duration, Effect, Exit, Fiber, Metric } from "effect"
import { Offload, Supervisor, SupervisorError, Task, TaskOutcome } from "@fibervisor/core"
import { live } from "../src/internal/compat.js"
import { flush, TestTime } from "./helpers/tasks.js"
import type { Snapshot } from "./leakCheck.js"

// How many times leakCheck.ts was evaluated before this file's code ran: once, by `setupFiles`.
const evaluatedBeforeThisFile = (globalThis as { __fibervisorLeakCheck?: number }).__fibervisorLeakCheck ?? 0
// Imported here, after the count is read (a static import would be evaluated first).
const { checkLeaks, expectAbandoned, findLeaks, leakCheckInstances, liveFibers, snapshot } =
  await import("./leakCheck.js")

/** A task that signals `started`, then waits for `release`. */
const held = (name: string, started: Deferred.Deferred<void>, release: Deferred.Deferred<void>) =>
  Task.make(name, Deferred.succeed(started, undefined).pipe(Effect.andThen(Deferred.await(release))))

const settled = (before: Snapshot) => Effect.promise(() => checkLeaks(before))

describe("leak check", () => {
  it("runs for every file of the suite; the tests and the setup file share one leakCheck.ts and one compat.ts", () => {
    // Loaded by the setup file before this file, and the import above got that instance (a second
    // one would count 2): the check runs, and `expectAbandoned` reaches the instance that checks.
    expect(evaluatedBeforeThisFile).toBe(1)
    expect(leakCheckInstances()).toBe(1)
    // The relative import and the one behind `@fibervisor/core` (alias to src/index.ts) are one module.
    expect(liveFibers()).toBe(live.fibers)
  })

  it.effect("a task fiber still alive, and its running gauge, are reported; once it exits, nothing is", () =>
    Effect.gen(function* () {
      const sup = yield* Supervisor.make()
      const before = snapshot()
      expect(before.fibers).toBe(0)
      const started = yield* Deferred.make<void>()
      const release = yield* Deferred.make<void>()
      const h = yield* sup.add(held("held", started, release))
      yield* Deferred.await(started)
      // The counter the check reads is the one the library moved.
      expect(liveFibers()).toBe(1)
      expect(findLeaks(before)).toEqual([
        "1 fibervisor fiber(s) still alive: live.fibers = 1, expected 0",
        'gauge not back to 0: fibervisor_task_running{task="root/held"} = 1'
      ])
      // Declared as abandoned, the fiber and its one unit of gauge pass; exactly that many are expected.
      expect(findLeaks(before, 1)).toEqual([])
      expect(findLeaks(before, 2)).toEqual([
        "live.fibers = 1, expected 2 (2 declared with expectAbandoned): fewer fibers alive than declared"
      ])
      // Bounded: with the fiber still held, checkLeaks gives up after settleMs and reports it.
      const late = yield* Effect.promise(() => checkLeaks(before, { settleMs: 20 }))
      expect(late[0]).toBe("1 fibervisor fiber(s) still alive: live.fibers = 1, expected 0")

      yield* Deferred.succeed(release, undefined)
      expect(yield* h.await).toEqual(new TaskOutcome.Completed())
      expect(yield* settled(before)).toEqual([])
      expect(liveFibers()).toBe(0)
    })
  )

  it.effect("a fiber that is exiting is waited for, not reported", () =>
    Effect.gen(function* () {
      const sup = yield* Supervisor.make()
      const before = snapshot()
      const started = yield* Deferred.make<void>()
      const release = yield* Deferred.make<void>()
      yield* sup.add(held("exiting", started, release))
      yield* Deferred.await(started)
      yield* Deferred.succeed(release, undefined)
      // Not yet run: the fiber exits on a later turn of the scheduler, which checkLeaks waits for.
      expect(liveFibers()).toBe(1)
      expect(yield* settled(before)).toEqual([])
    })
  )

  it.effect("an offloaded job still running, and its active gauge, are reported", () =>
    Effect.gen(function* () {
      const offload = yield* Offload.make({ grace: 0 })
      const before = snapshot()
      const started = yield* Deferred.make<void>()
      const release = yield* Deferred.make<void>()
      yield* offload.spawn(
        "leak-check",
        Deferred.succeed(started, undefined).pipe(Effect.andThen(Deferred.await(release)))
      )
      yield* Deferred.await(started)
      expect(findLeaks(before)).toEqual([
        "1 fibervisor fiber(s) still alive: live.fibers = 1, expected 0",
        'gauge not back to 0: fibervisor_offload_active{kind="leak-check"} = 1'
      ])
      yield* Deferred.succeed(release, undefined)
      expect(yield* offload.awaitIdle()).toBe(true)
      yield* flush
      expect(yield* settled(before)).toEqual([])
    })
  )

  it.effect("a gauge of any label set is checked, and a negative one is never tolerated", () =>
    Effect.gen(function* () {
      const before = snapshot()
      const gauge = Metric.gauge("fibervisor_task_running").pipe(Metric.withAttributes({ task: "leak-check/negative" }))
      yield* Metric.update(gauge, -1)
      expect(findLeaks(before)).toEqual([
        'gauge not back to 0: fibervisor_task_running{task="leak-check/negative"} = -1'
      ])
      expect(findLeaks(before, 1)).toEqual([
        "live.fibers = 0, expected 1 (1 declared with expectAbandoned): fewer fibers alive than declared",
        'gauge not back to 0: fibervisor_task_running{task="leak-check/negative"} = -1'
      ])
      yield* Metric.update(gauge, 0)
      expect(findLeaks(before)).toEqual([])
    })
  )

  it("a timer left behind is reported, a live-clock sleep's too; Effect.never holds none", async () => {
    const before = snapshot()
    const was = before.resources["Timeout"] ?? 0
    const timer = setTimeout(() => {}, 60_000)
    expect(findLeaks(before)).toEqual([`1 active Timeout handle(s) left (${was} before, ${was + 1} after)`])
    clearTimeout(timer)
    expect(findLeaks(before)).toEqual([])

    // A fiber sleeping on the live clock holds a timer (not a fibervisor fiber: live.fibers stays).
    const sleeping = Effect.runFork(Effect.sleep("1 minute"))
    await Effect.runPromise(Effect.yieldNow)
    expect(findLeaks(before)).toEqual([`1 active Timeout handle(s) left (${was} before, ${was + 1} after)`])
    await Effect.runPromise(Fiber.interrupt(sleeping))
    expect(await checkLeaks(before)).toEqual([])

    // Effect 4's `Effect.never` arms no timer (Effect 3's held an interval): a fiber parked on it
    // leaves no handle behind, only a fibervisor fiber would be counted.
    const parked = Effect.runFork(Effect.never)
    await Effect.runPromise(Effect.yieldNow)
    expect(findLeaks(before)).toEqual([])
    await Effect.runPromise(Fiber.interrupt(parked))
    expect(await checkLeaks(before)).toEqual([])
  })

  it("a process listener left behind is reported", () => {
    const before = snapshot()
    const onSignal = () => {}
    const onExit = () => {}
    process.on("SIGTERM", onSignal)
    process.on("exit", onExit)
    const { SIGTERM, exit } = before.listeners
    expect(findLeaks(before)).toEqual([
      `1 process "SIGTERM" listener(s) left (${SIGTERM} before, ${SIGTERM + 1} after)`,
      `1 process "exit" listener(s) left (${exit} before, ${exit + 1} after)`
    ])
    process.off("SIGTERM", onSignal)
    process.off("exit", onExit)
    expect(findLeaks(before)).toEqual([])
  })

  // Last in the file: it leaves a fiber alive for the file's check to expect.
  it.effect("expectAbandoned: a fiber left alive on purpose is declared, and the file's check expects it", () =>
    Effect.gen(function* () {
      const sup = yield* Supervisor.make({ grace: "1 second" })
      const started = yield* Deferred.make<void>()
      const stuck = Deferred.succeed(started, undefined).pipe(Effect.andThen(Effect.sleep("1 hour")))
      yield* sup.add(Task.make("abandoned", Effect.uninterruptible(stuck)))
      yield* Deferred.await(started)
      const shutdown = yield* Effect.forkChild(sup.shutdown)
      yield* TestTime.adjust("1 second")
      expect(yield* Fiber.await(shutdown)).toEqual(
        Exit.fail(
          new SupervisorError.GraceExceeded({
            grace: Duration.millis(1000),
            stuck: ["abandoned"],
            paths: ["root/abandoned"]
          })
        )
      )
      // Its fiber sleeps until 1 hour on a TestClock that nothing moves after this test: no timer,
      // one fiber, one running attempt. Without the declaration, this file's check would fail.
      expect(liveFibers()).toBe(1)
      expect(Object.values(snapshot().gauges)).toEqual([1])
      expectAbandoned(1)
    })
  )
})
