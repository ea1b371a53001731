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
import type * as Schedule from "effect/Schedule"
import type * as Scope from "effect/Scope"
import type * as Stream from "effect/Stream"
import type { TaskFailure } from "./Backoff.js"
import * as internal from "./internal/supervisor.js"
import type { RestartPolicy } from "./RestartPolicy.js"
import type {
  GraceExceeded,
  InvalidArgument,
  InvalidSupervisorOptions,
  InvalidTaskSpec,
  SupervisorShuttingDown,
  TaskAlreadyExists,
  TaskTerminationTimeout
} from "./SupervisorError.js"
import type { SupervisorEvent } from "./SupervisorEvent.js"
import type { Services, Task } from "./Task.js"
import type { TaskId } from "./TaskId.js"
import type { TaskOutcome } from "./TaskOutcome.js"

export {
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
export interface TaskDefaults {
  readonly restart?: RestartPolicy
  readonly backoff?: Schedule.Schedule<unknown, TaskFailure>
  readonly timeout?: Duration.DurationInput | undefined
  readonly maxRetries?: number | undefined
  readonly resetAfter?: Duration.DurationInput | undefined
  readonly grace?: Duration.DurationInput | undefined
}

/**
 * Supervisor options.
 *
 * @since 0.1.0
 * @category models
 */
export interface SupervisorOptions {
  /** How long shutdown waits for all tasks, and `remove`/`cancel` for one (default 10 seconds). */
  readonly grace?: Duration.DurationInput | undefined
  /** At most this many attempts run at once; a permit is held only while an attempt runs (default unlimited). */
  readonly maxConcurrent?: number | undefined
  /** Settings for tasks that leave them out. */
  readonly defaults?: TaskDefaults | undefined
  /** Capacity of the sliding event bus (default 1024). */
  readonly eventBuffer?: number | undefined
}

/**
 * What a task is doing: waiting for its first attempt or a permit, running an attempt, sleeping
 * before the next one, or stopping (also: abandoned after its grace, until its fiber exits).
 *
 * @since 0.1.0
 * @category models
 */
export type TaskState = "waiting" | "running" | "backing-off" | "stopping"

/**
 * A snapshot of one task, taken from the registry (never derived from events).
 *
 * @since 0.1.0
 * @category models
 */
export interface TaskInfo {
  readonly id: TaskId
  readonly name: string
  readonly state: TaskState
  /** The current (or last) attempt, 1-based; 0 before the first. */
  readonly attempt: number
  /** How many restarts have been scheduled (it counts up when the backoff or interval starts). */
  readonly restarts: number
  readonly lastFailure: Option.Option<string>
  /** Epoch ms (from `Clock`) of the next attempt while backing off. */
  readonly nextAttemptAt: Option.Option<number>
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
   * the caller's services and fiber refs (Clock, Random, logger, tracer).
   */
  add<E, R>(task: Task<E, R>): Effect.Effect<TaskHandle, AddError, R>
  /** Admits a batch all-or-nothing: if one task is refused, none starts. */
  addAll<const T extends Iterable<Task<any, any>>>(
    tasks: T
  ): Effect.Effect<ReadonlyArray<TaskHandle>, AddError, Services<T>>
  /** Admits a batch (all-or-nothing), waits until no task is left, returns the batch's outcomes in order. */
  run<const T extends Iterable<Task<any, any>>>(
    tasks: T
  ): Effect.Effect<ReadonlyArray<TaskOutcome>, AddError, Services<T>>
  /** Claims the stop of a task and returns at once: `true` for the one caller that claimed it. */
  remove(ref: TaskRef): Effect.Effect<boolean>
  /**
   * Stops a task and waits for its cleanup: `true` for the one caller that claimed the stop,
   * `false` for unknown tasks and for callers that joined a stop already under way.
   * With `timeout`, gives up waiting with `TaskTerminationTimeout`; the stop continues.
   */
  cancel(
    ref: TaskRef,
    options?: { readonly timeout?: Duration.DurationInput | undefined }
  ): Effect.Effect<boolean, TaskTerminationTimeout | InvalidArgument>
  /** Every task, sorted by id. */
  readonly list: Effect.Effect<ReadonlyArray<TaskInfo>>
  /** One task. */
  get(ref: TaskRef): Effect.Effect<Option.Option<TaskInfo>>
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
export const Supervisor: Context.Tag<Supervisor, Supervisor> =
  Context.GenericTag<Supervisor>("@fibervisor/core/Supervisor")

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
  LayerModule.scoped(Supervisor, make(options))

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
): Effect.Effect<ReadonlyArray<TaskOutcome>, AddError | InvalidSupervisorOptions, Services<T>> =>
  Effect.scoped(Effect.flatMap(make(options), (supervisor) => supervisor.run(tasks)))

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
  options?: { readonly timeout?: Duration.DurationInput | undefined }
): Effect.Effect<boolean, TaskTerminationTimeout | InvalidArgument, Supervisor> =>
  Effect.flatMap(Supervisor, (supervisor) => supervisor.cancel(ref, options))
