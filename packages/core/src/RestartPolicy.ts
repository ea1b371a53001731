/**
 * When a task is started again after an attempt ends (OTP's temporary, transient, permanent).
 *
 * @since 0.1.0
 */
import * as Data from "effect/Data"
import type * as Duration from "effect/Duration"
import type * as Schedule from "effect/Schedule"

/**
 * Never restart (OTP `temporary`).
 *
 * @since 0.1.0
 * @category models
 */
export class Never extends Data.TaggedClass("Never")<{}> {}

/**
 * Restart after a failure, with backoff; a success completes the task (OTP `transient`).
 *
 * @since 0.1.0
 * @category models
 */
export class OnFailure extends Data.TaggedClass("OnFailure")<{}> {}

/**
 * Restart after a failure (with backoff) and after a success (after `interval`) (OTP `permanent`).
 * Consecutive starts are at least 1 ms apart even without an interval, so a task that returns at
 * once cannot spin the event loop.
 *
 * @since 0.1.0
 * @category models
 */
export class Always extends Data.TaggedClass("Always")<{
  readonly interval: Duration.Input | undefined
}> {}

/**
 * Run again on `schedule` after each success; restart after a failure (with backoff). The schedule
 * is stepped after each successful attempt with the value the attempt succeeded with; when it ends,
 * the task ends `Completed`. Consecutive starts are at least 1 ms apart.
 *
 * @since 0.2.0
 * @category models
 */
export class Repeat extends Data.TaggedClass("Repeat")<{
  readonly schedule: Schedule.Schedule<unknown, never, unknown, unknown>
}> {}

/**
 * A restart policy.
 *
 * @since 0.1.0
 * @category models
 */
export type RestartPolicy = Never | OnFailure | Always | Repeat

/**
 * Never restart: the first attempt's end is the task's end.
 *
 * @since 0.1.0
 * @category constructors
 */
export const never: RestartPolicy = new Never()

/**
 * Restart on failure only (the default).
 *
 * @since 0.1.0
 * @category constructors
 */
export const onFailure: RestartPolicy = new OnFailure()

/**
 * Restart always; after a success wait `interval` (default: none, but at least 1 ms between starts).
 *
 * @example
 * ```ts
 * import { RestartPolicy } from "@fibervisor/core"
 *
 * const everyMinute = RestartPolicy.always({ interval: "1 minute" })
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const always = (options?: { readonly interval?: Duration.Input | undefined }): RestartPolicy =>
  new Always({
    interval:
      options === undefined || (typeof options === "object" && options !== null && !Array.isArray(options))
        ? options?.interval
        : // Kept as is, marked, so that `Task.validate` / `add` reject it by name instead of ignoring it.
          ({ [BadAlwaysOptions]: options } as never)
  })

/**
 * Run again on `schedule` after each success (what `Task.repeat` sets): any `Schedule`, e.g.
 * `Schedule.fixed` (a fixed rate), `Schedule.spaced`, `Schedule.cron`, or one that ends
 * (`Schedule.recurs`), which completes the task. Its input is the value each attempt succeeded
 * with. A failure is retried after the backoff, as with `always`, and does not step the schedule.
 * A schedule whose step fails (Effect 4 schedules have an error channel: `Schedule.cron` with a
 * malformed expression) or dies ends the task `Failed` ("the repeat schedule failed: …").
 *
 * @example
 * ```ts
 * import { Schedule } from "effect"
 * import { RestartPolicy } from "@fibervisor/core"
 *
 * const everyMinuteOnTheMinute = RestartPolicy.repeat(Schedule.cron("* * * * *"))
 * ```
 *
 * @since 0.2.0
 * @category constructors
 */
export const repeat = <Out, Error = never>(schedule: Schedule.Schedule<Out, unknown, Error>): RestartPolicy =>
  new Repeat({ schedule })

/** Marks a `Task.repeat` whose options also set `restart`. @internal */
export const RepeatRestartConflict: unique symbol = Symbol.for("@fibervisor/core/RestartPolicy/RepeatRestartConflict")

/** Marks the argument of `always` when it was not an options object. @internal */
export const BadAlwaysOptions: unique symbol = Symbol.for("@fibervisor/core/RestartPolicy/BadAlwaysOptions")

/**
 * Is `u` a restart policy?
 *
 * @since 0.1.0
 * @category guards
 */
export const isRestartPolicy = (u: unknown): u is RestartPolicy =>
  u instanceof Never || u instanceof OnFailure || u instanceof Always || u instanceof Repeat
