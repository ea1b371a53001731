/**
 * Lifecycle events. A `Schema` tagged union, so events can be encoded to JSON and decoded back.
 *
 * Every event carries `seq` (per supervisor, increasing) and `at` (epoch ms read from Effect's
 * `Clock`, so `TestClock` makes it deterministic). Events are best-effort: the bus is a sliding
 * `PubSub`, so a slow subscriber loses the oldest events and the supervisor never blocks. Outcomes
 * are delivered reliably through `TaskHandle.await`, not through events.
 *
 * @since 0.1.0
 */
import type * as Effect from "effect/Effect"
import type * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
import { TaskId } from "./TaskId.js"
import * as TaskOutcome from "./TaskOutcome.js"

const base = { seq: Schema.Number, at: Schema.Number }
const task = { ...base, id: TaskId, task: Schema.String }
const optional = <S extends Schema.Schema.Any>(schema: S) => Schema.optionalWith(schema, { exact: true })

/**
 * @since 0.1.0
 * @category schemas
 */
export const TaskAdded = Schema.TaggedStruct("TaskAdded", task)

/**
 * Admission refused a task (`rejection` says why).
 *
 * @since 0.1.0
 * @category schemas
 */
export const TaskAddFailed = Schema.TaggedStruct("TaskAddFailed", {
  ...base,
  task: Schema.String,
  rejection: Schema.Literal("AlreadyExists", "ShuttingDown", "InvalidSpec"),
  reason: Schema.String
})

/**
 * @since 0.1.0
 * @category schemas
 */
export const AttemptStarting = Schema.TaggedStruct("AttemptStarting", { ...task, attempt: Schema.Number })

/**
 * @since 0.1.0
 * @category schemas
 */
export const AttemptSucceeded = Schema.TaggedStruct("AttemptSucceeded", {
  ...task,
  attempt: Schema.Number,
  durationMs: Schema.Number
})

/**
 * An attempt failed: a typed error (including `TaskError.Fail`, `Fatal`, and a `Timeout` the task
 * returned itself) or a defect. `fatal` tells whether the task will stop for good because of it.
 *
 * @since 0.1.0
 * @category schemas
 */
export const AttemptFailed = Schema.TaggedStruct("AttemptFailed", {
  ...task,
  attempt: Schema.Number,
  durationMs: Schema.Number,
  reason: Schema.String,
  exitCode: optional(Schema.Number),
  fatal: Schema.Boolean
})

/**
 * The supervisor's per-attempt `timeout` fired and the attempt was interrupted.
 *
 * @since 0.1.0
 * @category schemas
 */
export const AttemptTimedOut = Schema.TaggedStruct("AttemptTimedOut", {
  ...task,
  attempt: Schema.Number,
  durationMs: Schema.Number,
  timeoutMs: Schema.Number
})

/**
 * An attempt ended because a stop was requested, or it returned `TaskError.Canceled`.
 *
 * @since 0.1.0
 * @category schemas
 */
export const AttemptCanceled = Schema.TaggedStruct("AttemptCanceled", {
  ...task,
  attempt: Schema.Number,
  durationMs: Schema.Number,
  reason: Schema.String
})

/**
 * The next attempt is scheduled after `delayMs`, after a failure or (for `always`) a success.
 *
 * @since 0.1.0
 * @category schemas
 */
export const BackoffScheduled = Schema.TaggedStruct("BackoffScheduled", {
  ...task,
  attempt: Schema.Number,
  delayMs: Schema.Number,
  source: Schema.Literal("success", "failure"),
  reason: optional(Schema.String)
})

/**
 * A stop of the task was claimed (`remove`, `cancel` or shutdown).
 *
 * @since 0.1.0
 * @category schemas
 */
export const TaskRemoveRequested = Schema.TaggedStruct("TaskRemoveRequested", {
  ...task,
  reason: Schema.Literal("remove", "cancel", "shutdown")
})

/**
 * The task's outcome is decided. Always before its `TaskRemoved`.
 *
 * @since 0.1.0
 * @category schemas
 */
export const TaskFinished = Schema.TaggedStruct("TaskFinished", {
  ...task,
  outcome: TaskOutcome.Kind,
  reason: optional(Schema.String),
  exitCode: optional(Schema.Number)
})

/**
 * The task's fiber has exited and its name is free again.
 *
 * @since 0.1.0
 * @category schemas
 */
export const TaskRemoved = Schema.TaggedStruct("TaskRemoved", task)

/**
 * @since 0.1.0
 * @category schemas
 */
export const ShutdownRequested = Schema.TaggedStruct("ShutdownRequested", base)

/**
 * @since 0.1.0
 * @category schemas
 */
export const AllStoppedWithinGrace = Schema.TaggedStruct("AllStoppedWithinGrace", base)

/**
 * Shutdown abandoned the tasks named in `stuck` after `graceMs`.
 *
 * @since 0.1.0
 * @category schemas
 */
export const GraceExceeded = Schema.TaggedStruct("GraceExceeded", {
  ...base,
  graceMs: Schema.Number,
  stuck: Schema.Array(Schema.String)
})

/**
 * The union of every event.
 *
 * @since 0.1.0
 * @category schemas
 */
export const SupervisorEvent = Schema.Union(
  TaskAdded,
  TaskAddFailed,
  AttemptStarting,
  AttemptSucceeded,
  AttemptFailed,
  AttemptTimedOut,
  AttemptCanceled,
  BackoffScheduled,
  TaskRemoveRequested,
  TaskFinished,
  TaskRemoved,
  ShutdownRequested,
  AllStoppedWithinGrace,
  GraceExceeded
)

/**
 * A lifecycle event.
 *
 * @since 0.1.0
 * @category models
 */
export type SupervisorEvent = typeof SupervisorEvent.Type

/**
 * The JSON form of an event.
 *
 * @since 0.1.0
 * @category models
 */
export type Encoded = typeof SupervisorEvent.Encoded

/**
 * The tag of each event kind.
 *
 * @since 0.1.0
 * @category models
 */
export type Tag = SupervisorEvent["_tag"]

/**
 * Narrows the event union to one kind.
 *
 * @since 0.1.0
 * @category models
 */
export type Of<T extends Tag> = Extract<SupervisorEvent, { readonly _tag: T }>

/**
 * Encodes an event to its JSON form (total: every event the supervisor emits is valid).
 *
 * @since 0.1.0
 * @category codecs
 */
export const encode: (event: SupervisorEvent) => Encoded = Schema.encodeSync(SupervisorEvent)

/**
 * Decodes (and checks) an event from its JSON form.
 *
 * @since 0.1.0
 * @category codecs
 */
export const decode: (input: unknown) => Effect.Effect<SupervisorEvent, ParseResult.ParseError> =
  Schema.decodeUnknown(SupervisorEvent)

/**
 * Is the event of kind `tag`?
 *
 * @since 0.1.0
 * @category guards
 */
export const is =
  <T extends Tag>(tag: T) =>
  (event: SupervisorEvent): event is Of<T> =>
    event._tag === tag
