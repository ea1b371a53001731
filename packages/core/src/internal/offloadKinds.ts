/**
 * The offload service's registry of kinds (`Kinds`): each kind's bookkeeping (`KindState`, made
 * on first use with its limits) and its counts and recent failures (`KindStats`), and the
 * `summary` built from them.
 *
 * Data flow: `OffloadImpl.admit` asks `state(kind)`; `finished` calls `forget`, then `record`s the
 * ending in the kind's metrics and stats (a recent failure made by `failureOf`); `retry` finds a failure by id
 * (`findFailure`); `summary` reads both maps.
 *
 * Invariants:
 * - Bounded: at most `maxTrackedKinds` kinds are tracked; idle kinds without limits of their own
 *   are forgotten past it, and the stats of later kinds are counted together under `"_other"`.
 * - A kind's stats outlive its `KindState`: a forgotten kind keeps its counts when it comes back.
 *
 * @internal
 */
import type * as Clock from "effect/Clock"
import type { OffloadKindSummary, OffloadSummary } from "../Offload.js"
import type { ResolvedConfig } from "./offloadConfig.js"
import {
  type Ending,
  type Job,
  KindState,
  KindStats,
  maxReason,
  maxTrackedKinds,
  otherKind,
  type RecentFailure
} from "./offloadJob.js"

/** The kinds of one offload service, their stats and recent failures. */
export class Kinds {
  private readonly kinds = new Map<string, KindState>()
  /** Per kind, for `summary`: at most `maxTrackedKinds`, later kinds counted under `"_other"`. */
  private readonly stats = new Map<string, KindStats>()
  /** The last id given to a recent failure (`summary`, `retry`). */
  private failureSeq = 0
  /** The kind `existing` found last (still tracked: `forget` drops it). */
  private lastAsked: KindState | undefined = undefined

  constructor(
    private readonly config: ResolvedConfig,
    private readonly clock: Clock.Clock
  ) {}

  /** The kind's bookkeeping, made on first use (or after it was forgotten). */
  state(kind: string): KindState {
    let state = this.kinds.get(kind)
    if (state === undefined) {
      state = new KindState(kind, this.config.perKind.get(kind) ?? this.config.defaultKind, this.statsOf(kind))
      this.kinds.set(kind, state)
    }
    return state
  }

  /** How many kinds are tracked now (test/Offload/kinds.test.ts reads it as `OffloadImpl.kinds.size`). */
  get size(): number {
    return this.kinds.size
  }

  /** The kind's bookkeeping if it is tracked now (never makes one). */
  existing(kind: string): KindState | undefined {
    // `spawn` asks this per job, usually for the kind it asked for last.
    if (kind === this.lastAsked?.kind) return this.lastAsked
    const state = this.kinds.get(kind)
    if (state !== undefined) this.lastAsked = state
    return state
  }

  /** The kind's stats, or the shared `"_other"` ones once `maxTrackedKinds` kinds have their own. */
  private statsOf(kind: string): KindStats {
    let stats = this.stats.get(kind)
    if (stats === undefined) {
      const name = this.stats.size >= maxTrackedKinds ? otherKind : kind
      stats = this.stats.get(name)
      if (stats === undefined) {
        stats = new KindStats()
        this.stats.set(name, stats)
      }
    }
    return stats
  }

  /**
   * Drops the bookkeeping of a kind with nothing in flight once there are many kinds, so ad-hoc
   * kinds (one per tenant, per URL …) do not grow the map without bound. Kinds with their own
   * limits (`perKind`) are kept; a dropped kind is rebuilt on its next registration.
   */
  forget(kind: KindState): void {
    if (this.kinds.size > maxTrackedKinds && kind.size === 0 && !this.config.perKind.has(kind.kind)) {
      this.kinds.delete(kind.kind)
      if (this.lastAsked === kind) this.lastAsked = undefined
    }
  }

  /** A recent failure of `job`, with a fresh id and what `retry` needs to register its work again. */
  private failureOf(job: Job, reason: string): RecentFailure {
    this.failureSeq += 1
    return {
      id: `f${this.failureSeq}`,
      at: this.clock.currentTimeMillisUnsafe(),
      reason: reason.length <= maxReason ? reason : `${reason.slice(0, maxReason - 1)}…`,
      key: job.key,
      effect: job.original,
      caller: job.caller
    }
  }

  /** Every job in flight (running or queued), across kinds. */
  allJobs(): Array<Job> {
    const jobs: Array<Job> = []
    for (const kind of this.kinds.values()) {
      for (let job = kind.first; job !== undefined; job = job.next) jobs.push(job)
    }
    return jobs
  }

  /** Records how a job ended: its kind's metric and counts, and a recent failure when it failed or timed out. */
  record(job: Job, ending: Ending | "interrupted"): void {
    const kindMetrics = job.kind.metrics
    const stats = job.kind.stats
    switch (ending) {
      case "completed":
        job.series.completed.update(1, job.caller)
        stats.completed += 1
        break
      case "failed":
        kindMetrics.failed.updateUnsafe(1, job.caller)
        stats.failed += 1
        stats.record(this.failureOf(job, job.failure ?? "failed"))
        break
      case "timed-out":
        kindMetrics.timedOut.updateUnsafe(1, job.caller)
        stats.timedOut += 1
        stats.record(
          this.failureOf(job, `timed out after ${job.kind.limits.timeout?.afterMs ?? 0} ms and was interrupted`)
        )
        break
      case "interrupted":
        kindMetrics.interrupted.updateUnsafe(1, job.caller)
        break
    }
  }

  /** A recent failure by id, with the stats that keep it (`retry` removes it from them). */
  findFailure(id: string): { readonly failure: RecentFailure; readonly stats: KindStats } | undefined {
    for (const stats of this.stats.values()) {
      const failure = stats.find(id)
      if (failure !== undefined) return { failure, stats }
    }
    return undefined
  }

  /** The counts per kind, kinds past the cap under `"_other"`, sorted by kind. */
  summary(): OffloadSummary {
    const summaries = new Map<string, OffloadKindSummary>()
    const add = (kind: string, stats: KindStats, active: number, queued: number) => {
      const seen = summaries.get(kind)
      summaries.set(kind, {
        kind,
        active: (seen?.active ?? 0) + active,
        queued: (seen?.queued ?? 0) + queued,
        completed: stats.completed,
        failed: stats.failed,
        timedOut: stats.timedOut,
        recentFailures: stats.recent()
      })
    }
    for (const [kind, stats] of this.stats) add(kind, stats, 0, 0)
    // A kind past the cap is counted under "_other", its work in flight too.
    for (const state of this.kinds.values()) {
      const name = this.stats.get(state.kind) === state.stats ? state.kind : otherKind
      add(name, state.stats, state.running, state.size - state.running)
    }
    return { kinds: Array.from(summaries.values()).sort((a, b) => (a.kind < b.kind ? -1 : a.kind > b.kind ? 1 : 0)) }
  }
}
