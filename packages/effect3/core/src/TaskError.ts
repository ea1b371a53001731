/**
 * The errors a task's attempt can return to tell its supervisor what happened.
 *
 * Only `Canceled`, `Fatal` and `Escalate` change the supervisor's decision: they are never restarted
 * (and `Escalate` also fails the task's supervisor).
 * `Fail` and `Timeout` (and any other error, and defects) are ordinary failures, restarted per the
 * task's restart policy after its backoff.
 *
 * @since 0.1.0
 */
import * as Data from "effect/Data"
import { hasProperty } from "effect/Predicate"

/**
 * The optional details every task error carries.
 *
 * @since 0.1.0
 * @category models
 */
export interface TaskErrorOptions {
  /**
   * A process-style exit code, reported in events and outcomes. It must be a finite number: `NaN`
   * and `±Infinity` (which JSON cannot carry) are left out of events and outcomes, and the reason
   * says so.
   */
  readonly exitCode?: number | undefined
  /** The underlying error or cause, kept for diagnostics. */
  readonly cause?: unknown
}

/**
 * A retryable failure: restarted per policy, with backoff.
 *
 * @since 0.1.0
 * @category errors
 */
export class Fail extends Data.TaggedError("TaskFail")<{
  readonly reason: string
  readonly exitCode?: number | undefined
  readonly cause?: unknown
}> {
  /** @since 0.1.0 */
  override get message(): string {
    return this.reason
  }
}

/**
 * A permanent failure: the task is never restarted, whatever its policy.
 *
 * @since 0.1.0
 * @category errors
 */
export class Fatal extends Data.TaggedError("TaskFatal")<{
  readonly reason: string
  readonly exitCode?: number | undefined
  readonly cause?: unknown
}> {
  /** @since 0.1.0 */
  override get message(): string {
    return this.reason
  }
}

/**
 * A timeout the task reports itself. It is an ordinary (retryable) failure; the supervisor's own
 * per-attempt `timeout` is reported separately, as `AttemptTimedOut`.
 *
 * @since 0.1.0
 * @category errors
 */
export class Timeout extends Data.TaggedError("TaskTimeout")<{
  readonly reason: string
  readonly exitCode?: number | undefined
  readonly cause?: unknown
}> {
  /** @since 0.1.0 */
  override get message(): string {
    return this.reason
  }
}

/**
 * A cooperative stop: the task ends as `Canceled` and is never restarted, even when nobody asked it
 * to stop.
 *
 * @since 0.1.0
 * @category errors
 */
export class Canceled extends Data.TaggedError("TaskCanceled")<{
  readonly reason: string
  readonly exitCode?: number | undefined
  readonly cause?: unknown
}> {
  /** @since 0.1.0 */
  override get message(): string {
    return this.reason
  }
}

/**
 * Escalation: the task is never restarted and its supervisor fails at once with `Escalated`, which
 * the supervisor's parent sees as a failure of that supervisor (OTP's significant child, suture's
 * `ErrTerminateSupervisorTree`).
 *
 * @since 0.2.0
 * @category errors
 */
export class Escalate extends Data.TaggedError("TaskEscalate")<{
  readonly reason: string
  readonly exitCode?: number | undefined
  readonly cause?: unknown
}> {
  /** @since 0.2.0 */
  override get message(): string {
    return this.reason
  }
}

/**
 * Any of the task errors.
 *
 * @since 0.1.0
 * @category models
 */
export type TaskError = Fail | Fatal | Timeout | Canceled | Escalate

const tags: ReadonlySet<unknown> = new Set(["TaskFail", "TaskFatal", "TaskTimeout", "TaskCanceled", "TaskEscalate"])

/**
 * Is `u` one of the task errors?
 *
 * @since 0.1.0
 * @category guards
 */
export const isTaskError = (u: unknown): u is TaskError => hasProperty(u, "_tag") && tags.has(u._tag)

const withOptions = (reason: string, options?: TaskErrorOptions) => {
  const fields: { reason: string; exitCode?: number; cause?: unknown } = { reason }
  if (options?.exitCode !== undefined) fields.exitCode = options.exitCode
  if (options?.cause !== undefined) fields.cause = options.cause
  return fields
}

/**
 * Builds a retryable `Fail`.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { TaskError } from "@fibervisor/core"
 *
 * const attempt = Effect.fail(TaskError.fail("upstream returned 503", { exitCode: 75 }))
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const fail = (reason: string, options?: TaskErrorOptions): Fail => new Fail(withOptions(reason, options))

/**
 * Builds a `Fatal`: the task stops and is never restarted.
 *
 * @since 0.1.0
 * @category constructors
 */
export const fatal = (reason: string, options?: TaskErrorOptions): Fatal => new Fatal(withOptions(reason, options))

/**
 * Builds a `Timeout` the task returns itself (retryable).
 *
 * @since 0.1.0
 * @category constructors
 */
export const timeout = (reason = "timed out", options?: TaskErrorOptions): Timeout =>
  new Timeout(withOptions(reason, options))

/**
 * Builds a `Canceled`: the task stops as `Canceled` and is never restarted.
 *
 * @since 0.1.0
 * @category constructors
 */
export const canceled = (reason = "canceled", options?: TaskErrorOptions): Canceled =>
  new Canceled(withOptions(reason, options))

/**
 * Builds an `Escalate`: the task stops and its supervisor fails at once with `Escalated`.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { TaskError } from "@fibervisor/core"
 *
 * const attempt = Effect.fail(TaskError.escalate("the schema is from a newer release"))
 * ```
 *
 * @since 0.2.0
 * @category constructors
 */
export const escalate = (reason: string, options?: TaskErrorOptions): Escalate =>
  new Escalate(withOptions(reason, options))
