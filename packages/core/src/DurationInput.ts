/**
 * The facts about duration inputs that every fibervisor package reads durations by: the string
 * form Effect's own parser accepts, the fields of a `Duration.DurationObject`, and the longest
 * delay one Node timer holds. Core's duration rule (task, supervisor and offload options) and
 * `@fibervisor/platform-node`'s `runMain` options both use these, so they cannot drift apart.
 *
 * @since 1.0.0
 */
import type * as Duration from "effect/Duration"

/**
 * The longest delay one Node timer holds: 2^31 - 1 ms (about 24.8 days). Longer delays are
 * chained in steps of at most this much (Effect 4's clock does so itself).
 *
 * @since 1.0.0
 * @category constants
 */
export const maxTimerMs: number = 2 ** 31 - 1

/**
 * A `"<number> <unit>"` string as Effect's own parser accepts it (no exponent): group 1 is the
 * number, group 2 the unit (`nanos`, `micros`, `millis`, `seconds`, `minutes`, `hours`, `days`,
 * `weeks`, each also singular).
 *
 * @example
 * ```ts
 * import { DurationInput } from "@fibervisor/core"
 *
 * DurationInput.stringPattern.exec("5 seconds") // ["5 seconds", "5", "seconds"]
 * ```
 *
 * @since 1.0.0
 * @category constants
 */
export const stringPattern: RegExp =
  /^(-?\d+(?:\.\d+)?)\s+(nanos?|micros?|millis?|seconds?|minutes?|hours?|days?|weeks?)$/

/**
 * The fields of a `Duration.DurationObject` (`{ seconds: 5 }`, a duration input since Effect 4),
 * largest unit first.
 *
 * @since 1.0.0
 * @category constants
 */
export const objectFields: ReadonlyArray<keyof Duration.DurationObject> = [
  "weeks",
  "days",
  "hours",
  "minutes",
  "seconds",
  "milliseconds",
  "microseconds",
  "nanoseconds"
]
