/**
 * The service every attempt can read: who it is, which attempt, and whether a stop was requested.
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as role from "./internal/taskRole.js"
import type { TaskId } from "./TaskId.js"
import type * as SupervisorEvent from "./SupervisorEvent.js"

/**
 * What an attempt knows about itself.
 *
 * A stop first completes `cancelled`, then interrupts the attempt's fiber, so code inside an
 * uninterruptible region can watch `cancelled` to finish its current unit of work.
 *
 * @since 0.1.0
 * @category models
 */
export interface TaskContext {
  readonly name: string
  readonly id: TaskId
  /** Where the task sits in the supervision tree, e.g. `"root/db/pool"`. */
  readonly path: string
  /** 1-based, increasing across restarts. */
  readonly attempt: number
  /** Resumes when a stop of this task is requested. */
  readonly cancelled: Effect.Effect<void>
  /** Has a stop of this task been requested? */
  readonly isCancelled: Effect.Effect<boolean>
  /**
   * For a task with `ready: "reported"`: reports that this attempt is ready (connected, warmed up,
   * …); readiness probes count the task as ready from now until the attempt ends or calls
   * `markNotReady`. Every attempt starts not ready. It applies to the attempt that was current when
   * this property was read, so a fiber left over from an earlier attempt cannot mark a later one.
   * Has no effect on other tasks.
   *
   * @since 0.2.0
   */
  readonly markReady: Effect.Effect<void>
  /**
   * For a task with `ready: "reported"`: reports that this attempt is no longer ready (the
   * connection dropped, and it is reconnecting in the same attempt). Has no effect on other tasks.
   *
   * @since 0.2.0
   */
  readonly markNotReady: Effect.Effect<void>
}

/**
 * The tag of the `TaskContext` service. The supervisor provides it to every attempt.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { TaskContext } from "@fibervisor/core"
 *
 * const attempt = Effect.gen(function* () {
 *   const ctx = yield* TaskContext.TaskContext
 *   yield* Effect.log(`${ctx.name} attempt ${ctx.attempt}`)
 *   // With `ready: "reported"`: ready only once connected.
 *   yield* ctx.markReady
 * })
 * ```
 *
 * @since 0.1.0
 * @category tags
 */
export const TaskContext: Context.Service<TaskContext, TaskContext> =
  Context.Service<TaskContext>("@fibervisor/core/TaskContext")

/**
 * A role event an attempt publishes (`TaskContext.emit`): one of the cluster singleton events,
 * without the fields the supervisor adds (`seq`, `at`, and the task's `id`, name and `path`).
 *
 * @since 1.0.0
 * @category models
 */
export type RoleEvent =
  SupervisorEvent.Of<"SingletonAcquired" | "SingletonReleased" | "SingletonStandby"> extends infer E
    ? E extends SupervisorEvent.SupervisorEvent
      ? Omit<E, "seq" | "at" | "id" | "task" | "path">
      : never
    : never

/**
 * Shows the running attempt as `"standby"` (`true`) or `"running"` (`false`) in `list`, `get`, the
 * tree snapshot and `/tasks`. For an attempt that runs but waits for a role another replica holds:
 * `@fibervisor/cluster`'s singletons use it. A readiness task in `standby` is not ready (it is not
 * `"running"`). A new attempt starts `"running"`; outside a supervisor it does nothing.
 *
 * @since 1.0.0
 * @category combinators
 */
export const setStandby = (standby: boolean): Effect.Effect<void, never, TaskContext> =>
  Effect.flatMap(TaskContext, (context) => role.setStandby(context, standby))

/**
 * Publishes a role event (`SingletonAcquired`, `SingletonReleased`, `SingletonStandby`) on the
 * tree's event stream, stamped with the task's id, name and path. Used by `@fibervisor/cluster`;
 * outside a supervisor, or when nobody listens, it does nothing.
 *
 * @since 1.0.0
 * @category combinators
 */
export const emit = (event: RoleEvent): Effect.Effect<void, never, TaskContext> =>
  Effect.flatMap(TaskContext, (context) => role.emit(context, event))
