/**
 * A snapshot of a supervision tree, for tooling: every supervisor with its strategy and state, every
 * task with its state and counters, nested supervisors under the task that runs them. A `Schema`,
 * so the snapshot can be served as JSON.
 *
 * @since 0.2.0
 */
import * as Schema from "effect/Schema"
import { Strategy, TaskState } from "./SupervisorEvent.js"
import { TaskId } from "./TaskId.js"

/**
 * What a task runs: `worker` for a plain task, `supervisor` for a `Supervisor.task` (a nested
 * supervisor). The one declaration: `TaskNode.kind` and `Supervisor.TaskInfo.kind` use it.
 *
 * @since 1.0.0
 * @category schemas
 */
export const TaskKind = Schema.Literals(["worker", "supervisor"])

/**
 * The cluster singleton role of a task (`@fibervisor/cluster`'s `Task.singleton`), while its attempt
 * runs: `owner` (this replica runs the tree, under `epoch`) or `standby` (`owner` and `epoch` are the
 * current owner's, when known). `name` is the lease name, `runner` this replica's id, `since` when
 * the role began (epoch ms, from `Clock`).
 *
 * @since 1.0.0
 * @category models
 */
export interface SingletonRole {
  readonly name: string
  readonly role: "owner" | "standby"
  readonly runner: string
  readonly owner?: string
  readonly epoch?: number
  readonly since: number
}

/**
 * One task in a snapshot. `supervisor` is set for a `Supervisor.task` whose attempt is running;
 * `singleton` (since 1.0.0) for a cluster singleton's task whose attempt is running.
 *
 * @since 0.2.0
 * @category models
 */
export interface TaskNode {
  readonly id: TaskId
  readonly name: string
  readonly path: string
  readonly kind: typeof TaskKind.Type
  readonly state: typeof TaskState.Type
  readonly attempt: number
  readonly restarts: number
  /**
   * A readiness task: marked `ready: true` (ready while it has a running attempt) or `ready:
   * "reported"` (ready once its running attempt called `TaskContext.markReady`), or a
   * `Supervisor.task` with a readiness task among its children at any depth.
   */
  readonly ready: boolean
  /**
   * Only for `ready: "reported"` tasks: whether the running attempt reported itself ready
   * (`TaskContext.markReady`). A new attempt starts not ready.
   *
   * @since 0.2.0
   */
  readonly reportedReady?: boolean
  readonly lastFailure?: string
  readonly nextAttemptAt?: number
  readonly singleton?: SingletonRole
  readonly supervisor?: SupervisorTree
}

/**
 * A readiness task that ended for good: it ended by itself (`Completed`, `Failed`, `Fatal`, or
 * `Canceled` by `TaskError.canceled`) or a group restart stopped it for good, rather than a `remove`,
 * `cancel`, controller `replace` or shutdown stopping it. Readiness fails while it is recorded.
 *
 * @since 0.2.0
 * @category models
 */
export interface LostTask {
  readonly path: string
  readonly outcome: "Completed" | "Failed" | "Fatal" | "Canceled" | "ForceAborted"
  /** The outcome's reason (`"it completed"` for `Completed`). */
  readonly reason: string
  /** When it ended, epoch ms (from `Clock`). */
  readonly at: number
}

/**
 * One supervisor in a snapshot.
 *
 * @since 0.2.0
 * @category models
 */
export interface SupervisorTree {
  readonly path: string
  readonly strategy: typeof Strategy.Type
  /** `stopped`: its shutdown has finished (abandoned tasks may still be listed until they exit). */
  readonly state: "running" | "shutting-down" | "stopped"
  readonly tasks: ReadonlyArray<TaskNode>
  /**
   * On the root of a tree only, present when not empty: the readiness tasks of the whole tree that
   * ended for good, by path, in the order they ended (at most 100; see `lostUnlisted`). An entry is
   * cleared when a task is added at its path again (for a nested task: when its `Supervisor.task`
   * starts a new attempt), or when a task at or above its path is removed or cancelled.
   *
   * @since 0.2.0
   */
  readonly lost?: ReadonlyArray<LostTask>
  /**
   * On the root of a tree only, present when not zero: losses beyond the 100 listed in `lost`.
   * They keep readiness failing for the rest of the tree's life.
   *
   * @since 0.2.0
   */
  readonly lostUnlisted?: number
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

/** An optional key that, when present, holds a value (never `undefined`): the JSON form omits it. */
const optional = Schema.optionalKey

/**
 * @since 1.0.0
 * @category schemas
 */
export const SingletonRole: Schema.Codec<SingletonRole> = Schema.Struct({
  name: Schema.String,
  role: Schema.Literals(["owner", "standby"]),
  runner: Schema.String,
  owner: optional(Schema.String),
  epoch: optional(Schema.Number),
  since: Schema.Number
})

/**
 * @since 0.2.0
 * @category schemas
 */
export const TaskNode: Schema.Codec<TaskNode, TaskNodeEncoded> = Schema.Struct({
  id: TaskId,
  name: Schema.String,
  path: Schema.String,
  kind: TaskKind,
  state: TaskState,
  attempt: Schema.Number,
  restarts: Schema.Number,
  ready: Schema.Boolean,
  reportedReady: optional(Schema.Boolean),
  lastFailure: optional(Schema.String),
  nextAttemptAt: optional(Schema.Number),
  singleton: optional(SingletonRole),
  supervisor: optional(Schema.suspend((): Schema.Codec<SupervisorTree, SupervisorTreeEncoded> => SupervisorTree))
})

/**
 * @since 0.2.0
 * @category schemas
 */
export const LostTask: Schema.Codec<LostTask> = Schema.Struct({
  path: Schema.String,
  outcome: Schema.Literals(["Completed", "Failed", "Fatal", "Canceled", "ForceAborted"]),
  reason: Schema.String,
  at: Schema.Number
})

/**
 * @since 0.2.0
 * @category schemas
 */
export const SupervisorTree: Schema.Codec<SupervisorTree, SupervisorTreeEncoded> = Schema.Struct({
  path: Schema.String,
  strategy: Strategy,
  state: Schema.Literals(["running", "shutting-down", "stopped"]),
  tasks: Schema.Array(TaskNode),
  lost: optional(Schema.Array(LostTask)),
  lostUnlisted: optional(Schema.Number)
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
 * The live tasks a readiness probe waits for: readiness tasks without a running attempt, and
 * `ready: "reported"` tasks whose running attempt has not reported itself ready. The readiness
 * tasks that ended for good are in `tree.lost`; `isReady` reads both.
 *
 * @since 0.2.0
 * @category getters
 */
export const notReady = (tree: SupervisorTree): ReadonlyArray<TaskNode> =>
  flatten(tree).filter((node) => node.ready && (node.state !== "running" || node.reportedReady === false))

/**
 * Whether the tree is ready: it is running (not shutting down), no readiness task of it ended for
 * good (`lost`), and every live readiness task is ready (`notReady` is empty). What
 * `@fibervisor/platform-node`'s `/readyz` answers.
 *
 * @since 0.2.0
 * @category getters
 */
export const isReady = (tree: SupervisorTree): boolean =>
  tree.state === "running" &&
  (tree.lost === undefined || tree.lost.length === 0) &&
  (tree.lostUnlisted === undefined || tree.lostUnlisted === 0) &&
  notReady(tree).length === 0

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
