/**
 * The dashboard's model of the tree: built from a snapshot (`GET /api/snapshot`), then kept current
 * by the events that follow it (`GET /api/events?after=<seq>`) until the next snapshot replaces it.
 *
 * The snapshot is the truth; events only move the fields they state plainly (state, attempt, last
 * failure, next attempt, restarts after a failure), add a placeholder row for a new task and drop a
 * removed one, so the page follows at once. A later snapshot (fetched soon after events arrive, and
 * periodically) replaces every row, then the events received after its `seq` are applied again.
 *
 * No DOM here: the node tests exercise it directly.
 */
import type { SupervisorEvent, SupervisorTree } from "@fibervisor/core"

/** An event as it arrives (its JSON form). */
export type WireEvent = SupervisorEvent.Encoded

/** The tree as it arrives. */
export type WireTree = SupervisorTree.SupervisorTreeEncoded

/** One offload kind in a snapshot. */
export interface OffloadKind {
  readonly kind: string
  readonly active: number
  readonly queued: number
  readonly completed: number
  readonly failed: number
  /** Timed-out runs (counted apart from `failed`), when the server reports them. */
  readonly timedOut?: number
  /** `id` is what a retry names (older servers send none: no retry button then). */
  readonly recentFailures: ReadonlyArray<{ readonly id?: string; readonly at: number; readonly reason: string }>
}

/** `GET /api/snapshot`. */
export interface Snapshot {
  /** The sequence number of the last event the snapshot includes. */
  readonly seq: number
  /** The server's clock when it took the snapshot (epoch ms). */
  readonly now: number
  readonly tree: WireTree
  readonly offload: null | { readonly kinds: ReadonlyArray<OffloadKind> }
  /** Whether the server accepts actions (a token is configured). */
  readonly actions: boolean
  /** Whether payloads (failure reasons) are shown; else they read `[hidden]`. */
  readonly payloads?: boolean
  /** Whether the server shows durable jobs (`GET /api/durable`: the `dashboard.durable` option). */
  readonly durable?: boolean
}

/** A dead letter of a durable kind, as `GET /api/durable` shows it. */
export interface DeadLetter {
  readonly key: string
  readonly attempts: number
  readonly maxAttempts: number
  /** Why its last attempt failed (`[hidden]` unless the server shows payloads). */
  readonly lastError: string | null
  readonly finishedAt: number | null
}

/** One durable kind, as `GET /api/durable` shows it: its jobs per status and dead letters, or its store's error. */
export interface DurableKind {
  readonly kind: string
  readonly counts?: {
    readonly pending: number
    readonly running: number
    readonly completed: number
    readonly failed: number
    readonly cancelled: number
  }
  readonly deadLetters?: ReadonlyArray<DeadLetter>
  readonly error?: string
}

// "standby": a cluster singleton on a replica that does not own it (@fibervisor/cluster).
export type TaskState = "waiting" | "running" | "backing-off" | "scheduled" | "stopping" | "standby"

/** One row of the tree view: a task, with its supervisor's details when it runs one. */
export interface Row {
  readonly path: string
  readonly name: string
  readonly depth: number
  kind: "worker" | "supervisor"
  state: TaskState
  attempt: number
  restarts: number
  ready: boolean
  reportedReady: boolean | undefined
  lastFailure: string | undefined
  /** Server clock, epoch ms. */
  nextAttemptAt: number | undefined
  /** For a supervisor task whose attempt runs: its strategy and state. */
  strategy: string | undefined
  supervisorState: string | undefined
  /** For a cluster singleton's task whose attempt runs: its role (owner or standby), lease and epoch. */
  singleton: SupervisorTree.SingletonRole | undefined
  /** Added by an event, not seen in a snapshot yet. */
  provisional: boolean
}

/** The whole model: the root's details and every task row in tree order. */
export interface Model {
  rootPath: string
  rootStrategy: string
  rootState: string
  lost: ReadonlyArray<SupervisorTree.LostTask>
  lostUnlisted: number
  /** Rows in depth-first order (a supervisor task's children follow it). */
  rows: Array<Row>
  byPath: Map<string, Row>
}

const depthOf = (rootPath: string, path: string): number =>
  path.startsWith(rootPath + "/") ? path.slice(rootPath.length + 1).split("/").length - 1 : 0

/** Builds the model from a snapshot's tree. */
export const fromTree = (tree: WireTree): Model => {
  const rows: Array<Row> = []
  const walk = (supervisor: WireTree, depth: number) => {
    for (const node of supervisor.tasks) {
      rows.push({
        path: node.path,
        name: node.name,
        depth,
        kind: node.kind,
        state: node.state,
        attempt: node.attempt,
        restarts: node.restarts,
        ready: node.ready,
        reportedReady: node.reportedReady,
        lastFailure: node.lastFailure,
        nextAttemptAt: node.nextAttemptAt,
        strategy: node.supervisor?.strategy,
        supervisorState: node.supervisor?.state,
        singleton: node.singleton,
        provisional: false
      })
      if (node.supervisor !== undefined) walk(node.supervisor, depth + 1)
    }
  }
  walk(tree, 0)
  return {
    rootPath: tree.path,
    rootStrategy: tree.strategy,
    rootState: tree.state,
    lost: tree.lost ?? [],
    lostUnlisted: tree.lostUnlisted ?? 0,
    rows,
    byPath: new Map(rows.map((row) => [row.path, row]))
  }
}

const parentOf = (path: string): string => path.slice(0, Math.max(0, path.lastIndexOf("/")))

/** Where a new row for `path` goes: after its parent's last descendant (or at the end of the root's rows). */
const insertionIndex = (model: Model, path: string): number => {
  const parent = parentOf(path)
  const start = model.rows.findIndex((row) => row.path === parent)
  if (start < 0) return model.rows.length
  let index = start + 1
  while (index < model.rows.length && model.rows[index]!.path.startsWith(parent + "/")) index += 1
  return index
}

/**
 * Applies one event to the model, in place. Returns `true` when the tree's shape changed or the
 * event says more than the model can follow (a snapshot should be fetched soon).
 */
export const apply = (model: Model, event: WireEvent): boolean => {
  const row = "path" in event ? model.byPath.get(event.path) : undefined
  switch (event._tag) {
    case "TaskAdded": {
      if (row !== undefined) return false
      const depth = depthOf(model.rootPath, event.path)
      const added: Row = {
        path: event.path,
        name: event.task,
        depth,
        kind: "worker",
        state: "waiting",
        attempt: 0,
        restarts: 0,
        ready: false,
        reportedReady: undefined,
        lastFailure: undefined,
        nextAttemptAt: undefined,
        strategy: undefined,
        supervisorState: undefined,
        singleton: undefined,
        provisional: true
      }
      model.rows.splice(insertionIndex(model, event.path), 0, added)
      model.byPath.set(event.path, added)
      return true
    }
    case "AttemptStarting":
      if (row === undefined) return true
      row.state = "running"
      row.attempt = event.attempt
      row.nextAttemptAt = undefined
      if (row.reportedReady !== undefined) row.reportedReady = false
      return false
    case "AttemptFailed":
      if (row === undefined) return true
      row.lastFailure = event.reason
      return false
    case "BackoffScheduled":
      if (row === undefined) return true
      row.state = event.source === "failure" ? "backing-off" : "scheduled"
      row.nextAttemptAt = event.delayMs > 0 ? event.at + event.delayMs : undefined
      if (event.source === "failure") row.restarts += 1
      return false
    case "TaskRemoveRequested":
    case "TaskRestartRequested":
      if (row === undefined) return true
      row.state = "stopping"
      row.nextAttemptAt = undefined
      return false
    case "TaskRemoved": {
      const prefix = event.path + "/"
      const kept = model.rows.filter((r) => r.path !== event.path && !r.path.startsWith(prefix))
      if (kept.length === model.rows.length) return false
      model.rows = kept
      for (const key of [...model.byPath.keys()]) {
        if (key === event.path || key.startsWith(prefix)) model.byPath.delete(key)
      }
      return true
    }
    case "ShutdownRequested":
      if (event.path === model.rootPath) model.rootState = "shutting-down"
      else {
        const owner = model.byPath.get(event.path)
        if (owner !== undefined) owner.supervisorState = "shutting-down"
      }
      return false
    case "SingletonAcquired":
      if (row === undefined) return true
      row.singleton = { name: event.name, role: "owner", runner: event.runner, epoch: event.epoch, since: event.at }
      return false
    case "SingletonStandby":
      if (row === undefined) return true
      row.singleton = {
        name: event.name,
        role: "standby",
        runner: event.runner,
        ...(event.owner === undefined ? {} : { owner: event.owner }),
        ...(event.epoch === undefined ? {} : { epoch: event.epoch }),
        since: event.at
      }
      return false
    case "SingletonReleased":
      if (row === undefined) return true
      row.singleton = undefined
      return false
    case "AttemptSucceeded":
    case "AttemptCanceled":
    case "TaskFinished":
    case "TaskAddFailed":
    case "SlotSubmitted":
    case "SlotRejected":
    case "SlotTransition":
      return false
    default:
      // Group restarts, escalations, timeouts, shutdown results and kinds this page does not know:
      // the next snapshot says what they changed.
      return true
  }
}

/** How many tasks are in each state. */
export const countStates = (rows: ReadonlyArray<Row>): Record<TaskState, number> => {
  const counts: Record<TaskState, number> = {
    waiting: 0,
    running: 0,
    "backing-off": 0,
    scheduled: 0,
    stopping: 0,
    standby: 0
  }
  for (const row of rows) counts[row.state] += 1
  return counts
}

/** The filter of the tree view. */
export interface TreeFilter {
  /** A case-insensitive substring of the path. */
  readonly text: string
  /** Only tasks that failed at least once or are backing off. */
  readonly failingOnly: boolean
  /** Paths of supervisor tasks whose children are hidden. */
  readonly collapsed: ReadonlySet<string>
}

const isFailing = (row: Row): boolean => row.state === "backing-off" || row.lastFailure !== undefined

/**
 * The rows to show, in tree order. With a text or failing filter, a matching row keeps its
 * ancestors visible (so the row's place in the tree stays readable).
 */
export const visibleRows = (rows: ReadonlyArray<Row>, filter: TreeFilter): ReadonlyArray<Row> => {
  const text = filter.text.trim().toLowerCase()
  const collapsedUnder = (path: string): boolean => {
    for (let parent = parentOf(path); parent.includes("/"); parent = parentOf(parent)) {
      if (filter.collapsed.has(parent)) return true
    }
    return false
  }
  if (text === "" && !filter.failingOnly) {
    return filter.collapsed.size === 0 ? rows : rows.filter((row) => !collapsedUnder(row.path))
  }
  const matches = (row: Row) =>
    (text === "" || row.path.toLowerCase().includes(text)) && (!filter.failingOnly || isFailing(row))
  const keep = new Set<string>()
  for (const row of rows) {
    if (!matches(row)) continue
    keep.add(row.path)
    for (let parent = parentOf(row.path); parent.includes("/"); parent = parentOf(parent)) keep.add(parent)
  }
  return rows.filter((row) => keep.has(row.path) && !collapsedUnder(row.path))
}

/** The paths that have tasks under them (supervisor tasks with children), for the expand toggles. */
export const parentPaths = (rows: ReadonlyArray<Row>): ReadonlySet<string> => {
  const parents = new Set<string>()
  for (const row of rows) parents.add(parentOf(row.path))
  return parents
}
