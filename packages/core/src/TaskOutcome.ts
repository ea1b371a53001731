/**
 * How a task ended. Delivered once, through `TaskHandle.await`, independently of the event bus.
 *
 * @since 0.1.0
 */
import type * as Cause from "effect/Cause"
import * as Data from "effect/Data"
import * as Schema from "effect/Schema"

/**
 * The task finished its work (a success under `never` or `onFailure`).
 *
 * @since 0.1.0
 * @category models
 */
export class Completed extends Data.TaggedClass("Completed")<{}> {}

/**
 * The task failed and will not be restarted: its policy is `never`, or its retry budget is spent.
 *
 * @since 0.1.0
 * @category models
 */
export class Failed extends Data.TaggedClass("Failed")<{
  readonly reason: string
  readonly exitCode?: number | undefined
  readonly cause?: Cause.Cause<unknown> | undefined
}> {}

/**
 * The task returned `TaskError.Fatal` (or an error its `isFatal` predicate accepted).
 *
 * @since 0.1.0
 * @category models
 */
export class Fatal extends Data.TaggedClass("Fatal")<{
  readonly reason: string
  readonly exitCode?: number | undefined
  readonly cause?: Cause.Cause<unknown> | undefined
}> {}

/**
 * The task stopped because it was asked to (remove, cancel, shutdown) or returned `TaskError.Canceled`.
 *
 * @since 0.1.0
 * @category models
 */
export class Canceled extends Data.TaggedClass("Canceled")<{
  readonly reason: string
  readonly exitCode?: number | undefined
  readonly cause?: Cause.Cause<unknown> | undefined
}> {}

/**
 * The task did not stop within its grace period and was abandoned. Its fiber may still be running
 * (stuck in an uninterruptible region or a hanging finalizer); its name stays taken until it exits.
 *
 * @since 0.1.0
 * @category models
 */
export class ForceAborted extends Data.TaggedClass("ForceAborted")<{
  readonly reason: string
}> {}

/**
 * Why admission refused a task.
 *
 * @since 0.1.0
 * @category models
 */
export type RejectionKind =
  | "AlreadyExists"
  | "ShuttingDown"
  | "InvalidSpec"
  | "QueueFull"
  | "SlotBusy"
  | "SupersededByReplace"
  | "RemovedFromQueue"

/**
 * The task was never admitted.
 *
 * @since 0.1.0
 * @category models
 */
export class Rejected extends Data.TaggedClass("Rejected")<{
  readonly kind: RejectionKind
  readonly reason: string
}> {}

/**
 * How a task ended.
 *
 * @since 0.1.0
 * @category models
 */
export type TaskOutcome = Completed | Failed | Fatal | Canceled | ForceAborted | Rejected

/**
 * The label of each outcome (its `_tag`), as carried by `TaskFinished` events.
 *
 * @since 0.1.0
 * @category models
 */
export type Kind = TaskOutcome["_tag"]

/**
 * The schema of an outcome label.
 *
 * @since 0.1.0
 * @category schemas
 */
export const Kind: Schema.Literals<readonly ["Completed", "Failed", "Fatal", "Canceled", "ForceAborted", "Rejected"]> =
  Schema.Literals(["Completed", "Failed", "Fatal", "Canceled", "ForceAborted", "Rejected"])

/**
 * The single `Completed` value.
 *
 * @since 0.1.0
 * @category constructors
 */
export const completed: TaskOutcome = new Completed()

/**
 * Did the task end well (`Completed`)?
 *
 * @since 0.1.0
 * @category guards
 */
export const isSuccess = (outcome: TaskOutcome): outcome is Completed => outcome._tag === "Completed"

/**
 * The reason an outcome carries, if any.
 *
 * @since 0.1.0
 * @category getters
 */
export const reason = (outcome: TaskOutcome): string | undefined =>
  outcome._tag === "Completed" ? undefined : outcome.reason

/**
 * The exit code an outcome carries, if any.
 *
 * @since 0.1.0
 * @category getters
 */
export const exitCode = (outcome: TaskOutcome): number | undefined =>
  outcome._tag === "Failed" || outcome._tag === "Fatal" || outcome._tag === "Canceled" ? outcome.exitCode : undefined
