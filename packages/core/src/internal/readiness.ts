/**
 * The readiness record of one tree: the readiness tasks (`ready: true | "reported"`) that ended
 * for good, by path, shown on the root's snapshot and read by `/readyz`.
 *
 * Data flow: `SupervisorImpl.settle` records a loss (not for a task stopped deliberately, nor
 * while its supervisor shuts down); `spawn` and deliberate stops clear a path and its subtree.
 * Nested supervisors share their root's record (`tree.ts`), so a loss outlives the nested
 * supervisor it happened under.
 *
 * @internal
 */
import type * as SupervisorTree from "../SupervisorTree.js"
import type * as TaskOutcome from "../TaskOutcome.js"

/** The most paths a tree's record lists; later losses are only counted. */
export const maxLost = 100

/**
 * The readiness tasks of one supervision tree that ended for good, by path. One record per tree
 * (nested supervisors share their root's), so a loss deep in the tree outlives the nested
 * supervisor it happened under. Touched only when a readiness task ends, and, while it is not
 * empty, when a task is added or deliberately stopped: never per event.
 */
export class ReadinessRecord {
  /** Made on the first loss: most trees never have one. */
  private byPath: Map<string, SupervisorTree.LostTask> | undefined = undefined
  /** Losses beyond `maxLost`: they keep readiness failing, and nothing can clear them. */
  unlisted = 0

  /** Whether anything is recorded (the only check on the hot paths). */
  get empty(): boolean {
    return (this.byPath === undefined || this.byPath.size === 0) && this.unlisted === 0
  }

  /** Records that the task at `path` ended for good. */
  lose(path: string, outcome: TaskOutcome.TaskOutcome, at: number): void {
    if (outcome._tag === "Rejected") return
    const lost: SupervisorTree.LostTask = {
      path,
      outcome: outcome._tag,
      reason: outcome._tag === "Completed" ? "it completed" : outcome.reason,
      at
    }
    const byPath = (this.byPath ??= new Map())
    if (byPath.has(path) || byPath.size < maxLost) byPath.set(path, lost)
    else this.unlisted += 1
  }

  /** A task was added at `path`, or a task there is being stopped deliberately: it and its subtree no longer count. */
  clear(path: string): void {
    const byPath = this.byPath
    if (byPath === undefined || byPath.size === 0) return
    byPath.delete(path)
    const below = `${path}/`
    for (const key of byPath.keys()) if (key.startsWith(below)) byPath.delete(key)
  }

  /** The recorded losses, in the order they happened. */
  list(): ReadonlyArray<SupervisorTree.LostTask> {
    return this.byPath === undefined ? [] : Array.from(this.byPath.values())
  }
}
