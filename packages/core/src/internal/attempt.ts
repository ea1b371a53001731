/**
 * How an attempt's exit is read: `classify` maps an `Exit` (or `TIMED_OUT`) to an `AttemptResult`,
 * the first column of the attempt-exit table. Pure, no state: the task loop applies the policy.
 *
 * Invariants:
 * - The error's `_tag` decides (`TaskCanceled`, `TaskEscalate`, `TaskFatal`), so any value with
 *   that tag counts; then `isFatal`; else it is a failure.
 * - The first typed failure decides; a defect is looked at only when there is none.
 * - Never throws on a hostile error value (throwing getters, Proxies, an `isFatal` that throws):
 *   such a failure still goes through the restart policy.
 *
 * @internal
 */
import * as Cause from "effect/Cause"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import { hasProperty } from "effect/Predicate"
import * as Result from "effect/Result"
import * as TaskError from "../TaskError.js"
import { describeError } from "./describe.js"

/** How one attempt ended, read per the attempt-exit table. */
export type AttemptResult =
  | { readonly _tag: "Succeeded" }
  | { readonly _tag: "Canceled"; readonly reason: string; readonly exitCode: number | undefined }
  | {
      readonly _tag: "Failed"
      readonly reason: string
      readonly exitCode: number | undefined
      readonly fatal: boolean
      /** Failed with `TaskError.Escalate`: fatal, and the supervisor fails too. */
      readonly escalate: boolean
      readonly cause: Cause.Cause<unknown>
    }
  | { readonly _tag: "TimedOut"; readonly reason: string; readonly cause: Cause.Cause<unknown> }

/** The value `timeoutTo` yields when the supervisor's per-attempt timeout fires. */
export const TIMED_OUT: unique symbol = Symbol.for("@fibervisor/core/TimedOut")

const succeeded: AttemptResult = { _tag: "Succeeded" }

// Both read a value the task chose: a throwing getter or Proxy trap reads as absent, so the
// failure still goes through the restart policy.
const exitCodeOf = (error: unknown): number | undefined => {
  try {
    return hasProperty(error, "exitCode") && typeof error.exitCode === "number" ? error.exitCode : undefined
  } catch {
    return undefined
  }
}

const tagOf = (error: unknown): unknown => {
  try {
    return hasProperty(error, "_tag") ? error._tag : undefined
  } catch {
    return undefined
  }
}

/** Reads an attempt's exit. `isFatal` is the task's predicate; a predicate that throws is a failure. */
export const classify = (
  exit: Exit.Exit<unknown, unknown> | typeof TIMED_OUT,
  timeoutMs: number,
  isFatal: ((error: unknown) => boolean) | undefined
): AttemptResult => {
  if (exit === TIMED_OUT) {
    const reason = `attempt timed out after ${timeoutMs} ms`
    return { _tag: "TimedOut", reason, cause: Cause.fail(TaskError.timeout(reason)) }
  }
  if (Exit.isSuccess(exit)) return succeeded
  const cause = exit.cause
  const failure = Cause.findErrorOption(cause)
  if (Option.isSome(failure)) {
    const error = failure.value
    const tag = tagOf(error)
    const code = exitCodeOf(error)
    // NaN and ±Infinity have no JSON form: an event carrying one could not be decoded again.
    const exitCode = code === undefined || Number.isFinite(code) ? code : undefined
    const reason =
      code === exitCode
        ? describeError(error)
        : `${describeError(error)} (exitCode ${code} ignored: not a finite number)`
    if (tag === "TaskCanceled") return { _tag: "Canceled", reason, exitCode }
    if (tag === "TaskEscalate") return { _tag: "Failed", reason, exitCode, fatal: true, escalate: true, cause }
    let fatal = tag === "TaskFatal"
    if (!fatal && isFatal !== undefined) {
      try {
        fatal = isFatal(error) === true
      } catch (thrown) {
        return {
          _tag: "Failed",
          reason: `${reason} (isFatal threw: ${describeError(thrown)})`,
          exitCode,
          fatal: false,
          escalate: false,
          cause
        }
      }
    }
    return { _tag: "Failed", reason, exitCode, fatal, escalate: false, cause }
  }
  const defect = Cause.findDefect(cause)
  if (Result.isSuccess(defect)) {
    return {
      _tag: "Failed",
      reason: `defect: ${describeError(defect.success)}`,
      exitCode: undefined,
      fatal: false,
      escalate: false,
      cause
    }
  }
  return {
    _tag: "Failed",
    reason: "the attempt was interrupted without a stop request",
    exitCode: undefined,
    fatal: false,
    escalate: false,
    cause
  }
}
