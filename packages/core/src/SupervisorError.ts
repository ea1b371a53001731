/**
 * The errors the supervisor's own operations fail with.
 *
 * @since 0.1.0
 */
import * as Duration from "effect/Duration"
import * as Schema from "effect/Schema"

/**
 * A task spec that cannot run: names the task, the field and why.
 *
 * @since 0.1.0
 * @category errors
 */
export class InvalidTaskSpec extends Schema.TaggedError<InvalidTaskSpec>("@fibervisor/core/InvalidTaskSpec")(
  "InvalidTaskSpec",
  { task: Schema.String, field: Schema.String, reason: Schema.String }
) {
  /** @since 0.1.0 */
  override get message(): string {
    return `invalid task spec${this.task === "" ? "" : ` "${this.task}"`}: ${this.field} ${this.reason}`
  }
}

/**
 * Supervisor options that cannot be used: names the field and why.
 *
 * @since 0.1.0
 * @category errors
 */
export class InvalidSupervisorOptions extends Schema.TaggedError<InvalidSupervisorOptions>(
  "@fibervisor/core/InvalidSupervisorOptions"
)("InvalidSupervisorOptions", { field: Schema.String, reason: Schema.String }) {
  /** @since 0.1.0 */
  override get message(): string {
    return `invalid supervisor options: ${this.field} ${this.reason}`
  }
}

/**
 * A live task already holds this name (names become free once the previous holder's fiber has exited).
 *
 * @since 0.1.0
 * @category errors
 */
export class TaskAlreadyExists extends Schema.TaggedError<TaskAlreadyExists>("@fibervisor/core/TaskAlreadyExists")(
  "TaskAlreadyExists",
  { name: Schema.String }
) {
  /** @since 0.1.0 */
  override get message(): string {
    return `a task named "${this.name}" already exists`
  }
}

/**
 * The supervisor is shutting down and admits no new task.
 *
 * @since 0.1.0
 * @category errors
 */
export class SupervisorShuttingDown extends Schema.TaggedError<SupervisorShuttingDown>(
  "@fibervisor/core/SupervisorShuttingDown"
)("SupervisorShuttingDown", {}) {
  /** @since 0.1.0 */
  override get message(): string {
    return "the supervisor is shutting down"
  }
}

/**
 * Shutdown ended with tasks still running; they were abandoned. `stuck` names the supervisor's own
 * tasks; `paths` gives, for each, the deepest tasks still running under it (a hung grandchild is
 * reported as `root/db/pool`).
 *
 * Without `elapsed`, the shutdown's `grace` ran out. With `elapsed` (since 0.2.0), the shutdown was
 * decided before that: every task still running had been abandoned after its own grace (or its
 * share of the shutdown's), so the shutdown did not wait for its deadline.
 *
 * Its `message` (the shutdown's warning) names the first 10 paths and counts the rest; `paths`
 * holds them all.
 *
 * @since 0.1.0
 * @category errors
 */
export class GraceExceeded extends Schema.TaggedError<GraceExceeded>("@fibervisor/core/GraceExceeded")(
  "GraceExceeded",
  {
    grace: Schema.Duration,
    stuck: Schema.Array(Schema.String),
    paths: Schema.Array(Schema.String),
    elapsed: Schema.optional(Schema.Duration)
  }
) {
  /** @since 0.1.0 */
  override get message(): string {
    const paths = listed(this.paths)
    return this.elapsed === undefined
      ? `shutdown exceeded its grace of ${Duration.format(this.grace)}; abandoned: ${paths}`
      : `shutdown abandoned tasks that outlasted their own grace, after ${Duration.format(this.elapsed)} of its grace of ${Duration.format(this.grace)}: ${paths}`
  }
}

/** How many paths a message names; a shutdown that abandons 100,000 tasks still logs one short line. */
const listedPaths = 10

const listed = (paths: ReadonlyArray<string>): string =>
  paths.length <= listedPaths
    ? paths.join(", ")
    : `${paths.slice(0, listedPaths).join(", ")} … and ${(paths.length - listedPaths).toLocaleString("en-US")} more`

/**
 * More restarts than `intensity.maxRestarts` happened within `intensity.within`: the supervisor
 * stopped every child and failed. Its parent sees this as a failure of the supervisor task.
 *
 * @since 0.2.0
 * @category errors
 */
export class RestartIntensityExceeded extends Schema.TaggedError<RestartIntensityExceeded>(
  "@fibervisor/core/RestartIntensityExceeded"
)("RestartIntensityExceeded", {
  path: Schema.String,
  maxRestarts: Schema.Number,
  withinMs: Schema.Number,
  trigger: Schema.String,
  reason: Schema.String
}) {
  /** @since 0.2.0 */
  override get message(): string {
    return `supervisor "${this.path}" exceeded its restart intensity of ${this.maxRestarts} in ${this.withinMs} ms (last: "${this.trigger}": ${this.reason})`
  }
}

/**
 * A child escalated (`TaskError.escalate`, or a child with `escalate: true` that gave up): the
 * supervisor stopped every child and failed.
 *
 * @since 0.2.0
 * @category errors
 */
export class Escalated extends Schema.TaggedError<Escalated>("@fibervisor/core/Escalated")("Escalated", {
  path: Schema.String,
  task: Schema.String,
  reason: Schema.String
}) {
  /** @since 0.2.0 */
  override get message(): string {
    return `supervisor "${this.path}" failed: child "${this.task}" escalated: ${this.reason}`
  }
}

/**
 * Why a supervisor failed.
 *
 * @since 0.2.0
 * @category errors
 */
export type SupervisorFailure = RestartIntensityExceeded | Escalated

/**
 * `cancel` gave up waiting for the task's cleanup. The stop itself continues.
 *
 * @since 0.1.0
 * @category errors
 */
export class TaskTerminationTimeout extends Schema.TaggedError<TaskTerminationTimeout>(
  "@fibervisor/core/TaskTerminationTimeout"
)("TaskTerminationTimeout", { task: Schema.String, id: Schema.Number, timeoutMs: Schema.Number }) {
  /** @since 0.1.0 */
  override get message(): string {
    return `task "${this.task}" did not finish within ${this.timeoutMs} ms of the cancel`
  }
}

/**
 * An argument of a supervisor operation (not a task spec or supervisor option) is unusable.
 *
 * @since 0.1.0
 * @category errors
 */
export class InvalidArgument extends Schema.TaggedError<InvalidArgument>("@fibervisor/core/InvalidArgument")(
  "InvalidArgument",
  { operation: Schema.String, field: Schema.String, reason: Schema.String }
) {
  /** @since 0.1.0 */
  override get message(): string {
    return `invalid argument to ${this.operation}: ${this.field} ${this.reason}`
  }
}
