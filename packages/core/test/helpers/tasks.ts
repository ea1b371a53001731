/**
 * Shared by the supervisor tests: attempts that park, and a way to let every runnable fiber run.
 */
import { Deferred, Effect } from "effect"
import { TestTime } from "@fibervisor/vitest"

export { TestTime }

/**
 * Lets every runnable fiber (including the supervisor's root fibers) run and fires the sleeps due
 * now; the clock does not move. Effect 3's `TestClock.adjust(0)` waited until every fiber had
 * suspended; Effect 4's gives them one turn, so the shared `TestTime.adjust` settles around it.
 */
export const flush = TestTime.adjust(0)

/** An attempt that signals `started`, then runs forever; its scope finalizer runs `onStop`. */
export const parked = <E = never, R = never>(
  started: Deferred.Deferred<void>,
  onStop: Effect.Effect<void, E, R> = Effect.void
) =>
  Effect.acquireRelease(Deferred.succeed(started, undefined), () => Effect.orDie(onStop)).pipe(
    Effect.andThen(Effect.never),
    Effect.scoped
  )
