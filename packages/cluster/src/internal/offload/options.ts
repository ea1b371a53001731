/**
 * The options of `ClusterOffload.layerPostgres` and `layerMemory`, checked once per layer: an
 * unknown key is refused, a bad value names its field and says why, a duration is any
 * `Duration.Input` that is finite and greater than zero.
 *
 * @internal
 */
import * as Duration from "effect/Duration"
import * as Option from "effect/Option"
import * as Result from "effect/Result"

export interface Problem {
  readonly field: string
  readonly reason: string
}

const describe = (input: unknown): string => {
  if (input === null) return "null"
  if (input === undefined) return "undefined"
  if (Array.isArray(input)) return "an array"
  if (typeof input === "string") return `"${input}"`
  if (typeof input === "object") return "an object"
  return `${typeof input} ${String(input)}`
}

const isPlainObject = (u: unknown): u is Readonly<Record<string, unknown>> =>
  typeof u === "object" && u !== null && !Array.isArray(u)

/** Reads an options object: `undefined` is `{}`; anything else but an object, or an unknown key, is a problem. */
export const record = (
  input: unknown,
  known: ReadonlyArray<string>
): Result.Result<Readonly<Record<string, unknown>>, Problem> => {
  if (input === undefined) return Result.succeed({})
  if (!isPlainObject(input))
    return Result.fail({ field: "options", reason: `must be an object, got ${describe(input)}` })
  const extra = Object.keys(input).find((key) => !known.includes(key))
  return extra === undefined ? Result.succeed(input) : Result.fail({ field: extra, reason: "is not a known option" })
}

/** A positive, finite duration in milliseconds; `fallback` when absent. */
export const millis = (field: string, input: unknown, fallback: number): Result.Result<number, Problem> => {
  if (input === undefined) return Result.succeed(fallback)
  // Effect's decoder throws on garbage; `fromInput` turns that into `None`.
  const decoded = Duration.fromInput(input as Duration.Input)
  if (Option.isNone(decoded))
    return Result.fail({ field, reason: `must be a duration such as "5 seconds", got ${describe(input)}` })
  const ms = Duration.toMillis(decoded.value)
  if (!Number.isFinite(ms) || ms <= 0) {
    return Result.fail({ field, reason: `must be greater than zero and finite, got ${describe(input)}` })
  }
  return Result.succeed(ms)
}

/** A non-empty string without NUL; `fallback` when absent. */
export const name = (field: string, input: unknown, fallback: string, max: number): Result.Result<string, Problem> => {
  if (input === undefined) return Result.succeed(fallback)
  if (typeof input !== "string" || input.length === 0 || input.includes("\u0000")) {
    return Result.fail({ field, reason: `must be a non-empty string, got ${describe(input)}` })
  }
  if (input.length > max)
    return Result.fail({ field, reason: `must be at most ${max} characters, got ${input.length}` })
  return Result.succeed(input)
}
