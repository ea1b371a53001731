/**
 * When a failed attempt is retried: the kind's `retry` Schedule replayed from the stored attempt
 * count. A fresh step function is stepped once per failed attempt so far, and the last step's
 * delay is the wait; the schedule's state never lives in memory between attempts, so a restart, or
 * another replica, computes the same delay (up to the schedule's own jitter).
 *
 * Invariant: `Option.none()` means the schedule has ended (the job is dead-lettered); a schedule
 * that fails or dies counts as ended too, with the reason, rather than losing the job.
 */
import * as Cause from "effect/Cause"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Pull from "effect/Pull"
import * as Schedule from "effect/Schedule"
import type { RetryInput } from "../DurableOffload.js"

/** The retry delay in ms after `failure.attempt` failed attempts, or why there is none. */
export const delayAfter = (
  schedule: Schedule.Schedule<unknown, RetryInput>,
  failure: RetryInput,
  now: number
): Effect.Effect<
  { readonly _tag: "Retry"; readonly delayMs: number } | { readonly _tag: "Ended"; readonly reason: string }
> =>
  Effect.gen(function* () {
    const step = yield* Schedule.toStep(schedule)
    let delayMs = 0
    for (let attempt = 1; attempt <= failure.attempt; attempt++) {
      const exit = yield* Effect.exit(step(now, { ...failure, attempt, streak: attempt }))
      if (Exit.isFailure(exit)) {
        if (Pull.isDoneCause(exit.cause)) return { _tag: "Ended", reason: "the retry schedule ended" } as const
        return {
          _tag: "Ended",
          reason: `the retry schedule failed: ${Cause.pretty(exit.cause).split("\n")[0]}`
        } as const
      }
      delayMs = Duration.toMillis(exit.value[1])
    }
    return { _tag: "Retry", delayMs: Number.isFinite(delayMs) && delayMs > 0 ? delayMs : 0 } as const
  })
