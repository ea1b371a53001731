/**
 * A snapshot of a supervision tree, for tooling: every supervisor with its strategy and state, every
 * task with its state and counters, nested supervisors under the task that runs them. A `Schema`,
 * so the snapshot can be served as JSON.
 *
 * @since 0.2.0
 */
import * as Schema from "effect/Schema"
import { TaskId } from "./TaskId.js"

/**
 * One task in a snapshot. `supervisor` is set for a `Supervisor.task` whose attempt is running.
 *
 * @since 0.2.0
 * @category models
 */
export interface TaskNode {
  readonly id: TaskId
  readonly name: string
  readonly path: string
  readonly kind: "worker" | "supervisor"
  readonly state: "waiting" | "running" | "backing-off" | "scheduled" | "stopping"
  readonly attempt: number
  readonly restarts: number
  /** Marked `ready: true`: the service is ready only while it has a running attempt. */
  readonly ready: boolean
  readonly lastFailure?: string
  readonly nextAttemptAt?: number
  readonly supervisor?: SupervisorTree
}

/**
 * One supervisor in a snapshot.
 *
 * @since 0.2.0
 * @category models
 */
export interface SupervisorTree {
  readonly path: string
  readonly strategy: "one-for-one" | "one-for-all" | "rest-for-one"
  /** `stopped`: its shutdown has finished (abandoned tasks may still be listed until they exit). */
  readonly state: "running" | "shutting-down" | "stopped"
  readonly tasks: ReadonlyArray<TaskNode>
}

/**
 * The JSON form of a `TaskNode`.
 *
 * @since 0.2.0
 * @category models
 */
export interface TaskNodeEncoded extends Omit<TaskNode, "supervisor" | "id"> {
  readonly id: number
  readonly supervisor?: SupervisorTreeEncoded
}

/**
 * The JSON form of a `SupervisorTree`.
 *
 * @since 0.2.0
 * @category models
 */
export interface SupervisorTreeEncoded extends Omit<SupervisorTree, "tasks"> {
  readonly tasks: ReadonlyArray<TaskNodeEncoded>
}

const optional = <S extends Schema.Schema.Any>(schema: S) => Schema.optionalWith(schema, { exact: true })

/**
 * @since 0.2.0
 * @category schemas
 */
export const TaskNode: Schema.Schema<TaskNode, TaskNodeEncoded> = Schema.Struct({
  id: TaskId,
  name: Schema.String,
  path: Schema.String,
  kind: Schema.Literal("worker", "supervisor"),
  state: Schema.Literal("waiting", "running", "backing-off", "scheduled", "stopping"),
  attempt: Schema.Number,
  restarts: Schema.Number,
  ready: Schema.Boolean,
  lastFailure: optional(Schema.String),
  nextAttemptAt: optional(Schema.Number),
  supervisor: optional(Schema.suspend((): Schema.Schema<SupervisorTree, SupervisorTreeEncoded> => SupervisorTree))
})

/**
 * @since 0.2.0
 * @category schemas
 */
export const SupervisorTree: Schema.Schema<SupervisorTree, SupervisorTreeEncoded> = Schema.Struct({
  path: Schema.String,
  strategy: Schema.Literal("one-for-one", "one-for-all", "rest-for-one"),
  state: Schema.Literal("running", "shutting-down", "stopped"),
  tasks: Schema.Array(TaskNode)
})

/**
 * Encodes a snapshot to JSON-ready data.
 *
 * @since 0.2.0
 * @category codecs
 */
export const encode: (tree: SupervisorTree) => SupervisorTreeEncoded = Schema.encodeSync(SupervisorTree)

/**
 * Every task of the tree, depth first, with nested supervisors' tasks after the task that runs them.
 *
 * @since 0.2.0
 * @category getters
 */
export const flatten = (tree: SupervisorTree): ReadonlyArray<TaskNode> =>
  tree.tasks.flatMap((node) => (node.supervisor === undefined ? [node] : [node, ...flatten(node.supervisor)]))

/**
 * The tasks a readiness probe waits for: tasks marked `ready: true` without a running attempt.
 *
 * @since 0.2.0
 * @category getters
 */
export const notReady = (tree: SupervisorTree): ReadonlyArray<TaskNode> =>
  flatten(tree).filter((node) => node.ready && node.state !== "running")

/**
 * The deepest tasks of a tree (workers, and supervisor tasks with no running child): what is left
 * running when a shutdown hangs.
 *
 * @since 0.2.0
 * @category getters
 */
export const leaves = (tree: SupervisorTree): ReadonlyArray<TaskNode> =>
  tree.tasks.flatMap((node) => {
    const below = node.supervisor === undefined ? [] : leaves(node.supervisor)
    return below.length === 0 ? [node] : below
  })
