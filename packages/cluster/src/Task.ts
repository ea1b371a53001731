/**
 * Everything of `@fibervisor/core`'s `Task` module, plus `Task.singleton`: a task (usually a
 * `Supervisor.task` tree) that runs on exactly one replica of the cluster per lease epoch.
 * `import { Task } from "@fibervisor/cluster"` is a superset of the core module.
 *
 * @since 1.0.0
 */
import { Task as CoreTask } from "@fibervisor/core"
import type * as RestartPolicy from "@fibervisor/core/RestartPolicy"
import type { TaskFailure } from "@fibervisor/core/Backoff"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Result from "effect/Result"
import type * as Schedule from "effect/Schedule"
import { InvalidSingletonOptions } from "./ClusterError.js"
import type { ClusterSupervisor } from "./ClusterSupervisor.js"
import * as internal from "./internal/singleton.js"
import { resolveSingleton } from "./internal/options.js"
import type { SingletonContext } from "./SingletonContext.js"

/**
 * Every export of `@fibervisor/core`'s `Task` module (`make`, `once`, `forever`, …), unchanged.
 *
 * @since 1.0.0
 * @category re-exports
 */
export * from "@fibervisor/core/Task"

/**
 * Options of `Task.singleton` (unknown keys are refused).
 *
 * - `name`: the lease name, the same on every replica (default: the tree's task name).
 * - `restart`, `backoff`: the outer task's restart policy and backoff, applied when the tree
 *   fails (escalates); default: the tree's own. The singleton is then taken again, by this
 *   replica or another, after the backoff.
 * - `handoffGrace`: how long a stopping tree may run its finalizers, on hand-off (the task is
 *   stopped) and on a lost lease (default: half of the layer's `expiry − refreshInterval`; it must
 *   be below `expiry − refreshInterval`).
 * - `readiness`: `"any"` (default: a replica in standby is ready) or `"owner-only"` (only the
 *   owner is ready, for probes that route to the owner).
 *
 * @since 1.0.0
 * @category models
 */
export interface SingletonOptions {
  readonly name?: string | undefined
  readonly restart?: RestartPolicy.RestartPolicy | undefined
  readonly backoff?: Schedule.Schedule<unknown, TaskFailure> | undefined
  readonly handoffGrace?: Duration.Input | undefined
  readonly readiness?: "any" | "owner-only" | undefined
}

/**
 * Runs `tree` on exactly one replica per lease epoch. Add the returned task on every replica: the
 * replica that holds the lease runs the tree (state `running`, `SingletonAcquired`), the others
 * show `standby` (`SingletonStandby`) and take over when the lease frees or expires. Inside the
 * tree, `SingletonContext` gives the epoch and `confirmOwnership`.
 *
 * A tree that fails (e.g. escalates past its intensity) releases the lease (`SingletonReleased`
 * `failed`) and fails the outer attempt: the outer task's restart policy and backoff apply, then
 * the singleton is taken again. Stopping the task (remove, cancel, shutdown) interrupts the tree,
 * gives it `handoffGrace`, then releases the lease (`handoff`). A lost lease stops the tree the same
 * way before its expiry (`lock-lost`) and returns to standby.
 *
 * The tree's other options (grace, `resetAfter`, `isFatal`, `escalate`, its strategy and intensity)
 * are kept; its `timeout` is not, since an attempt of the singleton's task includes its time in
 * standby. Needs a `ClusterSupervisor` layer. A bad option ends the task `Fatal` at its first attempt with
 * `InvalidSingletonOptions` naming the field.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Supervisor } from "@fibervisor/core"
 * import { SingletonContext, Task } from "@fibervisor/cluster"
 *
 * const poller = Task.make(
 *   "poller",
 *   Effect.gen(function* () {
 *     const { epoch, confirmOwnership } = yield* SingletonContext.SingletonContext
 *     yield* confirmOwnership
 *     yield* Effect.log(`polling as epoch ${epoch}`)
 *   })
 * )
 * const billing = Task.singleton(Supervisor.task("billing", [poller]), { handoffGrace: "5 seconds" })
 * ```
 *
 * @since 1.0.0
 * @category constructors
 */
export const singleton = <E, R>(
  tree: CoreTask.Task<E, R>,
  options?: SingletonOptions
): CoreTask.Task<E | InvalidSingletonOptions, Exclude<R, SingletonContext> | ClusterSupervisor> => {
  const settings = resolveSingleton(options)
  // The outer attempt includes the time in standby: a per-attempt timeout of the tree would end a
  // replica's wait for the lease, so the singleton's task has none.
  const taskOptions: Record<string, unknown> = { timeout: undefined }
  const isFatal = tree.options.isFatal
  taskOptions.isFatal = (error: unknown) =>
    error instanceof InvalidSingletonOptions || (isFatal !== undefined && isFatal(error as E))
  if (Result.isSuccess(settings)) {
    if (options?.restart !== undefined) taskOptions.restart = options.restart
    if (options?.backoff !== undefined) taskOptions.backoff = options.backoff
    taskOptions.ready = settings.success.readiness === "owner-only"
  }
  return CoreTask.mapAttempt(
    tree,
    (inner: internal.Attempt<E, R>) =>
      Result.isFailure(settings)
        ? Effect.fail(internal.invalidOptions(tree.name, settings.failure))
        : internal.attempt(inner, settings.success),
    taskOptions
  ) as unknown as CoreTask.Task<E | InvalidSingletonOptions, Exclude<R, SingletonContext> | ClusterSupervisor>
}
