/**
 * The one-line `reason` of events and outcomes: `describeError` for an error value,
 * `describeCause` for a `Cause` (its first typed failure, else its first defect, else
 * "interrupted").
 *
 * Invariant: never throws, whatever the value: a hostile error must still go through the restart
 * policy.
 *
 * @internal
 */
import * as Cause from "effect/Cause"
import * as Option from "effect/Option"
import * as Result from "effect/Result"
import { hasProperty } from "effect/Predicate"

/** A nested supervisor's failures: their message names the supervisor, their `reason` is only the child's. */
const supervisorFailures: ReadonlySet<unknown> = new Set(["RestartIntensityExceeded", "Escalated"])

/**
 * A one-line description of an error value for events and outcomes. Never throws: a value whose
 * description throws (a throwing getter, `toString` or `Symbol.toPrimitive`, a circular
 * null-prototype object, a hostile Proxy) is described by a fixed fallback, so the failure still
 * goes through the restart policy.
 */
export const describeError = (error: unknown): string => {
  try {
    const described = describeUnsafe(error)
    if (typeof described === "string") return described
  } catch {
    // falls through to the fallback
  }
  return `an error value that cannot be described (${typeof error})`
}

const describeUnsafe = (error: unknown): string => {
  if (error instanceof Error && hasProperty(error, "_tag") && supervisorFailures.has(error._tag)) return error.message
  if (hasProperty(error, "reason") && typeof error.reason === "string" && hasProperty(error, "_tag")) {
    return error.reason
  }
  if (error instanceof Error) {
    const tag = hasProperty(error, "_tag") && typeof error._tag === "string" ? error._tag : error.name
    return error.message === "" ? tag : `${tag}: ${error.message}`
  }
  if (typeof error === "string") return error
  if (hasProperty(error, "_tag") && typeof error._tag === "string") return error._tag
  try {
    return JSON.stringify(error) ?? String(error)
  } catch {
    return String(error)
  }
}

/** A one-line description of a cause: its first typed failure, else its first defect. */
export const describeCause = (cause: Cause.Cause<unknown>): string => {
  const failure = Cause.findErrorOption(cause)
  if (Option.isSome(failure)) return describeError(failure.value)
  const defect = Cause.findDefect(cause)
  if (Result.isSuccess(defect)) return `defect: ${describeError(defect.success)}`
  // An empty cause reads as an interruption, as Effect 3's `isInterruptedOnly` had it.
  if (cause.reasons.length === 0 || Cause.hasInterruptsOnly(cause)) return "interrupted"
  try {
    return Cause.pretty(cause)
  } catch {
    return "a cause that cannot be described"
  }
}
