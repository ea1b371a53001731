/**
 * The invariants checked after every real-process scenario (research/distributed.md §5, I4–I7),
 * as a pure function of what was observed: the jobs enqueued, their final rows in the store, the
 * runs the fixture logged (runLog.ts) and the signals the harness sent (harness.ts).
 *
 * - I4 none lost: every enqueued key ends `completed` or `failed` (dead-lettered), as expected.
 * - I5 no key runs twice at once: the runs of a key never overlap, except when the earlier run's
 *   process was paused (SIGSTOP) when the later one started — its lease expired and the work was
 *   re-claimed: such overlaps are returned in `leaseOverlaps` (reported, not violations). A killed
 *   process's run ends at the SIGKILL.
 * - Attempts counted exactly: a key's `attempts` in the store equals its counted runs (every run
 *   but those interrupted after their process's SIGTERM: released by the shutdown, not counted),
 *   plus at most one attempt per SIGKILL claimed by the killed worker before its handler could log
 *   (`unloggedAttempts`, reported); counted runs carry
 *   attempt numbers 1, 2, … in start order, and a released run carries the number its successor
 *   gets again.
 * - Dead letters: a key expected to fail ends `failed` with exactly `maxAttempts` attempts.
 * - I7 drain: a process sent SIGTERM exited; it claimed nothing after the signal — the runs it
 *   started after it number at most one claim's worth per kind (`concurrency`: a claim in flight at
 *   the signal), counted in `drains`; each run it had in flight, or started after, ended before it
 *   exited, either completed or interrupted no earlier than `graceMs` after the signal.
 */
import type { Run } from "./runLog.js"

/** One enqueued job and what it should end as. */
export interface Expected {
  readonly kind: string
  readonly key: string
  readonly maxAttempts: number
  readonly outcome: "completed" | "failed"
}

/** A job's final row, as the store's `inspect` gives it (undefined: no row). */
export interface Final {
  readonly status: "pending" | "running" | "completed" | "failed" | "cancelled"
  readonly attempts: number
}

export interface SignalRecord {
  readonly pid: number
  readonly signal: "SIGKILL" | "SIGTERM" | "SIGSTOP" | "SIGCONT"
  readonly at: number
}

export interface Observed {
  readonly expected: ReadonlyArray<Expected>
  /** Final rows by `${kind}/${key}`. */
  readonly finals: ReadonlyMap<string, Final | undefined>
  readonly runs: ReadonlyArray<Run>
  readonly signals: ReadonlyArray<SignalRecord>
  /** Exit times (epoch ms) of the processes that exited, by pid. */
  readonly exits: ReadonlyMap<number, number>
  readonly graceMs: number
  /** Each process's concurrency per kind: the most one claim can hand over. */
  readonly concurrencyOf: ReadonlyMap<number, number>
  /** The time of the check: the end of a run still in flight in a live process. */
  readonly now: number
}

/** Two runs of one key that overlapped because the first one's process was paused past its lease. */
export interface LeaseOverlap {
  readonly key: string
  readonly first: { readonly pid: number; readonly attempt: number }
  readonly second: { readonly pid: number; readonly attempt: number }
  /** How long after the SIGSTOP the second run started (ms). */
  readonly afterPauseMs: number
}

export interface Verdict {
  readonly violations: ReadonlyArray<string>
  readonly leaseOverlaps: ReadonlyArray<LeaseOverlap>
  /** Attempts the store counted whose worker was SIGKILLed before its handler logged the run: reported. */
  readonly unloggedAttempts: ReadonlyArray<{ readonly key: string; readonly attempts: number }>
  /** SIGTERM → exit (ms) and the runs started after the signal (from a claim in flight), per stopped pid: reported. */
  readonly drains: ReadonlyArray<{ readonly pid: number; readonly ms: number; readonly startedAfter: number }>
  readonly runs: number
}

export const jobId = (kind: string, key: string) => `${kind}/${key}`

/** The SIGSTOP in effect for `pid` at `at` (sent before `at` and not yet followed by a SIGCONT). */
const pausedAt = (signals: ReadonlyArray<SignalRecord>, pid: number, at: number): SignalRecord | undefined => {
  let paused: SignalRecord | undefined
  for (const s of signals) {
    if (s.pid !== pid || s.at > at) continue
    if (s.signal === "SIGSTOP") paused = s
    else if (s.signal === "SIGCONT") paused = undefined
  }
  return paused
}

const killedAt = (signals: ReadonlyArray<SignalRecord>, pid: number): number | undefined =>
  signals.find((s) => s.pid === pid && s.signal === "SIGKILL")?.at

const describeRun = (run: Run) => `${run.worker}(pid ${run.pid}) attempt ${run.attempt} [${run.outcome}]`

export const check = (observed: Observed): Verdict => {
  const { concurrencyOf, expected, finals, runs, signals, exits, graceMs, now } = observed
  const violations: Array<string> = []
  const leaseOverlaps: Array<LeaseOverlap> = []
  const unloggedAttempts: Array<{ key: string; attempts: number }> = []

  /** Interrupted by its process's shutdown (after a SIGTERM): released, the attempt not counted. */
  const released = (run: Run): boolean =>
    run.outcome === "interrupted" &&
    signals.some((s) => s.pid === run.pid && s.signal === "SIGTERM" && s.at <= run.finishedAt!)

  /** When a run stopped running: its own end, its process's SIGKILL or exit, else now. */
  const endOf = (run: Run): number =>
    run.finishedAt ?? killedAt(signals, run.pid) ?? exits.get(run.pid) ?? Math.max(now, run.startedAt)

  for (const job of expected) {
    const id = jobId(job.kind, job.key)
    const final = finals.get(id)
    const mine = runs
      .filter((run) => run.kind === job.kind && run.key === job.key)
      .sort((a, b) => a.startedAt - b.startedAt)

    // I4: none lost.
    if (final === undefined) {
      violations.push(`${id}: no row in the store (lost)`)
      continue
    }
    if (final.status !== job.outcome) {
      violations.push(`${id}: ended ${final.status}, expected ${job.outcome}`)
    }

    // I5: no two runs of the key at once, except after a pause past the lease.
    for (let i = 0; i < mine.length; i++) {
      for (let j = i + 1; j < mine.length; j++) {
        const [a, b] = [mine[i]!, mine[j]!]
        if (b.startedAt >= endOf(a)) continue
        const pause = pausedAt(signals, a.pid, b.startedAt)
        if (pause !== undefined) {
          leaseOverlaps.push({
            key: id,
            first: { pid: a.pid, attempt: a.attempt },
            second: { pid: b.pid, attempt: b.attempt },
            afterPauseMs: b.startedAt - pause.at
          })
        } else {
          violations.push(`${id}: ${describeRun(b)} started while ${describeRun(a)} was running`)
        }
      }
    }

    // Attempts counted exactly. A worker SIGKILLed between its claim and its handler's first log
    // write leaves an attempt counted by the store with no run logged: allowed only as the attempt
    // numbers' gap before a run that started after a SIGKILL, or at the end of a key whose worker
    // was killed, at most one per SIGKILL (one worker holds a key at a time); reported.
    const kills = signals.filter((s) => s.signal === "SIGKILL")
    let next = 1
    let unlogged = 0
    for (const run of mine) {
      const gap = run.attempt - next
      if (gap > 0 && unlogged + gap <= kills.filter((k) => k.at < run.startedAt).length) {
        unlogged += gap
        next = run.attempt
      }
      if (run.attempt !== next) {
        violations.push(`${id}: ${describeRun(run)} should carry attempt ${next}`)
      }
      if (!released(run)) next++
    }
    const counted = mine.filter((run) => !released(run))
    const trailing = final.attempts - counted.length - unlogged
    if (trailing > 0 && unlogged + trailing <= kills.length) unlogged += trailing
    if (final.attempts !== counted.length + unlogged) {
      violations.push(
        `${id}: the store counted ${final.attempts} attempt(s), the workers ran ${counted.length} counted run(s)` +
          (unlogged > 0 ? ` (+ ${unlogged} claimed by a killed worker, never logged)` : "") +
          `: ${mine.map(describeRun).join(", ")}`
      )
    }
    if (unlogged > 0) unloggedAttempts.push({ key: id, attempts: unlogged })

    // Dead letters after maxAttempts.
    if (job.outcome === "failed" && final.status === "failed" && final.attempts !== job.maxAttempts) {
      violations.push(`${id}: dead-lettered after ${final.attempts} attempt(s), maxAttempts is ${job.maxAttempts}`)
    }
  }

  // I7: drain on SIGTERM.
  const drains: Array<{ pid: number; ms: number; startedAfter: number }> = []
  for (const stop of signals.filter((s) => s.signal === "SIGTERM")) {
    const exitedAt = exits.get(stop.pid)
    if (exitedAt === undefined) {
      violations.push(`pid ${stop.pid}: did not exit after SIGTERM`)
      continue
    }
    const killed = killedAt(signals, stop.pid)
    const startedAfter = new Map<string, number>()
    for (const run of runs.filter((r) => r.pid === stop.pid)) {
      if (run.startedAt > stop.at) startedAfter.set(run.kind, (startedAfter.get(run.kind) ?? 0) + 1)
      else if (run.finishedAt !== null && run.finishedAt < stop.at) continue
      if (killed !== undefined) continue
      if (run.outcome === "running") {
        violations.push(`${jobId(run.kind, run.key)}: ${describeRun(run)} in flight at the SIGTERM never ended`)
      } else if (run.outcome === "interrupted" && run.finishedAt! < stop.at + graceMs) {
        violations.push(
          `${jobId(run.kind, run.key)}: ${describeRun(run)} interrupted ${run.finishedAt! - stop.at} ms after the SIGTERM, before the ${graceMs} ms grace`
        )
      }
    }
    // A claim already in flight at the signal may still hand over up to `concurrency` jobs of a
    // kind, whose runs start after it; more than that means claiming went on after the SIGTERM.
    const limit = concurrencyOf.get(stop.pid) ?? 0
    for (const [kind, count] of startedAfter) {
      if (count > limit) {
        violations.push(
          `pid ${stop.pid}: ${count} runs of ${kind} started after the SIGTERM, more than one claim's ${limit} (claiming went on)`
        )
      }
    }
    const total = [...startedAfter.values()].reduce((a, b) => a + b, 0)
    if (killed === undefined) drains.push({ pid: stop.pid, ms: exitedAt - stop.at, startedAfter: total })
  }

  return { violations, leaseOverlaps, unloggedAttempts, drains, runs: runs.length }
}
