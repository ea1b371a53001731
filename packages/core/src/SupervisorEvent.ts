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
import * as Schema from "effect/Schema"
import { TaskId } from "./TaskId.js"
import * as TaskOutcome from "./TaskOutcome.js"

const stamp = { seq: Schema.Number, at: Schema.Number }
/** Events about a supervisor carry its path in the tree (`"root"`, `"root/db"`). */
const base = { ...stamp, path: Schema.String }
/** Events about a task carry its name and its path in the tree (`"root/db/pool"`). */
const task = { ...stamp, id: TaskId, task: Schema.String, path: Schema.String }
/** An optional key that, when present, holds a value (never `undefined`): the JSON form omits it. */
const optional = Schema.optionalKey

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
  rejection: Schema.Literals(["AlreadyExists", "ShuttingDown", "InvalidSpec"]),
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
 * The next attempt is scheduled after `delayMs`, after a failure (a restart) or, for `Task.repeat`,
 * `Task.periodic` and `always`, after a success (the next run: not a restart).
 *
 * @since 0.1.0
 * @category schemas
 */
export const BackoffScheduled = Schema.TaggedStruct("BackoffScheduled", {
  ...task,
  attempt: Schema.Number,
  delayMs: Schema.Number,
  source: Schema.Literals(["success", "failure"]),
  reason: optional(Schema.String)
})

/**
 * A stop of the task was claimed (`remove`, `cancel`, shutdown, a group restart that stops a
 * `RestartPolicy.never` sibling for good, or a `replace` submission to its slot).
 *
 * @since 0.1.0
 * @category schemas
 */
export const TaskRemoveRequested = Schema.TaggedStruct("TaskRemoveRequested", {
  ...task,
  reason: Schema.Literals(["remove", "cancel", "shutdown", "group-restart", "replace"])
})

/**
 * What a task is doing (`Supervisor.TaskState`): waiting for its first attempt or a permit,
 * running an attempt, backing off after a failure, scheduled after a success, or stopping. The
 * one declaration of these names: `Supervisor.TaskState` and the snapshot's `TaskNode.state` use
 * it. `"standby"` (since 1.0.0) is an attempt that runs but waits for a role another replica holds
 * (a `@fibervisor/cluster` singleton on a replica that does not own it; see `TaskContext.setStandby`).
 *
 * @since 1.0.0
 * @category schemas
 */
export const TaskState = Schema.Literals(["waiting", "running", "backing-off", "scheduled", "stopping", "standby"])

/**
 * `restartNow` restarts the task: its attempt (if one runs) is being stopped, and a new one starts
 * once it has ended. `state` is what the task was doing when asked.
 *
 * @since 0.2.0
 * @category schemas
 */
export const TaskRestartRequested = Schema.TaggedStruct("TaskRestartRequested", {
  ...task,
  state: TaskState
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
 * Shutdown abandoned the tasks named in `stuck` after `graceMs`; `paths` are the deepest tasks
 * still running under them. `elapsedMs` (since 0.2.0) is set when the shutdown was decided before
 * its grace ran out, because every task still running had been abandoned after its own grace.
 *
 * @since 0.1.0
 * @category schemas
 */
export const GraceExceeded = Schema.TaggedStruct("GraceExceeded", {
  ...base,
  graceMs: Schema.Number,
  stuck: Schema.Array(Schema.String),
  paths: Schema.Array(Schema.String),
  elapsedMs: Schema.optional(Schema.Number)
})

/**
 * The supervisor's restart strategy.
 *
 * @since 0.2.0
 * @category schemas
 */
export const Strategy = Schema.Literals(["one-for-one", "one-for-all", "rest-for-one"])

/**
 * A child's restart-worthy failure restarted a group of children (`one-for-all`: every live
 * child; `rest-for-one`: the ones started after it). `affected` lists them in start order.
 *
 * @since 0.2.0
 * @category schemas
 */
export const GroupRestart = Schema.TaggedStruct("GroupRestart", {
  ...base,
  strategy: Strategy,
  trigger: Schema.String,
  affected: Schema.Array(Schema.String)
})

/**
 * More restarts than the supervisor's intensity allows happened in its window: it stops every
 * child and fails.
 *
 * @since 0.2.0
 * @category schemas
 */
export const RestartIntensityExceeded = Schema.TaggedStruct("RestartIntensityExceeded", {
  ...base,
  maxRestarts: Schema.Number,
  withinMs: Schema.Number,
  trigger: Schema.String,
  reason: Schema.String
})

/**
 * A child escalated: the supervisor stops every child and fails.
 *
 * @since 0.2.0
 * @category schemas
 */
export const Escalated = Schema.TaggedStruct("Escalated", {
  ...base,
  task: Schema.String,
  reason: Schema.String
})

/**
 * When `significant` children ending by themselves complete the supervisor
 * (`SupervisorOptions.autoShutdown`): `never`, when any of them has, or when all of them have.
 *
 * @since 1.0.0
 * @category schemas
 */
export const AutoShutdownMode = Schema.Literals(["never", "any-significant", "all-significant"])

/**
 * A significant child ended by itself and `autoShutdown` says the supervisor is done: it stops
 * the other children and completes normally.
 *
 * @since 0.2.0
 * @category schemas
 */
export const AutoShutdown = Schema.TaggedStruct("AutoShutdown", {
  ...base,
  mode: AutoShutdownMode.pick(["any-significant", "all-significant"]),
  trigger: Schema.String
})

/**
 * How a submission asks for its slot.
 *
 * @since 0.2.0
 * @category schemas
 */
export const Admission = Schema.Literals(["queue", "replace", "drop-if-running"])

/**
 * What a controller slot is doing.
 *
 * @since 0.2.0
 * @category schemas
 */
export const SlotStatus = Schema.Literals(["idle", "running", "terminating"])

/**
 * A submission reached the controller (before its admission is decided).
 *
 * @since 0.2.0
 * @category schemas
 */
export const SlotSubmitted = Schema.TaggedStruct("SlotSubmitted", {
  ...task,
  slot: Schema.String,
  admission: Admission
})

/**
 * The controller refused or dropped a submission; its handle resolves `Rejected` with `kind`.
 *
 * @since 0.2.0
 * @category schemas
 */
export const SlotRejected = Schema.TaggedStruct("SlotRejected", {
  ...task,
  slot: Schema.String,
  kind: Schema.Literals([
    "QueueFull",
    "SlotBusy",
    "SupersededByReplace",
    "RemovedFromQueue",
    "ShuttingDown",
    "AlreadyExists"
  ]),
  reason: Schema.String
})

/**
 * A slot changed status (`reason` says why: `"admitted"`, `"replace"`, `"owner exited"`, …);
 * `queued` is the depth of its queue after the change.
 *
 * @since 0.2.0
 * @category schemas
 */
export const SlotTransition = Schema.TaggedStruct("SlotTransition", {
  ...base,
  slot: Schema.String,
  from: SlotStatus,
  to: SlotStatus,
  owner: optional(Schema.String),
  queued: Schema.Number,
  reason: Schema.String
})

/**
 * What became of an operator's action (see `OperatorActionRequested`): `done` (the supervisor
 * acted), `declined` (the task is there but the supervisor did not act: a stop already under way,
 * a task it cannot restart now), `not-found` (no task at the path), `refused` (the request was
 * refused before anything ran: no or a wrong token, actions disabled, a forged origin, a bad body).
 *
 * @since 1.0.0
 * @category schemas
 */
export const OperatorOutcome = Schema.Literals(["done", "declined", "not-found", "refused"])

/**
 * An operator asked to act on a task — from the dashboard or another tool, through
 * `Supervisor.operatorAction` — and `outcome` says what became of it. Published for every
 * request, the refused ones included, so the bus is the audit trail. `path` is the task's full
 * path and `action` the action (`"cancel"`, `"remove"`, `"restart"`) as the request named them,
 * which a refused request may have named wrongly (both are cut to a bounded length); `reason` says
 * why it was refused or declined; `remote` is who asked (the dashboard puts the client's address),
 * `source` what carried the request (`"dashboard"`).
 *
 * @since 1.0.0
 * @category schemas
 */
export const OperatorActionRequested = Schema.TaggedStruct("OperatorActionRequested", {
  ...stamp,
  path: Schema.String,
  action: Schema.String,
  outcome: OperatorOutcome,
  reason: optional(Schema.String),
  remote: Schema.String,
  source: Schema.String
})

/**
 * This replica became the owner of cluster singleton `name` (`@fibervisor/cluster`) with lease
 * `epoch` (strictly increasing across owners); `runner` is this replica's id. Emitted by the
 * singleton's task (`task`, `path`) before its tree starts.
 *
 * @since 1.0.0
 * @category schemas
 */
export const SingletonAcquired = Schema.TaggedStruct("SingletonAcquired", {
  ...task,
  name: Schema.String,
  epoch: Schema.Number,
  runner: Schema.String
})

/**
 * This replica stopped owning cluster singleton `name` (epoch `epoch`), once its tree has stopped
 * (or its hand-off grace ran out). `reason`: `"handoff"` (the task was stopped: remove, cancel,
 * shutdown), `"lock-lost"` (the lease could not be kept or was taken), `"failed"` (the tree
 * failed: the task's restart policy decides what follows), `"completed"` (the tree ended by
 * itself).
 *
 * @since 1.0.0
 * @category schemas
 */
export const SingletonReleased = Schema.TaggedStruct("SingletonReleased", {
  ...task,
  name: Schema.String,
  epoch: Schema.Number,
  runner: Schema.String,
  reason: Schema.Literals(["handoff", "lock-lost", "failed", "completed"])
})

/**
 * Cluster singleton `name` runs elsewhere: this replica (`runner`) waits in `standby`. `owner` and
 * `epoch` are the current owner's, when one holds a live lease. Emitted on entering standby and when
 * the observed owner changes.
 *
 * @since 1.0.0
 * @category schemas
 */
export const SingletonStandby = Schema.TaggedStruct("SingletonStandby", {
  ...task,
  name: Schema.String,
  runner: Schema.String,
  owner: optional(Schema.String),
  epoch: optional(Schema.Number)
})

/**
 * The union of every event.
 *
 * @since 0.1.0
 * @category schemas
 */
export const SupervisorEvent = Schema.Union([
  TaskAdded,
  TaskAddFailed,
  AttemptStarting,
  AttemptSucceeded,
  AttemptFailed,
  AttemptTimedOut,
  AttemptCanceled,
  BackoffScheduled,
  TaskRemoveRequested,
  TaskRestartRequested,
  TaskFinished,
  TaskRemoved,
  ShutdownRequested,
  AllStoppedWithinGrace,
  GraceExceeded,
  GroupRestart,
  RestartIntensityExceeded,
  Escalated,
  AutoShutdown,
  SlotSubmitted,
  SlotRejected,
  SlotTransition,
  OperatorActionRequested,
  SingletonAcquired,
  SingletonReleased,
  SingletonStandby
])

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
export const decode: (input: unknown) => Effect.Effect<SupervisorEvent, Schema.SchemaError> =
  Schema.decodeUnknownEffect(SupervisorEvent)

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
