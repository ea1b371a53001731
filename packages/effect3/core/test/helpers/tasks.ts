/**
 * Shared by the supervisor tests: attempts that park, and a way to let every runnable fiber run.
 */
import { Deferred, Effect, TestClock } from "effect"

/** Lets every runnable fiber (including the supervisor's root fibers) run; the clock does not move. */
export const flush = TestClock.adjust(0)

/** An attempt that signals `started`, then runs forever; its scope finalizer runs `onStop`. */
export const parked = <E = never, R = never>(
  started: Deferred.Deferred<void>,
  onStop: Effect.Effect<void, E, R> = Effect.void
) =>
  Effect.acquireRelease(Deferred.succeed(started, undefined), () => Effect.orDie(onStop)).pipe(
    Effect.zipRight(Effect.never),
    Effect.scoped
  )
