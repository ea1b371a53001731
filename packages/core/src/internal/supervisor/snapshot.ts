/**
 * What `list`, `get` and `tree` show of a supervisor: plain records read from its registry.
 *
 * **Owns** nothing: pure reads of `Entry` fields (and of nested supervisors, through the entry of
 * the `Supervisor.task` that runs them) into `TaskInfo` / `SupervisorTree` values, plus
 * `stuckPaths`, the paths a shutdown's `GraceExceeded` names.
 *
 * **Data flow**: `SupervisorImpl.list` / `get` → `infoOf`; `SupervisorImpl.treeSnapshot` → `treeOf` →
 * `nodeOf` per entry → the nested supervisor's `treeSnapshot()`, recursively; `Shutdown.decide`
 * (a shutdown past its grace) → `stuckPaths`.
 *
 * **Invariants**
 * - Synchronous and side-effect free: a snapshot is taken inside `Effect.sync`, between two steps
 *   of any fiber, so it sees one consistent state of the whole tree.
 * - Optional fields are left out, not set to `undefined`: the records are compared and encoded
 *   as they are (`ready`/`reportedReady` only on readiness tasks, `lost` only on a tree's root).
 *
 * @internal
 */
import * as Option from "effect/Option"
import type { TaskInfo } from "../../Supervisor.js"
import type * as SupervisorTree from "../../SupervisorTree.js"
import type { Entry } from "../entry.js"
import type { ReadinessRecord } from "../readiness.js"
import type { Registry } from "./registry.js"

/** A task still running, or (for a nested supervisor) the deepest tasks still running under it. */
export const stuckPaths = (entry: Entry): Array<string> => {
  const nested = entry.nested
  if (nested === undefined) return [entry.path]
  const below = nested.registry.stillRunning().flatMap(stuckPaths)
  return below.length === 0 ? [entry.path] : below
}

const kindOf = (entry: Entry): "worker" | "supervisor" => (entry.spec.nested === undefined ? "worker" : "supervisor")

/** One task, as `list` and `get` show it. */
export const infoOf = (entry: Entry): TaskInfo => ({
  id: entry.id,
  name: entry.name,
  path: entry.path,
  kind: kindOf(entry),
  state: entry.state,
  attempt: entry.attempt,
  restarts: entry.restarts,
  lastFailure: Option.fromNullishOr(entry.lastFailure),
  nextAttemptAt: Option.fromNullishOr(entry.nextAttemptAt),
  // Only on readiness tasks, so that the common record stays as it was.
  ...(entry.spec.ready === false
    ? undefined
    : entry.spec.ready === true
      ? { ready: true }
      : { ready: "reported", reportedReady: entry.reportedReady })
})

/** One task of a tree snapshot, with the tree of the nested supervisor it runs, if any. */
const nodeOf = (entry: Entry): SupervisorTree.TaskNode => {
  const nested = entry.nested
  const node: {
    -readonly [K in keyof SupervisorTree.TaskNode]: SupervisorTree.TaskNode[K]
  } = {
    id: entry.id,
    name: entry.name,
    path: entry.path,
    kind: kindOf(entry),
    state: entry.state,
    attempt: entry.attempt,
    restarts: entry.restarts,
    ready: entry.spec.ready !== false
  }
  if (entry.spec.ready === "reported") node.reportedReady = entry.reportedReady
  if (entry.lastFailure !== undefined) node.lastFailure = entry.lastFailure
  if (entry.nextAttemptAt !== undefined) node.nextAttemptAt = entry.nextAttemptAt
  const singleton = entry.singleton
  if (singleton !== undefined && entry.attemptRunning) node.singleton = singleton
  if (nested !== undefined) node.supervisor = nested.treeSnapshot()
  return node
}

/**
 * One supervisor's tree: its tasks in id order, each with its subtree. `readiness` is the tree's
 * record of readiness tasks that ended for good, given on the root only (its paths are full paths).
 */
export const treeOf = (
  path: string,
  strategy: SupervisorTree.SupervisorTree["strategy"],
  state: SupervisorTree.SupervisorTree["state"],
  registry: Registry,
  readiness: ReadinessRecord | undefined
): SupervisorTree.SupervisorTree => {
  const tree: { -readonly [K in keyof SupervisorTree.SupervisorTree]: SupervisorTree.SupervisorTree[K] } = {
    path,
    strategy,
    state,
    tasks: registry.inIdOrder().map(nodeOf)
  }
  if (readiness !== undefined && !readiness.empty) {
    const lost = readiness.list()
    if (lost.length > 0) tree.lost = lost
    if (readiness.unlisted > 0) tree.lostUnlisted = readiness.unlisted
  }
  return tree
}
