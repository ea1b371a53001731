/**
 * The options of `ClusterOffload.layerPostgres` and `layerMemory`, checked once per layer: an
 * unknown key is refused, a bad value names its field and says why (values printed by core's
 * `Inputs.describe`), a duration is read as the cluster's other options are (options.ts).
 *
 * @internal
 */
import { Inputs } from "@fibervisor/core"
import * as Result from "effect/Result"
import { millis as positiveMillis, type Problem } from "../options.js"

export type { Problem }

const describe = Inputs.describe

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

/** A positive, finite duration in milliseconds (the rule of the cluster's other options); `fallback` when absent. */
export const millis = (field: string, input: unknown, fallback: number): Result.Result<number, Problem> =>
  input === undefined ? Result.succeed(fallback) : positiveMillis(field, input)

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
