/**
 * The supervisor: runs tasks in supervised fibers, restarts them per policy after their backoff,
 * and stops them gracefully — each stop completes the task's `cancelled` signal, interrupts its
 * fiber so its `Scope` finalizers run, waits up to the grace period, then abandons and reports what hung.
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as Layer from "effect/Layer"
import * as LayerModule from "effect/Layer"
import type * as Option from "effect/Option"
import type * as Scope from "effect/Scope"
import type * as Stream from "effect/Stream"
import * as internal from "./internal/supervisor/make.js"
import * as tree from "./internal/tree.js"
import type {
  GraceExceeded,
  InvalidArgument,
  InvalidSupervisorOptions,
  InvalidTaskSpec,
  SupervisorFailure,
  SupervisorShuttingDown,
  TaskAlreadyExists,
  TaskTerminationTimeout
} from "./SupervisorError.js"
import type {
  Admission as AdmissionSchema,
  AutoShutdownMode,
  SlotStatus,
  Strategy as StrategySchema,
  SupervisorEvent,
  TaskState as TaskStateSchema
} from "./SupervisorEvent.js"
import type { SupervisorTree, TaskKind } from "./SupervisorTree.js"
import type { Services, Task, TaskOptions } from "./Task.js"
import type { TaskId } from "./TaskId.js"
import type { TaskOutcome } from "./TaskOutcome.js"

/**
 * The errors `Supervisor` operations fail with, re-exported from `SupervisorError`. TypeDoc reads
 * the category of re-exported names from this comment; each name below carries its own `@since`.
 *
 * @category errors
 */
export {
  /**
   * @since 0.2.0
   * @category errors
   */
  Escalated,
  /**
   * @since 0.1.0
   * @category errors
   */
  GraceExceeded,
  /**
   * @since 0.1.0
   * @category errors
   */
  InvalidArgument,
  /**
   * @since 0.1.0
   * @category errors
   */
  InvalidSupervisorOptions,
  /**
   * @since 0.2.0
   * @category errors
   */
  RestartIntensityExceeded,
  /**
   * @since 0.1.0
   * @category errors
   */
  SupervisorShuttingDown,
  /**
   * @since 0.1.0
   * @category errors
   */
  TaskAlreadyExists,
  /**
   * @since 0.1.0
   * @category errors
   */
  TaskTerminationTimeout
} from "./SupervisorError.js"

/**
 * Settings for the tasks of a supervisor that do not set their own.
 *
 * @since 0.1.0
 * @category models
 */
export interface TaskDefaults extends Pick<
  TaskOptions,
  "restart" | "backoff" | "timeout" | "maxRetries" | "resetAfter" | "grace" | "logFailures"
> {}

/**
 * How a child's restart-worthy failure spreads to its siblings (OTP's strategies): `one-for-one`
 * restarts only that child; `one-for-all` stops every live sibling and restarts them all;
 * `rest-for-one` stops and restarts the siblings started after it.
 *
 * @since 0.2.0
 * @category models
 */
export type Strategy = typeof StrategySchema.Type

/**
 * At most `maxRestarts` restarts within any window of `within`; one more fails the supervisor
 * with `RestartIntensityExceeded`.
 *
 * @since 0.2.0
 * @category models
 */
export interface Intensity {
  readonly maxRestarts: number
  readonly within: Duration.Input
}

/**
 * Supervisor options.
 *
 * @since 0.1.0
 * @category models
 */
export interface SupervisorOptions {
  /** How long shutdown waits for all tasks, and `remove`/`cancel` for one (default 10 seconds). */
  readonly grace?: Duration.Input | undefined
  /** At most this many attempts run at once; a permit is held only while an attempt runs (default unlimited). */
  readonly maxConcurrent?: number | undefined
  /** Settings for tasks that leave them out (a nested supervisor without its own inherits its parent's). */
  readonly defaults?: TaskDefaults | undefined
  /** Capacity of the sliding event bus (default 1024; the root's bus serves the whole tree). */
  readonly eventBuffer?: number | undefined
  /** The root's name, the first segment of every path in its tree (default `"root"`). */
  readonly name?: string | undefined
  /** How a child's failure spreads to its siblings (default `"one-for-one"`). */
  readonly strategy?: Strategy | undefined
  /**
   * The restart limit. Default: none at the root, 3 in 5 seconds for a nested supervisor (OTP's);
   * `undefined` set explicitly means none.
   */
  readonly intensity?: Intensity | undefined
  /**
   * When `significant` children ending by themselves complete the supervisor: when any of them
   * has, or when all of them have (default `"never"`).
   */
  readonly autoShutdown?: typeof AutoShutdownMode.Type | undefined
  /** How many submissions may wait in one controller slot (default 100). */
  readonly maxSlotQueue?: number | undefined
}

/**
 * Options of `Supervisor.task`: the nested supervisor's options and the task's own settings (its
 * restart policy and backoff as a child of its parent). `grace` serves as both: how long the
 * nested supervisor gives its children, and how long its parent waits for it.
 *
 * @since 0.2.0
 * @category models
 */
export interface SupervisorTaskOptions
  extends
    Omit<SupervisorOptions, "eventBuffer" | "name" | "maxSlotQueue">,
    Omit<TaskOptions<SupervisorFailure | AddError>, "grace"> {}

/**
 * How a controller submission takes its slot.
 *
 * @since 0.2.0
 * @category models
 */
export interface SubmitOptions {
  /** The slot (default: the task's name). */
  readonly slot?: string | undefined
  /**
   * While the slot is busy: `queue` waits in FIFO order (bounded by `maxSlotQueue`), `replace`
   * stops the owner within its grace and runs this one next, `drop-if-running` is refused.
   */
  readonly admission: typeof AdmissionSchema.Type
}

/**
 * A controller slot, as `slots` reports it.
 *
 * @since 0.2.0
 * @category models
 */
export interface SlotInfo {
  readonly slot: string
  /** `terminating`: a `replace` asked the owner to stop; the slot frees when its fiber has exited. */
  readonly status: typeof SlotStatus.Type
  readonly owner: Option.Option<{ readonly id: TaskId; readonly name: string }>
  /** Submissions waiting behind the owner. */
  readonly queued: number
}

/**
 * What a task is doing: waiting for its first attempt or a permit, running an attempt, sleeping
 * before a retry after a failure (`backing-off`), waiting for its next run after a success
 * (`scheduled`: `Task.repeat`, `Task.periodic`, `RestartPolicy.always`), or stopping (also:
 * abandoned after its grace, until its fiber exits).
 *
 * @since 0.1.0
 * @category models
 */
export type TaskState = typeof TaskStateSchema.Type

/**
 * A snapshot of one task, taken from the registry (never derived from events).
 *
 * @since 0.1.0
 * @category models
 */
export interface TaskInfo {
  readonly id: TaskId
  readonly name: string
  /** Where it sits in the tree, e.g. `"root/db/pool"`. */
  readonly path: string
  /** `supervisor` for a `Supervisor.task`. */
  readonly kind: typeof TaskKind.Type
  readonly state: TaskState
  /** The current (or last) attempt, 1-based; 0 before the first. */
  readonly attempt: number
  /**
   * How many restarts after a failed (or timed-out) attempt have been scheduled (it counts up when
   * the backoff starts). Runs after a success (`Task.repeat`, `always`) and `restartNow` are not restarts.
   */
  readonly restarts: number
  readonly lastFailure: Option.Option<string>
  /** Epoch ms (from `Clock`) of the next attempt while backing off or scheduled. */
  readonly nextAttemptAt: Option.Option<number>
  /**
   * Present on readiness tasks only: `true` (ready while an attempt runs; also a `Supervisor.task`
   * with a readiness task below it) or `"reported"` (see `TaskOptions.ready`).
   *
   * @since 0.2.0
   */
  readonly ready?: true | "reported"
  /**
   * Present on `ready: "reported"` tasks only: whether the running attempt reported itself ready.
   *
   * @since 0.2.0
   */
  readonly reportedReady?: boolean
}

/**
 * A handle on an added task.
 *
 * @since 0.1.0
 * @category models
 */
export interface TaskHandle {
  readonly id: TaskId
  readonly name: string
  /** Resumes with the outcome once it is decided (after cleanup, or on abandonment). */
  readonly await: Effect.Effect<TaskOutcome>
  /** The outcome, if decided. */
  readonly poll: Effect.Effect<Option.Option<TaskOutcome>>
  /**
   * `sup.cancel(handle.id, options)`: stops the task and waits for its cleanup; `true` for the one
   * caller that claimed the stop.
   *
   * @since 0.2.0
   */
  cancel(options?: {
    readonly timeout?: Duration.Input | undefined
  }): Effect.Effect<boolean, TaskTerminationTimeout | InvalidArgument>
}

/**
 * The tree and where the event stream stood when it was taken (see `Supervisor.snapshot`).
 *
 * @since 1.0.0
 * @category models
 */
export interface Snapshot {
  /**
   * The `seq` of the last event published before the snapshot was taken: the tree reflects every
   * event up to it and none after it, so a client that applies the events with a greater `seq`
   * stays in step without a gap or a double.
   */
  readonly seq: number
  readonly tree: SupervisorTree
}

/**
 * An operator's request to act on a task (see `Supervisor.operatorAction`).
 *
 * @since 1.0.0
 * @category models
 */
export interface OperatorRequest {
  /** `"cancel"`, `"remove"` or `"restart"`; any other action is refused (and audited). */
  readonly action: string
  /** The task's full path, as the tree and the events show it (`"root/app/worker-1"`). */
  readonly path: string
  /** Who asked, for the audit (the dashboard passes the client's address). */
  readonly remote: string
  /** What carried the request, for the audit (`"dashboard"`). */
  readonly source: string
  /**
   * Set when the caller has refused the request itself (no token, a forged origin, a bad body):
   * nothing runs and the audit records this reason.
   */
  readonly refused?: string | undefined
  /**
   * Set when the caller has acted itself, on something the supervisor does not own (the
   * dashboard's `"retry"` of failed offloaded work): nothing runs and the audit records this
   * outcome (`refused` takes precedence).
   *
   * @since 1.0.0
   */
  readonly acted?: OperatorResult | undefined
}

/**
 * What became of an operator's request: the audit's outcome (see
 * `SupervisorEvent.OperatorActionRequested`), and why when it was refused or declined.
 *
 * @since 1.0.0
 * @category models
 */
export interface OperatorResult {
  readonly outcome: "done" | "declined" | "not-found" | "refused"
  readonly reason?: string
}

/**
 * A task by name or by id.
 *
 * @since 0.1.0
 * @category models
 */
export type TaskRef = string | TaskId

/**
 * Why `add` can fail.
 *
 * @since 0.1.0
 * @category errors
 */
export type AddError = TaskAlreadyExists | SupervisorShuttingDown | InvalidTaskSpec

/**
 * A running supervisor.
 *
 * @since 0.1.0
 * @category models
 */
export interface Supervisor {
  /**
   * Admits a task and starts it. The task's `R` is taken from the caller: its attempts run with
   * the caller's context — its services and references (Clock, Random, loggers, log level and
   * annotations, tracer and parent span).
   */
  add<E, R>(task: Task<E, R>): Effect.Effect<TaskHandle, AddError, R>
  /** Admits a batch all-or-nothing: if one task is refused, none starts. */
  addAll<const T extends Iterable<Task<any, any>>>(
    tasks: T
  ): Effect.Effect<ReadonlyArray<TaskHandle>, AddError, Services<T>>
  /**
   * Admits a batch (all-or-nothing), waits until no task is left, returns the batch's outcomes in
   * order; fails when the supervisor fails (restart intensity, escalation).
   */
  run<const T extends Iterable<Task<any, any>>>(
    tasks: T
  ): Effect.Effect<ReadonlyArray<TaskOutcome>, AddError | SupervisorFailure, Services<T>>
  /**
   * Submits a task to a controller slot (taskvisor's keyed admission). The handle resolves
   * `Rejected` (`QueueFull`, `SlotBusy`, `SupersededByReplace`, `RemovedFromQueue`, `ShuttingDown`,
   * `AlreadyExists`) when the submission never runs.
   */
  submit<E, R>(task: Task<E, R>, options: SubmitOptions): Effect.Effect<TaskHandle, AddError | InvalidArgument, R>
  /** The controller's busy slots: status, owner, queue depth. */
  readonly slots: Effect.Effect<ReadonlyArray<SlotInfo>>
  /** The whole tree under this supervisor, with states, for tooling. */
  readonly tree: Effect.Effect<SupervisorTree>
  /**
   * Resumes when the supervisor has stopped (after a shutdown or an auto-shutdown), and fails when
   * it failed (`RestartIntensityExceeded`, `Escalated`). Does not start a shutdown.
   */
  readonly join: Effect.Effect<void, SupervisorFailure>
  /**
   * Claims the stop of a task and returns at once: `true` for the one caller that claimed it. A
   * queued controller submission is taken out of its queue instead (it resolves `RemovedFromQueue`).
   * Since 1.0.0 `ref` may also be a path relative to this supervisor (`"app/connector"`), as for
   * `restartNow`: the task `connector` of the running `Supervisor.task` `app`.
   */
  remove(ref: TaskRef): Effect.Effect<boolean>
  /**
   * Stops a task and waits for its cleanup: `true` for the one caller that claimed the stop,
   * `false` for unknown tasks and for callers that joined a stop already under way.
   * With `timeout`, gives up waiting with `TaskTerminationTimeout`; the stop continues.
   * Since 1.0.0 `ref` may also be a path relative to this supervisor, as for `remove`.
   */
  cancel(
    ref: TaskRef,
    options?: { readonly timeout?: Duration.Input | undefined }
  ): Effect.Effect<boolean, TaskTerminationTimeout | InvalidArgument>
  /**
   * Restarts a task now, by name, id, or path relative to this supervisor (`"app/connector"` for
   * the task `connector` of the running `Supervisor.task` `app`). A running attempt is stopped as
   * a stop does (`cancelled` completes, then its fiber is interrupted) and, once it has ended, a
   * new attempt starts at once; a task that is waiting, backing off or scheduled starts its next
   * attempt at once. It is not a failure: it does not count against the restart intensity, the
   * retry budget or `restarts`. An attempt that does not stop within the task's grace is abandoned
   * (`ForceAborted`, not restarted; its name stays taken until its fiber exits).
   * Returns `false` for an unknown task, a task that is stopping, ended or being restarted (by its
   * group or an earlier `restartNow`), and while the supervisor shuts down.
   *
   * @since 0.2.0
   */
  restartNow(ref: TaskRef): Effect.Effect<boolean>
  /** Every task, sorted by id. */
  readonly list: Effect.Effect<ReadonlyArray<TaskInfo>>
  /** One task (since 1.0.0 also by a path relative to this supervisor, as for `remove`). */
  get(ref: TaskRef): Effect.Effect<Option.Option<TaskInfo>>
  /**
   * The tree together with the `seq` of the last event published before it was taken, read in
   * one step: a live view takes the snapshot, then applies the events after `seq`.
   *
   * @since 1.0.0
   */
  readonly snapshot: Effect.Effect<Snapshot>
  /**
   * Runs an operator's action on the task at a full path (`"root/app/worker-1"`: this
   * supervisor's path, then the names down the tree) and audits it: `cancel` (stop, and resume
   * once its cleanup is done), `remove` (stop, resume at once) or `restart` (`restartNow`).
   * `SupervisorEvent.OperatorActionRequested` is published with the outcome for every request —
   * also when nothing runs: the path names no task (`not-found`), the action is unknown or the
   * caller refused the request itself (`refused`). It never fails: the outcome says what happened.
   *
   * @since 1.0.0
   */
  operatorAction(request: OperatorRequest): Effect.Effect<OperatorResult>
  /** Lifecycle events published after the stream starts; ends when the supervisor is closed. */
  readonly events: Stream.Stream<SupervisorEvent>
  /** Subscribes now (no event after this call is missed) and returns the events as a stream. */
  readonly subscribe: Effect.Effect<Stream.Stream<SupervisorEvent>, never, Scope.Scope>
  /**
   * Graceful shutdown: one shared operation, every caller gets the same result. Fails with
   * `GraceExceeded` when tasks had to be abandoned.
   */
  readonly shutdown: Effect.Effect<void, GraceExceeded>
  /** Resumes when no task is left without an outcome. */
  readonly awaitEmpty: Effect.Effect<void>
  readonly isShuttingDown: Effect.Effect<boolean>
  /** How many tasks the registry holds (including abandoned ones whose fiber has not exited). */
  readonly size: Effect.Effect<number>
}

/**
 * The `Supervisor` service tag.
 *
 * @since 0.1.0
 * @category tags
 */
export const Supervisor: Context.Service<Supervisor, Supervisor> =
  Context.Service<Supervisor>("@fibervisor/core/Supervisor")

/**
 * Creates a supervisor in the current scope; closing the scope shuts it down gracefully.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Supervisor, Task } from "@fibervisor/core"
 *
 * const program = Effect.gen(function* () {
 *   const sup = yield* Supervisor.make({ grace: "10 seconds" })
 *   const handle = yield* sup.add(Task.once("hello", Effect.log("hello")))
 *   return yield* handle.await
 * }).pipe(Effect.scoped)
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const make: (options?: SupervisorOptions) => Effect.Effect<Supervisor, InvalidSupervisorOptions, Scope.Scope> =
  internal.make

/**
 * Provides a `Supervisor` service; it shuts down when the layer is released.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (options?: SupervisorOptions): Layer.Layer<Supervisor, InvalidSupervisorOptions> =>
  LayerModule.effect(Supervisor, make(options))

/**
 * Runs a batch of tasks under a fresh supervisor until none is left, and returns their outcomes in
 * order. The batch is all-or-nothing. Interrupting it shuts the supervisor down gracefully.
 *
 * @since 0.1.0
 * @category constructors
 */
export const run = <const T extends Iterable<Task<any, any>>>(
  tasks: T,
  options?: SupervisorOptions
): Effect.Effect<ReadonlyArray<TaskOutcome>, AddError | InvalidSupervisorOptions | SupervisorFailure, Services<T>> =>
  Effect.scoped(Effect.flatMap(internal.makeForRun(options), (supervisor) => supervisor.run(tasks)))

/**
 * A task whose attempt runs a nested supervisor over `children`: trees are built by nesting.
 * Children start in list order (each once the previous one began its first attempt) and stop in
 * reverse order, each within its grace. The nested supervisor fails with
 * `RestartIntensityExceeded` or `Escalated`, which its parent reads as a failure of this task;
 * it completes when `autoShutdown` says so. Options and children are checked when the parent
 * admits the task.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { RestartPolicy, Supervisor, Task } from "@fibervisor/core"
 *
 * const db = Supervisor.task(
 *   "db",
 *   [Task.restartable("pool", Effect.never), Task.restartable("replicator", Effect.never)],
 *   { strategy: "rest-for-one", intensity: { maxRestarts: 3, within: "5 seconds" }, restart: RestartPolicy.onFailure }
 * )
 * ```
 *
 * @since 0.2.0
 * @category constructors
 */
export const task: <const Children extends ReadonlyArray<Task<any, any>>>(
  name: string,
  children: Children,
  options?: SupervisorTaskOptions
) => Task<SupervisorFailure | AddError, Services<Children>> = tree.supervisorTask

/**
 * Adds a task to the `Supervisor` service.
 *
 * @since 0.1.0
 * @category accessors
 */
export const add = <E, R>(task: Task<E, R>): Effect.Effect<TaskHandle, AddError, Supervisor | R> =>
  Effect.flatMap(Supervisor, (supervisor) => supervisor.add(task))

/**
 * Removes a task from the `Supervisor` service (returns at once).
 *
 * @since 0.1.0
 * @category accessors
 */
export const remove = (ref: TaskRef): Effect.Effect<boolean, never, Supervisor> =>
  Effect.flatMap(Supervisor, (supervisor) => supervisor.remove(ref))

/**
 * Cancels a task of the `Supervisor` service and waits for its cleanup.
 *
 * @since 0.1.0
 * @category accessors
 */
export const cancel = (
  ref: TaskRef,
  options?: { readonly timeout?: Duration.Input | undefined }
): Effect.Effect<boolean, TaskTerminationTimeout | InvalidArgument, Supervisor> =>
  Effect.flatMap(Supervisor, (supervisor) => supervisor.cancel(ref, options))

/**
 * Restarts a task of the `Supervisor` service now (see `Supervisor.restartNow`).
 *
 * @since 0.2.0
 * @category accessors
 */
export const restartNow = (ref: TaskRef): Effect.Effect<boolean, never, Supervisor> =>
  Effect.flatMap(Supervisor, (supervisor) => supervisor.restartNow(ref))

/**
 * Submits a task to a controller slot of the `Supervisor` service.
 *
 * @since 0.2.0
 * @category accessors
 */
export const submit = <E, R>(
  task: Task<E, R>,
  options: SubmitOptions
): Effect.Effect<TaskHandle, AddError | InvalidArgument, Supervisor | R> =>
  Effect.flatMap(Supervisor, (supervisor) => supervisor.submit(task, options))
