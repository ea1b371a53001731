/**
 * How fibervisor reads the values of options, for every package built on it: the one printer
 * that names a refused value in an error's `reason`, and the one rule that reads a duration. Core's
 * own options, `@fibervisor/platform-node`'s and the other packages' use these, so a message reads
 * the same whichever package refused the value.
 *
 * @since 1.0.0
 */
import type * as Duration from "effect/Duration"
import type * as Result from "effect/Result"
import * as internal from "./internal/duration.js"

/**
 * A short, single-line description of `value`, for the `reason` of an options error: strings
 * quoted (JSON escapes, so no line break gets through), numbers as JavaScript spells them (`NaN`,
 * `Infinity`, `-0`), bigints with their `n`, symbols as `Symbol(description)`, a `Duration` as
 * `Duration(…)`; any other object by its kind: `an array`, `a function`, `an object`. Never throws.
 *
 * @example
 * ```ts
 * import { Inputs } from "@fibervisor/core"
 *
 * Inputs.describe("3") // "\"3\""
 * Inputs.describe(Number.NaN) // "NaN"
 * Inputs.describe([1, 2]) // "an array"
 * ```
 *
 * @since 1.0.0
 * @category formatting
 */
export const describe: (value: unknown) => string = internal.describe

/**
 * Reads a duration option strictly: any `Duration.Input` (a `Duration`, milliseconds, a
 * `"<number> <unit>"` string, a `[seconds, nanos]` pair, a `{ seconds, … }` object, a bigint of
 * nanoseconds) that is finite, non-negative and either 0 or at least 1 nanosecond. Effect's own
 * decoder throws on garbage, lets infinite and negative durations through, and rounds a duration
 * below one nanosecond to zero; this one refuses each with a reason that completes a sentence
 * starting with the field's name (`grace must not be negative, got -1`). Never throws.
 *
 * @since 1.0.0
 * @category decoding
 */
export const decodeDuration: (input: unknown) => Result.Result<Duration.Duration, string> = internal.decodeDuration
