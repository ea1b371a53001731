/**
 * Checks of user input shared by the kind declaration and the operations' options: durations,
 * positive integers, plain objects with no unknown key. Each check returns the reason a value is
 * refused (a string the caller pairs with the field's name), or the value; none throws.
 *
 * Invariant: a refusal names what was given (`describe`), so a message says what to change.
 */
import * as Duration from "effect/Duration"
import * as Option from "effect/Option"
import * as Result from "effect/Result"

/** A short description of a refused value, for messages. */
export const describe = (u: unknown): string => {
  if (typeof u === "string") return JSON.stringify(u.length > 60 ? `${u.slice(0, 60)}…` : u)
  if (typeof u === "number" || typeof u === "boolean" || typeof u === "bigint" || u === undefined || u === null) {
    return String(u)
  }
  if (typeof u === "function") return "a function"
  if (Array.isArray(u)) return "an array"
  return typeof u === "object" ? "an object" : typeof u
}

/** A problem with one field: the caller turns it into its error. */
export interface Problem {
  readonly field: string
  readonly reason: string
}

/** A finite duration of at least zero, in milliseconds. */
export const durationMillis = (u: unknown): Result.Result<number, string> => {
  if (typeof u === "number" && (!Number.isFinite(u) || u < 0)) {
    return Result.fail(`must be a finite, non-negative duration, got ${describe(u)}`)
  }
  let decoded: Option.Option<Duration.Duration>
  try {
    decoded = Duration.isDuration(u) || u !== undefined ? Duration.fromInput(u as Duration.Input) : Option.none()
  } catch {
    decoded = Option.none()
  }
  if (Option.isNone(decoded)) return Result.fail(`must be a duration (e.g. "5 seconds" or millis), got ${describe(u)}`)
  const ms = Duration.toMillis(decoded.value)
  if (!Number.isFinite(ms) || ms < 0) return Result.fail(`must be a finite, non-negative duration, got ${describe(u)}`)
  return Result.succeed(ms)
}

/** A duration greater than zero, in milliseconds. */
export const positiveMillis = (u: unknown): Result.Result<number, string> =>
  Result.flatMap(durationMillis(u), (ms) =>
    ms > 0 ? Result.succeed(ms) : Result.fail(`must be greater than zero, got ${describe(u)}`)
  )

/** An integer of at least 1. */
export const positiveInt = (u: unknown): Result.Result<number, string> =>
  typeof u === "number" && Number.isInteger(u) && u >= 1
    ? Result.succeed(u)
    : Result.fail(`must be a positive integer, got ${describe(u)}`)

/** A plain object (or `undefined`, read as `{}`) whose keys are all in `known`. */
export const knownKeys = (
  u: unknown,
  known: ReadonlyArray<string>,
  field = "options"
): Result.Result<Readonly<Record<string, unknown>>, Problem> => {
  if (u === undefined) return Result.succeed({})
  if (typeof u !== "object" || u === null || Array.isArray(u)) {
    return Result.fail({ field, reason: `must be an object, got ${describe(u)}` })
  }
  for (const key of Object.keys(u)) {
    if (!known.includes(key)) {
      return Result.fail({
        field: field === "options" ? key : `${field}.${key}`,
        reason: `is not a known option (known: ${known.join(", ")})`
      })
    }
  }
  return Result.succeed(u as Readonly<Record<string, unknown>>)
}

/** A name or key: a non-empty string of at most `max` characters without control characters. */
export const label = (u: unknown, max: number): Result.Result<string, string> => {
  if (typeof u !== "string") return Result.fail(`must be a string, got ${describe(u)}`)
  if (u.length === 0) return Result.fail("must not be empty")
  if (u.length > max) return Result.fail(`must be at most ${max} characters, got ${u.length}`)
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(u)) return Result.fail("must not contain control characters")
  return Result.succeed(u)
}
