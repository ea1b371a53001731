/**
 * What the demo prints: the live status table (a TTY), one line per event (no TTY), and the
 * summary at the end.
 */
import { type SupervisorEvent, SupervisorTree } from "@fibervisor/core"
import Table from "cli-table3"
import type { Stats } from "./service.js"
import { PAIR } from "./service.js"

const seconds = (ms: number): string => `${(ms / 1000).toFixed(1)} s`

const clip = (text: string, width: number): string => (text.length <= width ? text : `${text.slice(0, width - 1)}…`)

// ---- no TTY: one line per event ----

/** `+0.312s  root/app/connector  AttemptFailed  attempt=1 durationMs=811 reason=…` */
export const eventLine = (start: number, event: SupervisorEvent.SupervisorEvent): string => {
  const time = `+${((event.at - start) / 1000).toFixed(3)}s`.padStart(9)
  const { _tag, seq: _seq, at: _at, path, ...fields } = event
  const rest = Object.entries(fields)
    .filter(([key]) => key !== "task")
    .map(([key, value]) => `${key}=${Array.isArray(value) ? `[${value.join(",")}]` : String(value)}`)
    .join(" ")
  return `${time}  ${path.padEnd(26)} ${_tag.padEnd(22)} ${rest}`.trimEnd()
}

/** A line of the demo itself in the event log's format. */
export const noticeLine = (start: number, now: number, text: string): string =>
  `${`+${((now - start) / 1000).toFixed(3)}s`.padStart(9)}  ${"demo".padEnd(26)} ${text}`

// ---- the HTTP line ----

/** `http: 42 requests (20 fresh, 21 stale, 1 miss) · refreshes: 6 run, 14 deduplicated` */
export const httpLine = (stats: Stats): string =>
  `http: ${stats.requests} requests (${stats.fresh} fresh, ${stats.stale} stale, ${stats.miss} miss) · ` +
  `refreshes: ${stats.refreshesRun} run, ${stats.refreshesDeduplicated} deduplicated` +
  (stats.refreshesRejected > 0 ? `, ${stats.refreshesRejected} rejected` : "")

// ---- TTY: the live table ----

/** What a frame shows besides the tree. */
export interface FrameInfo {
  readonly url: string
  readonly elapsedMs: number
  readonly durationMs: number
  readonly seed: number
  /** `running`, `shutting down…`, `stopped`. */
  readonly status: string
  readonly now: number
  /** The last frame, drawn once the tree has stopped: each task's outcome instead of its state. */
  readonly outcomes?: ReadonlyMap<string, string> | undefined
  /** The terminal's width. */
  readonly columns?: number | undefined
}

const HEAD = ["task", "state", "attempt", "restarts", "next attempt in", "last failure"]
const WIDTHS = [32, 13, 9, 10, 17]
/** The last column takes what the terminal has left (the table is 88 columns without it). */
const failureWidth = (columns: number | undefined): number =>
  Math.min(40, Math.max(14, (columns ?? 120) - WIDTHS.reduce((a, b) => a + b, 0) - HEAD.length - 1))

/**
 * Below this width the full table (about 128 columns) would wrap: a wrapped line is two lines on
 * screen, and log-update cannot erase lines that scrolled off, so the screen fills with fragments.
 */
export const COMPACT_BELOW = 130

const COMPACT_HEAD = ["task", "state", "att", "rst", "next", "failure"]
const COMPACT_WIDTHS = [27, 13, 5, 5, 10]
/** In the compact layout, what is left of the terminal (never wider, so no line wraps). */
const compactFailureWidth = (columns: number): number =>
  Math.max(8, columns - 1 - COMPACT_WIDTHS.reduce((a, b) => a + b, 0) - COMPACT_HEAD.length - 1)

const label = (node: SupervisorTree.TaskNode): string =>
  node.path + (node.supervisor !== undefined ? ` (${node.supervisor.strategy})` : "") + (node.ready ? " (ready)" : "")

/** The compact label: the name indented by depth (`root/app/workers/worker-1` → `    worker-1`). */
const compactLabel = (node: SupervisorTree.TaskNode): string =>
  "  ".repeat(node.path.split("/").length - 1) +
  node.name +
  (node.supervisor !== undefined ? ` (${node.supervisor.strategy})` : "") +
  (node.ready ? " (ready)" : "")

/**
 * Fits a status line into `columns - 1`: parts joined by " · " go on lines of their own when the
 * whole does not fit, and a part that still does not fit is clipped.
 */
const fit = (line: string, columns: number): Array<string> => {
  const max = columns - 1
  if (line.length <= max) return [line]
  const lines: Array<string> = []
  let current = ""
  for (const part of line.split(" · ")) {
    const joined = current === "" ? part : `${current} · ${part}`
    if (joined.length <= max) current = joined
    else {
      if (current !== "") lines.push(current)
      current = part
    }
  }
  lines.push(current)
  return lines.map((text) => clip(text, max))
}

/**
 * One frame: a status line, the tree as a table, readiness, HTTP and worker counters. Below
 * `COMPACT_BELOW` columns it uses the compact layout: shorter headers, names indented by depth, and
 * every line within the terminal's width.
 */
export const frame = (tree: SupervisorTree.SupervisorTree, stats: Stats, info: FrameInfo): string => {
  const compact = info.columns !== undefined && info.columns < COMPACT_BELOW
  const lastWidth = compact ? compactFailureWidth(info.columns ?? 80) : failureWidth(info.columns)
  const table = new Table({
    head: compact ? COMPACT_HEAD : HEAD,
    colWidths: [...(compact ? COMPACT_WIDTHS : WIDTHS), lastWidth],
    colAligns: ["left", "left", "right", "right", "right", "left"],
    style: { head: [], border: [], compact: true }
  })
  const taskWidth = (compact ? COMPACT_WIDTHS : WIDTHS)[0]! - 2
  const outcomes = info.outcomes
  table.push([
    clip(`${tree.path} (${tree.strategy})`, taskWidth),
    outcomes === undefined ? tree.state : "stopped",
    "",
    "",
    "",
    ""
  ])
  for (const node of SupervisorTree.flatten(tree)) {
    const next =
      node.nextAttemptAt === undefined || outcomes !== undefined
        ? ""
        : `${Math.max(0, node.nextAttemptAt - info.now)} ms`
    table.push([
      clip(compact ? compactLabel(node) : label(node), taskWidth),
      outcomes === undefined ? node.state : (outcomes.get(node.path) ?? node.state),
      node.attempt,
      node.restarts,
      next,
      clip(node.lastFailure ?? "", lastWidth - 2)
    ])
  }
  const waiting = SupervisorTree.notReady(tree)
  const ready =
    outcomes !== undefined
      ? "ready: no (stopped)"
      : waiting.length === 0
        ? "ready: yes"
        : `ready: no (waiting for ${waiting.map((node) => `${node.path}: ${node.state}`).join(", ")})`
  const lines = [
    `fibervisor demo · ${info.status} · ${seconds(info.elapsedMs)} of ${seconds(info.durationMs)} · seed ${info.seed} · ${info.url}`,
    table.toString(),
    ready,
    httpLine(stats),
    `feed: ${PAIR} ${stats.quote.toFixed(5)} (${stats.connected ? "connected" : "disconnected"}) · ` +
      `jobs: ${stats.jobs} · heartbeats: ${stats.beats} · heap ${(stats.heapUsed / 1024 / 1024).toFixed(1)} MB`
  ]
  if (!compact) return lines.join("\n")
  const columns = info.columns ?? 80
  return lines.flatMap((line) => (line.includes("\n") ? [line] : fit(line, columns))).join("\n")
}

// ---- the summary: what happened to each path ----

interface PathRecord {
  instances: number
  attempts: number
  failures: number
  restarts: number
  /** The last instance's outcome: its kind, and the kind with the reason. */
  kind: string | undefined
  outcome: string | undefined
}

/** Tallies the events by path, for the summary (outcomes come from `TaskFinished`). */
export class Ledger {
  readonly paths = new Map<string, PathRecord>()
  readonly groupRestarts = new Map<string, number>()
  readonly intensityExceeded = new Map<string, number>()
  /** Task ids whose next attempt is a restart (after a retried failure, or a stop by a group restart). */
  private readonly restarting = new Set<number>()
  events = 0

  private at(path: string): PathRecord {
    let record = this.paths.get(path)
    if (record === undefined) {
      record = { instances: 0, attempts: 0, failures: 0, restarts: 0, kind: undefined, outcome: undefined }
      this.paths.set(path, record)
    }
    return record
  }

  /** Each path's last outcome kind (`Canceled`, `Failed`, …), for the last frame. */
  outcomes(): ReadonlyMap<string, string> {
    const kinds = new Map<string, string>()
    for (const [path, record] of this.paths) if (record.kind !== undefined) kinds.set(path, record.kind)
    return kinds
  }

  record(event: SupervisorEvent.SupervisorEvent): void {
    this.events += 1
    switch (event._tag) {
      case "TaskAdded":
        this.at(event.path).instances += 1
        break
      case "AttemptStarting": {
        const record = this.at(event.path)
        record.attempts += 1
        if (this.restarting.delete(event.id)) record.restarts += 1
        break
      }
      case "AttemptFailed":
      case "AttemptTimedOut":
        this.at(event.path).failures += 1
        break
      case "BackoffScheduled":
        // A failure's retry; a periodic task's next run after a success is not a restart.
        if (event.source === "failure") this.restarting.add(event.id)
        break
      case "AttemptCanceled":
        // A sibling stopped by its group's restart is started again (unless the shutdown comes first).
        if (event.reason === "stopped by group-restart") this.restarting.add(event.id)
        break
      case "TaskFinished": {
        const record = this.at(event.path)
        record.kind = event.outcome
        record.outcome = event.reason === undefined ? event.outcome : `${event.outcome} (${event.reason})`
        break
      }
      case "GroupRestart":
        this.groupRestarts.set(event.path, (this.groupRestarts.get(event.path) ?? 0) + 1)
        break
      case "RestartIntensityExceeded":
        this.intensityExceeded.set(event.path, (this.intensityExceeded.get(event.path) ?? 0) + 1)
        break
    }
  }
}

/** The summary printed at exit. */
export const summary = (ledger: Ledger, stats: Stats, info: { readonly elapsedMs: number; readonly seed: number }) => {
  const rows = [...ledger.paths.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
  const width = Math.max(4, ...rows.map(([path]) => path.length))
  const lines = [
    `summary: ran ${seconds(info.elapsedMs)} (seed ${info.seed}), ${ledger.events} events`,
    `  ${"task".padEnd(width)}  attempts  failures  restarts  outcome`,
    ...rows.map(
      ([path, r]) =>
        `  ${path.padEnd(width)}  ${String(r.attempts).padStart(8)}  ${String(r.failures).padStart(8)}  ` +
        `${String(r.restarts).padStart(8)}  ${r.outcome ?? "no outcome seen"}` +
        (r.instances > 1 ? ` [${r.instances} instances]` : "")
    )
  ]
  const groups = [...ledger.groupRestarts.entries()].map(([path, n]) => `${path} ×${n}`)
  lines.push(`  group restarts: ${groups.length === 0 ? "none" : groups.join(", ")}`)
  const exceeded = [...ledger.intensityExceeded.entries()].map(([path, n]) => `${path} ×${n}`)
  if (exceeded.length > 0) lines.push(`  restart intensity exceeded: ${exceeded.join(", ")}`)
  lines.push(
    `  ${httpLine(stats)}, ${stats.refreshesSpawned} spawned`,
    `  traffic: ${stats.responses} responses, ${stats.trafficFailures} failed requests · jobs: ${stats.jobs} · heartbeats: ${stats.beats}`
  )
  return lines.join("\n")
}
