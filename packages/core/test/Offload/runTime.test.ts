/**
 * The run time of offloaded work (`fibervisor_offload_duration_seconds`), as offloadStarts.ts
 * measures it: from the fiber's first step to its end, one clock reading per short job when the
 * job started just before it ended without running anything else.
 */
import { describe, expect, it } from "@effect/vitest"
import { Clock, Effect, Logger } from "effect"
import { Offload, OffloadKey } from "@fibervisor/core"
import { durations, flush, startNow, TestTime, uniqueKind } from "../helpers/offload.js"

/** A clock the test moves by hand, inside a job or a log line (TestClock moves only between steps). */
const manualClock = Effect.map(Clock.Clock, (base) => {
  const clock = { now: 1_000_000 }
  const service: Clock.Clock = Object.assign(Object.create(base) as Clock.Clock, {
    currentTimeMillisUnsafe: () => clock.now
  })
  return { clock, service }
})

/** Moves the manual clock by `ms` as a step of work. */
const advance = (clock: { now: number }, ms: number) =>
  Effect.sync(() => {
    clock.now += ms
  })

describe("Offload run time", () => {
  it.effect("is measured from the first step: time spent queued is not run time", () =>
    Effect.gen(function* () {
      const kind = uniqueKind("run-time-queued")
      const offload = yield* Offload.make({ grace: 0, maxConcurrent: 1, onFull: { queue: 1 } })
      const before = yield* durations(kind)
      yield* offload.spawn(kind, Effect.sleep("1 second"))
      yield* offload.spawn(kind, Effect.sleep("500 millis"))
      yield* flush
      yield* TestTime.adjust("1 second")
      yield* TestTime.adjust("500 millis")
      const after = yield* durations(kind)
      expect(after.count - before.count).toBe(2)
      expect(after.sum - before.sum).toBe(1.5)
    })
  )

  it.effect("work stopped before its first step ran for 0 seconds", () =>
    Effect.gen(function* () {
      const kind = uniqueKind("run-time-unstarted")
      const offload = yield* Offload.make({ grace: 0 })
      yield* TestTime.adjust("10 seconds")
      const before = yield* durations(kind)
      expect(yield* offload.register(OffloadKey.keyed("k", kind), Effect.void)).toBe("spawned")
      // Cancelled in the caller's turn: the job's fiber never takes a step.
      expect(yield* offload.cancel(OffloadKey.keyed("k", kind))).toBe(true)
      const after = yield* durations(kind)
      expect(after.count - before.count).toBe(1)
      expect(after.sum - before.sum).toBe(0)
    })
  )

  it.effect("short jobs in a row: each one's run time is its own", () =>
    Effect.gen(function* () {
      const { clock, service } = yield* manualClock
      const kind = uniqueKind("run-time-row")
      const offload = yield* Effect.provideService(Offload.make({ grace: 0 }), Clock.Clock, service)
      const before = yield* durations(kind)
      yield* offload.spawn(kind, Effect.void)
      yield* offload.spawn(kind, advance(clock, 2_000))
      yield* offload.spawn(kind, Effect.void)
      yield* offload.spawn(kind, advance(clock, 500))
      yield* flush
      const after = yield* durations(kind)
      expect(after.count - before.count).toBe(4)
      expect(after.sum - before.sum).toBe(2.5)
    })
  )

  it.effect("after a failure's log line, the next job reads the clock again", () =>
    Effect.gen(function* () {
      const { clock, service } = yield* manualClock
      const kind = uniqueKind("run-time-logged")
      const offload = yield* Effect.provideService(Offload.make({ grace: 0 }), Clock.Clock, service)
      // Writing a line takes a second: it runs after the failed job's end reading.
      const slowLogger = Logger.layer([Logger.make(() => void (clock.now += 1_000))])
      const before = yield* durations(kind)
      yield* Effect.provide(offload.spawn(kind, Effect.fail("boom")), slowLogger)
      yield* offload.spawn(kind, Effect.void)
      yield* flush
      const after = yield* durations(kind)
      expect(after.count - before.count).toBe(2)
      expect(after.sum - before.sum).toBe(0)
    })
  )

  it.effect("after a job that woke a waiter, the next job reads the clock again", () =>
    Effect.gen(function* () {
      const { clock, service } = yield* manualClock
      const kind = uniqueKind("run-time-waiter")
      const offload = yield* Effect.provideService(Offload.make({ grace: 0 }), Clock.Clock, service)
      const before = yield* durations(kind)
      const handle = yield* offload.submit(OffloadKey.keyed("first", kind), Effect.void)
      // The waiter resumes inside the job's end (Effect 4 wakes a fiber inside the call) and takes a second.
      yield* startNow(Effect.andThen(handle.await, advance(clock, 1_000)))
      yield* offload.spawn(kind, Effect.void)
      yield* flush
      const after = yield* durations(kind)
      expect(after.count - before.count).toBe(2)
      expect(after.sum - before.sum).toBe(0)
    })
  )
})
