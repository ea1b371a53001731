/**
 * `TestTime` against a bare `TestClock.adjust`. Effect 4's `adjust` gives fibers that are already
 * running a single scheduler turn before it looks for due sleeps, so a fiber that needs a few turns
 * to reach its `sleep` (as a task that `sup.add` has just forked does) is missed: the wake falls
 * into the next adjustment, at the wrong instant. `TestTime.adjust` settles first and after.
 */
import { describe, expect, it } from "@effect/vitest"
import { Clock, Deferred, Effect, Fiber, Ref } from "effect"
import { TestClock } from "effect/testing"
import { TestTime } from "@fibervisor/vitest"

/** A fiber that needs `turns` scheduler turns before it sleeps 100 ms; returns the instant it woke. */
const lateSleeper = (turns: number) =>
  Effect.gen(function* () {
    for (let i = 0; i < turns; i++) yield* Effect.yieldNow
    yield* Effect.sleep("100 millis")
    return yield* Clock.currentTimeMillis
  })

describe("TestTime.adjust", () => {
  it.effect("a bare TestClock.adjust misses a sleep reached after a few turns; it wakes in the next adjust, late", () =>
    Effect.gen(function* () {
      const fiber = yield* Effect.forkChild(lateSleeper(3))
      yield* TestClock.adjust("1 second")
      // The sleep was registered at 1000 ms (after the clock moved), so it is not due.
      expect(fiber.pollUnsafe()).toBeUndefined()
      yield* TestClock.adjust("100 millis")
      expect(yield* Fiber.join(fiber)).toBe(1100)
    })
  )

  it.effect("TestTime.adjust catches the same sleep, at the instant it is due", () =>
    Effect.gen(function* () {
      const fiber = yield* Effect.forkChild(lateSleeper(3))
      yield* TestTime.adjust("1 second")
      const exit = fiber.pollUnsafe()
      expect(exit).toBeDefined()
      expect(yield* Fiber.join(fiber)).toBe(100)
    })
  )

  it.effect("keeps time exact: a sleep is not woken before it is due", () =>
    Effect.gen(function* () {
      const fiber = yield* Effect.forkChild(lateSleeper(3))
      yield* TestTime.adjust("99 millis")
      expect(fiber.pollUnsafe()).toBeUndefined()
      yield* TestTime.adjust("1 millis")
      expect(fiber.pollUnsafe()).toBeDefined()
      expect(yield* Fiber.join(fiber)).toBe(100)
    })
  )

  it.effect("lets the woken fibers run before the test goes on", () =>
    Effect.gen(function* () {
      const done = yield* Ref.make(false)
      yield* Effect.forkChild(
        Effect.gen(function* () {
          yield* Effect.sleep("1 second")
          // Work the wake starts, a few turns long.
          for (let i = 0; i < 5; i++) yield* Effect.yieldNow
          yield* Ref.set(done, true)
        })
      )
      yield* TestTime.adjust("1 second")
      expect(yield* Ref.get(done)).toBe(true)
    })
  )
})

describe("TestTime.settle", () => {
  it.effect("gives ready fibers the turns they need to reach their next suspension", () =>
    Effect.gen(function* () {
      const reached = yield* Deferred.make<void>()
      const fiber = yield* Effect.forkChild(
        Effect.gen(function* () {
          for (let i = 0; i < 10; i++) yield* Effect.yieldNow
          yield* Deferred.succeed(reached, undefined)
          return yield* Effect.never
        })
      )
      yield* TestTime.settle(2)
      expect(yield* Deferred.isDone(reached)).toBe(false)
      yield* TestTime.settle()
      expect(yield* Deferred.isDone(reached)).toBe(true)
      expect(fiber.pollUnsafe()).toBeUndefined()
    })
  )

  it.effect("does not move the clock", () =>
    Effect.gen(function* () {
      const fiber = yield* Effect.forkChild(lateSleeper(0))
      yield* TestTime.settle()
      expect(yield* Clock.currentTimeMillis).toBe(0)
      expect(fiber.pollUnsafe()).toBeUndefined()
    })
  )

  it("gives 256 turns by default", () => {
    expect(TestTime.defaultTurns).toBe(256)
  })
})
