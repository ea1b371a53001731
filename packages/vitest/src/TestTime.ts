/**
 * Moving a test's clock the way tests of supervised tasks need it.
 *
 * Effect 4's `TestClock.adjust` gives fibers that are already running a single scheduler turn
 * before it looks for due sleeps (Effect 3's waited until every fiber had suspended). A task that
 * `sup.add` has just forked, or one that is restarting, reaches its `sleep` after several turns,
 * so a bare `TestClock.adjust` can move the clock past a sleep that is not registered yet: the
 * wake falls into the *next* adjustment. `adjust` here first lets every ready fiber run a bounded
 * number of turns (`settle`), then moves the clock, then settles again, so assertions made after
 * it see what the woken fibers did.
 *
 * @since 1.0.0
 */
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as TestClock from "effect/testing/TestClock"

/**
 * How many scheduler turns `settle` and `adjust` give ready fibers by default. Each turn lets
 * every ready fiber run until it suspends again; 256 turns cost about a millisecond.
 *
 * @since 1.0.0
 * @category constants
 */
export const defaultTurns = 256

/**
 * Yields `turns` scheduler turns, so fibers that are ready to run reach their next suspension
 * (a sleep on the test clock, a `Deferred`, a queue) before the test goes on.
 *
 * @since 1.0.0
 * @category combinators
 */
export const settle = (turns: number = defaultTurns): Effect.Effect<void> =>
  Effect.suspend(() => {
    let left = turns
    return Effect.whileLoop({
      while: () => left-- > 0,
      body: () => Effect.yieldNow,
      step: () => {}
    })
  })

/**
 * `TestClock.adjust(duration)` between two `settle`s: every fiber that is ready reaches its sleep
 * first, and the fibers the adjustment wakes run before the test goes on.
 *
 * @since 1.0.0
 * @category combinators
 */
export const adjust = (duration: Duration.Input): Effect.Effect<void> =>
  Effect.andThen(Effect.andThen(settle(), TestClock.adjust(duration)), settle())
